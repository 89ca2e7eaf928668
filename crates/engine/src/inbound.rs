//! What comes back after sending, applied (PRODUCT.md rule 8, RULES.md
//! "Bounces" and "Complaints"). This module owns the [`InboundProcessor`],
//! the application's side of the inbound SMTP listener
//! (`assent_smtp::inbound`) and of the IMAP mailbox poller
//! ([`crate::mailbox`]), and [`ReportActions`], the consequences of a
//! report for its recipient.
//!
//! Which recipients exist: `bounces+TOKEN@…` (the VERP envelope sender of
//! every campaign message) and `unsubscribe+TOKEN@…` (the `mailto:` of
//! `List-Unsubscribe`, RFC 2369/8058) whose short token verifies for its
//! purpose, and the configured feedback-loop address. Nothing else is taken,
//! so the listener is no relay and a guessed token gets `550`.
//!
//! What a message means is the parser's job (`assent_mail::inbound`:
//! RFC 3464 DSNs with RFC 3463 codes and the non-standard bounce texts,
//! RFC 5965 ARF complaints, RFC 3834 automatic replies). Who it is about
//! comes from the token of the address it was sent to; for feedback-loop
//! reports, from the VERP token or the `mailto:` unsubscribe token quoted
//! in the report, or, last, from the original Message-ID together with a
//! recipient address the report names (the Message-ID alone is not proof:
//! anyone can write one).
//!
//! The consequences ([`ReportActions`]):
//! * hard bounce — suppressed at once (`hard_bounce`), subscriptions
//!   `bounced`, a `bounced` event in the contact's history;
//! * soft bounce — counted and in the history; the one that makes
//!   [`SoftBouncePolicy::max`] within the window suppresses (`soft_bounce`);
//!   `delayed` DSNs are warnings, not bounces, and are not counted;
//! * policy bounce — the recipient is left alone; the operator is alerted
//!   (`alert.policy_bounce` in the operator's audit log, once per campaign
//!   and reason, so a block listing is one alert, not thousands);
//! * complaint — suppressed (`complaint`) and every subscription
//!   `complained` at once, a `complained` event; `not-spam` feedback and
//!   DMARC failure reports change nothing;
//! * automatic replies — ignored;
//! * `mailto:` unsubscribe — unsubscribed from every list, source `mailto`.
//!
//! Every report is recorded once per campaign, contact and kind, in the same
//! transaction as its consequences, so a report delivered twice counts once.

use std::sync::Arc;

use assent_domain::bounce::{BounceClass, Classification, SoftBouncePolicy, classify_smtp_reply};
use assent_domain::{AccountId, ContactId, EmailAddress, SubscriptionEvent, SuppressionReason};
use assent_mail::inbound::{InboundReport, RecipientResult, ReportKind, parse_report, parse_report_with_envelope};
use assent_mail::token::{Purpose, TokenKey};
use assent_smtp::inbound::InboundHandler;
use assent_store::{
    NewAuditEntry, NewReportEvent, ReportApplied, ReportEffect, ReportEventKind, SoftEscalation, Store, StoreError,
};
use serde_json::{Value, json};

/// Settings of the [`InboundProcessor`].
#[derive(Clone, Debug, Default)]
pub struct InboundSettings {
    /// The feedback-loop address registered with mailbox providers
    /// (e.g. `fbl@bounce.example.com`), if any.
    pub feedback_address: Option<String>,
    /// How many soft bounces within how many days suppress.
    pub soft_bounce: SoftBouncePolicy,
}

/// A campaign message: who sent it to whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub account: AccountId,
    pub campaign: i64,
    pub contact: ContactId,
}

impl Target {
    /// From the ids of a short token (`[account, campaign, contact]`).
    pub fn from_ids(ids: [u64; 3]) -> Option<Target> {
        let [a, c, p] = ids.map(|n| i64::try_from(n).ok().filter(|n| *n > 0));
        Some(Target { account: AccountId(a?), campaign: c?, contact: ContactId(p?) })
    }
}

/// The mailboxes of the inbound listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mailbox {
    Bounce(Target),
    Mailto(Target),
    Feedback,
}

