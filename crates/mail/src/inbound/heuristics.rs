//! Bounces that are not RFC 3464: the human-readable texts of Postfix,
//! Exim, qmail, Sendmail, Exchange/Office 365, Gmail, Yahoo, GMX/Web.de,
//! Courier, Lotus Domino, MDaemon, GroupWise and the many localized
//! "could not be delivered" notices.
//!
//! Rather than one parser per MTA (which breaks on every wording change),
//! the text is read in three generic steps that fit all of them:
//! 1. cut the readable part off at the copy of the original message;
//! 2. find the recipients: addresses that are not the sender, a daemon or a
//!    role mailbox, in the order they appear (or `X-Failed-Recipients`);
//! 3. for each recipient, take the SMTP reply near it (a line carrying a
//!    `550`/`5.1.1`/`#5.1.1` code and its continuation lines), else the
//!    text right after it.
//!
//! The MTA markers only decide *whether* a message is a bounce and name its
//! format; they never gate the extraction.

use assent_domain::bounce::{BounceReason, EnhancedStatus, Pairs, find_reply_code};

use super::fields::{Indexed, contains_any, find_addresses};

/// Format names and the phrases (lower-case) that identify them in the
/// readable text. Earlier entries are more specific.
const BODY_MARKERS: &[(&str, &[&str])] = &[
    ("qmail", &["this is the qmail-send program", "qmail-send program at"]),
    ("postfix", &["this is the mail system at host", "this is the postfix program"]),
    (
        "opensmtpd",
        &[
            "this is the mailer-daemon, please do not reply",
            "an error has occurred while attempting to deliver a message",
        ],
    ),
    ("james", &["this is the james mail server"]),
    ("smail", &["failed addresses follow", "message log follows"]),
    (
        "exim",
        &[
            "this message was created automatically by mail delivery software",
            "a message that you sent could not be delivered to one or more of its",
            "a message that you sent has not yet been delivered to one or more of its",
        ],
    ),
    (
        "sendmail",
        &[
            "the following addresses had permanent fatal errors",
            "the following addresses had transient non-fatal errors",
            "transcript of session follows",
        ],
    ),
    (
        "exchange",
        &[
            "delivery has failed to these recipients or groups",
            "delivery has failed to these recipients or distribution lists",
            "diagnostic information for administrators",
            "remote server returned",
        ],
    ),
    (
        "exchange_legacy",
        &[
            "did not reach some or all of the intended recipients",
            "the following recipient(s) cannot be reached",
            "the following recipient(s) could not be reached",
        ],
    ),
    (
        "gmail",
        &[
            "delivery to the following recipient failed permanently",
            "delivery to the following recipients failed permanently",
            "delivery to the following recipient has been delayed",
            "google tried to deliver your message",
            "the email account that you tried to reach",
            "your message wasn't delivered to",
            "the response from the remote server was",
        ],
    ),
    (
        "yahoo",
        &["sorry, we were unable to deliver your message", "unable to deliver your message to the following address"],
    ),
    ("courier", &["courier mail server"]),
    ("domino", &["not listed in domino directory", "domino directory", "was not delivered to:"]),
    ("mdaemon", &["had permanent fatal delivery errors", "mdaemon"]),
    ("groupwise", &["the message that you sent was undeliverable to the following", "groupwise"]),
    ("messagelabs", &["this is an automatically generated delivery status notification"]),
    (
        "german",
        &[
            "konnte nicht zugestellt werden",
            "nicht zugestellt werden",
            "unzustellbar",
            "zustellung fehlgeschlagen",
            "zustellung ist fehlgeschlagen",
            "konnte nicht ausgeliefert werden",
        ],
    ),
    (
        "french",
        &[
            "n'a pas pu être remis",
            "n'a pas pu etre remis",
            "n’a pas pu être remis",
            "non remis",
            "impossible de remettre",
            "n'a pas pu être distribué",
            "échec de la remise",
            "echec de la remise",
            "n'a pas pu être livré",
        ],
    ),
    (
        "spanish",
        &[
            "no se pudo entregar",
            "no se ha podido entregar",
            "no pudo ser entregado",
            "no se puede entregar",
            "no ha podido ser entregado",
        ],
    ),
    (
        "italian",
        &[
            "non è stato possibile recapitare",
            "non e' stato possibile recapitare",
            "impossibile recapitare",
            "non recapitabile",
            "non può essere recapitato",
            "non è stato recapitato",
        ],
    ),
    (
        "dutch",
        &[
            "kon niet worden bezorgd",
            "onbestelbaar",
            "kan niet worden afgeleverd",
            "kon niet worden afgeleverd",
            "niet bezorgd",
        ],
    ),
    ("portuguese", &["não foi possível entregar", "nao foi possivel entregar", "não pôde ser entregue"]),
    (
        "russian",
        &[
            "не удалось доставить",
            "не может быть доставлено",
            "не было доставлено",
            "недоставленное сообщение",
            "не доставлено",
        ],
    ),
];

