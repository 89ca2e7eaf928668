//! Signed, encrypted, expiring link tokens for public pages (confirm,
//! unsubscribe, preferences). A token carries its purpose, ids and expiry,
//! sealed with ChaCha20-Poly1305 under a key derived from the configured
//! secret: nothing in it can be read or changed without the secret, and a
//! token for one purpose never opens for another (the purpose is the AEAD's
//! associated data).
//!
//! The nonce is synthetic (SIV-style): the first 12 bytes of
//! HMAC-SHA256(mac key, purpose ‖ payload). No random source is needed, so
//! this stays pure; equal payloads give equal tokens, which reveals only
//! that two links are the same link.
//!
//! Format: `base64url(nonce(12) ‖ ciphertext(33) ‖ tag(16))`, 82 characters,
//! where the payload is `version(1) ‖ account(8) ‖ subject(8) ‖ nonce(8) ‖ expires(8)`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 1 + 8 + 8 + 8 + 8;
const TAG_LEN: usize = 16;
const TOKEN_BYTES: usize = NONCE_LEN + PAYLOAD_LEN + TAG_LEN;
/// Longest accepted token text; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 128;

/// What a token allows. Bound into the seal, so a token minted for one
/// purpose is invalid for every other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm a pending double opt-in (subject: the confirmation request).
    Confirm,
    /// Unsubscribe (subject: contact; nonce: list id, 0 for every list).
    Unsubscribe,
    /// Preference page (subject: contact).
    Preferences,
    /// VERP envelope sender and `mailto:` unsubscribe address (short form).
    Bounce,
    /// `mailto:` unsubscribe (short form).
    MailtoUnsubscribe,
}

impl Purpose {
    fn tag(self) -> &'static [u8] {
        match self {
            Purpose::Confirm => b"assent-confirm-v1",
            Purpose::Unsubscribe => b"assent-unsubscribe-v1",
            Purpose::Preferences => b"assent-preferences-v1",
            Purpose::Bounce => b"assent-bounce-v1",
            Purpose::MailtoUnsubscribe => b"assent-mailto-unsubscribe-v1",
        }
    }
}

/// The content of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub account: i64,
    pub subject: i64,
    /// Purpose-specific extra value (a list id, or a random value stored
    /// with the subject so that a guessed subject id is worthless).
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

/// The secret that seals tokens. Keep it stable: changing it invalidates
/// every link in every mail already sent.
pub struct TokenKey {
    aead: LessSafeKey,
    mac: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

fn derive(secret: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = hmac_with(secret);
    mac.update(label);
    mac.finalize().into_bytes().into()
}

fn hmac_with(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

impl TokenKey {
    /// Needs at least 32 bytes of secret.
    pub fn new(secret: &[u8]) -> Option<TokenKey> {
        if secret.len() < 32 {
            return None;
        }
        let enc = derive(secret, b"assent token encryption");
        let aead = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &enc).ok()?);
        Some(TokenKey { aead, mac: derive(secret, b"assent token nonce").to_vec() })
    }

