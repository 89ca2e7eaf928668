//! What an email address is. Parsing follows RFC 5321 (lengths, what SMTP
//! accepts in a quoted local part), RFC 5322 (dot-atom), RFC 6531/6532 (UTF-8
//! local parts, which need SMTPUTF8) and RFC 5890/5891 via UTS-46 (IDNA
//! domains, carried as A-labels on the wire).
//!
//! Once you hold an [`EmailAddress`] it is valid and in canonical form: the
//! domain is the lower-case A-label and a quoted local part that does not need
//! quotes is written without them (RFC 5321 §4.1.2 asks for the dot-string
//! form when possible), so one mailbox has one spelling.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// RFC 5321 §4.5.3.1.1.
pub const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2.
pub const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3 (path ≤ 256 octets including the angle brackets).
pub const MAX_ADDRESS: usize = 254;
/// RFC 1035 §2.3.4.
const MAX_LABEL: usize = 63;
/// Bounds the IDNA work on hostile input. UTS-46 can delete characters, so the
/// raw domain may legitimately be a little longer than its A-label, but never
/// four times longer.
const MAX_RAW_DOMAIN: usize = 4 * MAX_DOMAIN;

/// A valid, canonical email address.
///
/// Equality and hashing use [`EmailAddress::normalized`]: the local part is
/// compared case-insensitively (RULES.md "Addresses"), while
/// [`EmailAddress::as_str`] keeps the case the owner typed for delivery.
#[derive(Clone)]
pub struct EmailAddress {
    /// `local@domain` in delivery form.
    full: String,
    /// Byte index of the '@' in `full`.
    at: usize,
    /// Identity key, computed once because it is compared and hashed a lot.
    normalized: String,
}

/// Why a string is not an acceptable email address.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    #[error("the email address is empty; enter an address like name@example.com")]
    Empty,
    #[error("the email address has no '@'; it must look like name@example.com")]
    MissingAt,
    #[error("the email address is {len} bytes long, but at most 254 are allowed (RFC 5321); use a shorter address")]
    TooLong { len: usize },
    #[error("the part before '@' is {len} bytes long, but at most 64 are allowed (RFC 5321); use a shorter address")]
    LocalPartTooLong { len: usize },
    #[error("the domain is {len} bytes long, but at most 255 are allowed (RFC 5321); check the part after '@'")]
    DomainTooLong { len: usize },
    #[error("the part before '@' is not valid: it {reason}")]
    BadLocalPart { reason: &'static str },
    #[error("the domain is not valid: it {reason}")]
    BadDomain { reason: String },
    #[error(
        "{local}@ is a role address (a shared or technical mailbox, RFC 2142) and is never mailed; use a personal address"
    )]
    RoleAddress { local: String },
    #[error("{domain} is a disposable (throwaway) email domain; use a permanent address")]
    DisposableDomain { domain: String },
}

impl AddressError {
    /// Stable snake_case code, used as the API error code.
    pub fn code(&self) -> &'static str {
        match self {
            AddressError::Empty => "empty",
            AddressError::MissingAt => "missing_at",
            AddressError::TooLong { .. } => "too_long",
            AddressError::LocalPartTooLong { .. } => "local_part_too_long",
            AddressError::DomainTooLong { .. } => "domain_too_long",
            AddressError::BadLocalPart { .. } => "bad_local_part",
            AddressError::BadDomain { .. } => "bad_domain",
            AddressError::RoleAddress { .. } => "role_address",
            AddressError::DisposableDomain { .. } => "disposable_domain",
        }
    }
}

fn bad_local(reason: &'static str) -> AddressError {
    AddressError::BadLocalPart { reason }
}

fn bad_domain(reason: impl Into<String>) -> AddressError {
    AddressError::BadDomain { reason: reason.into() }
}

