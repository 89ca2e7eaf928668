//! DKIM signing (RFC 6376) with rsa-sha256 and ed25519-sha256 (RFC 8463),
//! key generation and the DNS TXT records that publish the keys.
//!
//! Signatures use relaxed/relaxed canonicalisation (RFC 6376 §3.4.2 and
//! §3.4.4) and cover the headers RULES.md lists, those present in the
//! message: From (over-signed: listed once more than present, so no second
//! From can be added), Reply-To, To, Subject, Date, Message-ID, MIME-Version,
//! Content-Type, List-Id, List-Unsubscribe, List-Unsubscribe-Post and
//! Feedback-ID. rsa-sha1 is never produced; RSA keys below 2048 bits are
//! refused (ring's minimum).
//!
//! A campaign message gets two signatures, RSA then Ed25519: receivers that
//! do not know Ed25519 yet ignore that one (RFC 8463 §1). [`sign_all`]
//! canonicalises and hashes the body and the headers once for all signers,
//! so the second signature costs only its own signing operation.
//!
//! Ring does the cryptography except Ed25519 signing, which ed25519-dalek
//! does (faster; ring still parses and checks the key). RSA key
//! *generation* uses the `rsa` crate
//! because ring cannot generate RSA keys. That crate is used for nothing
//! else (its RUSTSEC-2023-0071 timing issue concerns decryption/signing with
//! it, which never happens here).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::digest::{self, SHA256};
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair, RsaKeyPair};
use thiserror::Error;

use super::encode::{
    BLOCK, HeaderLine, LINE_SOFT_LIMIT, all_set, array_at, at_most_space, bytes_equal, load_u64 as load,
};

/// Headers signed when present, in the order of the `h=` tag. From comes
/// first and is over-signed. Reply-To is not in RULES.md's list but is
/// signed when present, so nobody can redirect replies to a signed message.
const SIGNED_HEADERS: [&str; 12] = [
    "from",
    "reply-to",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
];

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DkimError {
    #[error(
        "the DKIM private key is not a PKCS#8 RSA key of 2048 to 4096 bits or a PKCS#8 Ed25519 key ({reason}); generate a new key for the domain"
    )]
    BadKey { reason: String },
    #[error("generating the DKIM key failed ({0}); retry, and check the host's random number source if it persists")]
    KeyGeneration(String),
    #[error("the DKIM {what} {value:?} is not a valid DNS name; use the A-label (punycode) form")]
    BadName { what: &'static str, value: String },
    #[error("the message has no From header, which DKIM must sign (RFC 6376 §5.4); build it with the message module")]
    NoFrom,
    #[error("signing failed in the crypto library; retry, and check the host's random number source if it persists")]
    Signing,
}

/// The signing algorithm of a key, as written in the `a=` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    RsaSha256,
    Ed25519Sha256,
}

impl DkimAlgorithm {
    /// `rsa-sha256` or `ed25519-sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            DkimAlgorithm::RsaSha256 => "rsa-sha256",
            DkimAlgorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The `k=` tag of the DNS record: `rsa` or `ed25519`.
    pub fn key_type(self) -> &'static str {
        match self {
            DkimAlgorithm::RsaSha256 => "rsa",
            DkimAlgorithm::Ed25519Sha256 => "ed25519",
        }
    }
}

enum KeyPairKind {
    Rsa(RsaKeyPair),
    /// Signed with ed25519-dalek: about a fifth less time than ring's
    /// Ed25519 here, and the second signature is paid on every message.
    /// Ring still parses the key first (the same checks as RSA keys get).
    Ed25519(ed25519_dalek::SigningKey),
}

/// A DKIM private key (RSA-2048+ or Ed25519). Keep the PKCS#8 form
/// ([`DkimKey::to_pkcs8_der`]) encrypted at rest.
pub struct DkimKey {
    pair: KeyPairKind,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DkimKey({}, ..)", self.algorithm().as_str())
    }
}

