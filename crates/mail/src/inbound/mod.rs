//! Inbound reports: what comes back after a campaign is sent. This module
//! owns turning one raw message into an [`InboundReport`]:
//!
//! * delivery status notifications, RFC 3464 (`multipart/report;
//!   report-type=delivery-status`; the `message/delivery-status` fields are
//!   parsed here, in `dsn`, because mail-parser leaves them opaque) with
//!   RFC 3463 codes;
//! * the non-RFC 3464 bounce texts of common MTAs and mailbox providers
//!   (`heuristics`);
//! * complaints: RFC 5965 ARF and older feedback-loop forwards (`arf`);
//! * automatic replies, RFC 3834 (`autoreply`), which are never bounces;
//! * sending-service JSON notifications (SES, SendGrid, Mailgun, Postmark;
//!   `esp`).
//!
//! MIME (RFC 2045–2049, RFC 2047 words) is mail-parser's job. The reason and
//! class of each failure come from [`assent_domain::bounce::classify`], so
//! asynchronous bounces and synchronous SMTP rejections follow one rule set.
//! Parsing is total: any byte string yields a report, never a panic, and a
//! typical 5 KB bounce takes about 20 µs on one core (`examples/bench_inbound`).

mod arf;
mod autoreply;
mod dsn;
mod esp;
mod fields;
mod heuristics;

use std::borrow::Cow;
use std::sync::OnceLock;

use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};
use serde::Serialize;
use serde_json::{Value, json};

pub use assent_domain::bounce::{BounceClass, BounceReason, Classification, EnhancedStatus};
use assent_domain::bounce::{classify, clean_diagnostic};
pub use fields::verp_token;

/// What kind of message an inbound report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// A delivery failure or delay (DSN or bounce text).
    Bounce,
    /// A recipient's spam/abuse report (ARF or a feedback-loop forward).
    Complaint,
    /// An automatic reply (RFC 3834): out of office, vacation, autoresponder.
    AutoReply,
    /// Anything else, including success DSNs (`Action: delivered`).
    Other,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Bounce => "bounce",
            ReportKind::Complaint => "complaint",
            ReportKind::AutoReply => "auto_reply",
            ReportKind::Other => "other",
        }
    }
}

/// The outcome for one recipient named in a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecipientResult {
    /// Lower-cased address; `None` when the report names nobody.
    pub recipient: Option<String>,
    /// `None` for recipients that did not fail (delivered/relayed/expanded)
    /// and for complaints and auto-replies.
    pub class: Option<BounceClass>,
    /// RFC 3463 code, e.g. `5.1.1`.
    pub status: Option<String>,
    pub reason: Option<BounceReason>,
    /// The remote server's words, on one line.
    pub diagnostic: Option<String>,
    /// RFC 3464 action: failed, delayed, delivered, relayed, expanded.
    pub action: Option<String>,
    pub remote_mta: Option<String>,
}

/// What identifies the message the report is about, for mapping it back to
/// a delivery.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OriginalRefs {
    /// Message-ID of the original, without angle brackets.
    pub message_id: Option<String>,
    /// The original's envelope sender (`Return-Path`, ARF
    /// `Original-Mail-From`, Postfix `X-Postfix-Sender`, ...).
    pub return_path: Option<String>,
    /// TOKEN of a VERP address `bounces+TOKEN@…` found in the envelope, the
    /// report's headers or the original.
    pub verp_token: Option<String>,
    pub from: Option<String>,
    /// First `To` address of the original.
    pub to: Option<String>,
    pub subject: Option<String>,
    /// The original's `Feedback-ID` header.
    pub feedback_id: Option<String>,
    /// ARF `Original-Rcpt-To` values.
    pub rcpt_to: Vec<String>,
    /// ARF `Original-Mail-From`.
    pub mail_from: Option<String>,
    /// RFC 3464 / RFC 5965 `Original-Envelope-Id`.
    pub envelope_id: Option<String>,
}

/// The `message/feedback-report` fields of a complaint.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Feedback {
    /// abuse, fraud, other, virus, not-spam, … (lower-case).
    pub feedback_type: String,
    pub user_agent: Option<String>,
    pub version: Option<String>,
    pub source_ip: Option<String>,
    pub arrival_date: Option<String>,
    pub reported_domain: Option<String>,
}

impl Feedback {
    /// A `not-spam` report is feedback, but no complaint: it must not
    /// unsubscribe anyone.
    pub fn is_complaint(&self) -> bool {
        !self.feedback_type.eq_ignore_ascii_case("not-spam")
    }
}

/// A parsed inbound message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboundReport {
    pub kind: ReportKind,
    /// Which reader recognised it: `rfc3464`, `arf`, `rfc3834`, `postfix`,
    /// `exim`, `qmail`, `exchange`, `gmail`, `amazon_ses`, … (informational).
    pub format: &'static str,
    pub recipients: Vec<RecipientResult>,
    pub original: OriginalRefs,
    pub feedback: Option<Feedback>,
    pub reporting_mta: Option<String>,
    /// The report's own (decoded) subject.
    pub subject: Option<String>,
}