/// Phrases any bounce might use; alone they need a second witness (a daemon
/// sender, an empty return path or an SMTP error line).
const GENERIC_MARKERS: &[&str] = &[
    "could not be delivered",
    "couldn't be delivered",
    "could not deliver",
    "couldn't deliver",
    "undeliverable",
    "undelivered",
    "delivery failed",
    "delivery has failed",
    "delivery failure",
    "permanent error",
    "permanent failure",
    "failed permanently",
    "was not delivered",
    "wasn't delivered",
    "unable to deliver",
    "message not delivered",
    "returned mail",
    "mail delivery failed",
    "non-delivery",
    "nondelivery",
    "delivery problem",
    "failed to deliver",
    "not be delivered",
    "has not yet been delivered",
    "wasn't able to deliver",
    "was not able to deliver",
    "could not be sent",
    "has been returned",
    "encountered delivery problems",
    "message not delivered to the following",
];

const SUBJECT_MARKERS: &[&str] = &[
    "undeliver",
    "delivery status notification",
    "mail delivery failed",
    "delivery failure",
    "failure notice",
    "returned mail",
    "mail system error",
    "delivery failed",
    "could not be delivered",
    "couldn't be delivered",
    "non-delivery",
    "nondeliverable",
    "non deliverable",
    "non remis",
    "non distribuable",
    "unzustellbar",
    "nicht zustellbar",
    "nicht zugestellt",
    "zustellung fehlgeschlagen",
    "no se puede entregar",
    "no se pudo entregar",
    "no entregado",
    "non recapitabile",
    "mancata consegna",
    "onbestelbaar",
    "niet afgeleverd",
    "niet bezorgd",
    "недоставлен",
    "не доставлено",
    "delivery notification",
    "message not delivered",
    "mail not delivered",
    "returned to sender",
    "delivery problem",
    "delivery delayed",
    "delayed mail",
    "warning: could not send message",
    "message delivery failed",
    "mail delivery problem",
    "delivery status",
    "delivery has failed",
    "delivery error",
    "not delivered",
    "[bounce]",
    "returned message",
    "mail failed",
    "failed mail",
    "delivery warning",
];

/// Words that say the message is still being retried: a warning, not a
/// final failure (RFC 3464 "delayed").
const DELAY_MARKERS: &[&str] = &[
    "this is a warning message only",
    "warning message only",
    "has not yet been delivered",
    "have not yet been delivered",
    "still being retried",
    "will continue trying",
    "will continue to try",
    "delivery attempts will continue",
    "will be retried",
    "has been delayed",
    "delivery delayed",
    "message delayed",
    "you do not need to resend",
    "no action is required on your part",
    "has been postponed",
];

const SUBJECT_DELAY: &[&str] = &["delay", "warning: could not send", "still being retried", "verzögert", "retardé"];