impl DkimKey {
    /// A new RSA-2048 key (the size Gmail/Yahoo recommend). Takes tens of
    /// milliseconds in an optimised build, seconds in an unoptimised one.
    pub fn generate_rsa2048() -> Result<DkimKey, DkimError> {
        use rsa::pkcs8::EncodePrivateKey;
        let mut rng = rsa::rand_core::OsRng;
        let key = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| DkimError::KeyGeneration(e.to_string()))?;
        let der = key.to_pkcs8_der().map_err(|e| DkimError::KeyGeneration(e.to_string()))?;
        DkimKey::from_pkcs8_der(der.as_bytes())
    }

    /// A new Ed25519 key.
    pub fn generate_ed25519() -> Result<DkimKey, DkimError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| DkimError::KeyGeneration("the random number generator failed".into()))?;
        DkimKey::from_pkcs8_der(doc.as_ref())
    }

    /// Loads a PKCS#8 DER private key, RSA (2048–4096 bits) or Ed25519
    /// (PKCS#8 v1 or v2).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<DkimKey, DkimError> {
        let pair = match Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            Ok(pair) => KeyPairKind::Ed25519(ed25519_from_pkcs8(der, pair.public_key().as_ref())?),
            Err(ed_err) => match RsaKeyPair::from_pkcs8(der) {
                Ok(pair) => KeyPairKind::Rsa(pair),
                Err(rsa_err) => {
                    return Err(DkimError::BadKey { reason: format!("as RSA: {rsa_err}; as Ed25519: {ed_err}") });
                }
            },
        };
        Ok(DkimKey { pair, pkcs8: der.to_vec() })
    }

    /// The private key as PKCS#8 DER, to be encrypted and stored.
    pub fn to_pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn algorithm(&self) -> DkimAlgorithm {
        match self.pair {
            KeyPairKind::Rsa(_) => DkimAlgorithm::RsaSha256,
            KeyPairKind::Ed25519(_) => DkimAlgorithm::Ed25519Sha256,
        }
    }

    /// The `p=` value: base64 of the SubjectPublicKeyInfo DER for RSA (what
    /// every verifier accepts), of the raw 32-byte key for Ed25519
    /// (RFC 8463 §4.2).
    pub fn public_key_base64(&self) -> String {
        match &self.pair {
            KeyPairKind::Rsa(pair) => STANDARD.encode(rsa_spki_der(pair.public().as_ref())),
            KeyPairKind::Ed25519(key) => STANDARD.encode(key.verifying_key().as_bytes()),
        }
    }

    /// The TXT record value to publish at `SELECTOR._domainkey.DOMAIN`:
    /// `v=DKIM1; k=rsa; p=…` or `v=DKIM1; k=ed25519; p=…`. An RSA-2048
    /// value is about 400 characters: DNS tools split it into strings of at
    /// most 255, which verifiers join again.
    pub fn dns_txt_value(&self) -> String {
        format!("v=DKIM1; k={}; p={}", self.algorithm().key_type(), self.public_key_base64())
    }
}

/// The signing key of a PKCS#8 Ed25519 key ring accepted, checked to have
/// the public key ring derived.
fn ed25519_from_pkcs8(der: &[u8], public: &[u8]) -> Result<ed25519_dalek::SigningKey, DkimError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
        .map_err(|e| DkimError::BadKey { reason: format!("as Ed25519: {e}") })?;
    if key.verifying_key().as_bytes() != public {
        return Err(DkimError::BadKey { reason: "the Ed25519 public key does not match the private key".into() });
    }
    Ok(key)
}