/// Whether a message concerned one of our messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recognition {
    /// Sent to one of our addresses or attributed to a message we sent
    /// (whatever it said: an automatic reply is recognised, and ignored).
    Recognised,
    /// Neither: someone else's mail.
    Unrecognised,
}

/// A failure the sender should retry later (`451`).
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("cannot record the report: {0}; the sending server will retry")]
    Store(#[from] StoreError),
}

/// The consequences of bounces and complaints for their recipient, shared
/// by the inbound listener, the reputation monitor (synchronous rejections)
/// and anything else that learns of a bounce.
#[derive(Clone)]
pub struct ReportActions {
    pub store: Arc<dyn Store>,
    pub soft_bounce: SoftBouncePolicy,
}

/// One bounce to apply.
#[derive(Clone, Debug)]
pub struct Bounce {
    pub class: BounceClass,
    /// RFC 3463 code, e.g. `5.1.1`.
    pub status: Option<String>,
    /// `user_unknown`, `mailbox_full`, …
    pub reason: Option<String>,
    /// Where it came from: `dsn` (a report at the listener), `smtp` (a
    /// rejection during sending), ….
    pub source: String,
    /// Shown in the history: diagnostic, reporting MTA, ….
    pub detail: Value,
    /// Append a `bounced` event (false when the caller wrote one already).
    pub history: bool,
}

impl Bounce {
    /// A rejection during the SMTP dialogue (`550 5.1.1 …`), as the
    /// delivery engine records it; `None` for replies that are no failure.
    pub fn from_smtp_reply(reply: &str) -> Option<Bounce> {
        let code = reply.get(..3).and_then(|c| c.parse::<u16>().ok()).unwrap_or(550);
        let c: Classification = classify_smtp_reply(code, reply)?;
        Some(Bounce {
            class: c.class,
            status: c.status.map(|s| s.to_string()),
            reason: Some(c.reason.as_str().to_string()),
            source: "smtp".into(),
            detail: json!({"reply": reply.chars().take(500).collect::<String>()}),
            history: false,
        })
    }
}

impl ReportActions {
    /// Applies a bounce: hard suppresses, soft counts (and suppresses at the
    /// limit), policy alerts the operator. Repeats change nothing.
    pub async fn bounce(&self, t: Target, b: &Bounce) -> Result<ReportApplied, StoreError> {
        let now = crate::now_ms();
        let kind = match b.class {
            BounceClass::Hard => ReportEventKind::Hard,
            BounceClass::Soft => ReportEventKind::Soft,
            BounceClass::Policy => ReportEventKind::Policy,
        };
        let history = b.history.then(|| "bounced".to_string());
        let effect = match b.class {
            BounceClass::Hard => ReportEffect {
                consent_event: history,
                consent_source: "bounce".into(),
                subscriptions: Some(SubscriptionEvent::HardBounced),
                suppress: Some(SuppressionReason::HardBounce),
                escalate: None,
            },
            BounceClass::Soft => {
                let window = i64::from(self.soft_bounce.window_days) * 24 * 3600 * 1000;
                ReportEffect {
                    consent_event: history,
                    consent_source: "bounce".into(),
                    escalate: Some(SoftEscalation { max: i64::from(self.soft_bounce.max.max(1)), since: now - window }),
                    ..ReportEffect::default()
                }
            }
            BounceClass::Policy => ReportEffect::default(),
        };
        let event = NewReportEvent {
            campaign: Some(t.campaign),
            contact: Some(t.contact),
            kind,
            source: b.source.clone(),
            status: b.status.clone(),
            reason: b.reason.clone(),
            detail: b.detail.clone(),
            at: now,
        };
        let applied = self.store.record_report(t.account, &event, &effect).await?;
        if applied.recorded {
            tracing::info!(
                account = %t.account, campaign = t.campaign, contact = %t.contact, class = %b.class,
                status = b.status.as_deref().unwrap_or(""), suppressed = applied.suppressed, "bounce recorded"
            );
        }
        if applied.recorded && b.class == BounceClass::Policy {
            self.policy_alert(t, b).await?;
        }
        Ok(applied)
    }