/// Lines that start the copy of the original message (lower-case, matched
/// within a short line).
const SEPARATORS: &[&str] = &[
    "this is a copy of the message",
    "copy of the message, including all the headers",
    "below this line is a copy of the message",
    "original message follows",
    "original message headers",
    "----- original message",
    "-----original message",
    "unsent message follows",
    "undelivered message follows",
    "delivery error report follows",
    "returned message follows",
    "returned mail follows",
    "message header follows",
    "headers of the original message",
    "header of the original message",
    "original message header",
    "the body of the message is",
    "undelivered message headers",
    "unsent message below",
    "original message as received",
    "original message details",
    "message text follows",
    "copy of the original message",
    "text of the original message",
    "kopie der nachricht",
    "originalnachricht",
    "ursprüngliche nachricht",
    "message d'origine",
    "message original",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "oorspronkelijke bericht",
    // Without the first letter: ASCII lower-casing keeps Cyrillic capitals.
    "сходное сообщение",
    "ригинальное сообщение",
];

/// Local parts that never are the bounced recipient.
const NOT_RECIPIENTS: &[&str] = &[
    "postmaster",
    "mailer-daemon",
    "mailerdaemon",
    "mailer_daemon",
    "mail-daemon",
    "abuse",
    "hostmaster",
    "noc",
    "no-reply",
    "noreply",
    "donotreply",
    "do-not-reply",
];

/// Text right before an address that makes it the sender, not a recipient.
const SENDER_CONTEXT: &[&str] = &[
    "mail from",
    "from:",
    "from <",
    "sender",
    "message-id",
    "return-path",
    "reply-to",
    "envelope-from",
    "errors-to",
    "msgid",
];

/// Text right before an address that makes it an example or a suggestion
/// ("if mike@… fails, try michael@…", "finger NAME@directory…").
const SUGGESTION_CONTEXT: &[&str] = &[" try ", "e.g.", "for example", "such as", "finger ", " if ", "instead of "];

/// Local parts that stand for "an address" in instructions.
const PLACEHOLDER_LOCALS: &[&str] = &["name", "yourname", "your.name", "username", "firstname.lastname", "first.last"];

/// Lines that introduce the list of failed recipients (lower-case). What
/// precedes them is a summary of the original ("To: list@…, Cc: …").
const FAILED_LIST_HEADINGS: &[&str] = &[
    "did not reach the following recipient",
    "following recipient",
    "following address",
    "following user",
    "delivery has failed to these recipients",
    "failed addresses follow",
    "not delivered to the following",
];

const MAX_LINES: usize = 4000;
const MAX_RECIPIENTS: usize = 200;
/// How far below a recipient's line its explanation may be.
const WINDOW: usize = 14;
const MAX_DIAGNOSTIC: usize = 1000;

/// What the markers say about a message.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Detection {
    pub format: Option<&'static str>,
    /// A specific MTA marker or a bounce subject.
    pub strong: bool,
    /// Only a generic "could not be delivered" phrase.
    pub generic: bool,
    pub delayed: bool,
}

pub(crate) fn subject_is_bounce(subject: &Indexed) -> Option<usize> {
    subject.find_min(SUBJECT_MARKERS)
}

pub(crate) fn detect(subject: &Indexed, region: &Indexed) -> Detection {
    let mut d = Detection::default();
    for (name, markers) in BODY_MARKERS {
        if region.contains_any(markers) {
            d.format = Some(name);
            d.strong = true;
            break;
        }
    }
    // A bounce subject alone could be a person's "Re: parcel not
    // delivered"; replies and forwards need a second witness.
    let s = subject.lower.trim_start();
    let reply = ["re:", "aw:", "fw:", "fwd:", "wg:", "tr:", "sv:", "vs:"].iter().any(|p| s.starts_with(p));
    if subject_is_bounce(subject).is_some() && !reply {
        d.strong = true;
    }
    d.generic = region.contains_any(GENERIC_MARKERS);
    d.delayed = region.contains_any(DELAY_MARKERS) || subject.contains_any(SUBJECT_DELAY);
    d
}