impl InboundReport {
    fn new(kind: ReportKind, format: &'static str) -> Self {
        InboundReport {
            kind,
            format,
            recipients: Vec::new(),
            original: OriginalRefs::default(),
            feedback: None,
            reporting_mta: None,
            subject: None,
        }
    }

    /// The `assent bounce classify` objects (DESIGN.md "CLI"): one per
    /// recipient, or one with `recipient: null` when the report names none.
    /// Recipients that did not fail are left out of a bounce that has
    /// failed ones.
    pub fn to_json(&self, file: &str) -> Vec<Value> {
        let kind = self.kind.as_str();
        let failed_any = self.recipients.iter().any(|r| r.class.is_some());
        let shown: Vec<&RecipientResult> = self
            .recipients
            .iter()
            .filter(|r| !(self.kind == ReportKind::Bounce && failed_any && r.class.is_none()))
            .collect();
        if shown.is_empty() {
            return vec![json!({
                "file": file, "kind": kind, "recipient": null, "class": null,
                "status": null, "reason": null, "diagnostic": null,
            })];
        }
        shown
            .into_iter()
            .map(|r| {
                json!({
                    "file": file,
                    "kind": kind,
                    "recipient": r.recipient,
                    "class": r.class.map(BounceClass::as_str),
                    "status": r.status,
                    "reason": r.reason.map(BounceReason::as_str),
                    "diagnostic": r.diagnostic,
                })
            })
            .collect()
    }
}

/// Parses any raw message into a report. Never panics.
pub fn parse_report(raw: &[u8]) -> InboundReport {
    parse_report_with_envelope(raw, None)
}

/// Like [`parse_report`], with the envelope recipient the report arrived
/// for (the VERP address at our inbound listener), which maps it back to a
/// delivery even when the report quotes nothing of the original.
pub fn parse_report_with_envelope(raw: &[u8], envelope_rcpt: Option<&str>) -> InboundReport {
    let raw = &raw[..raw.len().min(MAX_INPUT)];
    let mut report = parse_inner(raw, 0);
    resolve_verp(&mut report, raw, envelope_rcpt);
    report
}

/// `assent bounce classify FILE…` output for one file (DESIGN.md "CLI").
pub fn classify_file_json(file: &str, raw: &[u8]) -> Vec<Value> {
    parse_report(raw).to_json(file)
}

/// Larger inputs are truncated: no report needs more, and it bounds work.
const MAX_INPUT: usize = 16 << 20;
/// The readable text considered for bounce wording.
const MAX_TEXT: usize = 256 << 10;

fn parser() -> &'static MessageParser {
    static P: OnceLock<MessageParser> = OnceLock::new();
    // Only the headers we read are parsed into structures; the rest stay raw
    // (Received parsing alone would double the cost of a DSN).
    P.get_or_init(|| {
        MessageParser::new()
            .with_mime_headers()
            .header_text(HeaderName::Subject)
            .header_address(HeaderName::From)
            .header_address(HeaderName::To)
            .header_id(HeaderName::MessageId)
    })
}

/// Parses MIME with mail-parser. mail-parser 0.11.9 has `debug_assert!`s on
/// some malformed nestings (found by fuzzing: an empty `message/rfc822`
/// inside another); release builds compile them out and recover, debug and
/// test builds would panic. Containing the unwind keeps parsing total in
/// every build; a contained failure reads as "no MIME structure".
fn mime_parse(raw: &[u8], headers_only: bool) -> Option<Message<'_>> {
    let run = || if headers_only { parser().parse_headers(raw) } else { parser().parse(raw) };
    std::panic::catch_unwind(run).ok().flatten()
}

/// The report's own headers that matter here.
#[derive(Default)]
struct Top {
    subject: String,
    subject_ix: fields::Indexed,
    from: Option<String>,
    from_name_lower: String,
    to: Vec<String>,
    report_type: Option<String>,
    null_return_path: bool,
    auto: autoreply::AutoHeaders,
    failed_recipients: Vec<String>,
    /// Addresses the report was delivered to (To, Delivered-To, …).
    delivered_to: Vec<String>,
    jmrp_recipient: Option<String>,
    /// VERP token of an address the report was delivered to (case kept).
    verp_token: Option<String>,
    /// A header only non-delivery reports carry (`X-Failed-Recipients`,
    /// Exchange's `X-MS-Exchange-Message-Is-Ndr`).
    ndr_header: bool,
}