    /// The operator hears of the first policy bounce of each reason per
    /// campaign; the rest are counted in the reputation overview.
    async fn policy_alert(&self, t: Target, b: &Bounce) -> Result<(), StoreError> {
        let same = self
            .store
            .count_reports(t.account, Some(t.campaign), ReportEventKind::Policy, b.reason.as_deref(), 0)
            .await?;
        if same != 1 {
            return Ok(());
        }
        let entry = NewAuditEntry {
            account: None,
            actor: "system:inbound".into(),
            action: "alert.policy_bounce".into(),
            target: format!("campaign:{}", t.campaign),
            detail: json!({
                "account_id": t.account,
                "campaign_id": t.campaign,
                "status": b.status,
                "reason": b.reason,
                "source": b.source,
                "detail": b.detail,
                "advice": "a receiver refused mail for the sender's reputation, authentication or content, not for the \
                           recipient: check DNS (SPF, DKIM, DMARC), block lists and the campaign's content",
            }),
            ip: None,
        };
        self.store.record_action(&entry).await
    }

    /// Applies a complaint: suppressed and every subscription `complained`.
    pub async fn complaint(&self, t: Target, detail: Value) -> Result<ReportApplied, StoreError> {
        let event = NewReportEvent {
            campaign: Some(t.campaign),
            contact: Some(t.contact),
            kind: ReportEventKind::Complaint,
            source: "arf".into(),
            status: None,
            reason: detail.get("feedback_type").and_then(Value::as_str).map(str::to_string),
            detail,
            at: crate::now_ms(),
        };
        let effect = ReportEffect {
            consent_event: Some("complained".into()),
            consent_source: "complaint".into(),
            subscriptions: Some(SubscriptionEvent::Complained),
            suppress: Some(SuppressionReason::Complaint),
            escalate: None,
        };
        let applied = self.store.record_report(t.account, &event, &effect).await?;
        if applied.recorded {
            tracing::info!(account = %t.account, campaign = t.campaign, contact = %t.contact, "complaint recorded");
        }
        Ok(applied)
    }

    /// A `mailto:` unsubscribe: every list, then counted for the campaign.
    pub async fn mailto_unsubscribe(&self, t: Target) -> Result<(), StoreError> {
        let outcome = self.store.unsubscribe(t.account, t.contact, None, "mailto", None, None).await?;
        let event = NewReportEvent {
            campaign: Some(t.campaign),
            contact: Some(t.contact),
            kind: ReportEventKind::Unsubscribe,
            source: "mailto".into(),
            status: None,
            reason: None,
            detail: json!({}),
            at: crate::now_ms(),
        };
        self.store.record_report(t.account, &event, &ReportEffect::default()).await?;
        tracing::info!(account = %t.account, contact = %t.contact, outcome = ?outcome, "mailto unsubscribe");
        Ok(())
    }
}

/// The inbound listener's handler: checks recipients, reads reports and
/// applies them.
pub struct InboundProcessor {
    tokens: Arc<TokenKey>,
    feedback_address: Option<String>,
    actions: ReportActions,
}

impl InboundProcessor {
    pub fn new(store: Arc<dyn Store>, tokens: Arc<TokenKey>, settings: InboundSettings) -> InboundProcessor {
        let feedback_address =
            settings.feedback_address.map(|a| a.trim().to_ascii_lowercase()).filter(|a| !a.is_empty());
        InboundProcessor {
            tokens,
            feedback_address,
            actions: ReportActions { store, soft_bounce: settings.soft_bounce },
        }
    }

