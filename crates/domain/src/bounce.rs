//! Bounce classification: what a failed delivery means for the recipient.
//!
//! This module owns the RFC 3463 enhanced status code ([`EnhancedStatus`]),
//! the reasons a delivery fails ([`BounceReason`]), the three consequences
//! ([`BounceClass`]: hard — suppress at once; soft — count; policy — alert the
//! operator and leave the recipient alone) and the soft-bounce suppression
//! rule ([`SoftBouncePolicy`]), all after RULES.md "Bounces".
//!
//! Classification is by *reason*, read from the status code and the
//! diagnostic text together. Where they disagree the text's specific reason
//! wins (`550 5.2.1 <x>: user unknown` is a hard bounce, `550 5.1.1 mailbox
//! full` a soft one); generic codes (`x.0.0`, a bare `550`) take their reason
//! from the text alone. The class follows from the reason only
//! ([`BounceReason::class`]), so one reason never means two things.
//!
//! Everything here is plain string scanning over a lower-cased copy of the
//! diagnostic: no regular expressions, no I/O, no panics on any input.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What the platform does about a bounce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceClass {
    /// The address will never work: suppress at once.
    Hard,
    /// May work later: count, suppress after [`SoftBouncePolicy::max`] within
    /// the window.
    Soft,
    /// Not the recipient's fault (reputation, authentication, content, size):
    /// alert the operator, do not touch the recipient.
    Policy,
}

impl BounceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceClass::Hard => "hard",
            BounceClass::Soft => "soft",
            BounceClass::Policy => "policy",
        }
    }

    /// Whether one bounce of this class suppresses the recipient.
    pub fn suppresses_at_once(self) -> bool {
        self == BounceClass::Hard
    }
}

impl fmt::Display for BounceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a delivery failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceReason {
    /// The mailbox does not exist (`5.1.1`).
    UserUnknown,
    /// The domain does not exist or has no mail host (`5.1.2`, `5.4.4`).
    HostUnknown,
    /// The domain publishes a null MX: it accepts no mail (`5.1.10`, RFC 7505).
    NullMx,
    /// The mailbox moved away (`5.1.6`, `551`, RFC 7293 owner changed).
    Moved,
    /// The address is malformed (`5.1.3`).
    SyntaxError,
    /// Over quota (`4.2.2`/`5.2.2`, `x.3.1`); RFC 3463 calls it transient.
    MailboxFull,
    /// The mailbox exists but is disabled (`5.2.1`).
    Disabled,
    /// The message sat in the queue until it expired (`4.4.7`).
    Expired,
    /// Too many connections, messages or recipients (`x.4.5`, `x.5.3`).
    RateLimited,
    /// Connection, routing or DNS trouble on the way (`x.4.x`).
    NetworkError,
    /// Any other transient failure (`4.x.x`), greylisting included.
    Temporary,
    /// Refused as spam or for the sender's reputation or a block list.
    SpamBlock,
    /// Refused by the receiver's policy (relaying, sender rules, `5.7.x`).
    Policy,
    /// SPF, DKIM, DMARC, reverse DNS or SMTP AUTH failed (`5.7.20`–`5.7.26`).
    AuthFailure,
    /// The message exceeds a size limit (`5.3.4`, `5.2.3`).
    MessageTooBig,
    /// The content was refused: virus, attachment, malformed headers (`x.6.x`).
    Content,
    /// A permanent failure that names no reason we know.
    Other,
}

