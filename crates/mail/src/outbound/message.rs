//! RFC 5322 message assembly for campaign and transactional mail.
//!
//! A campaign message carries the headers RULES.md "Every campaign message"
//! asks for: From, To, Subject, Date, a unique Message-ID, List-Id
//! (RFC 2919), List-Unsubscribe with an HTTPS and a mailto URI (RFC 2369)
//! plus List-Unsubscribe-Post for one-click (RFC 8058), Feedback-ID and
//! optionally X-CSA-Complaints. The body is multipart/alternative (RFC 2046)
//! with a text/plain and a text/html part, both UTF-8 in quoted-printable.
//!
//! Guarantees of every message written here, whatever the input:
//! * CRLF line endings; no line over 998 octets, and header lines within 78
//!   unless one unbreakable token (a long URL) is longer;
//! * 7-bit only, unless an address has a UTF-8 local part (then the message
//!   needs SMTPUTF8 and carries it raw, RFC 6532);
//! * free text (names, subject) cannot add a header: control characters
//!   become spaces and non-ASCII is RFC 2047 encoded; structured values
//!   (URLs, ids) that contain anything unexpected are refused with an error
//!   instead of being repaired;
//! * the MIME boundary starts with `=_`, which quoted-printable output never
//!   contains, so it cannot occur inside a part.
//!
//! The envelope sender (VERP, [`verp_sender`]) is not a header: the SMTP
//! client gives it as MAIL FROM and the receiver records it as Return-Path.

use assent_domain::EmailAddress;
use thiserror::Error;

use super::encode::{self, HeaderLine, LINE_HARD_LIMIT};

/// A structured header value that cannot be written safely. These come from
/// configuration or code, not from contacts, so they are refused rather
/// than repaired.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MessageError {
    #[error(
        "the {header} value {value:?} is not allowed: it must be {expected}; fix the value where it is configured or generated"
    )]
    BadValue { header: &'static str, value: String, expected: &'static str },
    #[error("the operating system's random number generator failed; retry, and check the host if it persists")]
    Random,
}

fn bad(header: &'static str, value: &str, expected: &'static str) -> MessageError {
    let mut shown: String = value.chars().take(120).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    MessageError::BadValue { header, value: shown, expected }
}

/// RFC 5322 `atext`.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// RFC 5322 `dot-atom-text`: atext separated by single dots.
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|part| !part.is_empty() && part.bytes().all(is_atext))
}

/// A host name in A-label form: letters, digits, hyphens, dots.
fn is_ascii_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// An addr-spec as it may appear on the wire: printable ASCII without space
/// or angle brackets, one `@`, a host after it.
fn is_wire_address(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.bytes().all(|b| (0x21..0x7f).contains(&b) && !matches!(b, b'<' | b'>' | b'@' | b','))
                && is_ascii_host(domain)
        }
        None => false,
    }
}

/// A unique `Message-ID` (RFC 5322 §3.6.4): `<unique.timestamp@domain>`,
/// angle brackets included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// Builds an id from a caller-chosen unique part (a delivery id, a
    /// counter, random hex: `dot-atom-text`), the send time and the sending
    /// domain (A-label).
    pub fn new(unique: &str, timestamp: u64, domain: &str) -> Result<MessageId, MessageError> {
        if !is_dot_atom(unique) || unique.len() > 128 {
            return Err(bad("Message-ID", unique, "letters, digits and RFC 5322 atext, at most 128 characters"));
        }
        if !is_ascii_host(domain) {
            return Err(bad("Message-ID", domain, "a domain name in A-label (punycode) form"));
        }
        Ok(MessageId(format!("<{unique}.{timestamp}@{domain}>")))
    }

    /// An id with 128 random bits from the operating system, so ids never
    /// repeat across processes or restarts.
    pub fn generate(timestamp: u64, domain: &str) -> Result<MessageId, MessageError> {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; 16];
        ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| MessageError::Random)?;
        MessageId::new(&hex::encode(bytes), timestamp, domain)
    }

    /// The id with angle brackets, as written in the header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The VERP envelope sender `bounces+TOKEN@bounce-domain` (RULES.md "Every
/// campaign message"); bounces to it identify the delivery without parsing
/// the bounce body. The token must be `dot-atom-text` (the link tokens of
/// [`crate::token`] are). Note RFC 5321 §4.5.3.1.1 allows 64 octets of local
/// part; most receivers accept more, but shorter tokens are safer.
pub fn verp_sender(token: &str, bounce_domain: &str) -> Result<String, MessageError> {
    if !is_dot_atom(token) {
        return Err(bad("envelope sender", token, "a token of letters, digits, '-', '_' and single dots"));
    }
    if !is_ascii_host(bounce_domain) {
        return Err(bad("envelope sender", bounce_domain, "a domain name in A-label (punycode) form"));
    }
    Ok(format!("bounces+{token}@{bounce_domain}"))
}