    fn mailbox(&self, rcpt: &str) -> Option<Mailbox> {
        let rcpt = rcpt.trim();
        if self.feedback_address.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(rcpt)) {
            return Some(Mailbox::Feedback);
        }
        let (local, _domain) = rcpt.rsplit_once('@')?;
        let lower = local.to_ascii_lowercase();
        if let Some(token) = lower.strip_prefix("bounces+") {
            return self.verify(Purpose::Bounce, token).map(Mailbox::Bounce);
        }
        if let Some(token) = lower.strip_prefix("unsubscribe+") {
            return self.verify(Purpose::MailtoUnsubscribe, token).map(Mailbox::Mailto);
        }
        None
    }

    fn verify(&self, purpose: Purpose, token: &str) -> Option<Target> {
        self.tokens.verify_short(purpose, token).ok().and_then(Target::from_ids)
    }

    /// Processes one message for one accepted recipient.
    pub async fn process(&self, rcpt: &str, data: &[u8]) -> Result<(), InboundError> {
        match self.mailbox(rcpt) {
            Some(mailbox) => self.handle(mailbox, rcpt, data).await.map(drop),
            // Refused at RCPT already; a recipient that stopped verifying
            // (key changed meanwhile) is dropped.
            None => Ok(()),
        }
    }

    /// Processes a message taken from a mailbox (`crate::mailbox`), which
    /// has no envelope: the recipient is the first address of
    /// `Delivered-To`, `X-Original-To`, `Envelope-To` or `To` (in this
    /// order) that is one of the listener's; without one, the message is
    /// read as a feedback-loop report and attributed like one.
    /// [`Recognition::Unrecognised`] when it concerns no message of ours.
    pub async fn process_mailbox_message(&self, data: &[u8]) -> Result<Recognition, InboundError> {
        let found = envelope_candidates(data).into_iter().find_map(|a| self.mailbox(&a).map(|m| (m, a)));
        match found {
            Some((mailbox, rcpt)) => self.handle(mailbox, &rcpt, data).await,
            None => self.handle(Mailbox::Feedback, "", data).await,
        }
    }

    async fn handle(&self, mailbox: Mailbox, rcpt: &str, data: &[u8]) -> Result<Recognition, InboundError> {
        match mailbox {
            Mailbox::Bounce(t) => {
                let report = parse_report_with_envelope(data, Some(rcpt));
                self.apply(&report, t).await?;
            }
            Mailbox::Mailto(t) => {
                // Only a person's own message unsubscribes: an out-of-office
                // answer or a bounce that landed here does not.
                let report = parse_report(data);
                match report.kind {
                    ReportKind::AutoReply | ReportKind::Bounce => {
                        tracing::debug!(kind = report.kind.as_str(), "ignored at the unsubscribe address");
                    }
                    ReportKind::Complaint | ReportKind::Other => self.actions.mailto_unsubscribe(t).await?,
                }
            }
            Mailbox::Feedback => {
                let report = parse_report(data);
                match self.resolve(&report, data).await? {
                    Some(t) => self.apply(&report, t).await?,
                    None => {
                        tracing::info!(
                            kind = report.kind.as_str(),
                            format = report.format,
                            "feedback report names no message of ours; ignored"
                        );
                        return Ok(Recognition::Unrecognised);
                    }
                }
            }
        }
        Ok(Recognition::Recognised)
    }

    /// Applies a parsed report to the message it is about.
    async fn apply(&self, report: &InboundReport, t: Target) -> Result<(), InboundError> {
        match report.kind {
            ReportKind::Complaint => {
                let feedback = report.feedback.as_ref();
                if feedback.is_some_and(|f| !f.is_complaint()) {
                    return Ok(());
                }
                let detail = json!({
                    "feedback_type": feedback.map_or("abuse", |f| f.feedback_type.as_str()),
                    "user_agent": feedback.and_then(|f| f.user_agent.clone()),
                    "reported_domain": feedback.and_then(|f| f.reported_domain.clone()),
                    "arrival_date": feedback.and_then(|f| f.arrival_date.clone()),
                    "format": report.format,
                });
                self.actions.complaint(t, detail).await?;
            }
            ReportKind::Bounce => {
                // The message went to this contact alone; a report that also
                // names other addresses (quoted from the original, or of a
                // whole list) is about the contact's own entry when it has one.
                let own = match self.actions.store.get_contact(t.account, t.contact).await? {
                    Some(c) => EmailAddress::parse(&c.email).ok(),
                    None => None,
                };
                let Some(r) = failure_for(&report.recipients, own.as_ref()) else {
                    tracing::debug!(format = report.format, "bounce without a failed recipient (delay warning?)");
                    return Ok(());
                };
                let Some(class) = r.class else { return Ok(()) };
                let bounce = Bounce {
                    class,
                    status: r.status.clone(),
                    reason: r.reason.map(|x| x.as_str().to_string()),
                    source: "dsn".into(),
                    detail: json!({
                        "class": class.as_str(),
                        "status": r.status,
                        "reason": r.reason.map(|x| x.as_str()),
                        "diagnostic": r.diagnostic.as_deref().map(|d| d.chars().take(500).collect::<String>()),
                        "recipient": r.recipient,
                        "remote_mta": r.remote_mta,
                        "reporting_mta": report.reporting_mta,
                        "format": report.format,
                    }),
                    history: true,
                };
                self.actions.bounce(t, &bounce).await?;
            }
            ReportKind::AutoReply | ReportKind::Other => {
                tracing::debug!(kind = report.kind.as_str(), format = report.format, "not a bounce; ignored");
            }
        }
        Ok(())
    }

    /// Who a report that came without a VERP envelope is about.
    async fn resolve(&self, report: &InboundReport, raw: &[u8]) -> Result<Option<Target>, StoreError> {
        if let Some(t) = report.original.verp_token.as_deref().and_then(|tok| self.verify(Purpose::Bounce, tok)) {
            return Ok(Some(t));
        }
        // The original's List-Unsubscribe carries a signed mailto token.
        if let Some(t) = mailto_tokens(raw).find_map(|tok| self.verify(Purpose::MailtoUnsubscribe, tok)) {
            return Ok(Some(t));
        }
        let Some((campaign, contact)) = report.original.message_id.as_deref().and_then(message_id_ids) else {
            return Ok(None);
        };
        let store = &self.actions.store;
        let Some(delivery) = store.find_delivery(campaign, contact).await? else { return Ok(None) };
        if delivery.status != "sent" {
            return Ok(None);
        }
        let Some(c) = store.get_contact(delivery.account, contact).await? else { return Ok(None) };
        let Ok(address) = EmailAddress::parse(&c.email) else { return Ok(None) };
        let named = report
            .recipients
            .iter()
            .filter_map(|r| r.recipient.as_deref())
            .chain(report.original.rcpt_to.iter().map(String::as_str))
            .chain(report.original.to.as_deref())
            .filter_map(|a| EmailAddress::parse(a).ok())
            .any(|a| a.normalized() == address.normalized());
        Ok(named.then_some(Target { account: delivery.account, campaign, contact }))
    }
}