/// Wraps a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo (RFC 5280 §4.1,
/// algorithm rsaEncryption with NULL parameters).
fn rsa_spki_der(rsa_public_key: &[u8]) -> Vec<u8> {
    const ALGORITHM: [u8; 15] =
        [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let mut bit_string = vec![0x03];
    der_length(rsa_public_key.len() + 1, &mut bit_string);
    bit_string.push(0); // no unused bits
    bit_string.extend_from_slice(rsa_public_key);
    let mut out = vec![0x30];
    der_length(ALGORITHM.len() + bit_string.len(), &mut out);
    out.extend_from_slice(&ALGORITHM);
    out.extend_from_slice(&bit_string);
    out
}

fn der_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// A key with the domain (`d=`) and selector (`s=`) it signs for.
#[derive(Debug)]
pub struct DkimSigner {
    key: DkimKey,
    domain: String,
    selector: String,
    rng: SystemRandom,
}

fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl DkimSigner {
    /// `domain` is the signing domain (`d=`, aligned with From for DMARC),
    /// `selector` the DNS label under `_domainkey`; both ASCII.
    pub fn new(key: DkimKey, domain: &str, selector: &str) -> Result<DkimSigner, DkimError> {
        if !is_dns_name(domain) {
            return Err(DkimError::BadName { what: "domain", value: domain.to_owned() });
        }
        if !is_dns_name(selector) {
            return Err(DkimError::BadName { what: "selector", value: selector.to_owned() });
        }
        Ok(DkimSigner {
            key,
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_owned(),
            rng: SystemRandom::new(),
        })
    }

    pub fn key(&self) -> &DkimKey {
        &self.key
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The DNS name the public key is published at.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// Signs `message` (CRLF line endings, as it will be sent) and returns
    /// the complete `DKIM-Signature: …\r\n` field to prepend. `timestamp` is
    /// the `t=` tag, Unix seconds.
    pub fn sign(&self, message: &[u8], timestamp: u64) -> Result<String, DkimError> {
        sign_all([self], message, timestamp)
    }

    /// Signs the prepared hash input.
    fn sign_data(&self, data: &[u8], out: &mut Vec<u8>) -> Result<(), DkimError> {
        match &self.key.pair {
            KeyPairKind::Rsa(pair) => {
                let start = out.len();
                out.resize(start + pair.public().modulus_len(), 0);
                pair.sign(&signature::RSA_PKCS1_SHA256, &self.rng, data, &mut out[start..])
                    .map_err(|_| DkimError::Signing)
            }
            KeyPairKind::Ed25519(key) => {
                use ed25519_dalek::Signer;
                // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the data.
                let hash = digest::digest(&SHA256, data);
                out.extend_from_slice(&key.sign(hash.as_ref()).to_bytes());
                Ok(())
            }
        }
    }
}

/// Signs `message` with every signer, in order, and returns their
/// `DKIM-Signature` fields concatenated, ready to prepend. The body and the
/// signed headers are canonicalised and hashed once for all of them.
pub fn sign_all<'a, I>(signers: I, message: &[u8], timestamp: u64) -> Result<String, DkimError>
where
    I: IntoIterator<Item = &'a DkimSigner>,
{
    let (fields, body) = split_message(message);
    if !fields.iter().any(|f| f.is_named("from")) {
        return Err(DkimError::NoFrom);
    }
    let body_hash = STANDARD.encode(relaxed_body_hash(body));

    let mut h_tags = Vec::with_capacity(SIGNED_HEADERS.len() + 2);
    for name in SIGNED_HEADERS {
        let present = fields.iter().filter(|f| f.is_named(name)).count();
        let listed = if name == "from" { present + 1 } else { present };
        h_tags.extend(std::iter::repeat_n(name, listed));
    }

    // Canonical signed headers (RFC 6376 §5.4.2: repeated names take
    // instances from the bottom up; an over-signed name with no instance
    // left contributes nothing).
    let mut data = Vec::with_capacity(1024);
    let mut used = vec![false; fields.len()];
    for name in &h_tags {
        let found = fields.iter().enumerate().rev().find(|(i, f)| !used[*i] && f.is_named(name));
        if let Some((i, field)) = found {
            used[i] = true;
            relaxed_header(field.raw, &mut data);
            data.extend_from_slice(b"\r\n");
        }
    }
    let headers_len = data.len();

    let mut result = String::with_capacity(1024);
    let mut sig = Vec::with_capacity(512);
    let mut header = Vec::with_capacity(800);
    let mut tok = Vec::with_capacity(64);
    let timestamp = timestamp.to_string();
    // Builds one tag token from pieces in a reused buffer (this runs twice
    // per message, so no per-tag allocation).
    let mut token = |h: &mut HeaderLine<'_>, sep: &[u8], pieces: &[&[u8]]| {
        tok.clear();
        for piece in pieces {
            tok.extend_from_slice(piece);
        }
        h.token(sep, &tok);
    };
    for signer in signers {
        header.clear();
        let mut h = HeaderLine::start(&mut header, "DKIM-Signature");
        h.token(b" ", b"v=1;");
        token(&mut h, b" ", &[b"a=", signer.key.algorithm().as_str().as_bytes(), b";"]);
        h.token(b" ", b"c=relaxed/relaxed;");
        token(&mut h, b" ", &[b"d=", signer.domain.as_bytes(), b";"]);
        token(&mut h, b" ", &[b"s=", signer.selector.as_bytes(), b";"]);
        token(&mut h, b" ", &[b"t=", timestamp.as_bytes(), b";"]);
        // h= may fold after any colon (RFC 6376 §3.5 allows FWS there).
        for (i, name) in h_tags.iter().enumerate() {
            let (prefix, sep): (&[u8], &[u8]) = if i == 0 { (b"h=", b" ") } else { (b"", b"") };
            let end: &[u8] = if i + 1 == h_tags.len() { b";" } else { b":" };
            token(&mut h, sep, &[prefix, name.as_bytes(), end]);
        }
        token(&mut h, b" ", &[b"bh=", body_hash.as_bytes(), b";"]);
        h.token(b" ", b"b=");
        let col = h.col();

        // The signature covers this field as written, with b= empty and no
        // trailing CRLF (RFC 6376 §3.7).
        data.truncate(headers_len);
        relaxed_header(&header, &mut data);
        sig.clear();
        signer.sign_data(&data, &mut sig)?;

        let sig_b64 = STANDARD.encode(&sig);
        let mut h = HeaderLine::resume(&mut header, col);
        // b= may fold anywhere; verifiers drop the white space. Fill the
        // current line first, then whole continuation lines.
        let (head, tail) = sig_b64.as_bytes().split_at(LINE_SOFT_LIMIT.saturating_sub(col).min(sig_b64.len()));
        if !head.is_empty() {
            h.token(b"", head);
        }
        for chunk in tail.chunks(LINE_SOFT_LIMIT - 2) {
            h.token(b"", chunk);
        }
        h.finish();
        // Everything written is ASCII (names checked, base64, digits).
        result.push_str(&String::from_utf8_lossy(&header));
    }
    Ok(result)
}

/// A header field: the raw bytes from its name to the end of its last line,
/// without the final CRLF.
struct Field<'m> {
    name: &'m [u8],
    raw: &'m [u8],
}