/// The readable part of a bounce: everything before the copy of the
/// original message (the first short line naming it).
pub(crate) fn cut_original(text: &str) -> &str {
    // ASCII lower-casing keeps byte offsets, so positions map back to `text`.
    let lower = text.to_ascii_lowercase();
    let pairs = Pairs::of(&lower);
    let mut best = text.len();
    for sep in SEPARATORS.iter().filter(|s| pairs.may_contain(s)) {
        let mut from = 0;
        while let Some(off) = lower.get(from..best).and_then(|h| h.find(sep)) {
            let pos = from + off;
            let line_start = lower[..pos].rfind('\n').map_or(0, |i| i + 1);
            let line_end = lower[pos..].find('\n').map_or(lower.len(), |i| pos + i);
            if lower[line_start..line_end].trim().len() < 120 {
                best = line_start;
                break;
            }
            from = pos + sep.len();
        }
    }
    &text[..best]
}

/// Header names that begin a copied original header block.
const ORIGINAL_HEADER_NAMES: &[&str] = &[
    "return-path",
    "received",
    "dkim-signature",
    "message-id",
    "date",
    "from",
    "to",
    "subject",
    "mime-version",
    "delivered-to",
    "authentication-results",
    "x-original-to",
    "feedback-id",
    "list-unsubscribe",
    "reply-to",
    "content-type",
];

/// Byte offset of the first block of at least two header lines at column 0
/// starting with a known header name: the copy of the original's headers
/// in a plain-text bounce.
pub(crate) fn find_header_block(text: &str) -> Option<usize> {
    let mut offset = 0;
    let mut prev_start: Option<usize> = None;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if n > MAX_LINES {
            break;
        }
        let is_header = header_name(line).is_some();
        let is_cont = line.starts_with([' ', '\t']) && !line.trim().is_empty();
        match prev_start {
            Some(start) if is_header || is_cont => {
                if is_header {
                    return Some(start);
                }
            }
            _ => {
                prev_start = match header_name(line) {
                    Some(name) if ORIGINAL_HEADER_NAMES.iter().any(|k| name.eq_ignore_ascii_case(k)) => Some(offset),
                    _ => None,
                };
            }
        }
        offset += line.len();
    }
    None
}

fn header_name(line: &str) -> Option<&str> {
    let colon = line.find(':')?;
    let name = &line[..colon];
    let ok = !name.is_empty() && name.len() < 60 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then_some(name)
}

/// One recipient found in a text bounce.
#[derive(Debug, Clone, Default)]
pub(crate) struct Found {
    pub recipient: Option<String>,
    pub diagnostic: Option<String>,
}