    fn synthetic_nonce(&self, purpose: Purpose, payload: &[u8]) -> [u8; NONCE_LEN] {
        let mut mac = hmac_with(&self.mac);
        mac.update(purpose.tag());
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&full[..NONCE_LEN]);
        nonce
    }

    pub fn sign(&self, purpose: Purpose, claims: Claims) -> String {
        let mut buf = [0u8; TOKEN_BYTES];
        let (nonce_part, rest) = buf.split_at_mut(NONCE_LEN);
        let (payload, tag_part) = rest.split_at_mut(PAYLOAD_LEN);
        payload[0] = VERSION;
        payload[1..9].copy_from_slice(&claims.account.to_be_bytes());
        payload[9..17].copy_from_slice(&claims.subject.to_be_bytes());
        payload[17..25].copy_from_slice(&claims.nonce.to_be_bytes());
        payload[25..33].copy_from_slice(&claims.expires.to_be_bytes());
        let nonce = self.synthetic_nonce(purpose, payload);
        nonce_part.copy_from_slice(&nonce);
        // Sealing only fails for inputs larger than ChaCha20's 256 GiB limit.
        let tag = match self.aead.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(purpose.tag()),
            payload,
        ) {
            Ok(tag) => tag,
            Err(_) => unreachable!("a 33-byte payload is within the AEAD's limits"),
        };
        tag_part.copy_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// Opens the token and checks its expiry against `now` (unix seconds).
    pub fn verify(&self, purpose: Purpose, token: &str, now: i64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| TokenError::Invalid)?;
        if bytes.len() != TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[..NONCE_LEN]);
        let mut sealed = bytes[NONCE_LEN..].to_vec();
        let payload = self
            .aead
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(purpose.tag()), &mut sealed)
            .map_err(|_| TokenError::Invalid)?;
        if payload.len() != PAYLOAD_LEN || payload[0] != VERSION {
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

/// Short tokens for the local part of an address (`bounces+TOKEN@…`,
/// `unsubscribe+TOKEN@…`), where RFC 5321 allows 64 octets in all and
/// mail systems may change letter case: lower-case hex of three ids and a
/// 96-bit purpose-bound MAC, e.g. `1-2a-3f-0123456789abcdef01234567`.
impl TokenKey {
    pub fn sign_short(&self, purpose: Purpose, ids: [u64; 3]) -> String {
        let body = format!("{:x}-{:x}-{:x}", ids[0], ids[1], ids[2]);
        let mac = self.short_mac(purpose, &body);
        format!("{body}-{mac}")
    }

    pub fn verify_short(&self, purpose: Purpose, token: &str) -> Result<[u64; 3], TokenError> {
        let token = token.trim().to_ascii_lowercase();
        if token.len() > 64 {
            return Err(TokenError::Invalid);
        }
        let (body, mac) = token.rsplit_once('-').ok_or(TokenError::Invalid)?;
        let expected = self.short_mac(purpose, body);
        if expected.len() != mac.len() || expected.bytes().zip(mac.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0
        {
            return Err(TokenError::Invalid);
        }
        let mut ids = [0u64; 3];
        let mut parts = body.split('-');
        for id in &mut ids {
            *id = u64::from_str_radix(parts.next().ok_or(TokenError::Invalid)?, 16).map_err(|_| TokenError::Invalid)?;
        }
        if parts.next().is_some() {
            return Err(TokenError::Invalid);
        }
        Ok(ids)
    }

    fn short_mac(&self, purpose: Purpose, body: &str) -> String {
        let mut mac = hmac_with(&self.mac);
        mac.update(b"short:");
        mac.update(purpose.tag());
        mac.update(body.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..12])
    }
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
    fn round_trips_without_revealing_ids() {
        let t = key().sign(Purpose::Confirm, CLAIMS);
        assert_eq!(key().verify(Purpose::Confirm, &t, 1_000), Ok(CLAIMS));
        assert_eq!(t.len(), 82);
        // The payload is encrypted: the token for subject 43 shares nothing
        // recognisable with the one for 42.
        let other = key().sign(Purpose::Confirm, Claims { subject: 43, ..CLAIMS });
        let common = t.bytes().zip(other.bytes()).filter(|(a, b)| a == b).count();
        assert!(common < 20, "tokens look alike: {t} {other}");
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
            assert!(key().verify(Purpose::Unsubscribe, &forged, 0).is_err(), "flip at {i} accepted");
        }
        for junk in ["", ".", "a.b", "....", &"A".repeat(82), &"A".repeat(500), "é.é"] {
            assert_eq!(key().verify(Purpose::Unsubscribe, junk, 0), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn short_tokens_fit_a_local_part_and_are_bound() {
        let t = key().sign_short(Purpose::Bounce, [7, u64::MAX, 123_456]);
        assert!(t.len() + "bounces+".len() <= 64, "{t}");
        assert_eq!(key().verify_short(Purpose::Bounce, &t), Ok([7, u64::MAX, 123_456]));
        assert_eq!(key().verify_short(Purpose::Bounce, &t.to_uppercase()), Ok([7, u64::MAX, 123_456]));
        assert_eq!(key().verify_short(Purpose::MailtoUnsubscribe, &t), Err(TokenError::Invalid));
        let forged = t.replacen("7-", "8-", 1);
        assert_eq!(key().verify_short(Purpose::Bounce, &forged), Err(TokenError::Invalid));
        for junk in ["", "-", "a-b-c-d", "1-2-3-zz"] {
            assert_eq!(key().verify_short(Purpose::Bounce, junk), Err(TokenError::Invalid));
        }
    }

    proptest! {
        #[test]
        fn verify_short_never_panics(s in ".{0,100}") {
            let _ = key().verify_short(Purpose::Bounce, &s);
        }

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
