//! SMTP replies (RFC 5321 §4.2) and enhanced mail system status codes
//! (RFC 3463).
//!
//! This module owns the byte-level parsing of server replies, single- and
//! multi-line (`250-…` continuation lines, `250 …` final line), and the
//! extraction of the `class.subject.detail` enhanced code that most servers
//! put at the front of the text. It is pure: no I/O, and it never panics on
//! any input (there is a property test for that).

use std::fmt;

/// The most a single reply may take, all lines together. Real servers send
/// a few hundred bytes; a relay that sends more is broken or hostile.
pub const MAX_REPLY_LEN: usize = 64 * 1024;

/// An RFC 3463 enhanced status code such as `5.1.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// 0–999: what the code is about (1 addressing, 2 mailbox, 7 security, …).
    pub subject: u16,
    /// 0–999: the detail within the subject.
    pub detail: u16,
}

impl EnhancedCode {
    /// Parses an enhanced code at the start of `text` and returns it with the
    /// number of bytes it took (not counting the whitespace after it). The
    /// code must be followed by whitespace or the end of the text.
    pub fn parse_prefix(text: &str) -> Option<(EnhancedCode, usize)> {
        let bytes = text.as_bytes();
        let class = *bytes.first()?;
        if !matches!(class, b'2' | b'4' | b'5') || bytes.get(1) != Some(&b'.') {
            return None;
        }
        let (subject, after_subject) = parse_number(bytes, 2)?;
        if bytes.get(after_subject) != Some(&b'.') {
            return None;
        }
        let (detail, end) = parse_number(bytes, after_subject + 1)?;
        match bytes.get(end) {
            None | Some(b' ' | b'\t') => {}
            _ => return None,
        }
        Some((EnhancedCode { class: class - b'0', subject, detail }, end))
    }
}

/// One to three ASCII digits starting at `start`; returns the value and the
/// index after them.
fn parse_number(bytes: &[u8], start: usize) -> Option<(u16, usize)> {
    let mut value: u16 = 0;
    let mut i = start;
    while i < bytes.len() && bytes[i].is_ascii_digit() && i - start < 3 {
        value = value * 10 + u16::from(bytes[i] - b'0');
        i += 1;
    }
    if i == start || bytes.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((value, i))
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A complete server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code (200–599).
    pub code: u16,
    /// The enhanced code of the first line, when the server sent one whose
    /// class agrees with the reply code.
    pub enhanced: Option<EnhancedCode>,
    /// The text of all lines joined with `\n`, without the reply code and
    /// without the leading enhanced code of each line.
    pub text: String,
}

impl Reply {
    /// 2xx: the command was accepted.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: the server waits for more (354 after DATA, 334 during AUTH).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4xx: a transient failure; the same command may succeed later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: a permanent failure.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The lines of the text (EHLO keywords, for instance).
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.split('\n')
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        for (i, line) in self.lines().enumerate() {
            if i == 0 && line.is_empty() {
                continue;
            }
            write!(f, "{}{line}", if i == 0 { " " } else { " / " })?;
        }
        Ok(())
    }
}

/// Why bytes from the server are not a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("malformed SMTP reply line {line:?}: a reply line must start with a three-digit code 200-599")]
    Malformed { line: String },
    #[error("SMTP reply lines disagree on the code ({first} then {then}); the server is not speaking SMTP correctly")]
    InconsistentCode { first: u16, then: u16 },
    #[error("SMTP reply longer than {MAX_REPLY_LEN} bytes; the server is not speaking SMTP correctly")]
    TooLong,
}