/// When the report names `own` (the address the message was sent to), the
/// failure among its entries, if any (a delay warning for it is no failure
/// of someone else's); otherwise the one that matters most of all.
fn failure_for<'r>(recipients: &'r [RecipientResult], own: Option<&EmailAddress>) -> Option<&'r RecipientResult> {
    let is_own = |r: &&RecipientResult| {
        own.zip(r.recipient.as_deref().and_then(|a| EmailAddress::parse(a).ok()))
            .is_some_and(|(own, named)| named.normalized() == own.normalized())
    };
    if recipients.iter().any(|r| is_own(&r)) {
        worst_failure(recipients.iter().filter(is_own))
    } else {
        worst_failure(recipients)
    }
}

/// The failed recipient that matters most (hard over soft over policy);
/// `delayed` DSN entries are warnings, not failures.
fn worst_failure<'r>(recipients: impl IntoIterator<Item = &'r RecipientResult>) -> Option<&'r RecipientResult> {
    let rank = |c: BounceClass| match c {
        BounceClass::Hard => 0,
        BounceClass::Soft => 1,
        BounceClass::Policy => 2,
    };
    recipients
        .into_iter()
        .filter(|r| r.class.is_some() && !r.action.as_deref().is_some_and(|a| a.eq_ignore_ascii_case("delayed")))
        .min_by_key(|r| r.class.map_or(3, rank))
}

/// Tokens of `unsubscribe+TOKEN@` addresses in a raw message (at most a few).
fn mailto_tokens(raw: &[u8]) -> impl Iterator<Item = &str> {
    const NEEDLE: &[u8] = b"unsubscribe+";
    let mut from = 0;
    std::iter::from_fn(move || {
        while from < raw.len() {
            let at = raw[from..].windows(NEEDLE.len()).position(|w| w.eq_ignore_ascii_case(NEEDLE))? + from;
            let start = at + NEEDLE.len();
            let len = raw[start..].iter().take(65).take_while(|b| b.is_ascii_alphanumeric() || **b == b'-').count();
            from = start;
            if raw.get(start + len) == Some(&b'@') && len > 0 {
                // Only ASCII alphanumerics and '-' were taken.
                return std::str::from_utf8(&raw[start..start + len]).ok();
            }
        }
        None
    })
    .take(5)
}