/// Finds the recipients and their diagnostics in a readable bounce text.
/// `excluded`: lower-case addresses that are not recipients (the sender,
/// the bounce's own addresses); `listed`: recipients named by a header such
/// as `X-Failed-Recipients`, used instead of the ones found in the text.
/// `known`: the recipient named by the returned original's `To`, used when
/// the text names nobody else.
pub(crate) fn extract(region: &str, excluded: &[String], listed: &[String], known: Option<&str>) -> Vec<Found> {
    let lines: Vec<&str> = region.lines().take(MAX_LINES).collect();
    // (line index, lower-case address) in text order.
    let mut occ: Vec<(usize, String)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        for r in find_addresses(line) {
            let addr = line[r.clone()].to_lowercase();
            // A suggestion may begin on the line before ("e.g., if\n  a@b fails").
            let before = &line[..r.start];
            let prev = if before.trim().is_empty() && i > 0 { lines[i - 1] } else { "" };
            if is_excluded(&addr, excluded)
                || is_sender_context(before)
                || is_suggestion(before, &addr)
                || (!prev.is_empty() && is_suggestion(prev, &addr))
            {
                continue;
            }
            occ.push((i, addr));
            if occ.len() > 4 * MAX_RECIPIENTS {
                break;
            }
        }
    }

    // Addresses above the failed-recipient list are the original's
    // summary, when the list itself names someone.
    if let Some(h) = lines.iter().position(|l| contains_any(&super::fields::lower(l), FAILED_LIST_HEADINGS))
        && occ.iter().any(|(i, _)| *i >= h)
    {
        occ.retain(|(i, _)| *i >= h);
    }

    let mut recipients: Vec<String> = Vec::new();
    let source =
        if listed.is_empty() { occ.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>() } else { listed.to_vec() };
    for a in source {
        if !recipients.contains(&a) {
            recipients.push(a);
        }
        if recipients.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    if listed.is_empty() {
        // Role mailboxes in a bounce text are mostly contacts ("write to
        // support@…"); they count only when nothing else is named. Assent
        // never mails them anyway (RULES.md "Role addresses").
        let personal: Vec<String> = recipients.iter().filter(|a| !is_role(a)).cloned().collect();
        if !personal.is_empty() {
            recipients = personal;
        } else if let Some(k) = known {
            recipients = vec![k.to_owned()];
        }
    }

    if recipients.is_empty() {
        let diag = first_error(&lines, 0, lines.len()).or_else(|| summary(&lines));
        return vec![Found { recipient: None, diagnostic: diag }];
    }

    let single = recipients.len() == 1;
    recipients
        .into_iter()
        .map(|r| {
            let diag = diagnostic_for(&lines, &occ, &r)
                .or_else(|| if single { first_error(&lines, 0, lines.len()) } else { None })
                .or_else(|| text_near(&lines, &occ, &r))
                .or_else(|| if single { summary(&lines) } else { None });
            Found { recipient: Some(r), diagnostic: diag }
        })
        .collect()
}

/// RFC 2142 mailbox names and common contact addresses.
const ROLE_LOCALS: &[&str] = &[
    "info",
    "marketing",
    "sales",
    "support",
    "security",
    "usenet",
    "news",
    "webmaster",
    "www",
    "uucp",
    "ftp",
    "help",
    "helpdesk",
    "admin",
    "administrator",
    "contact",
    "root",
];

fn is_role(addr: &str) -> bool {
    let local = addr.split('@').next().unwrap_or_default();
    ROLE_LOCALS.contains(&local) || local.starts_with("abuse") || local.starts_with("postmaster")
}

fn is_excluded(addr: &str, excluded: &[String]) -> bool {
    let local = addr.split('@').next().unwrap_or_default();
    NOT_RECIPIENTS.contains(&local)
        || local.starts_with("bounces+")
        || local.starts_with("microsoftexchange")
        || local.starts_with("mailer-daemon")
        || excluded.iter().any(|e| e == addr)
}

/// The last few words before an address on its line, lower-cased.
fn words_before(before: &str) -> String {
    let mut start = before.len().saturating_sub(24);
    while !before.is_char_boundary(start) {
        start += 1;
    }
    super::fields::lower(&before[start..])
}

fn is_sender_context(before: &str) -> bool {
    contains_any(&words_before(before), SENDER_CONTEXT)
}

/// An address offered as an example or alternative, not one that failed.
fn is_suggestion(before: &str, addr: &str) -> bool {
    let local = addr.split('@').next().unwrap_or_default();
    if PLACEHOLDER_LOCALS.contains(&local) {
        return true;
    }
    // A leading space lets " try " match at the start of the line too.
    let tail = format!(" {} ", words_before(before).trim_end());
    contains_any(&tail, SUGGESTION_CONTEXT)
}

fn is_error_line(line: &str) -> bool {
    EnhancedStatus::find_in(line).is_some() || find_reply_code(line).is_some_and(|c| !is_phone_number(line, c))
}

