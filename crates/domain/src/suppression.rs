//! The hashed suppression key. Erased and unsubscribed addresses must never
//! be mailed or re-imported (PRODUCT.md rule 10), yet erasure means not
//! keeping the address: a SHA-256 of the normalised address lets the store
//! recognise it again without holding it.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::EmailAddress;

/// Lower-case hex SHA-256 of [`EmailAddress::normalized`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SuppressionHash(String);

impl SuppressionHash {
    pub fn of(addr: &EmailAddress) -> Self {
        let digest = Sha256::digest(addr.normalized().as_bytes());
        SuppressionHash(hex::encode(digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts exactly 64 lower-case hex characters, the only form
    /// [`SuppressionHash::of`] produces, so stored keys compare as strings.
    pub fn from_hex(s: &str) -> Option<Self> {
        let ok = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| SuppressionHash(s.to_owned()))
    }
}

impl fmt::Display for SuppressionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    Unsubscribed,
    HardBounce,
    SoftBounce,
    Complaint,
    Erased,
    Manual,
}

impl SuppressionReason {
    pub const ALL: &'static [SuppressionReason] = &[
        SuppressionReason::Unsubscribed,
        SuppressionReason::HardBounce,
        SuppressionReason::SoftBounce,
        SuppressionReason::Complaint,
        SuppressionReason::Erased,
        SuppressionReason::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::Unsubscribed => "unsubscribed",
            SuppressionReason::HardBounce => "hard_bounce",
            SuppressionReason::SoftBounce => "soft_bounce",
            SuppressionReason::Complaint => "complaint",
            SuppressionReason::Erased => "erased",
            SuppressionReason::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<SuppressionReason> {
        Self::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for SuppressionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[test]
    fn hash_is_sha256_of_normalized_form() {
        let h = SuppressionHash::of(&addr("Jane@Example.COM"));
        // sha256("jane@example.com")
        let expected = hex::encode(Sha256::digest(b"jane@example.com"));
        assert_eq!(h.as_str(), expected);
        assert_eq!(h.as_str().len(), 64);
        assert_eq!(h, SuppressionHash::of(&addr("jane@example.com")));
        assert_ne!(h, SuppressionHash::of(&addr("jane+x@example.com")));
        assert_eq!(h.to_string(), h.as_str());
    }

    #[test]
    fn from_hex_accepts_only_canonical_form() {
        let h = SuppressionHash::of(&addr("a@b.org"));
        assert_eq!(SuppressionHash::from_hex(h.as_str()), Some(h.clone()));
        assert_eq!(SuppressionHash::from_hex(&h.as_str().to_uppercase()), None);
        assert_eq!(SuppressionHash::from_hex(&h.as_str()[1..]), None);
        assert_eq!(SuppressionHash::from_hex(&format!("{}0", h.as_str())), None);
        assert_eq!(SuppressionHash::from_hex(&"g".repeat(64)), None);
        assert_eq!(SuppressionHash::from_hex(""), None);
    }

    #[test]
    fn reasons_round_trip() {
        for r in SuppressionReason::ALL {
            assert_eq!(SuppressionReason::parse(r.as_str()), Some(*r));
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(SuppressionReason::parse("bounced"), None);
    }
}
