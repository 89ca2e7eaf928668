//! Signed, expiring link tokens for public pages (confirm, unsubscribe,
//! preferences). A token carries its purpose, ids and expiry, MACed with a
//! secret from configuration: nothing in it can be changed without the
//! secret, and a token for one purpose never works for another. Ids inside
//! are not secret but are only meaningful together with a valid MAC.
//!
//! Format: `base64url(payload) "." base64url(HMAC-SHA256(key, purpose || payload))[..16 bytes]`
//! where payload is `version(1) | account(8) | subject(8) | nonce(8) | expires(8)`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 1 + 8 + 8 + 8 + 8;
/// 128 bits of MAC: forging one takes 2^128 tries on average.
const MAC_LEN: usize = 16;
/// Longest accepted token text; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 128;

/// What a token allows. Part of the MAC input, so a token minted for one
/// purpose is invalid for every other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm a pending double opt-in subscription (subject: subscription).
    Confirm,
    /// Unsubscribe (subject: contact, nonce: list or campaign).
    Unsubscribe,
    /// Preference page (subject: contact).
    Preferences,
}

impl Purpose {
    fn tag(self) -> &'static [u8] {
        match self {
            Purpose::Confirm => b"assent-confirm-v1",
            Purpose::Unsubscribe => b"assent-unsubscribe-v1",
            Purpose::Preferences => b"assent-preferences-v1",
        }
    }
}

/// The verified content of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub account: i64,
    pub subject: i64,
    /// Purpose-specific extra value (e.g. a list id, or a version counter
    /// that makes a token single-use once the stored counter moves on).
    pub nonce: i64,
    /// Unix seconds after which the token is refused; 0 = never expires.
    pub expires: i64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token at all, or changed in transit. Deliberately one variant
    /// for both: the page says the same thing either way.
    #[error("this link is not valid; it may have been cut off or changed")]
    Invalid,
    #[error("this link has expired")]
    Expired,
}

/// The secret that signs tokens. Keep it stable: changing it invalidates
/// every link in every mail already sent.
#[derive(Clone)]
pub struct TokenKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// At least 32 bytes of secret are required.
    pub fn new(secret: &[u8]) -> Option<TokenKey> {
        (secret.len() >= 32).then(|| TokenKey { key: secret.to_vec() })
    }

    fn mac(&self, purpose: Purpose, payload: &[u8]) -> [u8; MAC_LEN] {
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(purpose.tag());
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    pub fn sign(&self, purpose: Purpose, claims: Claims) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = VERSION;
        payload[1..9].copy_from_slice(&claims.account.to_be_bytes());
        payload[9..17].copy_from_slice(&claims.subject.to_be_bytes());
        payload[17..25].copy_from_slice(&claims.nonce.to_be_bytes());
        payload[25..33].copy_from_slice(&claims.expires.to_be_bytes());
        let mac = self.mac(purpose, &payload);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(mac))
    }

    /// Checks the MAC (in constant time) and the expiry against `now`
    /// (unix seconds).
    pub fn verify(&self, purpose: Purpose, token: &str, now: i64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let (payload, mac) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Invalid)?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| TokenError::Invalid)?;
        if payload.len() != PAYLOAD_LEN || mac.len() != MAC_LEN || payload[0] != VERSION {
            return Err(TokenError::Invalid);
        }
        let expected = self.mac(purpose, &payload);
        if !constant_time_eq(&expected, &mac) {
            return Err(TokenError::Invalid);
        }
        let field = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&payload[at..at + 8]);
            i64::from_be_bytes(b)
        };
        let claims = Claims { account: field(1), subject: field(9), nonce: field(17), expires: field(25) };
        if claims.expires != 0 && now > claims.expires {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> TokenKey {
        TokenKey::new(&[7u8; 32]).expect("key")
    }

    const CLAIMS: Claims = Claims { account: 3, subject: 42, nonce: 9, expires: 2_000_000_000 };

    #[test]
    fn round_trips() {
        let t = key().sign(Purpose::Confirm, CLAIMS);
        assert_eq!(key().verify(Purpose::Confirm, &t, 1_000), Ok(CLAIMS));
        assert!(t.len() <= MAX_TOKEN_LEN);
        assert!(!t.contains("42"), "ids are not readable in clear text");
    }

    #[test]
    fn purpose_key_and_expiry_are_enforced() {
        let t = key().sign(Purpose::Confirm, CLAIMS);
        assert_eq!(key().verify(Purpose::Unsubscribe, &t, 0), Err(TokenError::Invalid));
        let other = TokenKey::new(&[8u8; 32]).expect("key");
        assert_eq!(other.verify(Purpose::Confirm, &t, 0), Err(TokenError::Invalid));
        assert_eq!(key().verify(Purpose::Confirm, &t, 2_000_000_001), Err(TokenError::Expired));
        let forever = key().sign(Purpose::Preferences, Claims { expires: 0, ..CLAIMS });
        assert!(key().verify(Purpose::Preferences, &forever, i64::MAX).is_ok());
        assert!(TokenKey::new(b"short").is_none());
    }

    #[test]
    fn tampering_is_detected() {
        let t = key().sign(Purpose::Unsubscribe, CLAIMS);
        for i in 0..t.len() {
            let mut bytes = t.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(bytes).expect("ascii");
            if forged != t {
                assert!(key().verify(Purpose::Unsubscribe, &forged, 0).is_err(), "flip at {i} accepted");
            }
        }
        for junk in ["", ".", "a.b", "....", &"A".repeat(500), "é.é"] {
            assert_eq!(key().verify(Purpose::Unsubscribe, junk, 0), Err(TokenError::Invalid));
        }
    }

    proptest! {
        #[test]
        fn verify_never_panics(s in ".{0,200}") {
            let _ = key().verify(Purpose::Confirm, &s, 0);
        }

        #[test]
        fn any_claims_round_trip(account: i64, subject: i64, nonce: i64, expires in 0i64..i64::MAX) {
            let c = Claims { account, subject, nonce, expires };
            let t = key().sign(Purpose::Confirm, c);
            prop_assert_eq!(key().verify(Purpose::Confirm, &t, 0), Ok(c));
        }
    }
}