/// A mailbox: an optional display name and an address.
#[derive(Debug, Clone, Copy)]
pub struct Mailbox<'a> {
    /// Display name; any text (encoded as needed), empty means none.
    pub name: Option<&'a str>,
    pub address: &'a EmailAddress,
}

impl<'a> Mailbox<'a> {
    pub fn new(name: Option<&'a str>, address: &'a EmailAddress) -> Self {
        Mailbox { name, address }
    }
}

/// List-Id (RFC 2919): a description and the list identifier
/// `label.namespace`, e.g. `42.lists.example.com`.
#[derive(Debug, Clone, Copy)]
pub struct ListId<'a> {
    /// Human-readable list name; any text.
    pub name: &'a str,
    /// `list-label "." list-id-namespace`, dot-atom ASCII.
    pub id: &'a str,
}

/// `Auto-Submitted` (RFC 3834 §5) for transactional mail, so auto-responders
/// do not answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoSubmitted {
    /// Mail generated by a process (confirmations, notices).
    AutoGenerated,
    /// A reply to a message.
    AutoReplied,
}

impl AutoSubmitted {
    fn as_str(self) -> &'static str {
        match self {
            AutoSubmitted::AutoGenerated => "auto-generated",
            AutoSubmitted::AutoReplied => "auto-replied",
        }
    }
}

/// One campaign message for one recipient.
#[derive(Debug, Clone, Copy)]
pub struct CampaignMessage<'a> {
    pub from: Mailbox<'a>,
    pub to: Mailbox<'a>,
    pub reply_to: Option<Mailbox<'a>>,
    /// Rendered subject; control characters become spaces.
    pub subject: &'a str,
    /// Send time, Unix seconds (written in UTC).
    pub date: i64,
    pub message_id: &'a MessageId,
    pub list_id: ListId<'a>,
    /// One-click unsubscribe URL: `https://…/u/TOKEN` (RFC 8058 requires
    /// HTTPS).
    pub unsubscribe_url: &'a str,
    /// Unsubscribe mailbox `unsubscribe+TOKEN@domain`, written as a mailto
    /// URI (RFC 2369).
    pub unsubscribe_mailto: &'a str,
    /// `Feedback-ID` (Google's feedback loop): `campaign:account:…:sender`.
    pub feedback_id: &'a str,
    /// Adds `X-CSA-Complaints: csa-complaints@eco.de` (Certified Senders
    /// Alliance members).
    pub csa_complaints: bool,
    pub text: &'a str,
    pub html: &'a str,
}

/// One transactional message (double opt-in confirmation, notices): no list
/// headers, text with an optional HTML alternative.
#[derive(Debug, Clone, Copy)]
pub struct TransactionalMessage<'a> {
    pub from: Mailbox<'a>,
    pub to: Mailbox<'a>,
    pub reply_to: Option<Mailbox<'a>>,
    pub subject: &'a str,
    /// Send time, Unix seconds (written in UTC).
    pub date: i64,
    pub message_id: &'a MessageId,
    pub auto_submitted: Option<AutoSubmitted>,
    pub text: &'a str,
    pub html: Option<&'a str>,
}

/// Longest URL accepted in List-Unsubscribe: one URL must fit a line of 998
/// octets with the header name and brackets.
const MAX_URL: usize = 900;