impl Field<'_> {
    fn is_named(&self, lower: &str) -> bool {
        self.name.eq_ignore_ascii_case(lower.as_bytes())
    }
}

/// Splits a message into header fields and body. Lines end in CRLF (a bare
/// LF is tolerated); the header ends at the first empty line.
fn split_message(message: &[u8]) -> (Vec<Field<'_>>, &[u8]) {
    let mut fields: Vec<Field<'_>> = Vec::with_capacity(16);
    let mut pos = 0;
    let mut current: Option<(usize, usize)> = None; // (start, end of last line)
    let mut body = &message[message.len()..];
    while pos < message.len() {
        let line_end = message[pos..].iter().position(|&b| b == b'\n').map_or(message.len(), |p| pos + p);
        let content_end = if line_end > pos && message[line_end - 1] == b'\r' { line_end - 1 } else { line_end };
        let next = (line_end + 1).min(message.len());
        if content_end == pos {
            body = &message[next..];
            break;
        }
        let continuation = matches!(message[pos], b' ' | b'\t');
        match (&mut current, continuation) {
            (Some((_, end)), true) => *end = content_end,
            _ => {
                if let Some((start, end)) = current.take() {
                    fields.push(make_field(&message[start..end]));
                }
                current = Some((pos, content_end));
            }
        }
        pos = next;
    }
    if let Some((start, end)) = current {
        fields.push(make_field(&message[start..end]));
    }
    (fields, body)
}