impl BounceReason {
    pub const ALL: &'static [BounceReason] = &[
        BounceReason::UserUnknown,
        BounceReason::HostUnknown,
        BounceReason::NullMx,
        BounceReason::Moved,
        BounceReason::SyntaxError,
        BounceReason::MailboxFull,
        BounceReason::Disabled,
        BounceReason::Expired,
        BounceReason::RateLimited,
        BounceReason::NetworkError,
        BounceReason::Temporary,
        BounceReason::SpamBlock,
        BounceReason::Policy,
        BounceReason::AuthFailure,
        BounceReason::MessageTooBig,
        BounceReason::Content,
        BounceReason::Other,
    ];

    /// The consequence of this reason (RULES.md "Bounces").
    pub fn class(self) -> BounceClass {
        use BounceReason::*;
        match self {
            UserUnknown | HostUnknown | NullMx | Moved | SyntaxError => BounceClass::Hard,
            // An unknown permanent reason counts as soft: a misread text must
            // never suppress at once, and three of them still suppress within
            // the CSA ceiling for hard bounces.
            MailboxFull | Disabled | Expired | RateLimited | NetworkError | Temporary | Other => BounceClass::Soft,
            SpamBlock | Policy | AuthFailure | MessageTooBig | Content => BounceClass::Policy,
        }
    }

    pub fn as_str(self) -> &'static str {
        use BounceReason::*;
        match self {
            UserUnknown => "user_unknown",
            HostUnknown => "host_unknown",
            NullMx => "null_mx",
            Moved => "moved",
            SyntaxError => "syntax_error",
            MailboxFull => "mailbox_full",
            Disabled => "disabled",
            Expired => "expired",
            RateLimited => "rate_limited",
            NetworkError => "network_error",
            Temporary => "temporary",
            SpamBlock => "spam_block",
            Policy => "policy",
            AuthFailure => "auth_failure",
            MessageTooBig => "message_too_big",
            Content => "content",
            Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<BounceReason> {
        Self::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for BounceReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 3463 enhanced status code `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnhancedStatus {
    class: u8,
    subject: u16,
    detail: u16,
}

/// Why a string is not an RFC 3463 status code.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum StatusError {
    #[error("a status code has three dot-separated numbers, like 5.1.1")]
    Shape,
    #[error("the class of a status code must be 2, 4 or 5 (RFC 3463)")]
    Class,
    #[error("subject and detail of a status code must be 0 to 999 (RFC 3463)")]
    Range,
}

impl EnhancedStatus {
    pub fn new(class: u8, subject: u16, detail: u16) -> Result<Self, StatusError> {
        if !matches!(class, 2 | 4 | 5) {
            return Err(StatusError::Class);
        }
        if subject > 999 || detail > 999 {
            return Err(StatusError::Range);
        }
        Ok(EnhancedStatus { class, subject, detail })
    }

    /// Parses exactly `class.subject.detail` (surrounding whitespace allowed).
    pub fn parse(s: &str) -> Result<Self, StatusError> {
        let mut it = s.trim().split('.');
        let (Some(c), Some(sub), Some(det), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(StatusError::Shape);
        };
        let class = number(c, 1).ok_or(StatusError::Shape)?;
        let subject = number(sub, 3).ok_or(StatusError::Shape)?;
        let detail = number(det, 3).ok_or(StatusError::Shape)?;
        let class = u8::try_from(class).map_err(|_| StatusError::Class)?;
        EnhancedStatus::new(class, subject, detail)
    }

    /// Finds the first failure code (class 4 or 5) standing as a token in
    /// free text: `550 5.1.1 …`, `(#5.1.1)`, `#550 4.4.7`, `550-5.7.26`.
    pub fn find_in(text: &str) -> Option<EnhancedStatus> {
        find_status(text.as_bytes(), false)
    }

    /// Like [`EnhancedStatus::find_in`] but accepts success codes too.
    pub fn find_any_in(text: &str) -> Option<EnhancedStatus> {
        find_status(text.as_bytes(), true)
    }

    pub fn class(self) -> u8 {
        self.class
    }
    pub fn subject(self) -> u16 {
        self.subject
    }
    pub fn detail(self) -> u16 {
        self.detail
    }
    pub fn is_success(self) -> bool {
        self.class == 2
    }
    pub fn is_transient(self) -> bool {
        self.class == 4
    }
    pub fn is_permanent(self) -> bool {
        self.class == 5
    }
    /// `x.0.0`: "other undefined status", which names no reason.
    pub fn is_generic(self) -> bool {
        self.subject == 0 && self.detail == 0
    }
}

/// Parses 1..=max_digits ASCII digits.
fn number(s: &str, max_digits: usize) -> Option<u16> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn find_status(b: &[u8], any_class: bool) -> Option<EnhancedStatus> {
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let first_ok = matches!(c, b'4' | b'5') || (any_class && c == b'2');
        // A token starts after a non-word character, so "192.5.1.1" or
        // "v4.1.1" are not codes.
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
        if first_ok
            && boundary
            && b.get(i + 1) == Some(&b'.')
            && let Some((st, end)) = status_at(b, i)
        {
            let tail_ok = match b.get(end) {
                None => true,
                Some(&n) => {
                    !(n.is_ascii_alphanumeric() || (n == b'.' && b.get(end + 1).is_some_and(u8::is_ascii_digit)))
                }
            };
            if tail_ok {
                return Some(st);
            }
        }
        i += 1;
    }
    None
}

fn status_at(b: &[u8], i: usize) -> Option<(EnhancedStatus, usize)> {
    let class = b[i] - b'0';
    let mut j = i + 2;
    let (subject, next) = digits(b, j)?;
    j = next;
    if b.get(j) != Some(&b'.') {
        return None;
    }
    let (detail, end) = digits(b, j + 1)?;
    EnhancedStatus::new(class, subject, detail).ok().map(|s| (s, end))
}

/// Reads 1..=3 digits at `at`; more than three is not a status component.
fn digits(b: &[u8], at: usize) -> Option<(u16, usize)> {
    let mut v: u16 = 0;
    let mut j = at;
    while j < b.len() && b[j].is_ascii_digit() {
        if j - at == 3 {
            return None;
        }
        v = v * 10 + u16::from(b[j] - b'0');
        j += 1;
    }
    (j > at).then_some((v, j))
}

impl FromStr for EnhancedStatus {
    type Err = StatusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnhancedStatus::parse(s)
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl Serialize for EnhancedStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EnhancedStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EnhancedStatus::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The outcome of [`classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub class: BounceClass,
    pub reason: BounceReason,
    /// The status code the decision used: the one given, or a more specific
    /// one found in the diagnostic text.
    pub status: Option<EnhancedStatus>,
}

/// Classifies a failed delivery from its enhanced status code, basic SMTP
/// reply code and diagnostic text (RULES.md "Bounces").
///
/// When `status` is missing or generic (`x.0.0`) a specific code in the
/// diagnostic is used instead; when `smtp_code` is missing the first reply
/// code in the diagnostic is used. A diagnostic that names a specific reason
/// overrides the code's reason; generic wording ("denied", "try again later",
/// "mailbox unavailable") only counts when the code names no reason.
pub fn classify(status: Option<EnhancedStatus>, smtp_code: Option<u16>, diagnostic: &str) -> Classification {
    let from_text = EnhancedStatus::find_in(diagnostic);
    let status = match (status, from_text) {
        (None, t) => t,
        // The text's code is more specific than a generic field of the same
        // class (`Status: 5.0.0` with `550 5.1.1 …` in the diagnostic).
        (Some(s), Some(t)) if s.is_generic() && !t.is_generic() && s.class == t.class => Some(t),
        (s, _) => s,
    };
    let smtp_code = smtp_code.filter(|c| (200..600).contains(c)).or_else(|| find_reply_code(diagnostic));

    // Permanence decides what vague wording means; the enhanced code is the
    // more precise witness when both exist.
    let permanent = match (status, smtp_code) {
        (Some(s), _) => s.class == 5,
        (None, Some(c)) => c >= 500,
        (None, None) => true,
    };

    let text = normalize(diagnostic);
    let (strong, weak) = text_reason(&text, permanent);
    let by_code = status.and_then(code_reason);

    let reason =
        strong.or(by_code).or(weak).unwrap_or(if permanent { BounceReason::Other } else { BounceReason::Temporary });
    Classification { class: reason.class(), reason, status }
}

/// Classifies a synchronous rejection during the SMTP dialogue (RULES.md:
/// they count as bounces). `None` for replies that are not failures (below
/// 400 or out of range). An enhanced code at the start of `text` (RFC 2034)
/// or anywhere in it is used.
pub fn classify_smtp_reply(code: u16, text: &str) -> Option<Classification> {
    if !(400..600).contains(&code) {
        return None;
    }
    let status = EnhancedStatus::find_in(text);
    Some(classify(status, Some(code), text))
}

/// The first basic SMTP failure code (4xx/5xx) standing alone in text:
/// `550 …`, `550-…`, `554:`, `#550`, `said: 550`.
pub fn find_reply_code(text: &str) -> Option<u16> {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 3 <= b.len() {
        let c = b[i];
        if matches!(c, b'4' | b'5')
            && b[i + 1].is_ascii_digit()
            && b[i + 2].is_ascii_digit()
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'.' | b':' | b'-' | b'+' | b'/' | b',')))
        {
            let ok_tail = match b.get(i + 3) {
                None => true,
                Some(&n) => matches!(n, b' ' | b'-' | b':' | b'\t' | b'\r' | b'\n' | b')' | b']' | b'\'' | b'"' | b';'),
            };
            // "550-5.1.1" continuation and "550 5.1.1" are both fine; "500-1000"
            // would need a digit after the dash, which a reply line never has
            // except for the enhanced code ("550-5.").
            let dash_ok = b.get(i + 3) != Some(&b'-')
                || b.get(i + 4).is_none_or(|n| !n.is_ascii_digit())
                || (matches!(b.get(i + 4), Some(b'4' | b'5' | b'2')) && b.get(i + 5) == Some(&b'.'));
            if ok_tail && dash_ok {
                let v = u16::from(c - b'0') * 100 + u16::from(b[i + 1] - b'0') * 10 + u16::from(b[i + 2] - b'0');
                return Some(v);
            }
        }
        i += 1;
    }
    None
}