impl EmailAddress {
    /// Parses and canonicalises an address typed by a person or found in a
    /// file. Surrounding whitespace is ignored.
    pub fn parse(input: &str) -> Result<EmailAddress, AddressError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        let (local_raw, domain_raw) = split_at_sign(s)?;

        let local = canonical_local(local_raw)?;
        if local.len() > MAX_LOCAL_PART {
            return Err(AddressError::LocalPartTooLong { len: local.len() });
        }
        let domain = ascii_domain(domain_raw)?;
        let len = local.len() + 1 + domain.len();
        if len > MAX_ADDRESS {
            return Err(AddressError::TooLong { len });
        }

        let normalized = format!("{}@{}", local.to_lowercase(), domain);
        Ok(EmailAddress { at: local.len(), full: format!("{local}@{domain}"), normalized })
    }

    /// Delivery form: the local part as given (case kept) and the A-label
    /// domain.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn local_part(&self) -> &str {
        &self.full[..self.at]
    }

    /// The domain as lower-case A-labels (punycode), as used in SMTP and DNS.
    pub fn domain(&self) -> &str {
        &self.full[self.at + 1..]
    }

    /// The domain in U-label form, for showing to people.
    pub fn unicode_domain(&self) -> String {
        // The domain passed IDNA when parsed, so decoding cannot fail; if it
        // ever did, the A-label is still a correct (if less pretty) display.
        let (unicode, result) = idna::domain_to_unicode(self.domain());
        match result {
            Ok(()) => unicode,
            Err(_) => self.domain().to_owned(),
        }
    }

    /// The local part before the first '+' (sub-addressing). A quoted local
    /// part is opaque, so it is returned whole.
    pub fn base_local_part(&self) -> &str {
        let local = self.local_part();
        if local.starts_with('"') {
            return local;
        }
        match local.split_once('+') {
            Some((base, _)) => base,
            None => local,
        }
    }

    /// The sub-address after the first '+', if there is a non-empty one.
    pub fn tag(&self) -> Option<&str> {
        let local = self.local_part();
        if local.starts_with('"') {
            return None;
        }
        local.split_once('+').map(|(_, tag)| tag).filter(|tag| !tag.is_empty())
    }

    /// Identity key: lower-cased local part + "@" + A-label domain. The tag
    /// is kept: `a+x@` and `a@` may be different mailboxes.
    pub fn normalized(&self) -> String {
        self.normalized.clone()
    }

    /// True when the local part is not ASCII; such an address may only be
    /// handed to servers that announce SMTPUTF8 (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        !self.local_part().is_ascii()
    }

    /// Is this a role mailbox by the built-in list? Operators who extend the
    /// list use [`crate::RoleAddresses::is_role`] with their own instance.
    pub fn is_role(&self) -> bool {
        crate::role::builtin().is_role(self)
    }
}

/// Splits at the one '@' that is not inside a quoted local part.
fn split_at_sign(s: &str) -> Result<(&str, &str), AddressError> {
    if let Some(rest) = s.strip_prefix('"') {
        let mut escaped = false;
        let mut close = None;
        for (i, c) in rest.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                close = Some(i);
                break;
            }
        }
        let Some(close) = close else {
            return Err(bad_local("has an opening quote but no closing quote; close the quotes or remove them"));
        };
        // +1 for the opening quote stripped above, +1 to include the closing one.
        let end = close + 2;
        let (local, after) = s.split_at(end);
        return match after.strip_prefix('@') {
            Some(domain) if domain.contains('@') => {
                Err(bad_domain("contains '@'; an address has exactly one '@' outside quotes"))
            }
            Some(domain) => Ok((local, domain)),
            None if after.is_empty() => Err(AddressError::MissingAt),
            None => Err(bad_local("has text between the closing quote and the '@'; quote the whole part before '@'")),
        };
    }
    let mut parts = s.splitn(3, '@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => Ok((local, domain)),
        (_, None, _) => Err(AddressError::MissingAt),
        _ => Err(bad_local(
            "has more than one '@'; an address has exactly one (quote the part before the last '@' if it really contains one)",
        )),
    }
}