/// "(480) 624-2500": a telephone area code, not an SMTP reply.
fn is_phone_number(line: &str, code: u16) -> bool {
    let pat = format!("({code}) ");
    line.find(&pat).is_some_and(|i| line[i + pat.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// End (exclusive) of the lines that belong to the occurrence at `i`.
fn window_end(lines: &[&str], occ: &[(usize, String)], me: &str, i: usize) -> usize {
    let cap = (i + WINDOW).min(lines.len());
    (i + 1..cap).find(|&j| occ.iter().any(|(l, a)| *l == j && a != me) || is_separator_rule(lines[j])).unwrap_or(cap)
}

/// A line of dashes or stars separating sections.
fn is_separator_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 10 && t.bytes().all(|b| matches!(b, b'-' | b'=' | b'*' | b'_'))
}

fn diagnostic_for(lines: &[&str], occ: &[(usize, String)], me: &str) -> Option<String> {
    occ.iter().filter(|(_, a)| a == me).find_map(|(i, _)| first_error(lines, *i, window_end(lines, occ, me, *i)))
}

/// The first SMTP error line in `lines[from..to]` with its continuation
/// lines (indented, or repeating the reply code).
fn first_error(lines: &[&str], from: usize, to: usize) -> Option<String> {
    let j = (from..to).find(|&j| is_error_line(lines[j]))?;
    let mut out = vec![lines[j].trim()];
    let code = find_reply_code(lines[j]).map(|c| c.to_string());
    for line in lines.iter().take(to.min(j + 8)).skip(j + 1) {
        let t = line.trim();
        let continues = !t.is_empty()
            && (line.starts_with([' ', '\t']) || code.as_deref().is_some_and(|c| t.starts_with(c)))
            && !is_separator_rule(line);
        if !continues {
            break;
        }
        out.push(t);
    }
    Some(tidy(&out.join("\n")))
}

/// The text right after a recipient when no SMTP reply is quoted.
fn text_near(lines: &[&str], occ: &[(usize, String)], me: &str) -> Option<String> {
    let (i, _) = occ.iter().find(|(_, a)| a == me)?;
    let end = window_end(lines, occ, me, *i);
    let picked: Vec<&str> = lines[*i..end].iter().map(|l| l.trim()).filter(|l| !l.is_empty()).take(4).collect();
    let t = tidy(&picked.join("\n"));
    (!t.is_empty()).then_some(t)
}

/// The first few non-empty lines, for a bounce that names no recipient.
fn summary(lines: &[&str]) -> Option<String> {
    let picked: Vec<&str> =
        lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty() && !is_separator_rule(l)).take(6).collect();
    let t = tidy(&picked.join("\n"));
    (!t.is_empty()).then_some(t)
}

/// One-line, bounded diagnostic without Sendmail's "(reason: …)" wrapper.
fn tidy(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix("(reason:").map(|r| r.trim().trim_end_matches(')')).unwrap_or(s);
    let mut c = assent_domain::bounce::clean_diagnostic(s);
    let cut = super::fields::head(&c, MAX_DIAGNOSTIC).len();
    c.truncate(cut);
    c
}

/// Wording of older MTAs that the shared classifier does not know, with
/// the reason it names. Used only where the classifier finds none.
const REASON_HINTS: &[(BounceReason, &[&str])] = &[
    (
        BounceReason::UserUnknown,
        &[
            // Exchange 5.5 / X.400: "The recipient name is not recognized".
            "recipient name is not recognized",
            "user not known",
            // Ipswitch IMail.
            "invalid final delivery userid",
            // ph directory lookup (phquery) found nobody by that name.
            "no matches to nameserver query",
        ],
    ),
    (
        BounceReason::MailboxFull,
        &["mailfolder is full", "mail folder is full", "exceeding their quota", "exceeding its quota"],
    ),
    (BounceReason::MessageTooBig, &["maximum incoming message size"]),
];

/// The reason an unusual wording names; `None` when it names none we know.
pub(crate) fn reason_hint(diagnostic: &str) -> Option<BounceReason> {
    let d = super::fields::lower(diagnostic);
    if let Some((r, _)) = REASON_HINTS.iter().find(|(_, phrases)| contains_any(&d, phrases)) {
        return Some(*r);
    }
    // "Delivery failed 20 attempts": the queue gave up (IMail).
    (d.contains("delivery failed") && d.contains(" attempts")).then_some(BounceReason::Expired)
}

/// Bare mailbox names (no domain) listed under a failed-recipient heading,
/// as AOL lists screen names. The caller qualifies them with the
/// reporting domain.
pub(crate) fn bare_names(region: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_list = false;
    for line in region.lines().take(MAX_LINES) {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let lower = super::fields::lower(t);
        if t.ends_with(':') && contains_any(&lower, &["following recipient", "following address", "following user"]) {
            in_list = true;
            continue;
        }
        let name = !t.is_empty()
            && t.len() <= 64
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
            && t.bytes().any(|b| b.is_ascii_alphabetic());
        if in_list && name && out.len() < MAX_RECIPIENTS {
            out.push(lower);
        } else {
            in_list = false;
        }
    }
    out
}

/// The distinct envelope recipients named by `Received: … for <x>` lines
/// (quoted with `>` or not) in a copy of the original message.
pub(crate) fn received_for(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().take(MAX_LINES) {
        let lower = super::fields::lower(line);
        if !lower.trim_start_matches(['>', ' ']).starts_with("received:") {
            continue;
        }
        let Some(at) = lower.find(" for <") else { continue };
        let rest = &lower[at + 6..];
        let Some(end) = rest.find('>') else { continue };
        let a = &rest[..end];
        if find_addresses(a).first().is_some_and(|r| r.start == 0 && r.end == a.len()) && !out.iter().any(|o| o == a) {
            out.push(a.to_owned());
        }
        if out.len() > 8 {
            break;
        }
    }
    out
}

/// The diagnostic the text gives for `recipient`, for DSNs whose
/// per-recipient fields lack a `Diagnostic-Code`.
pub(crate) fn diagnostic_in_text(region: &str, recipient: &str, single: bool) -> Option<String> {
    let found = extract(region, &[], &[recipient.to_owned()], None);
    let d = found.into_iter().next().and_then(|f| f.diagnostic)?;
    // Without a quoted reply, the text near the address is only worth it
    // when the report is about one recipient.
    (single || is_error_line(&d)).then_some(d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exim_block() {
        let t = "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  someone@example.com\n    host mx.example.com [192.0.2.1]\n    SMTP error from remote mail server after RCPT TO:<someone@example.com>:\n    550 5.1.1 <someone@example.com>: Recipient address rejected:\n    User unknown in virtual mailbox table\n\n------ This is a copy of the message, including all the headers. ------\nReturn-Path: <bounces+x@b.example>\nFrom: News <news@b.example>\n";
        let region = cut_original(t);
        assert!(!region.contains("Return-Path"));
        let f = extract(region, &[], &[], None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].recipient.as_deref(), Some("someone@example.com"));
        assert_eq!(
            f[0].diagnostic.as_deref(),
            Some("550 5.1.1 <someone@example.com>: Recipient address rejected: User unknown in virtual mailbox table")
        );
        assert_eq!(find_header_block(t).map(|o| &t[o..o + 12]), Some("Return-Path:"));
    }

    #[test]
    fn sender_is_not_a_recipient() {
        let t = "SMTP error from remote mail server after MAIL FROM:<news@b.example> SIZE=1234:\n550 sender rejected\n";
        let f = extract(t, &[], &[], None);
        assert_eq!(f[0].recipient, None);
        assert_eq!(f[0].diagnostic.as_deref(), Some("550 sender rejected"));
    }
}