/// How many soft bounces within how many days suppress a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftBouncePolicy {
    pub max: u32,
    pub window_days: u32,
}

impl Default for SoftBouncePolicy {
    /// RULES.md: suppress after 3 soft bounces within 30 days.
    fn default() -> Self {
        SoftBouncePolicy { max: 3, window_days: 30 }
    }
}

impl SoftBouncePolicy {
    /// `count_in_window` includes the bounce being applied. A `max` of 0
    /// would suppress on no bounce at all, so it is read as 1.
    pub fn should_suppress(&self, count_in_window: u32) -> bool {
        count_in_window >= self.max.max(1)
    }
}

/// Tidies a diagnostic for display and matching: joins folded and
/// multi-line replies into one line, drops the repeated `550-5.1.1 ` prefix
/// of continuation lines (RFC 5321 §4.2.1) and collapses whitespace.
pub fn clean_diagnostic(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prefix: Option<(u16, Option<EnhancedStatus>)> = None;
    for (i, line) in text.lines().enumerate() {
        let mut line = line.trim();
        if i == 0 {
            prefix = find_reply_code(line).map(|c| (c, EnhancedStatus::find_in(line)));
        } else if let Some((code, status)) = prefix {
            line = strip_reply_prefix(line, code, status);
        }
        for word in line.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

fn strip_reply_prefix(line: &str, code: u16, status: Option<EnhancedStatus>) -> &str {
    let b = line.as_bytes();
    let code_s = code.to_string();
    if b.len() < 4 || !line.starts_with(code_s.as_str()) || !matches!(b[3], b'-' | b' ') {
        return line;
    }
    let rest = line[4..].trim_start();
    if let Some(st) = status {
        let st = st.to_string();
        if let Some(after) = rest.strip_prefix(st.as_str())
            && (after.is_empty() || after.starts_with(' '))
        {
            return after.trim_start();
        }
    }
    rest
}

/// [`clean_diagnostic`], lower-cased, so phrases match across folded lines.
fn normalize(s: &str) -> String {
    let clean = clean_diagnostic(s);
    if clean.is_ascii() { clean.to_ascii_lowercase() } else { clean.to_lowercase() }
}

/// The reason the reply's status code names, or `None` for codes that name
/// none (generic `x.0.0` and the "other" details of address, mailbox, system
/// and protocol status, which senders use for anything).
fn code_reason(s: EnhancedStatus) -> Option<BounceReason> {
    use BounceReason::*;
    let r = match (s.subject, s.detail) {
        (_, _) if s.class == 2 => return None,
        (1, 1) => UserUnknown,
        (1, 2) => HostUnknown,
        (1, 3) => SyntaxError,
        (1, 6) => Moved,
        // Bad sender address or sender system: our configuration.
        (1, 7) | (1, 8) => Policy,
        (1, 10) => NullMx,
        (2, 1) => Disabled,
        (2, 2) => MailboxFull,
        (2, 3) => MessageTooBig,
        (3, 1) => MailboxFull,
        (3, 2) => Temporary,
        (3, 3) => Content,
        (3, 4) => MessageTooBig,
        (4, 4) if s.class == 5 => HostUnknown,
        // Deferrals "for policy reasons" without saying which: greylisting,
        // throttling, a busy server. The wording decides; else temporary.
        (7, 0) | (7, 1) if s.class == 4 => return None,
        (4, 5) => RateLimited,
        (4, 7) => Expired,
        (4, _) => NetworkError,
        (5, 3) => RateLimited,
        (6, _) => Content,
        (7, d) => security_reason(d),
        _ => return None,
    };
    Some(r)
}

/// `x.7.x` security and policy status, RFC 3463, RFC 4954, RFC 7293,
/// RFC 7372, RFC 7505 and the Microsoft 5.7.5xx–7xx block codes. Every
/// answer is of the policy class except where the code is about the
/// recipient's mailbox.
fn security_reason(detail: u16) -> BounceReason {
    use BounceReason::*;
    match detail {
        5 | 6 | 7 | 8 | 9 | 13 | 20..=26 | 29 => AuthFailure,
        17 | 18 => Moved,
        28 => SpamBlock,
        509 | 515 => AuthFailure,
        501..=503 | 505..=508 | 511 | 600..=799 => SpamBlock,
        512 => Content,
        _ => Policy,
    }
}

/// A reason and the phrases that name it. Rules are tried in order, so a
/// more specific phrase sits in an earlier rule ("domain does not exist"
/// before "does not exist", "mailbox size limit" before "size limit").
struct Rule {
    reason: BounceReason,
    phrases: &'static [&'static str],
}

use BounceReason as R;

const STRONG: &[Rule] = &[
    // Trouble with our sender address is ours, however the rest reads
    // ("Sender address rejected: Domain not found" is no unknown host of the
    // recipient's).
    Rule {
        reason: R::Policy,
        phrases: &[
            "sender address rejected",
            "sender rejected",
            "sender denied",
            "sender verify",
            "sender domain",
            "unverified sender",
            "sender not allowed",
            // Challenge-response filters (Boxbe) waiting for the sender.
            "not pre-approved",
            "requires confirmation",
            "sender is not allowed",
            "not verified",
        ],
    },
    // "Host not found, try again" is Postfix's temporary DNS failure.
    Rule {
        reason: R::NetworkError,
        phrases: &["not found, try again", "temporary failure in name resolution", "servfail", "dns temporary"],
    },
    Rule { reason: R::NullMx, phrases: &["null mx", "nullmx", "does not accept mail"] },
    Rule {
        reason: R::SyntaxError,
        phrases: &[
            "address syntax",
            "syntax of the address",
            "syntax error in address",
            "malformed address",
            "illegal address",
            "bad address",
            "invalid address format",
            "improperly formatted",
            "not a valid email address",
            "not a valid e-mail address",
            "invalid email address syntax",
            "user address required",
            "domain name required",
            "mailbox name not allowed",
        ],
    },
    Rule {
        reason: R::HostUnknown,
        phrases: &[
            "host unknown",
            "unknown host",
            "host not found",
            "host or domain name not found",
            "domain not found",
            "domain name not found",
            "no such domain",
            "domain does not exist",
            "domain doesn't exist",
            "domain does not exists",
            "nonexistent domain",
            "non-existent domain",
            "non-existent host",
            "nonexistent host",
            "unknown domain",
            "domain unknown",
            "unknown mail domain",
            "nxdomain",
            "name service error",
            "no mx record",
            "no mx for",
            "no valid mx",
            "has no mx",
            "mx records point to non-existent hosts",
            "name or service not known",
            "could not be resolved",
            "unresolvable",
            "unroutable domain",
            "dns error: domain",
            "dns type 'mx' lookup",
            "domain existiert nicht",
            "unbekannte domain",
            "domaine inconnu",
            "domaine inexistant",
            "dominio desconocido",
            "dominio inesistente",
            "el dominio no existe",
            "onbekend domein",
            "домен не найден",
            "несуществующий домен",
        ],
    },
    // Mailbox-quota wording before "sending quota" so neither eats the other:
    // our own sending limits are rate limits.
    Rule {
        reason: R::RateLimited,
        phrases: &["sending quota", "daily sending", "sending limit", "daily limit", "send limit", "quota de envío"],
    },
    Rule {
        reason: R::Moved,
        phrases: &[
            "has moved",
            "user moved",
            "no longer with",
            "forwarding address",
            "new address",
            "address has changed",
            "address changed",
            "user not local",
            "mailbox owner has changed",
            "domain owner has changed",
        ],
    },
    // Before "not accepting mail" (disabled): AOL's "not accepting mail
    // with attachments or embedded images" is about the content.
    Rule { reason: R::Content, phrases: &["mail with attachments", "embedded images"] },
    Rule {
        reason: R::Disabled,
        phrases: &[
            "account disabled",
            "account has been disabled",
            "account is disabled",
            "mailbox disabled",
            "mailbox is disabled",
            "mailbox has been disabled",
            "disabled mailbox",
            "disabled account",
            "is disabled",
            "account is inactive",
            "inactive account",
            "inactive mailbox",
            "mailbox is inactive",
            "mailbox inactive",
            "account inactive",
            "deactivated",
            "account suspended",
            "account has been suspended",
            "account is suspended",
            "currently suspended",
            "[suspend]",
            "mailbox suspended",
            "mailbox is suspended",
            "account is locked",
            "mailbox is locked",
            "account locked",
            "frozen",
            "account expired",
            "account has expired",
            "not accepting mail",
            "not accepting messages",
            "not accepting any mail",
            "deaktiviert",
            "gesperrt",
            "stillgelegt",
            "désactivé",
            "desactivado",
            "desactivada",
            "deshabilitad",
            "suspendid",
            "disattivat",
            "gedeactiveerd",
            "отключен",
            "заблокирован",
            "заморожен",
        ],
    },
    Rule {
        reason: R::MailboxFull,
        phrases: &[
            "mailbox full",
            "mailbox is full",
            "mail box full",
            "mailbox quota",
            "quota exceeded",
            "exceeded quota",
            "exceeded its quota",
            "exceeds quota",
            "over quota",
            "overquota",
            "over the quota",
            "quota exceed",
            "quota limit",
            "mailbox size limit",
            "mailbox exceeds",
            "mailbox has exceeded",
            "exceeded storage",
            "storage allocation",
            "insufficient storage",
            "insufficient system storage",
            "out of storage",
            "storage space",
            "storage limit",
            "disk quota",
            "inbox is full",
            "account is full",
            "mailbox size exceeded",
            // JetMail: "ErrMsg=mail box space not enough".
            "space not enough",
            // web.de: "Benutzer hat zuviele Mails auf dem Server".
            "too many messages on the server",
            "zuviele mails",
            "zu viele mails",
            "full mailbox",
            "mailbox voll",
            "postfach voll",
            "postfach ist voll",
            "speicherplatz",
            "speicher voll",
            "boîte pleine",
            "boite pleine",
            "boîte aux lettres est pleine",
            "boite aux lettres est pleine",
            "boîte aux lettres pleine",
            "buzón lleno",
            "buzon lleno",
            "buzón está lleno",
            "casella piena",
            "casella di posta piena",
            "mailbox vol",
            "postvak vol",
            "ящик переполнен",
            "переполнен",
        ],
    },
    Rule {
        reason: R::UserUnknown,
        phrases: &[
            // Exchange Online directory-based edge blocking: the recipient does
            // not exist, although the words sound like policy.
            "recipient address rejected: access denied",
            "user unknown",
            "unknown user",
            "no such user",
            "no such recipient",
            "no such mailbox",
            "no such address",
            "no such account",
            "no such person",
            "no such local user",
            "user not found",
            "recipient not found",
            "recipnotfound",
            "recipientnotfound",
            "recipient unknown",
            "unknown recipient",
            "addressee unknown",
            "unknown address",
            "address unknown",
            "unknown mailbox",
            "mailbox unknown",
            "unknown local",
            "unknown or illegal alias",
            "unknown alias",
            "unknown e-mail",
            "unknown email",
            "invalid recipient",
            "invalid mailbox",
            "invalid user",
            "user invalid",
            "recipient invalid",
            "invalid address",
            "invalid e-mail address",
            "invalid email address",
            "not a valid recipient",
            "not a valid user",
            "not a valid mailbox",
            "mailbox is not valid",
            "recipient is not valid",
            "bad destination mailbox",
            "mailbox not found",
            "mail-box not found",
            "not a known user",
            "not an active address",
            "bad_recipient",
            "bad recipient",
            "account not found",
            "address not found",
            "no mailbox",
            "no mail box",
            "mailbox does not exist",
            "does not exist",
            "doesn't exist",
            "do not exist",
            "does not have an account",
            "doesn't have a",
            "not have an account",
            "no account",
            "couldn't be found",
            "could not be found",
            "wasn't found",
            "not listed in domino directory",
            "not listed in the domino directory",
            "not listed in public name",
            "unrouteable address",
            "no longer active",
            "no longer in use",
            "no longer valid",
            "no longer exists",
            "no longer available",
            "no longer accepts",
            "not our customer",
            "benutzer unbekannt",
            "unbekannter benutzer",
            "unbekannter empfänger",
            "empfänger unbekannt",
            "adresse unbekannt",
            "unbekannte adresse",
            "existiert nicht",
            "gibt es nicht",
            "utilisateur inconnu",
            "destinataire inconnu",
            "adresse inconnue",
            "n'existe pas",
            "introuvable",
            "usuario desconocido",
            "usuário desconhecido",
            "usuario desconhecido",
            "destinatário desconhecido",
            "não existe",
            "destinatario desconocido",
            "no existe",
            "utente sconosciuto",
            "utente inesistente",
            "destinatario sconosciuto",
            "indirizzo inesistente",
            "non esiste",
            "gebruiker onbekend",
            "onbekende gebruiker",
            "onbekende ontvanger",
            "bestaat niet",
            "нет такого пользователя",
            "пользователь не найден",
            "не существует",
            "неизвестный пользователь",
        ],
    },
    Rule {
        reason: R::MessageTooBig,
        phrases: &[
            "message too big",
            "message too large",
            "message is too large",
            "message is too big",
            "message size exceeds",
            "message size exceeded",
            "max message size",
            "size exceeds",
            "exceeds size",
            "maximum message size",
            "message size limit",
            "size limit",
            "message length exceeds",
            "message exceeds",
            "too large",
            "too big",
            "zu groß",
            "zu gross",
            "trop volumineux",
            "trop gros",
            "demasiado grande",
            "troppo grande",
            "te groot",
        ],
    },
    // Reputation wording that also names the DKIM domain it is about.
    Rule {
        reason: R::SpamBlock,
        phrases: &["unsolicited mail", "unusual rate of unsolicited", "likely unsolicited", "considered spam"],
    },
    Rule {
        reason: R::AuthFailure,
        phrases: &[
            "spf",
            "dkim",
            "dmarc",
            "sender policy framework",
            "authentication",
            "unauthenticated",
            "not authenticated",
            "reverse dns",
            "rdns",
            "ptr record",
            "reverse lookup",
            "username and password not accepted",
        ],
    },
    Rule {
        reason: R::SpamBlock,
        phrases: &[
            "spam",
            "blacklist",
            "black list",
            "blocklist",
            "block list",
            "denylist",
            "deny list",
            "blocked using",
            "listed at",
            "listed on",
            "listed by",
            "rbl",
            "spamhaus",
            "spamcop",
            "barracuda",
            "sorbs",
            "reputation",
            "unsolicited",
            "bulk mail",
            "junk",
            "mail flood",
            "complaints",
            "phish",
            "suspicious",
            "banned sending",
        ],
    },
    Rule {
        reason: R::RateLimited,
        phrases: &[
            "rate limit",
            "ratelimit",
            "rate-limit",
            "too many connections",
            "too many concurrent",
            "too many simultaneous",
            "too many messages",
            "too many recipients",
            "too many emails",
            "too many mails",
            "throttl",
            "exceeded the rate",
            "sending rate",
            "receiving mail at a rate",
            "connection limit",
            "number of connections",
            "connection rate",
            "too fast",
            "slow down",
        ],
    },
    Rule {
        reason: R::Content,
        phrases: &[
            "virus",
            "malware",
            "infected",
            "trojan",
            "content rejected",
            "message content",
            "content filter",
            "unacceptable content",
            "prohibited content",
            "attachment",
            "executable",
            "line too long",
            "line length",
            "bare lf",
            "bare linefeed",
            "8-bit",
            "8bit",
            "invalid header",
            "malformed header",
            "missing header",
            "header syntax",
            "rfc 5322",
            "rfc5322",
            "rfc 2822",
            "rfc2822",
            "rfc 822",
            "rfc822 compliant",
        ],
    },
    Rule {
        reason: R::Policy,
        phrases: &[
            "policy",
            "relay access denied",
            "relaying denied",
            "relay denied",
            "relay not permitted",
            "not permitted to relay",
            "unable to relay",
            // A list holding the message for its moderator.
            "moderator approval",
            "non-member",
            "members-only",
            "we do not relay",
            "not allowed to relay",
            "relaying not allowed",
            "relaying disallowed",
            "rcpthosts",
            "administrative prohibition",
            "not authorized",
            "unauthorized",
            "tls required",
            "requiretls",
            "starttls",
            "encryption required",
        ],
    },
    // Before the network phrases: "retry timeout exceeded" is an expiry.
    Rule {
        reason: R::Expired,
        phrases: &[
            "expired",
            "retry timeout exceeded",
            "retry time not reached",
            "queue too long",
            "too long in the queue",
            "could not be delivered within",
            "not delivered within",
            "time limit exceeded",
            "delivery time",
        ],
    },
    Rule {
        reason: R::NetworkError,
        phrases: &[
            "connection refused",
            "connection timed out",
            "timed out",
            "timeout",
            "no route to host",
            "network is unreachable",
            "connection reset",
            "lost connection",
            "connection closed",
            "connection dropped",
            "unable to connect",
            "could not connect",
            "couldn't connect",
            "can't connect",
            "cannot connect",
            "failed to connect",
            "routing loop",
            "mail loop",
            "loops back to myself",
            "too many hops",
            "hop count",
            "broken pipe",
            "unreachable",
        ],
    },
    Rule { reason: R::Temporary, phrases: &["greylist", "graylist", "grey-list", "gray-list"] },
];

/// Wording that says little: it counts only when the code names no reason.
const WEAK: &[Rule] = &[
    Rule {
        reason: R::Policy,
        phrases: &[
            "access denied",
            "blocked",
            "prohibited",
            "denied",
            "not allowed",
            "forbidden",
            "refused",
            "restricted",
        ],
    },
    Rule {
        reason: R::Temporary,
        phrases: &[
            "try again later",
            "please try again",
            "try later",
            "temporarily",
            "temporary",
            "deferred",
            "service unavailable",
            "service not available",
            "delivery temporarily suspended",
        ],
    },
];

/// RFC 5321's text for 550; on a permanent failure it almost always means the
/// mailbox is not there, on a transient one only that it is busy.
const MAILBOX_UNAVAILABLE: &[&str] = &[
    "mailbox unavailable",
    "mailbox not available",
    "mailbox is unavailable",
    "user unavailable",
    "recipient unavailable",
];

fn text_reason(text: &str, permanent: bool) -> (Option<BounceReason>, Option<BounceReason>) {
    let pairs = Pairs::of(text);
    let strong = first_match(STRONG, text, &pairs);
    if strong.is_some() {
        return (strong, None);
    }
    if MAILBOX_UNAVAILABLE.iter().any(|p| pairs.may_contain(p) && text.contains(p)) {
        let r = if permanent { BounceReason::UserUnknown } else { BounceReason::Temporary };
        return (None, Some(r));
    }
    (None, first_match(WEAK, text, &pairs))
}

fn first_match(rules: &[Rule], text: &str, pairs: &Pairs) -> Option<BounceReason> {
    rules.iter().find(|r| r.phrases.iter().any(|p| pairs.may_contain(p) && text.contains(p))).map(|r| r.reason)
}

/// The set of adjacent byte pairs in a text (hashed into 4096 bits). A
/// phrase with a pair the text lacks cannot occur in it, so most of the few
/// hundred phrase searches per diagnostic end after a few bit tests.
pub struct Pairs([u64; 64]);

impl Pairs {
    pub fn of(text: &str) -> Pairs {
        let mut bits = [0u64; 64];
        for w in text.as_bytes().windows(2) {
            let h = pair_hash(w[0], w[1]);
            bits[h >> 6] |= 1 << (h & 63);
        }
        Pairs(bits)
    }

    /// `false` only when `phrase` certainly does not occur in the text.
    pub fn may_contain(&self, phrase: &str) -> bool {
        phrase.as_bytes().windows(2).all(|w| {
            let h = pair_hash(w[0], w[1]);
            self.0[h >> 6] & (1 << (h & 63)) != 0
        })
    }
}

fn pair_hash(a: u8, b: u8) -> usize {
    (usize::from(a & 63) << 6) | usize::from(b & 63)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn st(s: &str) -> Option<EnhancedStatus> {
        Some(EnhancedStatus::parse(s).unwrap())
    }

    fn c(status: &str, code: Option<u16>, text: &str) -> (BounceClass, BounceReason) {
        let s = if status.is_empty() { None } else { st(status) };
        let r = classify(s, code, text);
        (r.class, r.reason)
    }

    #[test]
    fn status_parses_and_validates() {
        let s = EnhancedStatus::parse("5.1.1").unwrap();
        assert_eq!((s.class(), s.subject(), s.detail()), (5, 1, 1));
        assert_eq!(s.to_string(), "5.1.1");
        assert_eq!(EnhancedStatus::parse(" 5.7.515 ").unwrap().to_string(), "5.7.515");
        assert_eq!(EnhancedStatus::parse("4.4.7").unwrap().to_string(), "4.4.7");
        assert_eq!(EnhancedStatus::parse("2.0.0").unwrap().to_string(), "2.0.0");
        assert_eq!(EnhancedStatus::parse("3.1.1"), Err(StatusError::Class));
        assert_eq!(EnhancedStatus::parse("6.1.1"), Err(StatusError::Class));
        assert_eq!(EnhancedStatus::parse("5.1000.1"), Err(StatusError::Shape));
        assert_eq!(EnhancedStatus::parse("5.1"), Err(StatusError::Shape));
        assert_eq!(EnhancedStatus::parse("5.1.1.1"), Err(StatusError::Shape));
        assert_eq!(EnhancedStatus::parse("55.1.1"), Err(StatusError::Shape));
        assert_eq!(EnhancedStatus::parse("5.a.1"), Err(StatusError::Shape));
        assert_eq!(EnhancedStatus::parse(""), Err(StatusError::Shape));
        assert_eq!(EnhancedStatus::parse("5.-1.1"), Err(StatusError::Shape));
        assert_eq!(EnhancedStatus::new(5, 1000, 0), Err(StatusError::Range));
        assert!(EnhancedStatus::parse("5.999.999").is_ok());
        assert_eq!("5.2.2".parse::<EnhancedStatus>().unwrap(), EnhancedStatus::new(5, 2, 2).unwrap());
    }

    #[test]
    fn status_serde_is_a_string() {
        let s = EnhancedStatus::parse("5.1.10").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"5.1.10\"");
        let back: EnhancedStatus = serde_json::from_str("\"5.1.10\"").unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<EnhancedStatus>("\"9.1.1\"").is_err());
    }

    #[test]
    fn status_found_in_text() {
        let f = |t: &str| EnhancedStatus::find_in(t).map(|s| s.to_string());
        assert_eq!(f("550 5.1.1 <a@b.c>: user unknown").as_deref(), Some("5.1.1"));
        assert_eq!(f("Sorry, no mailbox here by that name. (#5.1.1)").as_deref(), Some("5.1.1"));
        assert_eq!(f("550-5.7.26 Unauthenticated").as_deref(), Some("5.7.26"));
        assert_eq!(f("#550 5.1.10 RESOLVER.ADR.RecipientNotFound").as_deref(), Some("5.1.10"));
        assert_eq!(f("host 192.5.1.1 said 550 no"), None);
        assert_eq!(f("Postfix 3.5.1 here"), None);
        assert_eq!(f("version 4.1.1.2"), None);
        assert_eq!(f("v5.1.1"), None);
        assert_eq!(f("2.0.0 ok"), None);
        assert_eq!(EnhancedStatus::find_any_in("2.0.0 ok").map(|s| s.to_string()).as_deref(), Some("2.0.0"));
        assert_eq!(f("5.1.1000"), None);
        assert_eq!(f("5.1."), None);
    }

    #[test]
    fn reply_code_found_in_text() {
        assert_eq!(find_reply_code("550 5.1.1 user unknown"), Some(550));
        assert_eq!(find_reply_code("host mx said: 552-5.2.2 full"), Some(552));
        assert_eq!(find_reply_code("554: delivery error: dd"), Some(554));
        assert_eq!(find_reply_code("#550 4.4.7"), Some(550));
        assert_eq!(find_reply_code("sent at 10:45:54 from 192.168.1.1"), None);
        assert_eq!(find_reply_code("size 45000 bytes"), None);
        assert_eq!(find_reply_code("error 500-1000"), None);
        assert_eq!(find_reply_code("Remote Server returned '550 5.1.10 …'"), Some(550));
        assert_eq!(find_reply_code(""), None);
    }

    #[test]
    fn hard_codes() {
        for (code, reason) in [
            ("5.1.1", R::UserUnknown),
            ("5.1.2", R::HostUnknown),
            ("5.1.6", R::Moved),
            ("5.1.10", R::NullMx),
            ("5.1.3", R::SyntaxError),
        ] {
            assert_eq!(c(code, Some(550), "Requested action not taken"), (BounceClass::Hard, reason), "{code}");
        }
    }

    #[test]
    fn soft_codes() {
        assert_eq!(c("4.2.2", Some(452), ""), (BounceClass::Soft, R::MailboxFull));
        // RFC 3463 calls a full mailbox transient even with class 5.
        assert_eq!(c("5.2.2", Some(552), ""), (BounceClass::Soft, R::MailboxFull));
        assert_eq!(c("5.2.1", Some(550), "mailbox unavailable"), (BounceClass::Soft, R::Disabled));
        assert_eq!(c("4.4.7", None, "delivery expired"), (BounceClass::Soft, R::Expired));
        assert_eq!(c("5.4.7", None, ""), (BounceClass::Soft, R::Expired));
        assert_eq!(c("4.4.1", Some(451), ""), (BounceClass::Soft, R::NetworkError));
        assert_eq!(c("4.3.0", Some(451), ""), (BounceClass::Soft, R::Temporary));
        assert_eq!(c("4.7.0", Some(421), "Too many connections from your IP"), (BounceClass::Soft, R::RateLimited));
        assert_eq!(c("", Some(421), "Too many concurrent SMTP connections"), (BounceClass::Soft, R::RateLimited));
        assert_eq!(c("4.5.3", Some(452), ""), (BounceClass::Soft, R::RateLimited));
        assert_eq!(
            c("4.7.1", Some(450), "Greylisted, please try again in 300 seconds"),
            (BounceClass::Soft, R::Temporary)
        );
    }

    #[test]
    fn any_transient_code_is_soft_without_text() {
        for s in ["4.0.0", "4.1.0", "4.2.0", "4.3.2", "4.4.2", "4.5.0", "4.9.9"] {
            assert_eq!(classify(st(s), None, "").class, BounceClass::Soft, "{s}");
        }
    }

    #[test]
    fn our_sender_problems_are_policy() {
        assert_eq!(
            c("5.1.8", Some(553), "<news@news.example>: Sender address rejected: Domain not found"),
            (BounceClass::Policy, R::Policy)
        );
        assert_eq!(c("5.1.7", Some(553), ""), (BounceClass::Policy, R::Policy));
        assert_eq!(
            c("", Some(554), "Message rejected: Email address is not verified."),
            (BounceClass::Policy, R::Policy)
        );
    }

    #[test]
    fn vague_transient_policy_deferrals_are_temporary() {
        assert_eq!(c("4.7.0", Some(421), "Try again later, closing connection."), (BounceClass::Soft, R::Temporary));
        assert_eq!(c("4.7.1", Some(450), ""), (BounceClass::Soft, R::Temporary));
        assert_eq!(c("4.7.26", Some(421), ""), (BounceClass::Policy, R::AuthFailure));
        assert_eq!(
            c("4.7.0", Some(421), "[TSS04] deferred due to user complaints"),
            (BounceClass::Policy, R::SpamBlock)
        );
    }

    #[test]
    fn policy_codes_alert_the_operator() {
        for s in ["5.7.1", "5.7.26", "5.7.27", "5.7.515", "5.7.0", "5.7.606", "5.7.23", "5.7.750", "5.7.999"] {
            assert_eq!(classify(st(s), Some(550), "Message rejected").class, BounceClass::Policy, "{s}");
        }
        assert_eq!(c("5.7.26", Some(550), "Unauthenticated email is not accepted").1, R::AuthFailure);
        assert_eq!(c("5.7.515", Some(550), "Access denied").1, R::AuthFailure);
        assert_eq!(
            c("5.7.1", Some(554), "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"),
            (BounceClass::Policy, R::SpamBlock)
        );
        assert_eq!(c("5.7.1", Some(554), "Relay access denied"), (BounceClass::Policy, R::Policy));
        assert_eq!(
            c("", Some(550), "Message rejected as spam by Content Filtering"),
            (BounceClass::Policy, R::SpamBlock)
        );
        assert_eq!(c("5.7.1", Some(550), "Message rejected"), (BounceClass::Policy, R::Policy));
    }

    #[test]
    fn content_and_size_are_policy() {
        assert_eq!(c("5.3.4", Some(552), "Message size exceeds fixed limit"), (BounceClass::Policy, R::MessageTooBig));
        assert_eq!(
            c("5.2.3", Some(552), "Your message exceeded Google's message size limits"),
            (BounceClass::Policy, R::MessageTooBig)
        );
        assert_eq!(c("5.3.4", None, ""), (BounceClass::Policy, R::MessageTooBig));
        assert_eq!(c("5.6.0", Some(554), ""), (BounceClass::Policy, R::Content));
        assert_eq!(c("", Some(554), "Virus found in message: Eicar-Test-Signature"), (BounceClass::Policy, R::Content));
    }

    #[test]
    fn text_reason_wins_over_code() {
        // RULES.md's three examples.
        assert_eq!(c("5.2.1", Some(550), "<x@example.com>: user unknown"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(c("5.1.1", Some(550), "mailbox full"), (BounceClass::Soft, R::MailboxFull));
        assert_eq!(c("4.1.1", Some(450), "user unknown"), (BounceClass::Hard, R::UserUnknown));
        // More disagreement: a policy code with a recipient reason.
        assert_eq!(c("5.7.1", Some(550), "No such user!"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(c("5.1.1", Some(550), "Mailbox disabled for this recipient"), (BounceClass::Soft, R::Disabled));
        assert_eq!(
            c("5.2.2", Some(552), "Message size exceeds maximum permitted"),
            (BounceClass::Policy, R::MessageTooBig)
        );
        assert_eq!(c("4.2.2", Some(452), "Mailbox quota exceeded"), (BounceClass::Soft, R::MailboxFull));
        assert_eq!(
            c("5.4.1", Some(550), "Recipient address rejected: Access denied. AS(201806281)"),
            (BounceClass::Hard, R::UserUnknown)
        );
        assert_eq!(
            c("5.1.1", Some(550), "RCPT TO:<x@example.com> max message size exceeded"),
            (BounceClass::Policy, R::MessageTooBig)
        );
        assert_eq!(
            c("5.7.1", Some(553), "sorry, badrcptto(user mail-box not found)"),
            (BounceClass::Hard, R::UserUnknown)
        );
    }

    #[test]
    fn wordings_seen_in_real_bounces() {
        let text = |t: &str| c("5.0.0", Some(550), t);
        assert_eq!(text("<x@example.net> is not a known user on this system"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(text("x@example.net is not an active address at this host"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(text("BAD_RECIPIENT - see http://example.net/"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(
            text("Benutzer hat zuviele Mails auf dem Server. / User has too many messages on the server."),
            (BounceClass::Soft, R::MailboxFull)
        );
        assert_eq!(
            text("they are not accepting mail with attachments or embedded images"),
            (BounceClass::Policy, R::Content)
        );
        assert_eq!(c("4.7.0", None, "Sender not pre-approved."), (BounceClass::Policy, R::Policy));
        assert_eq!(text("[SUSPEND] Mailbox currently suspended"), (BounceClass::Soft, R::Disabled));
        assert_eq!(
            text("Your server requires confirmation. Visit http://x.example/"),
            (BounceClass::Policy, R::Policy)
        );
        assert_eq!(text("Your message to a list awaits moderator approval"), (BounceClass::Policy, R::Policy));
        // Still a disabled mailbox without the attachment wording.
        assert_eq!(text("This account is not accepting mail"), (BounceClass::Soft, R::Disabled));
    }

    #[test]
    fn weak_text_does_not_override_a_specific_code() {
        assert_eq!(c("5.1.1", Some(550), "Recipient rejected: access denied"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(c("5.2.2", Some(452), "temporarily deferred, try again later"), (BounceClass::Soft, R::MailboxFull));
        // …but decides when the code is generic.
        assert_eq!(c("5.0.0", Some(550), "Access denied"), (BounceClass::Policy, R::Policy));
    }

    #[test]
    fn generic_codes_take_reason_from_text() {
        assert_eq!(c("5.0.0", Some(550), "User unknown"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(c("5.0.0", Some(550), "Mailbox quota exceeded"), (BounceClass::Soft, R::MailboxFull));
        assert_eq!(c("4.0.0", Some(450), "Mailbox is full"), (BounceClass::Soft, R::MailboxFull));
        assert_eq!(c("", Some(550), "Unrouteable address"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(
            c("", Some(550), "Requested action not taken: mailbox unavailable"),
            (BounceClass::Hard, R::UserUnknown)
        );
        assert_eq!(
            c("", Some(450), "Requested action not taken: mailbox unavailable"),
            (BounceClass::Soft, R::Temporary)
        );
        assert_eq!(
            c("", Some(553), "sorry, that domain isn't in my list of allowed rcpthosts"),
            (BounceClass::Policy, R::Policy)
        );
        // Generic status with a specific code in the text uses the text's code.
        let r = classify(st("5.0.0"), None, "smtp; 550 5.1.2 bad destination system");
        assert_eq!((r.reason, r.status.unwrap().to_string().as_str()), (R::HostUnknown, "5.1.2"));
        // Nothing to go on: permanent is "other" (soft), transient "temporary".
        assert_eq!(c("5.0.0", Some(550), "Requested action not taken"), (BounceClass::Soft, R::Other));
        assert_eq!(c("4.0.0", Some(451), "Requested action aborted"), (BounceClass::Soft, R::Temporary));
        assert_eq!(c("", None, ""), (BounceClass::Soft, R::Other));
    }

    #[test]
    fn host_unknown_and_dns() {
        assert_eq!(
            c(
                "5.4.4",
                Some(550),
                "Host or domain name not found. Name service error for name=example.invalid type=A: Host not found"
            ),
            (BounceClass::Hard, R::HostUnknown)
        );
        assert_eq!(
            c(
                "4.4.3",
                Some(450),
                "Host or domain name not found. Name service error for name=example.com type=MX: Host not found, try again"
            ),
            (BounceClass::Soft, R::NetworkError)
        );
        assert_eq!(
            c("", None, "DNS Error: DNS type 'mx' lookup of example.invalid responded with code NXDOMAIN"),
            (BounceClass::Hard, R::HostUnknown)
        );
        assert_eq!(c("5.1.10", Some(556), "Recipient address has null MX"), (BounceClass::Hard, R::NullMx));
        assert_eq!(c("4.4.4", None, ""), (BounceClass::Soft, R::NetworkError));
    }

    #[test]
    fn other_languages() {
        assert_eq!(c("", Some(550), "Benutzer unbekannt"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(c("", Some(552), "Mailbox voll"), (BounceClass::Soft, R::MailboxFull));
        assert_eq!(c("", Some(550), "Utilisateur inconnu"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(c("", Some(550), "BOÎTE PLEINE"), (BounceClass::Soft, R::MailboxFull));
        assert_eq!(c("", Some(550), "Usuario desconocido"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(c("", Some(550), "Usuário desconhecido"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(c("", Some(550), "Utente sconosciuto"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(c("", Some(550), "Gebruiker onbekend"), (BounceClass::Hard, R::UserUnknown));
        assert_eq!(c("", Some(550), "Пользователь не найден"), (BounceClass::Hard, R::UserUnknown));
    }

    #[test]
    fn folded_text_still_matches() {
        assert_eq!(
            c(
                "",
                None,
                "550-5.1.1 The email account that you tried to reach does\n 550-5.1.1 not exist. Please try\n550 5.1.1 again"
            ),
            (BounceClass::Hard, R::UserUnknown)
        );
        assert_eq!(
            clean_diagnostic(
                "550-5.1.1 The email account that you tried to reach does\n 550-5.1.1 not exist. Please try\n550 5.1.1 again"
            ),
            "550-5.1.1 The email account that you tried to reach does not exist. Please try again"
        );
        assert_eq!(c("", Some(550), "USER\tUNKNOWN"), (BounceClass::Hard, R::UserUnknown));
    }

    #[test]
    fn smtp_reply_classification() {
        assert!(classify_smtp_reply(250, "2.0.0 OK").is_none());
        assert!(classify_smtp_reply(354, "go ahead").is_none());
        assert!(classify_smtp_reply(600, "x").is_none());
        let r = classify_smtp_reply(550, "5.1.1 <a@example.com>: Recipient address rejected: User unknown").unwrap();
        assert_eq!(
            (r.class, r.reason, r.status.unwrap().to_string()),
            (BounceClass::Hard, R::UserUnknown, "5.1.1".into())
        );
        let r = classify_smtp_reply(
            421,
            "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints",
        )
        .unwrap();
        assert_eq!((r.class, r.reason), (BounceClass::Policy, R::SpamBlock));
        let r = classify_smtp_reply(452, "4.2.2 The email account that you tried to reach is over quota").unwrap();
        assert_eq!((r.class, r.reason), (BounceClass::Soft, R::MailboxFull));
        let r = classify_smtp_reply(550, "Requested action not taken").unwrap();
        assert_eq!((r.class, r.reason, r.status), (BounceClass::Soft, R::Other, None));
    }

    #[test]
    fn every_reason_has_a_class_and_round_trips() {
        for r in BounceReason::ALL {
            assert_eq!(BounceReason::parse(r.as_str()), Some(*r));
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::Value::String(r.as_str().into()));
            let _ = r.class();
        }
        assert_eq!(serde_json::to_value(BounceClass::Policy).unwrap(), "policy");
        assert!(BounceClass::Hard.suppresses_at_once());
        assert!(!BounceClass::Soft.suppresses_at_once());
        assert!(!BounceClass::Policy.suppresses_at_once());
    }

    #[test]
    fn soft_bounce_policy_defaults() {
        let p = SoftBouncePolicy::default();
        assert_eq!((p.max, p.window_days), (3, 30));
        assert!(!p.should_suppress(0));
        assert!(!p.should_suppress(2));
        assert!(p.should_suppress(3));
        assert!(p.should_suppress(4));
        assert!(SoftBouncePolicy { max: 0, window_days: 30 }.should_suppress(1));
        assert!(!SoftBouncePolicy { max: 0, window_days: 30 }.should_suppress(0));
    }
}