impl Top {
    fn read(msg: &Message<'_>) -> Top {
        let subject = msg.subject().unwrap_or_default().trim().to_owned();
        let mut t = Top { subject_ix: fields::Indexed::new(&subject), subject, ..Top::default() };
        if let Some(a) = msg.from().and_then(|a| a.first()) {
            t.from = a.address().map(str::to_lowercase);
            t.from_name_lower = a.name().map(fields::lower).unwrap_or_default();
        }
        if let Some(to) = msg.to() {
            t.to = to.iter().filter_map(|a| a.address()).map(str::to_lowercase).take(50).collect();
            t.verp_token = to.iter().filter_map(|a| a.address()).find_map(verp_token).map(str::to_owned);
        }
        t.report_type =
            msg.content_type().and_then(|ct| ct.attribute("report-type")).map(|s| s.trim().to_ascii_lowercase());
        for (name, value) in msg.headers_raw() {
            t.auto.see(name, value);
            let is = |n: &str| name.eq_ignore_ascii_case(n);
            if is("Return-Path") {
                let v = value.trim();
                t.null_return_path = v == "<>" || v.is_empty();
            } else if is("X-MS-Exchange-Message-Is-Ndr") {
                t.ndr_header = true;
            } else if is("X-Failed-Recipients") {
                t.ndr_header = true;
                for part in value.split(',') {
                    if let Some(a) = fields::address_value(part)
                        && !t.failed_recipients.contains(&a)
                        && t.failed_recipients.len() < 200
                    {
                        t.failed_recipients.push(a);
                    }
                }
            } else if is("Delivered-To") || is("X-Original-To") || is("Envelope-To") || is("X-Envelope-To") {
                if let Some(a) = fields::address_value_cased(value) {
                    if t.verp_token.is_none() {
                        t.verp_token = verp_token(&a).map(str::to_owned);
                    }
                    t.delivered_to.push(a.to_lowercase());
                }
            } else if is("X-HmXmrOriginalRecipient") {
                t.jmrp_recipient = fields::address_value(value);
            }
        }
        t
    }

    fn sent_by_daemon(&self) -> bool {
        let local = self.from.as_deref().and_then(|f| f.split('@').next()).unwrap_or_default();
        matches!(local, "mailer-daemon" | "postmaster" | "mail-daemon" | "mailerdaemon" | "mailer_daemon" | "mdaemon")
            || local.starts_with("microsoftexchange")
            || local.starts_with("mailer-daemon")
            || fields::contains_any(
                &self.from_name_lower,
                &[
                    "mail delivery",
                    "mailer-daemon",
                    "mailer daemon",
                    "postmaster",
                    "mail administrator",
                    "system administrator",
                    "delivery subsystem",
                    // "Jetmail System", "Mail System".
                    "mail system",
                ],
            )
    }
}

/// The parts of a report that are not the readable text.
#[derive(Default)]
struct Parts<'a> {
    delivery_status: Option<Cow<'a, str>>,
    /// RFC 3798 `message/disposition-notification` fields: Sieve's
    /// `reject` (RFC 5429) refuses a message with one.
    disposition: Option<Cow<'a, str>>,
    feedback_report: Option<Cow<'a, str>>,
    original: Option<OriginalRefs>,
    /// The returned message when it is itself a delivery report: a
    /// gateway that forwards a DSN wrapped in its own notice.
    inner_report: Option<&'a [u8]>,
}

fn scan_parts<'a>(msg: &'a Message<'a>) -> Parts<'a> {
    let mut p = Parts::default();
    for part in msg.parts.iter().skip(1).take(500) {
        let Some(ct) = part.content_type() else { continue };
        let ty = ct.ctype();
        let sub = ct.subtype().unwrap_or_default();
        let is = |a: &str, b: &str| ty.eq_ignore_ascii_case(a) && sub.eq_ignore_ascii_case(b);
        // `delivery-status`, RFC 6533's `global-delivery-status`, and
        // XWall's `xdelivery-status` of the same shape.
        if ty.eq_ignore_ascii_case("message") && sub.to_ascii_lowercase().ends_with("delivery-status") {
            if p.delivery_status.is_none() {
                p.delivery_status = Some(String::from_utf8_lossy(part.contents()));
            }
        } else if is("message", "disposition-notification") {
            if p.disposition.is_none() {
                p.disposition = Some(String::from_utf8_lossy(part.contents()));
            }
        } else if is("message", "feedback-report") {
            if p.feedback_report.is_none() {
                p.feedback_report = Some(String::from_utf8_lossy(part.contents()));
            }
        } else if is("message", "rfc822") || is("message", "global") || is("message", "rfc822-headers") {
            if p.original.is_none() {
                if let PartType::Message(m) = &part.body
                    && m.content_type()
                        .and_then(|ct| ct.attribute("report-type"))
                        .is_some_and(|t| t.trim().eq_ignore_ascii_case("delivery-status"))
                {
                    p.inner_report = Some(m.raw_message());
                }
                p.original = match &part.body {
                    PartType::Message(m) => Some(original_refs(m)),
                    _ => mime_parse(part.contents(), true).map(|m| original_refs(&m)),
                };
            }
        } else if (is("text", "rfc822-headers") || is("text", "rfc822-header")) && p.original.is_none() {
            p.original = mime_parse(part.contents(), true).map(|m| original_refs(&m));
        }
    }
    p
}