impl CampaignMessage<'_> {
    /// Appends the complete message (headers and body, CRLF line endings)
    /// to `out`. Nothing is written when an error is returned. Reuse `out`
    /// across messages (clear it first) to avoid reallocating.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), MessageError> {
        let url = self.unsubscribe_url;
        if !url.starts_with("https://")
            || url.len() > MAX_URL
            || !url.bytes().all(|b| (0x21..0x7f).contains(&b) && !matches!(b, b'<' | b'>' | b'"' | b','))
        {
            return Err(bad(
                "List-Unsubscribe",
                url,
                "an https:// URL of printable ASCII without <, >, \" or commas (percent-encode them), at most 900 characters",
            ));
        }
        if !is_wire_address(self.unsubscribe_mailto) || self.unsubscribe_mailto.len() > 254 {
            return Err(bad(
                "List-Unsubscribe",
                self.unsubscribe_mailto,
                "an ASCII address like unsubscribe+TOKEN@example.com",
            ));
        }
        if !is_dot_atom(self.list_id.id) || !self.list_id.id.contains('.') || self.list_id.id.len() > 255 {
            return Err(bad("List-Id", self.list_id.id, "a dot-atom identifier like 42.lists.example.com"));
        }
        let fid = self.feedback_id;
        if fid.is_empty() || fid.len() > 200 || !fid.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(bad("Feedback-ID", fid, "printable ASCII without spaces, like campaign:account:kind:sender"));
        }
        check_mailboxes(&[Some(self.from), Some(self.to), self.reply_to])?;

        let start = out.len();
        out.reserve(256 + 1024 + (self.text.len() + self.html.len()) * 11 / 10);
        write_mailbox_header(out, "From", &self.from);
        write_mailbox_header(out, "To", &self.to);
        if let Some(reply_to) = &self.reply_to {
            write_mailbox_header(out, "Reply-To", reply_to);
        }
        encode::write_unstructured(out, "Subject", self.subject);
        write_common(out, self.date, self.message_id);

        let mut h = HeaderLine::start(out, "List-Id");
        // An empty name simply leaves the phrase out, which RFC 2919 allows.
        encode::write_phrase(&mut h, self.list_id.name);
        h.token(b" ", format!("<{}>", self.list_id.id).as_bytes());
        h.finish();

        let mut h = HeaderLine::start(out, "List-Unsubscribe");
        h.token(b" ", format!("<{url}>,").as_bytes());
        h.token(b" ", format!("<mailto:{}>", self.unsubscribe_mailto).as_bytes());
        h.finish();
        out.extend_from_slice(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
        let mut h = HeaderLine::start(out, "Feedback-ID");
        h.token(b" ", fid.as_bytes());
        h.finish();
        if self.csa_complaints {
            out.extend_from_slice(b"X-CSA-Complaints: csa-complaints@eco.de\r\n");
        }
        write_alternative(out, self.message_id, self.text, self.html);
        debug_assert!(out[start..].split(|&b| b == b'\n').all(|l| l.len() <= LINE_HARD_LIMIT + 1));
        Ok(())
    }

    /// The complete message in a new buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, MessageError> {
        let mut out = Vec::new();
        self.write_to(&mut out)?;
        Ok(out)
    }
}