fn make_field(raw: &[u8]) -> Field<'_> {
    let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
    let name = raw[..colon].trim_ascii_end();
    Field { name, raw }
}

/// Relaxed header canonicalisation (RFC 6376 §3.4.2) of one raw field,
/// without the trailing CRLF: lower-case name, unfolded value, white space
/// runs as one space, none around the colon or at the end.
fn relaxed_header(raw: &[u8], out: &mut Vec<u8>) {
    let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
    out.extend(raw[..colon].trim_ascii_end().iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    let mut pending_space = false;
    let mut wrote = false;
    for &b in raw.get(colon + 1..).unwrap_or_default() {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => pending_space = true,
            _ => {
                if pending_space && wrote {
                    out.push(b' ');
                }
                pending_space = false;
                wrote = true;
                out.push(b);
            }
        }
    }
}

/// SHA-256 of the relaxed body (RFC 6376 §3.4.4): white space at line ends
/// dropped, runs inside lines as one space, empty lines at the end dropped,
/// a final CRLF present unless the body is empty; a bare LF counts as a line
/// end (written as CRLF).
///
/// This is the per-message hot spot after signing itself, so the body is
/// not copied: unchanged spans go to the hash directly, and only the places
/// that canonicalisation changes break a span. A body written by
/// [`super::message`] is one long span but for runs of spaces.
fn relaxed_body_hash(body: &[u8]) -> digest::Digest {
    let mut ctx = digest::Context::new(&SHA256);
    // Drop what canonicalisation removes at the very end: empty lines and
    // white space before them.
    let mut end = body.len();
    loop {
        match &body[..end] {
            [.., b' ' | b'\t'] => end -= 1,
            [.., b'\r', b'\n'] => end -= 2,
            [.., b'\n'] => end -= 1,
            _ => break,
        }
    }
    if end == 0 {
        return ctx.finish();
    }
    let body = &body[..end];
    let mut span = 0;
    let mut i = 0;
    while i < body.len() {
        // Skip a block, else 8 bytes, at a time while nothing in them needs
        // changing.
        if i >= 1 && array_at(body, i - 1).is_some_and(block_is_canonical) {
            i += BLOCK;
            continue;
        }
        if i >= 1 && i + 9 <= body.len() && window_is_canonical(body, i) {
            i += 8;
            continue;
        }
        match body[i] {
            b' ' | b'\t' => {
                let mut j = i + 1;
                while j < body.len() && matches!(body[j], b' ' | b'\t') {
                    j += 1;
                }
                let at_line_end = matches!(body.get(j), Some(b'\n')) || body[j..].starts_with(b"\r\n");
                if at_line_end {
                    ctx.update(&body[span..i]);
                    span = j;
                } else if j - i > 1 || body[i] == b'\t' {
                    ctx.update(&body[span..i]);
                    ctx.update(b" ");
                    span = j;
                }
                i = j;
            }
            b'\n' if i == 0 || body[i - 1] != b'\r' => {
                ctx.update(&body[span..i]);
                ctx.update(b"\r\n");
                i += 1;
                span = i;
            }
            _ => i += 1,
        }
    }
    ctx.update(&body[span..]);
    ctx.update(b"\r\n");
    ctx.finish()
}

/// Whether relaxed canonicalisation leaves the middle [`BLOCK`] bytes of
/// `w` unchanged (`w[0]` is the byte before them, the last one the byte
/// after): the same test as [`window_is_canonical`], written for SIMD.
#[inline]
fn block_is_canonical(w: &[u8; BLOCK + 2]) -> bool {
    // Computed for all bytes, then combined: the form that vectorises.
    let mut kept = [false; BLOCK];
    for (k, kept) in kept.iter_mut().enumerate() {
        let (p, c, n) = (w[k], w[k + 1], w[k + 2]);
        *kept = (c > 0x20) | ((c == b' ') & (n > 0x20)) | ((c == b'\r') & (n == b'\n')) | ((c == b'\n') & (p == b'\r'));
    }
    all_set(&kept)
}