fn original_refs(m: &Message<'_>) -> OriginalRefs {
    let mut o = OriginalRefs {
        message_id: m.message_id().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        from: m.from().and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_lowercase),
        to: m.to().and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_lowercase),
        subject: m.subject().map(|s| s.trim().to_owned()),
        ..OriginalRefs::default()
    };
    for (name, value) in m.headers_raw() {
        if name.eq_ignore_ascii_case("Return-Path") && o.return_path.is_none() {
            o.return_path = fields::address_value_cased(value);
        } else if name.eq_ignore_ascii_case("Feedback-ID") {
            o.feedback_id = Some(value.split_whitespace().collect::<Vec<_>>().join(" "));
        } else if name.eq_ignore_ascii_case("X-HmXmrOriginalRecipient") && o.rcpt_to.is_empty() {
            o.rcpt_to.extend(fields::address_value(value));
        }
    }
    o.verp_token = o.return_path.as_deref().and_then(verp_token).map(str::to_owned);
    o
}

/// The readable text parts (plain, or HTML turned to text), joined.
fn readable_text(msg: &Message<'_>) -> String {
    let mut out = String::new();
    for id in msg.text_body.iter().take(8) {
        let Some(part) = msg.parts.get(*id as usize) else { continue };
        let text: Cow<'_, str> = match &part.body {
            PartType::Text(t) => Cow::Borrowed(t.as_ref()),
            PartType::Html(h) => Cow::Owned(mail_parser::decoders::html::html_to_text(h)),
            _ => continue,
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(fields::head(&text, MAX_TEXT.saturating_sub(out.len())));
        if out.len() >= MAX_TEXT {
            break;
        }
    }
    out
}

/// How deep wrapped reports are unwrapped.
const MAX_NESTING: u8 = 2;

fn parse_inner(raw: &[u8], depth: u8) -> InboundReport {
    // A bare JSON notification (a saved webhook body) has no headers.
    let first = raw.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if matches!(first, Some(b'{' | b'['))
        && let Some(r) = std::str::from_utf8(raw).ok().and_then(esp::parse)
    {
        return from_esp(r, None);
    }
    let Some(msg) = mime_parse(raw, false) else {
        return InboundReport::new(ReportKind::Other, "unknown");
    };
    let top = Top::read(&msg);
    let parts = scan_parts(&msg);
    let subject = Some(top.subject.clone()).filter(|s| !s.is_empty());
    if parts.delivery_status.is_none()
        && parts.feedback_report.is_none()
        && depth < MAX_NESTING
        && let Some(inner) = parts.inner_report
    {
        let mut r = parse_inner(inner, depth + 1);
        if r.kind == ReportKind::Bounce {
            r.subject = subject;
            return r;
        }
    }

    let mut report = if parts.feedback_report.is_some() || top.report_type.as_deref() == Some("feedback-report") {
        from_arf(&top, parts)
    } else if let Some(ds) = parts.delivery_status.as_deref().map(dsn::parse).filter(|d| !d.recipients.is_empty()) {
        // The text part is only read for recipients without a diagnostic.
        let needs_text = ds.recipients.iter().any(|r| r.diagnostic.is_none());
        let text = if needs_text { readable_text(&msg) } else { String::new() };
        from_dsn(ds, &text, parts.original.unwrap_or_default())
    } else if let Some(rejected) = parts.disposition.as_deref().and_then(rejection_mdn) {
        let text = readable_text(&msg);
        from_rejection_mdn(rejected, &text, parts.original.unwrap_or_default())
    } else {
        let text = readable_text(&msg);
        let forced = parts.delivery_status.is_some() || top.report_type.as_deref() == Some("delivery-status");
        from_text(&top, &text, parts.original, forced)
    };
    report.subject = subject;
    if report.original.rcpt_to.is_empty()
        && let Some(j) = &top.jmrp_recipient
    {
        report.original.rcpt_to.push(j.clone());
    }
    // Addresses the report was sent to can carry the VERP token.
    if report.original.verp_token.is_none() {
        report.original.verp_token = top.verp_token.clone();
    }
    report
}

fn resolve_verp(report: &mut InboundReport, raw: &[u8], envelope_rcpt: Option<&str>) {
    if let Some(t) = envelope_rcpt.and_then(verp_token) {
        report.original.verp_token = Some(t.to_owned());
        return;
    }
    if report.original.verp_token.is_none() {
        let from = [report.original.return_path.as_deref(), report.original.mail_from.as_deref()];
        report.original.verp_token = from.into_iter().flatten().find_map(verp_token).map(str::to_owned);
    }
    if report.original.verp_token.is_none() && report.kind != ReportKind::Other {
        report.original.verp_token = fields::find_verp_token(raw);
    }
}

