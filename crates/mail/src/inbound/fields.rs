//! Shared scanning helpers: RFC 822-style field blocks (the bodies of
//! `message/delivery-status`, RFC 3464 §2.1, and `message/feedback-report`,
//! RFC 5965 §3.1), address extraction from free text, and VERP tokens.
//! Plain byte scanning; nothing here allocates per byte or can panic on
//! hostile input.

use assent_domain::bounce::Pairs;

/// One `Name: value` field. Continuation lines are joined with `\n` so a
/// multi-line SMTP reply in a `Diagnostic-Code` keeps its line structure.
#[derive(Debug, Clone)]
pub(crate) struct Field<'a> {
    pub name: &'a str,
    pub value: String,
}

impl Field<'_> {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// Caps the work on hostile input; a real report has a few dozen lines.
const MAX_FIELD_LINES: usize = 20_000;

/// Splits a field body into blank-line separated groups of fields.
/// Lines that are neither fields nor indented continuations (broken folding
/// is common in the wild) continue the previous field.
pub(crate) fn field_groups(text: &str) -> Vec<Vec<Field<'_>>> {
    let mut groups = Vec::new();
    let mut cur: Vec<Field<'_>> = Vec::new();
    for line in text.lines().take(MAX_FIELD_LINES) {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !cur.is_empty() {
                groups.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        match (indented, split_field(line)) {
            (false, Some((name, value))) => cur.push(Field { name, value: value.trim().to_owned() }),
            _ => {
                if let Some(last) = cur.last_mut() {
                    if !last.value.is_empty() {
                        last.value.push('\n');
                    }
                    last.value.push_str(line.trim());
                }
            }
        }
    }
    if !cur.is_empty() {
        groups.push(cur);
    }
    groups
}

fn split_field(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let name = &line[..colon];
    let ok = !name.is_empty()
        && name.len() <= 76
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| (name, &line[colon + 1..]))
}

/// The value of an address field such as `Final-Recipient: rfc822; <a@b.c>`:
/// the address type (RFC 3464 §2.3.2) and brackets removed, lower-cased.
pub(crate) fn address_value(value: &str) -> Option<String> {
    address_value_cased(value).map(|a| a.to_lowercase())
}

/// [`address_value`] keeping the case: VERP tokens in return paths are
/// case-sensitive.
pub(crate) fn address_value_cased(value: &str) -> Option<String> {
    let v = value.trim();
    // "rfc822;", "utf-8;", "x-unknown;": a token before the first ';'.
    let v = match v.split_once(';') {
        Some((ty, rest)) if !ty.contains('@') && !ty.trim().contains(' ') => rest.trim(),
        _ => v,
    };
    if let Some(r) = find_addresses(v).into_iter().next() {
        return Some(v[r].to_owned());
    }
    let bare = v.trim_matches(|c: char| c == '<' || c == '>' || c == '"' || c.is_whitespace());
    (!bare.is_empty() && !bare.contains(char::is_whitespace) && bare.len() <= 320).then(|| bare.to_owned())
}

/// Splits `smtp; 550 …` into the diagnostic type and text; the text alone
/// when there is no type.
pub(crate) fn strip_type(value: &str) -> &str {
    let v = value.trim();
    match v.split_once(';') {
        Some((ty, rest))
            if !ty.is_empty()
                && ty.len() <= 32
                && ty.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            rest.trim()
        }
        _ => v,
    }
}

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b"!#$%&'*+-/=?^_`{|}~.".contains(&b)
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b == b'-' || b == b'.'
}

/// The longest start of `s` of at most `max` bytes that ends on a
/// character boundary.
pub(crate) fn head(s: &str, max: usize) -> &str {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// Byte ranges of the email addresses in `s`. Ranges start and end on ASCII
/// bytes or the string's ends, so slicing `s` with them is always valid.
pub(crate) fn find_addresses(s: &str) -> Vec<std::ops::Range<usize>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(off) = b.get(from..).and_then(|rest| rest.iter().position(|&c| c == b'@')) {
        let at = from + off;
        from = at + 1;
        let mut start = at;
        while start > 0 && is_local_byte(b[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        // A domain has no empty label: Sendmail's "user@host... User
        // unknown" ends the address at the dots.
        while end < b.len() && is_domain_byte(b[end]) && !(b[end] == b'.' && b.get(end + 1) == Some(&b'.')) {
            end += 1;
        }
        // Quotes, dots and '=' (quoted-printable leftovers) are not how an
        // address in running text begins.
        while start < at && matches!(b[start], b'\'' | b'`' | b'.' | b'=' | b'/' | b'|' | b'{' | b'}' | b'?') {
            start += 1;
        }
        // X.400 and Exchange write the address type before it:
        // "dda:SMTP=user@example.com", "RFC822=user@example.com".
        for prefix in ["smtp=", "rfc822="] {
            if let Some(p) = s.get(start..at)
                && p.len() > prefix.len()
                && p.get(..prefix.len()).is_some_and(|x| x.eq_ignore_ascii_case(prefix))
            {
                start += prefix.len();
            }
        }
        while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        // Never split a multi-byte character: walk back to ASCII edges.
        while start < at && b[start] >= 0x80 && !s.is_char_boundary(start) {
            start += 1;
        }
        while end > at + 1 && !s.is_char_boundary(end) {
            end -= 1;
        }
        if start < at && valid_shape(&s[start..at], &s[at + 1..end]) {
            out.push(start..end);
            from = end.max(from);
        }
        if out.len() >= 512 {
            break;
        }
    }
    out
}

fn valid_shape(local: &str, domain: &str) -> bool {
    if local.is_empty() || local.len() > 64 || domain.len() > 255 || domain.starts_with(['.', '-']) {
        return false;
    }
    let Some((_, tld)) = domain.rsplit_once('.') else { return false };
    // A real top-level domain is letters (or an IDN); this rejects
    // Content-IDs like "image001.png@01D2C3F4.5A6B7C80" and IP-ish noise.
    tld.len() >= 2 && (tld.chars().all(|c| c.is_alphabetic()) || tld.starts_with("xn--"))
}

/// The token of a VERP return path `bounces+TOKEN@bounce-domain`
/// (RULES.md "Every campaign message").
pub fn verp_token(address: &str) -> Option<&str> {
    let a = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _domain) = a.rsplit_once('@')?;
    let prefix = local.get(..8)?;
    if !prefix.eq_ignore_ascii_case("bounces+") {
        return None;
    }
    let token = &local[8..];
    let ok = !token.is_empty()
        && token.len() <= 200
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='));
    ok.then_some(token)
}

/// Finds a VERP address anywhere in `raw` (a last resort when no header
/// carries it, e.g. a bounce quoting only the envelope). Scans bytes, so no
/// copy of the message is made.
pub(crate) fn find_verp_token(raw: &[u8]) -> Option<String> {
    let mut from = 0;
    while let Some(off) = find_ci(raw.get(from..)?, b"bounces+") {
        let start = from + off;
        let rest = &raw[start..];
        let end = rest
            .iter()
            .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'=' | b'+' | b'@')))
            .unwrap_or(rest.len());
        // Only ASCII bytes were taken, so this is valid UTF-8.
        if let Some(t) = std::str::from_utf8(&rest[..end]).ok().and_then(verp_token) {
            return Some(t.to_owned());
        }
        from = start + 8;
    }
    None
}

