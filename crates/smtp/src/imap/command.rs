//! Writing commands (RFC 3501 §9): strings as quoted strings or literals,
//! folder names, UID sets.

use super::error::ImapError;

/// The keyword that marks a message as processed in flag mode (and any
/// message the poller could not attribute).
pub const KEYWORD_PROCESSED: &str = "$AssentProcessed";

/// One piece of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// Sent as it is.
    Text(Vec<u8>),
    /// Sent as `{n}` CRLF, then (after the server's `+`) the bytes.
    Literal(Vec<u8>),
}

/// A command without its tag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Command {
    pub parts: Vec<Part>,
}

impl Command {
    pub fn new(text: &str) -> Command {
        Command { parts: vec![Part::Text(text.as_bytes().to_vec())] }
    }

    pub fn text(mut self, text: &str) -> Command {
        match self.parts.last_mut() {
            Some(Part::Text(t)) => t.extend_from_slice(text.as_bytes()),
            _ => self.parts.push(Part::Text(text.as_bytes().to_vec())),
        }
        self
    }

    /// Appends ` ` and `s` as an astring: a quoted string when it can be
    /// one, else a literal (8-bit, CR, LF or NUL).
    pub fn string(self, s: &[u8]) -> Command {
        let quotable = s.iter().all(|b| b.is_ascii() && !matches!(b, b'\r' | b'\n' | 0));
        if quotable {
            let mut q = String::with_capacity(s.len() + 3);
            q.push_str(" \"");
            for &b in s {
                if b == b'"' || b == b'\\' {
                    q.push('\\');
                }
                q.push(char::from(b));
            }
            q.push('"');
            self.text(&q)
        } else {
            self.literal(s.to_vec())
        }
    }

    /// Appends ` ` and a literal.
    pub fn literal(mut self, data: Vec<u8>) -> Command {
        self = self.text(" ");
        self.parts.push(Part::Literal(data));
        self
    }
}

/// A folder name as a quoted string. Non-ASCII names would need modified
/// UTF-7 (RFC 3501 §5.1.3); they are refused rather than mangled.
pub(crate) fn folder(name: &str) -> Result<String, ImapError> {
    let ok = !name.is_empty() && name.len() <= 500 && name.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'&');
    if !ok {
        return Err(ImapError::BadFolderName { name: name.to_string() });
    }
    let mut q = String::with_capacity(name.len() + 2);
    q.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    Ok(q)
}

/// A UID set, runs written as ranges: `1:3,7,9:10`.
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let first = sorted[i];
        let mut last = first;
        while i + 1 < sorted.len() && sorted[i + 1] == last + 1 {
            i += 1;
            last = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if first == last {
            out.push_str(&first.to_string());
        } else {
            out.push_str(&format!("{first}:{last}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_or_literal() {
        let c = Command::new("LOGIN").string(b"user").string(br#"p"a\ss w"#);
        assert_eq!(c.parts, vec![Part::Text(br#"LOGIN "user" "p\"a\\ss w""#.to_vec())]);
        let c = Command::new("LOGIN").string(b"user").string("pässwort".as_bytes());
        assert_eq!(
            c.parts,
            vec![Part::Text(b"LOGIN \"user\" ".to_vec()), Part::Literal("pässwort".as_bytes().to_vec())]
        );
        let c = Command::new("X").string(b"a\r\nb").text(" Y");
        assert_eq!(c.parts.len(), 3);
        assert_eq!(c.parts[2], Part::Text(b" Y".to_vec()));
    }

    #[test]
    fn folders() {
        assert_eq!(folder("INBOX").ok().as_deref(), Some("\"INBOX\""));
        assert_eq!(folder("Bounces/Done \"x\"").ok().as_deref(), Some("\"Bounces/Done \\\"x\\\"\""));
        assert!(folder("Gelöscht").is_err());
        assert!(folder("a\r\nb").is_err());
        assert!(folder("").is_err());
        assert!(folder("&AOQ-").is_err());
    }

    #[test]
    fn uid_sets() {
        assert_eq!(uid_set(&[9, 1, 2, 3, 7, 10, 3]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[u32::MAX, u32::MAX - 1]), format!("{}:{}", u32::MAX - 1, u32::MAX));
        assert_eq!(uid_set(&[]), "");
    }
}