fn from_arf(top: &Top, parts: Parts<'_>) -> InboundReport {
    let mut r = InboundReport::new(ReportKind::Complaint, "arf");
    let a = parts.feedback_report.as_deref().map(arf::parse).unwrap_or_default();
    let original = parts.original.unwrap_or_default();
    let feedback_type = a.feedback_type.clone().unwrap_or_else(|| "abuse".to_owned());
    // RFC 6591 authentication failure reports share the format but are
    // DMARC forensics, not a person's complaint.
    if feedback_type == "auth-failure" {
        r.kind = ReportKind::Other;
    }
    let mut rcpts: Vec<String> = a.original_rcpt_to.clone();
    if rcpts.is_empty() {
        let fallback = original
            .rcpt_to
            .first()
            .cloned()
            .or_else(|| original.to.clone())
            .or_else(|| a.removal_recipient.clone())
            .or_else(|| top.jmrp_recipient.clone());
        rcpts.extend(fallback.filter(|x| !arf::is_redacted(x)));
    }
    r.recipients = if rcpts.is_empty() {
        vec![RecipientResult { diagnostic: Some(feedback_type.clone()), ..Default::default() }]
    } else {
        rcpts
            .iter()
            .map(|x| RecipientResult {
                recipient: Some(x.clone()),
                diagnostic: Some(feedback_type.clone()),
                ..Default::default()
            })
            .collect()
    };
    r.original = original;
    r.original.rcpt_to = a.original_rcpt_to.clone();
    r.original.mail_from = a.original_mail_from.clone();
    if r.original.return_path.is_none() {
        r.original.return_path = a.original_mail_from.clone();
    }
    r.original.envelope_id = a.original_envelope_id.clone();
    r.feedback = Some(Feedback {
        feedback_type,
        user_agent: a.user_agent,
        version: a.version,
        source_ip: a.source_ip,
        arrival_date: a.arrival_date,
        reported_domain: a.reported_domain,
    });
    r
}

/// The recipient of an MDN that says the message was deleted unread by an
/// automatic action: Sieve's `reject` (RFC 5429 §2.1, "Disposition:
/// automatic-action/MDN-sent-automatically; deleted"), a refusal with the
/// reason in the text. `None` for read receipts and anything else.
fn rejection_mdn(fields: &str) -> Option<String> {
    let mut disposition = None;
    let (mut final_rcpt, mut original_rcpt) = (None, None);
    for f in fields::field_groups(fields).into_iter().flatten() {
        if f.is("Disposition") {
            disposition = Some(fields::lower(&f.value));
        } else if f.is("Final-Recipient") {
            final_rcpt = fields::address_value(&f.value);
        } else if f.is("Original-Recipient") {
            original_rcpt = fields::address_value(&f.value);
        }
    }
    let d = disposition?;
    let (mode, kind) = d.split_once(';')?;
    let rejected = mode.trim().starts_with("automatic-action")
        && kind.split(['/', ',']).next().is_some_and(|k| k.trim() == "deleted");
    rejected.then(|| original_rcpt.or(final_rcpt)).flatten()
}

/// A Sieve rejection: one failed recipient, the reason from the text (only
/// its start: the rest is the returned message or boilerplate).
fn from_rejection_mdn(recipient: String, text: &str, original: OriginalRefs) -> InboundReport {
    let mut r = InboundReport::new(ReportKind::Bounce, "mdn_reject");
    let reason = fields::head(heuristics::cut_original(text), 1000).to_owned();
    r.recipients.push(failure(Some(recipient), None, Some(reason), "failed", None));
    r.original = original;
    r
}

/// Builds a recipient result for a failure: the reason from code and text,
/// adjusted for what the report says about finality.
fn failure(
    recipient: Option<String>,
    status: Option<EnhancedStatus>,
    diagnostic: Option<String>,
    action: &str,
    hint: Option<BounceReason>,
) -> RecipientResult {
    let diag = diagnostic.map(|d| clean_diagnostic(&d)).filter(|d| !d.is_empty());
    let mut c = classify(status.filter(|s| !s.is_success()), None, diag.as_deref().unwrap_or_default());
    let hint = hint.or_else(|| diag.as_deref().and_then(heuristics::reason_hint));
    if let Some(h) = hint
        && matches!(c.reason, BounceReason::Other | BounceReason::Temporary)
    {
        c.reason = h;
        c.class = h.class();
    }
    let mut reason = c.reason;
    // A delay keeps its reason: RULES.md counts "4.1.1 user unknown" from a
    // server that only defers as user unknown. Typical delay codes classify
    // as soft anyway.
    if action != "delayed"
        && c.status.is_some_and(|s| s.is_transient())
        && matches!(reason, BounceReason::Temporary | BounceReason::NetworkError)
    {
        // A final failure with a transient status: the queue gave up.
        reason = BounceReason::Expired;
    }
    RecipientResult {
        recipient,
        class: Some(reason.class()),
        status: c.status.map(|s| s.to_string()),
        reason: Some(reason),
        diagnostic: diag,
        action: Some(action.to_owned()),
        remote_mta: None,
    }
}