/// RFC 5322 atext: characters allowed in a dot-atom besides dots.
fn is_atext_ascii(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Characters that render as nothing or reorder text. They are valid Unicode
/// but only ever serve to make two addresses look alike.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Non-ASCII characters allowed in a local part (RFC 6532 UTF8-non-ascii),
/// minus the ones that cannot be typed or seen.
fn non_ascii_ok(c: char) -> Result<(), AddressError> {
    if c.is_control() {
        Err(bad_local("contains a control character; remove it"))
    } else if c.is_whitespace() {
        Err(bad_local("contains an unusual space character; remove it"))
    } else if is_invisible(c) {
        Err(bad_local("contains an invisible formatting character; retype the address"))
    } else {
        Ok(())
    }
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|atom| {
            !atom.is_empty() && atom.chars().all(|c| is_atext_ascii(c) || (!c.is_ascii() && non_ascii_ok(c).is_ok()))
        })
}

/// Validates the local part and returns its canonical spelling.
fn canonical_local(raw: &str) -> Result<String, AddressError> {
    if raw.is_empty() {
        return Err(bad_local("is empty; put the mailbox name before '@'"));
    }
    if let Some(inner) = raw.strip_prefix('"') {
        // split_at_sign guarantees a closing quote at the end.
        let inner = inner.strip_suffix('"').unwrap_or(inner);
        let content = unquote(inner)?;
        if content.is_empty() {
            return Err(bad_local("is an empty quoted string; put the mailbox name before '@'"));
        }
        if is_dot_atom(&content) {
            return Ok(content);
        }
        let mut quoted = String::with_capacity(content.len() + 2);
        quoted.push('"');
        for c in content.chars() {
            if c == '"' || c == '\\' {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        return Ok(quoted);
    }

    for c in raw.chars() {
        if c.is_ascii() {
            if c == ' ' || c == '\t' {
                return Err(bad_local(
                    "contains a space; remove it (or put the part before '@' in quotes if the mailbox really has one)",
                ));
            }
            if c.is_ascii_control() {
                return Err(bad_local("contains a control character; remove it"));
            }
            if c != '.' && !is_atext_ascii(c) {
                return Err(bad_local(
                    "contains a character that is only allowed inside quotes, such as ( ) , : ; < > [ ] \\ or \"; remove it",
                ));
            }
        } else {
            non_ascii_ok(c)?;
        }
    }
    if raw.starts_with('.') {
        return Err(bad_local("starts with a dot; remove it"));
    }
    if raw.ends_with('.') {
        return Err(bad_local("ends with a dot; remove it"));
    }
    if raw.contains("..") {
        return Err(bad_local("has two dots in a row; remove one"));
    }
    Ok(raw.to_owned())
}

/// Decodes the inside of an RFC 5321 quoted string (qtextSMTP and
/// quoted-pairSMTP, extended with UTF-8 by RFC 6531).
fn unquote(inner: &str) -> Result<String, AddressError> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let c = if c == '\\' {
            match chars.next() {
                Some(e) if (' '..='~').contains(&e) => e,
                _ => {
                    return Err(bad_local("has a backslash that does not escape a printable character; remove it"));
                }
            }
        } else if c == '"' {
            return Err(bad_local("has a quote inside quotes; escape it as \\\""));
        } else if c.is_ascii() {
            if !(' '..='~').contains(&c) {
                return Err(bad_local("contains a control character; remove it"));
            }
            c
        } else {
            non_ascii_ok(c)?;
            c
        };
        out.push(c);
    }
    Ok(out)
}