/// Parses one complete reply from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a reply (read more and
/// call again), or the reply with the number of bytes it took. Lines may end
/// in CRLF or a bare LF.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut pos = 0;
    let mut code: Option<u16> = None;
    let mut enhanced = None;
    let mut text = String::new();
    loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_REPLY_LEN {
                return Err(ReplyError::TooLong);
            }
            return Ok(None);
        };
        let end = pos + nl + 1;
        if end > MAX_REPLY_LEN {
            return Err(ReplyError::TooLong);
        }
        let mut line = &buf[pos..pos + nl];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        let malformed = || ReplyError::Malformed { line: String::from_utf8_lossy(line).into_owned() };
        let (line_code, last, rest) = match line {
            [a, b, c, tail @ ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
                let n = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
                match tail {
                    [] => (n, true, &[][..]),
                    [b' ', rest @ ..] => (n, true, rest),
                    [b'-', rest @ ..] => (n, false, rest),
                    _ => return Err(malformed()),
                }
            }
            _ => return Err(malformed()),
        };
        if !(200..600).contains(&line_code) {
            return Err(malformed());
        }
        match code {
            None => code = Some(line_code),
            Some(first) if first != line_code => return Err(ReplyError::InconsistentCode { first, then: line_code }),
            Some(_) => {}
        }
        let line_text = String::from_utf8_lossy(rest);
        let mut body: &str = &line_text;
        if let Some((e, len)) = EnhancedCode::parse_prefix(body)
            && u16::from(e.class) == line_code / 100
        {
            if pos == 0 {
                enhanced = Some(e);
            }
            if enhanced == Some(e) {
                body = body[len..].trim_start();
            }
        }
        if pos > 0 {
            text.push('\n');
        }
        text.push_str(body);
        pos = end;
        if last {
            // Invariant: `code` was set from this or an earlier line above.
            let code = code.unwrap_or(line_code);
            return Ok(Some((Reply { code, enhanced, text }, pos)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Reply {
        let (r, n) = parse_reply(s.as_bytes()).expect("valid").expect("complete");
        assert_eq!(n, s.len());
        r
    }

    #[test]
    fn single_line_with_enhanced_code() {
        let r = one("550 5.1.1 <x@example.com>: Recipient address rejected: User unknown\r\n");
        assert_eq!(r.code, 550);
        assert_eq!(r.enhanced, Some(EnhancedCode { class: 5, subject: 1, detail: 1 }));
        assert_eq!(r.text, "<x@example.com>: Recipient address rejected: User unknown");
        assert!(r.is_permanent());
        assert_eq!(r.to_string(), "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown");
    }

    #[test]
    fn multi_line_gmail_style() {
        let r = one(concat!(
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n",
            "550-5.1.1 double-checking the recipient's email address for typos or\r\n",
            "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser\r\n"
        ));
        assert_eq!(r.code, 550);
        assert_eq!(r.enhanced.map(|e| e.to_string()).as_deref(), Some("5.1.1"));
        assert_eq!(r.lines().count(), 3);
        assert!(r.text.starts_with("The email account"));
        assert!(r.text.contains("\ndouble-checking"));
    }

    #[test]
    fn ehlo_reply_lines() {
        let r = one("250-mx.example.com Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n");
        let lines: Vec<_> = r.lines().collect();
        assert_eq!(lines, ["mx.example.com Hello", "PIPELINING", "SIZE 1000", "8BITMIME"]);
        assert_eq!(r.enhanced, None);
    }

    #[test]
    fn partial_and_pipelined() {
        assert_eq!(parse_reply(b"250-first\r\n250 sec"), Ok(None));
        assert_eq!(parse_reply(b""), Ok(None));
        let buf = b"250 2.1.0 Ok\r\n550 5.1.1 no\r\n354 go ahead\r\n";
        let (a, n) = parse_reply(buf).expect("ok").expect("complete");
        assert_eq!((a.code, n), (250, 14));
        let (b, m) = parse_reply(&buf[n..]).expect("ok").expect("complete");
        assert_eq!(b.code, 550);
        let (c, _) = parse_reply(&buf[n + m..]).expect("ok").expect("complete");
        assert_eq!((c.code, c.enhanced), (354, None));
    }

    #[test]
    fn bare_lf_and_bare_code() {
        let r = one("221\n");
        assert_eq!((r.code, r.text.as_str()), (221, ""));
        assert_eq!(r.to_string(), "221");
    }

    #[test]
    fn enhanced_class_must_agree() {
        let r = one("250 5.1.1 odd\r\n");
        assert_eq!(r.enhanced, None);
        assert_eq!(r.text, "5.1.1 odd");
        let r = one("451 4.7.1 Greylisted, try again later\r\n");
        assert_eq!(r.enhanced, Some(EnhancedCode { class: 4, subject: 7, detail: 1 }));
        let r = one("550 5.7.515 Access denied\r\n");
        assert_eq!(r.enhanced, Some(EnhancedCode { class: 5, subject: 7, detail: 515 }));
    }

    #[test]
    fn not_enhanced_codes() {
        for s in ["5.1", "5.1.1x", "3.1.1", "5..1", "5.1.1234", "x5.1.1", "5.1.", ""] {
            assert_eq!(EnhancedCode::parse_prefix(s), None, "{s}");
        }
        assert_eq!(EnhancedCode::parse_prefix("2.0.0"), Some((EnhancedCode { class: 2, subject: 0, detail: 0 }, 5)));
    }

    #[test]
    fn malformed() {
        assert!(matches!(parse_reply(b"hello\r\n"), Err(ReplyError::Malformed { .. })));
        assert!(matches!(parse_reply(b"25\r\n"), Err(ReplyError::Malformed { .. })));
        assert!(matches!(parse_reply(b"250x\r\n"), Err(ReplyError::Malformed { .. })));
        assert!(matches!(parse_reply(b"199 no\r\n"), Err(ReplyError::Malformed { .. })));
        assert!(matches!(parse_reply(b"699 no\r\n"), Err(ReplyError::Malformed { .. })));
        assert_eq!(parse_reply(b"250-a\r\n251 b\r\n"), Err(ReplyError::InconsistentCode { first: 250, then: 251 }));
        assert_eq!(parse_reply(&vec![b'2'; MAX_REPLY_LEN + 1]), Err(ReplyError::TooLong));
    }
}