/// Whether relaxed canonicalisation leaves `body[at..at + 8]` unchanged
/// and needs no decision there: no space followed by white space or a line
/// end, no control character but CR LF pairs. Needs `at >= 1` and
/// `at + 9 <= body.len()`. Control characters are found with one
/// "at most 0x20" test (a superset of the white space that matters); only
/// words that have some get the exact CR LF check.
fn window_is_canonical(body: &[u8], at: usize) -> bool {
    let w = load(body, at);
    let next = load(body, at + 1);
    let space = bytes_equal(w, b' ');
    let mut changed = space & at_most_space(next);
    let control = at_most_space(w) & !space;
    if control != 0 {
        let prev = load(body, at - 1);
        let crlf =
            (bytes_equal(w, b'\r') & bytes_equal(next, b'\n')) | (bytes_equal(w, b'\n') & bytes_equal(prev, b'\r'));
        changed |= control & !crlf;
    }
    changed == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_canon(body: &[u8]) -> String {
        // Reference implementation, straight from the RFC text.
        let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
        let mut lines: Vec<String> = text
            .split('\n')
            .map(|l| {
                let mut s = String::new();
                let mut ws = false;
                for c in l.chars() {
                    if c == ' ' || c == '\t' {
                        ws = true;
                    } else {
                        if ws {
                            s.push(' ');
                        }
                        ws = false;
                        s.push(c);
                    }
                }
                s
            })
            .collect();
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines.iter().map(|l| format!("{l}\r\n")).collect()
    }

    #[test]
    fn relaxed_body_matches_reference() {
        let bodies: [&[u8]; 8] = [
            b"",
            b"\r\n\r\n",
            b"a  b \t c\t\r\n\r\n\r\n",
            b"x\r\n \r\ny",
            b" leading\r\n\tt\r\n",
            b"no final newline",
            b"single space keeps\r\n",
            b"a\tb\r\n",
        ];
        for body in bodies {
            let expected = digest::digest(&SHA256, body_canon(body).as_bytes());
            assert_eq!(relaxed_body_hash(body).as_ref(), expected.as_ref(), "{:?}", String::from_utf8_lossy(body));
        }
    }

    proptest::proptest! {
        #[test]
        fn relaxed_body_matches_reference_on_arbitrary_bodies(
            body in super::super::encode::concatenations(&[
                " ", "  ", "\t", "\r\n", "\n", "\r", "\x0c", "word", "x", "ü", "0123456789abcdef",
            ], 80)
        ) {
            let expected = digest::digest(&SHA256, body_canon(body.as_bytes()).as_bytes());
            let got = relaxed_body_hash(body.as_bytes());
            proptest::prop_assert_eq!(got.as_ref(), expected.as_ref());
        }
    }

    #[test]
    fn canonical_block_agrees_with_the_word_test() {
        // Every byte value at the start, middle and end of a block, between
        // every kind of neighbour: the block test and the SWAR word test
        // (applied to the same bytes) must agree.
        let neighbours = [b'a', b' ', b'\r', b'\n', b'\t'];
        for b in 0..=255u8 {
            for at in [1, 9, BLOCK] {
                for &before in &neighbours {
                    for &after in &neighbours {
                        let mut w = [b'a'; BLOCK + 2];
                        w[at] = b;
                        w[at - 1] = before;
                        w[at + 1] = after;
                        let words = (1..=BLOCK).step_by(8).all(|i| window_is_canonical(&w, i));
                        assert_eq!(block_is_canonical(&w), words, "{before:#x} {b:#x} {after:#x} at {at}");
                    }
                }
            }
        }
    }

    #[test]
    fn byte_masks_are_exact() {
        let w = u64::from_le_bytes(*b"\r\x0c\n \t a\x01");
        assert_eq!(bytes_equal(w, b'\r'), 0x80);
        assert_eq!(bytes_equal(w, b'\x0c'), 0x80 << 8);
        assert_eq!(bytes_equal(w, b' '), (0x80 << 24) | (0x80 << 40));
        assert_eq!(bytes_equal(w, 0), 0);
    }

    #[test]
    fn relaxed_header_unfolds_and_collapses() {
        let mut out = Vec::new();
        relaxed_header(b"SubJect \t:  Hello \r\n\t  World  ", &mut out);
        assert_eq!(out, b"subject:Hello World");
    }

    #[test]
    fn split_finds_folded_fields_and_body() {
        let msg = b"From: a@b.c\r\nSubject: one\r\n two\r\nTo: x@y.z\r\n\r\nbody\r\n";
        let (fields, body) = split_message(msg);
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[1].raw, b"Subject: one\r\n two");
        assert_eq!(body, b"body\r\n");
    }

    #[test]
    fn spki_wraps_a_2048_bit_key_with_long_lengths() {
        let fake = vec![0u8; 270];
        let der = rsa_spki_der(&fake);
        assert_eq!(&der[..4], &[0x30, 0x82, 0x01, 0x22]);
        assert_eq!(der.len(), 294);
    }

    #[test]
    fn ed25519_keys_round_trip_and_publish_raw_key() {
        let key = DkimKey::generate_ed25519().expect("keygen");
        let again = DkimKey::from_pkcs8_der(key.to_pkcs8_der()).expect("reload");
        assert_eq!(key.public_key_base64(), again.public_key_base64());
        assert_eq!(key.algorithm(), DkimAlgorithm::Ed25519Sha256);
        let txt = key.dns_txt_value();
        assert!(txt.starts_with("v=DKIM1; k=ed25519; p="));
        let p = STANDARD.decode(&txt["v=DKIM1; k=ed25519; p=".len()..]).expect("base64");
        assert_eq!(p.len(), 32);
    }

    #[test]
    fn ed25519_signatures_are_what_ring_makes_for_the_same_key() {
        // Ed25519 is deterministic: the signer (ed25519-dalek) must give
        // exactly ring's bytes, for PKCS#8 v2 (ring's) and v1 documents.
        let v2 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let seed = ed25519_dalek::SigningKey::from_pkcs8_der(v2.as_ref()).expect("seed").to_bytes();
        let mut v1 =
            vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        v1.extend_from_slice(&seed);
        for der in [v2.as_ref(), v1.as_slice()] {
            let ring_pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).expect("ring parses");
            let signer =
                DkimSigner::new(DkimKey::from_pkcs8_der(der).expect("loads"), "example.com", "s1").expect("signer");
            for data in [&b""[..], b"from:a@example.com\r\n", &[0xff; 300]] {
                let mut ours = Vec::new();
                signer.sign_data(data, &mut ours).expect("signs");
                let hash = digest::digest(&SHA256, data);
                assert_eq!(ours, ring_pair.sign(hash.as_ref()).as_ref());
            }
            assert_eq!(signer.key().public_key_base64(), STANDARD.encode(ring_pair.public_key().as_ref()));
        }
    }

    #[test]
    fn garbage_keys_are_refused_with_advice() {
        let err = DkimKey::from_pkcs8_der(b"not a key").expect_err("garbage");
        assert!(err.to_string().contains("generate a new key"));
    }

    #[test]
    fn names_are_checked() {
        let key = DkimKey::generate_ed25519().expect("keygen");
        assert!(DkimSigner::new(key, "exa mple.com", "s1").is_err());
    }

    #[test]
    fn message_without_from_is_refused() {
        let key = DkimKey::generate_ed25519().expect("keygen");
        let signer = DkimSigner::new(key, "example.com", "s1").expect("signer");
        assert_eq!(signer.sign(b"Subject: x\r\n\r\nbody\r\n", 1), Err(DkimError::NoFrom));
    }
}