/// Validates the domain and returns it as lower-case A-labels.
fn ascii_domain(raw: &str) -> Result<String, AddressError> {
    if raw.is_empty() {
        return Err(bad_domain("is empty; put the domain after '@', like example.com"));
    }
    if raw.starts_with('[') {
        return Err(bad_domain(
            "is an address literal such as [192.0.2.1]; Assent only mails addresses on a domain name",
        ));
    }
    if raw.len() > MAX_RAW_DOMAIN {
        return Err(AddressError::DomainTooLong { len: raw.len() });
    }
    if raw.chars().any(char::is_control) {
        return Err(bad_domain("contains a control character; remove it"));
    }
    if raw.chars().any(char::is_whitespace) {
        return Err(bad_domain("contains a space; remove it"));
    }
    // An ASCII domain keeps its length through IDNA, so the length verdict
    // can come first and not depend on whether some label is valid punycode.
    if raw.is_ascii() && raw.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong { len: raw.len() });
    }
    let ascii = idna::domain_to_ascii(raw)
        .map_err(|_| bad_domain("is not a valid internationalised domain name (IDNA); check its spelling"))?
        .to_ascii_lowercase();
    if ascii.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong { len: ascii.len() });
    }

    let labels: Vec<&str> = ascii.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(bad_domain(
                "has an empty label (a leading or trailing dot, or two dots in a row); remove the extra dot",
            ));
        }
        if label.len() > MAX_LABEL {
            return Err(bad_domain(format!(
                "has a label of {} characters, but at most 63 are allowed between dots",
                label.len()
            )));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(bad_domain(format!("contains {c:?}; a domain has only letters, digits, hyphens and dots")));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad_domain(format!(
                "has the label {label:?} that starts or ends with a hyphen; domain labels cannot"
            )));
        }
    }
    if labels.len() < 2 {
        return Err(bad_domain("has only one label; a mailable domain has a dot, like example.com"));
    }
    if labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
        return Err(bad_domain(
            "ends in a number; top-level domains are never all digits (IP addresses are not mailed)",
        ));
    }
    Ok(ascii)
}

impl PartialEq for EmailAddress {
    fn eq(&self, other: &Self) -> bool {
        self.normalized == other.normalized
    }
}

impl Eq for EmailAddress {}