impl TransactionalMessage<'_> {
    /// Appends the complete message to `out` (see
    /// [`CampaignMessage::write_to`]).
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), MessageError> {
        check_mailboxes(&[Some(self.from), Some(self.to), self.reply_to])?;
        out.reserve(1024 + (self.text.len() + self.html.map_or(0, str::len)) * 11 / 10);
        write_mailbox_header(out, "From", &self.from);
        write_mailbox_header(out, "To", &self.to);
        if let Some(reply_to) = &self.reply_to {
            write_mailbox_header(out, "Reply-To", reply_to);
        }
        encode::write_unstructured(out, "Subject", self.subject);
        write_common(out, self.date, self.message_id);
        if let Some(auto) = self.auto_submitted {
            out.extend_from_slice(b"Auto-Submitted: ");
            out.extend_from_slice(auto.as_str().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        match self.html {
            Some(html) => write_alternative(out, self.message_id, self.text, html),
            None => {
                out.extend_from_slice(TEXT_PART_HEADERS);
                out.extend_from_slice(b"\r\n");
                encode::quoted_printable(self.text.as_bytes(), out);
                // The message must end in CRLF; a text that already ends in
                // a line break provides it (adding one would add a line).
                if !out.ends_with(b"\r\n") {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        Ok(())
    }

    /// The complete message in a new buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, MessageError> {
        let mut out = Vec::new();
        self.write_to(&mut out)?;
        Ok(out)
    }
}

/// An [`EmailAddress`] is valid by construction; this guards the one thing
/// that matters here should that ever change: nothing in it may break the
/// header line.
fn check_mailboxes(boxes: &[Option<Mailbox<'_>>]) -> Result<(), MessageError> {
    for mailbox in boxes.iter().flatten() {
        let addr = mailbox.address.as_str();
        if addr.chars().any(|c| c.is_control() || c == '<' || c == '>') {
            return Err(bad("address", addr, "an address without control characters or angle brackets"));
        }
    }
    Ok(())
}

fn write_mailbox_header(out: &mut Vec<u8>, name: &str, mailbox: &Mailbox<'_>) {
    let mut h = HeaderLine::start(out, name);
    let addr = mailbox.address.as_str();
    if mailbox.name.is_some_and(|n| encode::write_phrase(&mut h, n)) {
        let mut token = Vec::with_capacity(addr.len() + 2);
        token.push(b'<');
        token.extend_from_slice(addr.as_bytes());
        token.push(b'>');
        h.token(b" ", &token);
    } else {
        h.token(b" ", addr.as_bytes());
    }
    h.finish();
}

fn write_common(out: &mut Vec<u8>, date: i64, message_id: &MessageId) {
    out.extend_from_slice(b"Date: ");
    encode::write_date(date, out);
    out.extend_from_slice(b"\r\nMessage-ID: ");
    out.extend_from_slice(message_id.as_str().as_bytes());
    out.extend_from_slice(b"\r\nMIME-Version: 1.0\r\n");
}

const TEXT_PART_HEADERS: &[u8] =
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n";
const HTML_PART_HEADERS: &[u8] =
    b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n";

/// `=_` plus 16 hex digits derived from the Message-ID: unique per message,
/// and never inside a quoted-printable part (see
/// [`encode::quoted_printable`]).
fn boundary(message_id: &MessageId) -> [u8; 18] {
    // FNV-1a: cheap and deterministic; uniqueness comes from the id.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in message_id.as_str().bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = [0u8; 18];
    out[0] = b'=';
    out[1] = b'_';
    for (i, slot) in out[2..].iter_mut().enumerate() {
        *slot = b"0123456789abcdef"[((hash >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}

/// Writes the Content-Type header, the blank line and both parts.
fn write_alternative(out: &mut Vec<u8>, message_id: &MessageId, text: &str, html: &str) {
    let boundary = boundary(message_id);
    out.extend_from_slice(b"Content-Type: multipart/alternative; boundary=\"");
    out.extend_from_slice(&boundary);
    out.extend_from_slice(b"\"\r\n\r\n");
    for (headers, body) in [(TEXT_PART_HEADERS, text), (HTML_PART_HEADERS, html)] {
        out.extend_from_slice(b"--");
        out.extend_from_slice(&boundary);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(headers);
        out.extend_from_slice(b"\r\n");
        encode::quoted_printable(body.as_bytes(), out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(&boundary);
    out.extend_from_slice(b"--\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).expect("test address")
    }

    #[test]
    fn message_ids_are_checked() {
        assert_eq!(MessageId::new("abc", 7, "example.com").expect("valid").as_str(), "<abc.7@example.com>");
        assert!(MessageId::new("a b", 7, "example.com").is_err());
        assert!(MessageId::new("abc", 7, "exa\r\nmple.com").is_err());
        let a = MessageId::generate(7, "example.com").expect("random");
        let b = MessageId::generate(7, "example.com").expect("random");
        assert_ne!(a, b);
    }

    #[test]
    fn verp_sender_is_built_and_checked() {
        assert_eq!(verp_sender("abc.def", "bounce.example.com").expect("valid"), "bounces+abc.def@bounce.example.com");
        assert!(verp_sender("a>b", "bounce.example.com").is_err());
        assert!(verp_sender("abc", "bounce example").is_err());
    }

    #[test]
    fn structured_values_with_line_breaks_are_refused() {
        let from = addr("news@example.com");
        let to = addr("anna@example.org");
        let id = MessageId::new("1", 1, "example.com").expect("id");
        let good = CampaignMessage {
            from: Mailbox::new(Some("Shop"), &from),
            to: Mailbox::new(None, &to),
            reply_to: None,
            subject: "Hi",
            date: 0,
            message_id: &id,
            list_id: ListId { name: "News", id: "1.lists.example.com" },
            unsubscribe_url: "https://example.com/u/T",
            unsubscribe_mailto: "unsubscribe+T@example.com",
            feedback_id: "1:2:news:example",
            csa_complaints: false,
            text: "t",
            html: "<p>h</p>",
        };
        assert!(good.to_bytes().is_ok());
        let bad_url = CampaignMessage { unsubscribe_url: "https://example.com/u/T\r\nBcc: x@y.z", ..good };
        assert!(bad_url.to_bytes().is_err());
        let http = CampaignMessage { unsubscribe_url: "http://example.com/u/T", ..good };
        assert!(http.to_bytes().is_err());
        let bad_fid = CampaignMessage { feedback_id: "a b", ..good };
        assert!(bad_fid.to_bytes().is_err());
        let bad_list = CampaignMessage { list_id: ListId { name: "x", id: "nodot" }, ..good };
        assert!(bad_list.to_bytes().is_err());
        let bad_mailto = CampaignMessage { unsubscribe_mailto: "x@y>\r\n", ..good };
        assert!(bad_mailto.to_bytes().is_err());
    }

    #[test]
    fn boundary_is_unique_per_message() {
        let a = MessageId::new("1", 1, "example.com").expect("id");
        let b = MessageId::new("2", 1, "example.com").expect("id");
        assert_ne!(boundary(&a), boundary(&b));
        assert!(boundary(&a).starts_with(b"=_"));
    }
}