fn from_dsn(ds: dsn::Dsn, text: &str, mut original: OriginalRefs) -> InboundReport {
    let mut r = InboundReport::new(ReportKind::Other, "rfc3464");
    let region = heuristics::cut_original(text);
    let single = ds.recipients.len() == 1;
    for d in &ds.recipients {
        let status = d.status.as_deref().and_then(EnhancedStatus::find_any_in);
        let action = d.action.clone().unwrap_or_else(|| {
            match status.map(|s| s.class()) {
                Some(2) => "delivered",
                Some(4) => "delayed",
                _ => "failed",
            }
            .to_owned()
        });
        let recipient = d.recipient().map(str::to_owned).or_else(|| if single { original.to.clone() } else { None });
        if matches!(action.as_str(), "delivered" | "relayed" | "expanded") {
            r.recipients.push(RecipientResult {
                recipient,
                status: status.map(|s| s.to_string()),
                diagnostic: d.diagnostic.as_deref().map(clean_diagnostic),
                action: Some(action),
                remote_mta: d.remote_mta.clone(),
                ..Default::default()
            });
            continue;
        }
        r.kind = ReportKind::Bounce;
        let diag = d
            .diagnostic
            .clone()
            .or_else(|| recipient.as_deref().and_then(|rc| heuristics::diagnostic_in_text(region, rc, single)));
        let action = if action == "failed" || action == "delayed" { action } else { "failed".to_owned() };
        let mut res = failure(recipient, status, diag, &action, None);
        res.remote_mta = d.remote_mta.clone();
        r.recipients.push(res);
    }
    if original.return_path.is_none() {
        original.return_path = ds.envelope_sender.clone();
    }
    original.envelope_id = original.envelope_id.or(ds.original_envelope_id.clone());
    r.original = original;
    r.reporting_mta = ds.reporting_mta;
    r
}

fn from_text(top: &Top, text: &str, original: Option<OriginalRefs>, forced_bounce: bool) -> InboundReport {
    if let Some(e) = esp::parse(text) {
        return from_esp(e, original);
    }
    // A plain-text bounce quotes the original's headers inline; they end
    // the readable part even without a separator line.
    let header_block = heuristics::find_header_block(text);
    let region = heuristics::cut_original(&text[..header_block.unwrap_or(text.len())]);
    let region_index = fields::Indexed::new(region);
    let det = heuristics::detect(&top.subject_ix, &region_index);
    let original = original
        .or_else(|| header_block.and_then(|o| mime_parse(&text.as_bytes()[o..], true).map(|m| original_refs(&m))));

    // Non-ARF feedback loops: the complained-about message as attachment.
    let jmrp = top.jmrp_recipient.is_some() || original.as_ref().is_some_and(|o| !o.rcpt_to.is_empty());
    if jmrp || (arf::subject_is_complaint(&top.subject_ix) && original.is_some()) {
        let mut r = InboundReport::new(ReportKind::Complaint, if jmrp { "jmrp" } else { "fbl_forward" });
        let o = original.unwrap_or_default();
        let rcpt = top
            .jmrp_recipient
            .clone()
            .or_else(|| o.rcpt_to.first().cloned())
            .or_else(|| o.to.clone())
            .filter(|x| !arf::is_redacted(x));
        r.recipients.push(RecipientResult { recipient: rcpt, diagnostic: Some("abuse".into()), ..Default::default() });
        r.feedback = Some(Feedback { feedback_type: "abuse".into(), ..Feedback::default() });
        r.original = o;
        return r;
    }

    let auto_subject = autoreply::subject_marker(&top.subject_ix);
    let bounce_subject = heuristics::subject_is_bounce(&top.subject_ix);
    let auto_first = match (auto_subject, bounce_subject) {
        (Some(a), Some(b)) => a < b,
        (Some(_), None) => true,
        _ => false,
    };
    let has_error = text_has_error_line(region);
    let daemon = top.sent_by_daemon();
    // A mailer daemon returning a message, or naming why a mailbox cannot
    // take it, is reporting a failure even without a known wording.
    let daemon_bounce = daemon && (original.is_some() || names_mailbox_reason(&top.subject, region));
    // Nobody signs it and it names a mailbox reason: an MTA's notice ("You
    // sent mail to x. That's not a valid user here."), even when marked
    // auto-replied; an RFC 3834 reply always comes from someone.
    let anonymous_bounce = top.from.as_deref().is_none_or(str::is_empty)
        && top.null_return_path
        && names_mailbox_reason(&top.subject, region);

    let kind = if forced_bounce {
        ReportKind::Bounce
    } else if auto_first && det.format.is_none() {
        ReportKind::AutoReply
    } else if det.strong || top.ndr_header || anonymous_bounce {
        ReportKind::Bounce
    } else if top.auto.replied {
        ReportKind::AutoReply
    } else if (det.generic && (daemon || top.null_return_path || has_error || bounce_subject.is_some()))
        || (daemon && has_error)
        || daemon_bounce
    {
        ReportKind::Bounce
    } else if ((top.auto.automatic || top.null_return_path) && autoreply::body_says_away(&region_index))
        || auto_subject.is_some()
    {
        ReportKind::AutoReply
    } else {
        ReportKind::Other
    };

    match kind {
        ReportKind::Bounce => {
            let format =
                if forced_bounce { "rfc3464" } else { det.format.or_else(|| vendor(top)).unwrap_or("generic") };
            let mut r = InboundReport::new(ReportKind::Bounce, format);
            let o = original.unwrap_or_default();
            let mut excluded: Vec<String> = top.to.iter().chain(top.delivered_to.iter()).cloned().collect();
            excluded.extend(top.from.clone());
            excluded.extend(o.from.clone());
            excluded.extend(o.return_path.clone());
            let action = if det.delayed { "delayed" } else { "failed" };
            // The original's To stands for the recipient only when it is
            // not one of the report's own addresses.
            let own: Vec<&String> = top.to.iter().chain(top.delivered_to.iter()).chain(top.from.iter()).collect();
            let known = o.to.clone().filter(|t| !own.contains(&t));
            let mut found = heuristics::extract(region, &excluded, &top.failed_recipients, known.as_deref());
            if found.iter().all(|f| f.recipient.is_none()) {
                found = fallback_recipients(top, region, &excluded, known.as_deref()).unwrap_or(found);
            }
            narrow_to_envelope(&mut found, text.get(region.len()..).unwrap_or_default());
            for f in found {
                let rcpt = f.recipient.or_else(|| known.clone());
                r.recipients.push(failure(rcpt, None, f.diagnostic, action, None));
            }
            r.original = o;
            r
        }
        ReportKind::AutoReply => {
            let mut r = InboundReport::new(ReportKind::AutoReply, "rfc3834");
            r.recipients.push(RecipientResult {
                recipient: top.from.clone(),
                diagnostic: Some(top.subject.clone()).filter(|s| !s.is_empty()),
                ..Default::default()
            });
            r.original = original.unwrap_or_default();
            r
        }
        _ => {
            let mut r = InboundReport::new(ReportKind::Other, "unknown");
            r.original = original.unwrap_or_default();
            r
        }
    }
}

