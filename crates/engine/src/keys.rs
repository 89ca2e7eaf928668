//! Sealing secrets at rest (DKIM private keys) with the installation's
//! master key from configuration: ChaCha20-Poly1305 with a random nonce,
//! stored as `v1:` + base64(nonce ‖ ciphertext ‖ tag). A database dump
//! alone does not reveal the keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the master key must be 32 bytes (64 hex characters)")]
    BadKey,
    #[error("the operating system's random source failed")]
    Random,
    #[error("a sealed value could not be opened: wrong master key, or the data is damaged")]
    Open,
}

pub struct SecretBox {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn new(key: &[u8]) -> Result<SecretBox, SealError> {
        if key.len() != 32 {
            return Err(SealError::BadKey);
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, key).map_err(|_| SealError::BadKey)?;
        Ok(SecretBox { key: LessSafeKey::new(key) })
    }

    /// From 64 hex characters (surrounding white space ignored).
    pub fn from_hex(hex_key: &str) -> Result<SecretBox, SealError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| SealError::BadKey)?;
        SecretBox::new(&bytes)
    }

    /// A fresh random master key as hex.
    pub fn generate_hex() -> Result<String, SealError> {
        let mut k = [0u8; 32];
        SystemRandom::new().fill(&mut k).map_err(|_| SealError::Random)?;
        Ok(hex::encode(k))
    }

    pub fn seal(&self, plain: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut data = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(b"assent-secret-v1"), &mut data)
            .map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("v1:{}", STANDARD.encode(out)))
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        let b64 = sealed.strip_prefix("v1:").ok_or(SealError::Open)?;
        let bytes = STANDARD.decode(b64).map_err(|_| SealError::Open)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(SealError::Open);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[..NONCE_LEN]);
        let mut data = bytes[NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(b"assent-secret-v1"), &mut data)
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_the_key() {
        let b = SecretBox::new(&[1u8; 32]).expect("key");
        let sealed = b.seal(b"private key").expect("seal");
        assert!(!sealed.contains("private"));
        assert_ne!(sealed, b.seal(b"private key").expect("seal"), "random nonces");
        assert_eq!(b.open(&sealed).expect("open"), b"private key");
        let other = SecretBox::new(&[2u8; 32]).expect("key");
        assert_eq!(other.open(&sealed), Err(SealError::Open));
        // A different character in the middle (replacing the last one with
        // 'A' left it unchanged one time in 64).
        let mid = sealed.len() / 2;
        let swapped = if sealed.as_bytes()[mid] == b'A' { "B" } else { "A" };
        let damaged = format!("{}{swapped}{}", &sealed[..mid], &sealed[mid + 1..]);
        assert!(b.open(&damaged).is_err());
        assert_eq!(SecretBox::new(&[0u8; 16]).err(), Some(SealError::BadKey));
        assert!(SecretBox::from_hex(&SecretBox::generate_hex().expect("gen")).is_ok());
    }
}