/// The headers that may name the envelope recipient of a message taken from
/// a mailbox, in the order they are believed.
const ENVELOPE_HEADERS: [&str; 4] = ["delivered-to", "x-original-to", "envelope-to", "to"];

/// Addresses of the top-level `Delivered-To`, `X-Original-To`,
/// `Envelope-To` and `To` headers, in that order (at most a few dozen).
/// Any of them could be forged; what counts is a token that verifies.
fn envelope_candidates(raw: &[u8]) -> Vec<String> {
    // The header block ends at the first empty line; 256 KiB is plenty.
    let head = &raw[..raw.len().min(256 * 1024)];
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| head.windows(2).position(|w| w == b"\n\n"));
    let head = String::from_utf8_lossy(&head[..end.unwrap_or(head.len())]);
    // Unfolded fields: a line starting with white space continues the last.
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let mut out = Vec::new();
    for wanted in ENVELOPE_HEADERS {
        for (_, value) in fields.iter().filter(|(n, _)| n == wanted) {
            out.extend(addresses(value));
        }
    }
    out.truncate(50);
    out
}

/// The addresses of an address-list header value: `<a@b>` where brackets
/// are used, else the bare `a@b` of each comma-separated entry.
fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut entry = String::new();
    let mut entries = Vec::new();
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                entry.push(c);
            }
            ',' if !quoted => entries.push(std::mem::take(&mut entry)),
            _ => entry.push(c),
        }
    }
    entries.push(entry);
    for e in entries {
        let address = match (e.rfind('<'), e.rfind('>')) {
            (Some(open), Some(close)) if open < close => e[open + 1..close].trim().to_string(),
            _ => e.trim().to_string(),
        };
        if address.contains('@') && !address.contains(char::is_whitespace) {
            out.push(address);
        }
    }
    out
}

/// Campaign and contact from a campaign Message-ID
/// (`<{campaign:x}.{contact:x}.{time}@domain>`, see `campaign::Prepared`).
fn message_id_ids(id: &str) -> Option<(i64, ContactId)> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _) = id.split_once('@')?;
    let mut parts = local.split('.');
    let campaign = i64::from_str_radix(parts.next()?, 16).ok().filter(|n| *n > 0)?;
    let contact = i64::from_str_radix(parts.next()?, 16).ok().filter(|n| *n > 0)?;
    let time = parts.next()?;
    if parts.next().is_some() || time.is_empty() || !time.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((campaign, ContactId(contact)))
}

#[async_trait::async_trait]
impl InboundHandler for InboundProcessor {
    async fn accept_rcpt(&self, rcpt: &str) -> bool {
        self.mailbox(rcpt).is_some()
    }