/// When a text names several addresses without an SMTP reply for any of
/// them (contacts, examples, directory entries), the returned message's
/// own `Received: … for <x>` names the one it was sent to.
fn narrow_to_envelope(found: &mut Vec<heuristics::Found>, returned: &str) {
    if found.len() < 2 || found.iter().any(|f| f.diagnostic.as_deref().is_some_and(text_has_error_line)) {
        return;
    }
    let envelope = heuristics::received_for(returned);
    let [only] = envelope.as_slice() else { return };
    if found.iter().any(|f| f.recipient.as_deref() == Some(only.as_str())) {
        found.retain(|f| f.recipient.as_deref() == Some(only.as_str()));
    }
}

/// Second tries for a bounce text that named nobody.
fn fallback_recipients(
    top: &Top,
    region: &str,
    excluded: &[String],
    known: Option<&str>,
) -> Option<Vec<heuristics::Found>> {
    // Some gateways set the failed address as the report's own
    // X-Original-To / Delivered-To; an address the report is also addressed
    // to (To) is the sender's, however often the text repeats it ("Sorry
    // bounces@example.com. Your mail …").
    let not_delivered: Vec<String> =
        excluded.iter().filter(|e| !top.delivered_to.contains(e) || top.to.contains(e)).cloned().collect();
    if not_delivered.len() < excluded.len() {
        let found = heuristics::extract(region, &not_delivered, &top.failed_recipients, known);
        if found.iter().any(|f| f.recipient.is_some()) {
            return Some(found);
        }
    }
    // Bare mailbox names from a provider's daemon are at its domain.
    let domain = top.from.as_deref().filter(|_| top.sent_by_daemon())?.rsplit_once('@')?.1;
    let names = heuristics::bare_names(region);
    if names.is_empty() {
        return None;
    }
    let listed: Vec<String> = names.iter().map(|n| format!("{n}@{domain}")).collect();
    Some(heuristics::extract(region, excluded, &listed, None))
}