/// ASCII case-insensitive substring search (needle must be lower-case).
pub(crate) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    (0..=hay.len() - needle.len()).find(|&i| {
        hay[i].to_ascii_lowercase() == first
            && hay[i..i + needle.len()].iter().zip(needle).all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

/// `true` when `hay` (already lower-case) contains any of `needles`.
pub(crate) fn contains_any(hay: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| hay.contains(n))
}

/// A lower-cased text prepared for many phrase searches: the pair filter
/// skips the substring search for phrases that cannot occur.
pub(crate) struct Indexed {
    pub lower: String,
    pairs: Pairs,
}

impl Default for Indexed {
    fn default() -> Self {
        Indexed::new("")
    }
}

impl Indexed {
    pub fn new(text: &str) -> Indexed {
        let lower = lower(text);
        let pairs = Pairs::of(&lower);
        Indexed { lower, pairs }
    }

    pub fn contains_any(&self, needles: &[&str]) -> bool {
        needles.iter().any(|n| self.pairs.may_contain(n) && self.lower.contains(n))
    }

    /// The earliest position of any of `needles`.
    pub fn find_min(&self, needles: &[&str]) -> Option<usize> {
        needles.iter().filter(|n| self.pairs.may_contain(n)).filter_map(|n| self.lower.find(n)).min()
    }
}

/// Lower-cases cheaply when the text is ASCII.
pub(crate) fn lower(s: &str) -> String {
    if s.is_ascii() { s.to_ascii_lowercase() } else { s.to_lowercase() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_folding() {
        let t = "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; a@example.com\r\nDiagnostic-Code: smtp; 550-5.1.1 no\r\n 550 5.1.1 such\r\nbroken line\r\n\r\n\r\n";
        let g = field_groups(t);
        assert_eq!(g.len(), 2);
        assert_eq!(g[1][1].value, "smtp; 550-5.1.1 no\n550 5.1.1 such\nbroken line");
        assert!(g[1][0].is("final-recipient"));
    }

    #[test]
    fn addresses_in_text() {
        let s = "Remote Server returned '<user.name+tag@Example.COM>' and 'x@y.co'. Not cid:image001.png@01D2C3F4.5A6B7C80 nor a@b";
        let found: Vec<&str> = find_addresses(s).into_iter().map(|r| &s[r]).collect();
        assert_eq!(found, ["user.name+tag@Example.COM", "x@y.co"]);
        let s = "dda:SMTP=userx@example.COM; 550 b@example.net...User unknown";
        let found: Vec<&str> = find_addresses(s).into_iter().map(|r| &s[r]).collect();
        assert_eq!(found, ["userx@example.COM", "b@example.net"]);
        assert_eq!(address_value("rfc822; <User@Example.com>").as_deref(), Some("user@example.com"));
        assert_eq!(address_value("rfc822;user@example.com").as_deref(), Some("user@example.com"));
        assert_eq!(address_value("utf-8; jöe@bücher.example").as_deref(), Some("jöe@bücher.example"));
        assert_eq!(address_value("rfc822; localuser").as_deref(), Some("localuser"));
        assert_eq!(address_value(" ; "), None);
        assert_eq!(strip_type("smtp; 550 5.1.1 x"), "550 5.1.1 x");
        assert_eq!(strip_type("X-Postfix; host said"), "host said");
        assert_eq!(strip_type("550 5.1.1 user; unknown"), "550 5.1.1 user; unknown");
    }

    #[test]
    fn verp() {
        assert_eq!(verp_token("bounces+abc-123@bounce.example.com"), Some("abc-123"));
        assert_eq!(verp_token("<BOUNCES+Tok_1=x@b.example>"), Some("Tok_1=x"));
        assert_eq!(verp_token("bounces+@b.example"), None);
        assert_eq!(verp_token("news@b.example"), None);
        assert_eq!(verp_token("bounces+a b@x"), None);
        assert_eq!(
            find_verp_token(b"X-Postfix-Sender: rfc822; Bounces+t0k3n@bounce.example.org\n").as_deref(),
            Some("t0k3n")
        );
    }
}