impl Hash for EmailAddress {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.normalized.hash(state);
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EmailAddress").field(&self.full).finish()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl FromStr for EmailAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EmailAddress::parse(s)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        EmailAddress::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ok(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn err(s: &str) -> AddressError {
        match EmailAddress::parse(s) {
            Ok(a) => panic!("{s:?} should be refused, got {a:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn simple_address_parts() {
        let a = ok("  Jane.Doe+News@Example.COM \n");
        assert_eq!(a.as_str(), "Jane.Doe+News@example.com");
        assert_eq!(a.local_part(), "Jane.Doe+News");
        assert_eq!(a.domain(), "example.com");
        assert_eq!(a.base_local_part(), "Jane.Doe");
        assert_eq!(a.tag(), Some("News"));
        assert_eq!(a.normalized(), "jane.doe+news@example.com");
        assert!(!a.needs_smtputf8());
        assert_eq!(a.to_string(), a.as_str());
    }

    #[test]
    fn no_tag() {
        let a = ok("jane@example.com");
        assert_eq!(a.base_local_part(), "jane");
        assert_eq!(a.tag(), None);
        assert_eq!(ok("jane+@example.com").tag(), None);
        assert_eq!(ok("a+b+c@example.com").tag(), Some("b+c"));
    }

    #[test]
    fn equality_is_case_insensitive_but_keeps_tags_apart() {
        assert_eq!(ok("Jane@example.com"), ok("jane@EXAMPLE.com"));
        assert_ne!(ok("jane+x@example.com"), ok("jane@example.com"));
        let mut set = std::collections::HashSet::new();
        set.insert(ok("A@example.com"));
        assert!(set.contains(&ok("a@example.com")));
    }

    #[test]
    fn all_atext_is_allowed() {
        let a = ok("!#$%&'*+-/=?^_`{|}~@example.com");
        assert_eq!(a.local_part(), "!#$%&'*+-/=?^_`{|}~");
    }

    #[test]
    fn quoted_local_parts() {
        let a = ok("\"john doe\"@x.org");
        assert_eq!(a.local_part(), "\"john doe\"");
        assert_eq!(a.base_local_part(), "\"john doe\"");
        assert_eq!(a.tag(), None);
        // Needless quotes and escapes are dropped: one mailbox, one spelling.
        assert_eq!(ok("\"john\"@x.org").as_str(), "john@x.org");
        assert_eq!(ok("\"j\\ohn\"@x.org").as_str(), "john@x.org");
        assert_eq!(ok("\"a\\\"b\"@x.org").local_part(), "\"a\\\"b\"");
        assert_eq!(ok("\"a@b\"@x.org").local_part(), "\"a@b\"");
        assert_eq!(ok("\"a..b\"@x.org").local_part(), "\"a..b\"");
        let q = ok("\"a\\\\b\"@x.org");
        assert_eq!(EmailAddress::parse(q.as_str()), Ok(q.clone()));
        assert_eq!(q.local_part(), "\"a\\\\b\"");
    }

    #[test]
    fn bad_quoted_local_parts() {
        assert_eq!(err("\"abc@x.org").code(), "bad_local_part");
        assert_eq!(err("\"abc\"x@x.org").code(), "bad_local_part");
        assert_eq!(err("\"abc\"").code(), "missing_at");
        assert_eq!(err("\"\"@x.org").code(), "bad_local_part");
        assert_eq!(err("\"a\tb\"@x.org").code(), "bad_local_part");
        assert_eq!(err("\"a\0b\"@x.org").code(), "bad_local_part");
        assert_eq!(err("\"a\"@b@x.org").code(), "bad_domain");
    }

    #[test]
    fn utf8_local_part_needs_smtputf8() {
        let a = ok("Jörg@example.de");
        assert!(a.needs_smtputf8());
        assert_eq!(a.normalized(), "jörg@example.de");
        assert!(ok("用户@例子.广告").needs_smtputf8());
        assert!(!ok("jorg@bücher.de").needs_smtputf8());
    }

    #[test]
    fn idna_domain_is_carried_as_a_labels() {
        let a = ok("jorg@Bücher.de");
        assert_eq!(a.domain(), "xn--bcher-kva.de");
        assert_eq!(a.as_str(), "jorg@xn--bcher-kva.de");
        assert_eq!(a.unicode_domain(), "bücher.de");
        assert_eq!(ok("jorg@xn--bcher-kva.de"), a);
        // Full-width dot is a label separator under UTS-46.
        assert_eq!(ok("a@example。com").domain(), "example.com");
    }

    #[test]
    fn empty_and_missing_at() {
        assert_eq!(err(""), AddressError::Empty);
        assert_eq!(err("   \t"), AddressError::Empty);
        assert_eq!(err("jane.example.com"), AddressError::MissingAt);
        assert_eq!(err("@example.com").code(), "bad_local_part");
        assert_eq!(err("jane@").code(), "bad_domain");
        assert_eq!(err("a@b@example.com").code(), "bad_local_part");
    }

    #[test]
    fn bad_dot_atoms() {
        for s in [
            ".a@x.org",
            "a.@x.org",
            "a..b@x.org",
            "a b@x.org",
            "a\0b@x.org",
            "a\u{7}b@x.org",
            "a(b)@x.org",
            "a,b@x.org",
            "a\"b@x.org",
            "a\u{200B}b@x.org",
            "a\u{A0}b@x.org",
            "a\u{85}b@x.org",
        ] {
            assert_eq!(err(s).code(), "bad_local_part", "{s:?}");
        }
    }

    #[test]
    fn bad_domains() {
        for s in [
            "a@[192.0.2.1]",
            "a@[IPv6:2001:db8::1]",
            "a@localhost",
            "a@example..com",
            "a@.example.com",
            "a@example.com.",
            "a@-example.com",
            "a@example-.com",
            "a@exa_mple.com",
            "a@exa mple.com",
            "a@example.123",
            "a@192.0.2.1",
            "a@ex\u{1}ample.com",
            "a@xn--zz.com",
            "a@exa!mple.com",
        ] {
            assert_eq!(err(s).code(), "bad_domain", "{s:?}");
        }
        // A numeric label is fine as long as the TLD is not numeric.
        assert!(EmailAddress::parse("a@123.example.com").is_ok());
        assert!(EmailAddress::parse("a@a.b.c.d.example.co.uk").is_ok());
    }

    #[test]
    fn label_longer_than_63_is_refused() {
        let label = "a".repeat(64);
        assert_eq!(err(&format!("a@{label}.com")).code(), "bad_domain");
        let label = "a".repeat(63);
        assert!(EmailAddress::parse(&format!("a@{label}.com")).is_ok());
    }

    #[test]
    fn length_limits() {
        let local = "a".repeat(64);
        assert!(EmailAddress::parse(&format!("{local}@x.org")).is_ok());
        let local = "a".repeat(65);
        assert_eq!(err(&format!("{local}@x.org")), AddressError::LocalPartTooLong { len: 65 });
        // Five labels of 63 plus dots: 319 bytes.
        let domain = vec!["b".repeat(63); 5].join(".") + ".com";
        assert_eq!(err(&format!("a@{domain}")), AddressError::DomainTooLong { len: domain.len() });
        // Domain within 255 but the whole address over 254.
        let domain = vec!["b".repeat(63); 3].join(".") + ".com"; // 195
        let local = "a".repeat(64);
        assert_eq!(err(&format!("{local}@{domain}")), AddressError::TooLong { len: 64 + 1 + 195 });
        // Exactly 254 is fine.
        let local = "a".repeat(58);
        let a = ok(&format!("{local}@{domain}"));
        assert_eq!(a.as_str().len(), 254);
    }

    #[test]
    fn huge_raw_domain_is_refused_cheaply() {
        let domain = "é".repeat(5000);
        assert_eq!(err(&format!("a@{domain}.com")).code(), "domain_too_long");
    }

    #[test]
    fn length_is_measured_on_a_labels() {
        // 60 'ü' are 120 UTF-8 bytes but a 67-byte A-label: too long a label.
        let label = "ü".repeat(60);
        assert_eq!(err(&format!("a@{label}.de")).code(), "bad_domain");
    }

    #[test]
    fn is_role_uses_builtin_list() {
        assert!(ok("Postmaster@example.com").is_role());
        assert!(ok("info+x@example.com").is_role());
        assert!(!ok("jane@example.com").is_role());
    }

    #[test]
    fn serde_round_trip() {
        let a = ok("Jane@Example.com");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"Jane@example.com\"");
        let back: EmailAddress = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        let e = serde_json::from_str::<EmailAddress>("\"nope\"").unwrap_err();
        assert!(e.to_string().contains("has no '@'"), "{e}");
        let parsed: EmailAddress = "x@y.org".parse().unwrap();
        assert_eq!(parsed.as_str(), "x@y.org");
    }

    #[test]
    fn every_error_has_a_code_and_a_message() {
        let all = [
            AddressError::Empty,
            AddressError::MissingAt,
            AddressError::TooLong { len: 300 },
            AddressError::LocalPartTooLong { len: 65 },
            AddressError::DomainTooLong { len: 256 },
            AddressError::BadLocalPart { reason: "x" },
            AddressError::BadDomain { reason: "y".into() },
            AddressError::RoleAddress { local: "info".into() },
            AddressError::DisposableDomain { domain: "mailinator.com".into() },
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), all.len());
        for e in &all {
            assert!(!e.to_string().is_empty());
        }
        assert!(AddressError::RoleAddress { local: "info".into() }.to_string().starts_with("info@ is a role address"));
    }
}