    async fn deliver(&self, _mail_from: &str, rcpts: &[String], data: &[u8]) -> Result<(), String> {
        for rcpt in rcpts {
            if let Err(e) = self.process(rcpt, data).await {
                tracing::warn!(error = %e, "inbound report not applied");
                return Err(e.to_string());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_of_campaign_mail() {
        assert_eq!(message_id_ids("<1f.2a.1700000000@news.example.com>"), Some((31, ContactId(42))));
        assert_eq!(message_id_ids("1f.2a.1700000000@news.example.com"), Some((31, ContactId(42))));
        assert_eq!(message_id_ids("<0123456789abcdef0123.1700000000@x>"), None);
        assert_eq!(message_id_ids("<1f.2a.17x@x>"), None);
        assert_eq!(message_id_ids("<1f.2a.1.2@x>"), None);
        assert_eq!(message_id_ids("<0.2a.1@x>"), None);
    }

    #[test]
    fn mailto_tokens_are_found_in_quoted_headers() {
        let raw = b"List-Unsubscribe: <mailto:unsubscribe+1-2-3-abcdef@bounce.example.com>, <https://x/u/y>\r\n\
                    X-Other: unsubscribe+nope\r\nTo: UNSUBSCRIBE+4-5-6-ff@b.example\r\n";
        let found: Vec<&str> = mailto_tokens(raw).collect();
        assert_eq!(found, ["1-2-3-abcdef", "4-5-6-ff"]);
        assert_eq!(mailto_tokens(b"unsubscribe+").count(), 0);
        assert_eq!(mailto_tokens(b"").count(), 0);
    }

    #[test]
    fn envelope_headers_in_order() {
        let raw = b"Return-Path: <>\r\nTo: \"Bounces, Inc\" <bounces+a-b@x.example>, plain@y.example\r\n\
                    Delivered-To: box@company.example\r\nX-Original-To:\r\n bounces+1-2-3-ff@bounce.example\r\n\
                    Subject: x\r\n\r\nTo: body@not.header\r\n";
        assert_eq!(
            envelope_candidates(raw),
            ["box@company.example", "bounces+1-2-3-ff@bounce.example", "bounces+a-b@x.example", "plain@y.example"]
        );
        assert!(envelope_candidates(b"").is_empty());
        assert!(envelope_candidates(b"To: undisclosed-recipients:;\n\nx").is_empty());
        assert_eq!(addresses("a@b, <c@d>, Name <e@f>, \"x, y\" <g@h>, junk"), ["a@b", "c@d", "e@f", "g@h"]);
    }

    #[test]
    fn target_ids_must_fit() {
        assert_eq!(
            Target::from_ids([1, 2, 3]),
            Some(Target { account: AccountId(1), campaign: 2, contact: ContactId(3) })
        );
        assert_eq!(Target::from_ids([0, 2, 3]), None);
        assert_eq!(Target::from_ids([u64::MAX, 2, 3]), None);
    }

    #[test]
    fn delay_warnings_are_not_failures() {
        let delayed = RecipientResult {
            class: Some(BounceClass::Soft),
            action: Some("delayed".into()),
            ..RecipientResult::default()
        };
        assert!(worst_failure(std::slice::from_ref(&delayed)).is_none());
        let soft = RecipientResult { class: Some(BounceClass::Soft), action: Some("failed".into()), ..delayed.clone() };
        let hard = RecipientResult { class: Some(BounceClass::Hard), ..soft.clone() };
        let picked = worst_failure(&[delayed, soft, hard]).and_then(|r| r.class);
        assert_eq!(picked, Some(BounceClass::Hard));
    }

    #[test]
    fn the_contacts_own_entry_decides() {
        let entry = |to: &str, class, action: &str| RecipientResult {
            recipient: Some(to.into()),
            class: Some(class),
            action: Some(action.into()),
            ..RecipientResult::default()
        };
        let own = EmailAddress::parse("Jane@Example.org").expect("address");
        // An address quoted from the original (a list's, say) failed hard;
        // the contact's own entry is a soft failure: soft it is.
        let report = [
            entry("list@lists.example", BounceClass::Hard, "failed"),
            entry("jane@example.org", BounceClass::Soft, "failed"),
        ];
        let picked = failure_for(&report, Some(&own)).and_then(|r| r.recipient.as_deref());
        assert_eq!(picked, Some("jane@example.org"));
        // Only delayed for the contact: no failure, whatever else is named.
        let report = [
            entry("list@lists.example", BounceClass::Hard, "failed"),
            entry("jane@example.org", BounceClass::Soft, "delayed"),
        ];
        assert!(failure_for(&report, Some(&own)).is_none());
        // Not named (a forwarded address failed): the worst entry, as before.
        let report = [entry("jane@elsewhere.example", BounceClass::Hard, "failed")];
        assert_eq!(failure_for(&report, Some(&own)).and_then(|r| r.class), Some(BounceClass::Hard));
        assert_eq!(failure_for(&report, None).and_then(|r| r.class), Some(BounceClass::Hard));
    }

    #[test]
    fn smtp_replies_become_bounces() {
        let b = Bounce::from_smtp_reply("550 5.1.1 <x@y>: user unknown").expect("bounce");
        assert_eq!((b.class, b.status.as_deref(), b.source.as_str()), (BounceClass::Hard, Some("5.1.1"), "smtp"));
        let b = Bounce::from_smtp_reply("452 4.2.2 mailbox full").expect("bounce");
        assert_eq!(b.class, BounceClass::Soft);
        let b = Bounce::from_smtp_reply("554 5.7.1 rejected: listed at a DNSBL").expect("bounce");
        assert_eq!(b.class, BounceClass::Policy);
    }
}