/// `true` when the subject or text names a reason a mailbox cannot take
/// mail (user unknown, host unknown, full, disabled, …).
fn names_mailbox_reason(subject: &str, region: &str) -> bool {
    let text = format!("{subject}\n{}", fields::head(region, 4096));
    let reason = heuristics::reason_hint(&text).unwrap_or(classify(None, None, &text).reason);
    matches!(
        reason,
        BounceReason::UserUnknown
            | BounceReason::HostUnknown
            | BounceReason::NullMx
            | BounceReason::Moved
            | BounceReason::SyntaxError
            | BounceReason::MailboxFull
            | BounceReason::Disabled
    )
}

fn text_has_error_line(region: &str) -> bool {
    region
        .lines()
        .take(400)
        .any(|l| assent_domain::bounce::find_reply_code(l).is_some() || EnhancedStatus::find_in(l).is_some())
}

/// Names the mailbox provider by the bounce's sender domain.
fn vendor(top: &Top) -> Option<&'static str> {
    let domain = top.from.as_deref()?.rsplit('@').next()?;
    const VENDORS: &[(&str, &str)] = &[
        ("yahoo", "yahoo"),
        ("aol.", "aol"),
        ("google", "gmail"),
        ("gmail", "gmail"),
        ("outlook", "exchange"),
        ("hotmail", "exchange"),
        ("mail.ru", "mailru"),
        ("yandex", "yandex"),
        ("gmx.", "gmx"),
        ("web.de", "webde"),
        ("icloud", "icloud"),
        ("me.com", "icloud"),
        ("amazonses", "amazon_ses"),
        ("mailgun", "mailgun"),
        ("sendgrid", "sendgrid"),
    ];
    VENDORS.iter().find(|(k, _)| domain.contains(k)).map(|(_, v)| *v)
}

fn from_esp(e: esp::EspReport, original: Option<OriginalRefs>) -> InboundReport {
    let kind = match e.kind {
        esp::EspKind::Bounce => ReportKind::Bounce,
        esp::EspKind::Complaint => ReportKind::Complaint,
    };
    let mut r = InboundReport::new(kind, e.service);
    r.original = original.unwrap_or_default();
    r.original.message_id = r.original.message_id.take().or(e.message_id);
    r.original.return_path = r.original.return_path.take().or(e.source);
    for x in e.recipients {
        if kind == ReportKind::Complaint {
            r.recipients.push(RecipientResult {
                recipient: x.address,
                diagnostic: e.feedback_type.clone(),
                ..Default::default()
            });
        } else {
            let action = x
                .action
                .clone()
                .filter(|a| a == "delayed")
                .unwrap_or_else(|| if x.transient { "delayed".to_owned() } else { "failed".to_owned() });
            r.recipients.push(failure(x.address, x.status, x.diagnostic, &action, x.hint));
        }
    }
    if kind == ReportKind::Complaint {
        r.feedback =
            Some(Feedback { feedback_type: e.feedback_type.unwrap_or_else(|| "abuse".into()), ..Default::default() });
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mdn(disposition: &str) -> String {
        format!(
            "Reporting-UA: mail; Dovecot Mail Delivery Agent\nFinal-Recipient: rfc822; ann@example.com\n\
             Disposition: {disposition}\n"
        )
    }

    #[test]
    fn only_an_automatic_deletion_is_a_rejection() {
        let rejected = rejection_mdn(&mdn("automatic-action/MDN-sent-automatically; deleted"));
        assert_eq!(rejected.as_deref(), Some("ann@example.com"));
        // Read receipts, manual deletions and other dispositions are not.
        for d in [
            "manual-action/MDN-sent-manually; displayed",
            "manual-action/MDN-sent-manually; deleted",
            "automatic-action/MDN-sent-automatically; processed",
            "automatic-action/MDN-sent-automatically",
            "",
        ] {
            assert_eq!(rejection_mdn(&mdn(d)), None, "{d:?}");
        }
        assert_eq!(rejection_mdn("Disposition: automatic-action/MDN-sent-automatically; deleted\n"), None);
    }

    #[test]
    fn a_sieve_rejection_is_a_bounce_with_the_texts_reason() {
        let raw = "From: Mail Delivery Subsystem <admin@mx.example>\r\nTo: <bounces@news.example>\r\n\
                   Subject: Automatically rejected mail\r\nAuto-Submitted: auto-replied (rejected)\r\n\
                   MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=disposition-notification; \
                   boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
                   Your message to <ann@example.com> was automatically rejected:\r\nQuota exceeded\r\n\
                   --b\r\nContent-Type: message/disposition-notification\r\n\r\n\
                   Final-Recipient: rfc822; ann@example.com\r\n\
                   Disposition: automatic-action/MDN-sent-automatically; deleted\r\n--b--\r\n";
        let r = parse_report(raw.as_bytes());
        assert_eq!(r.kind, ReportKind::Bounce);
        assert_eq!(r.recipients.len(), 1);
        assert_eq!(r.recipients[0].recipient.as_deref(), Some("ann@example.com"));
        assert_eq!(r.recipients[0].reason, Some(BounceReason::MailboxFull));
    }
}
