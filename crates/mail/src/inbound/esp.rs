//! Bounce and complaint notifications of sending services, when they reach
//! us as JSON (mailed SNS notifications, a saved webhook body given to
//! `assent bounce classify`): Amazon SES (`notificationType`/`eventType`,
//! also inside an SNS envelope), SendGrid event arrays, Mailgun
//! `event-data`, Postmark bounce and spam-complaint records.

use serde_json::Value;

use assent_domain::bounce::{BounceReason, EnhancedStatus};

use super::fields::{address_value, address_value_cased};

/// What a notification says about one recipient.
#[derive(Debug, Clone, Default)]
pub(crate) struct EspRecipient {
    pub address: Option<String>,
    pub status: Option<EnhancedStatus>,
    pub diagnostic: Option<String>,
    pub action: Option<String>,
    /// The service's own category, used when the text names no reason.
    pub hint: Option<BounceReason>,
    pub transient: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EspKind {
    Bounce,
    Complaint,
}

#[derive(Debug, Clone)]
pub(crate) struct EspReport {
    pub service: &'static str,
    pub kind: EspKind,
    pub recipients: Vec<EspRecipient>,
    pub message_id: Option<String>,
    pub feedback_type: Option<String>,
    pub source: Option<String>,
}

/// Bounds what we are willing to parse as JSON.
const MAX_JSON: usize = 4 << 20;

/// Parses `text` as a known notification; `None` for anything else.
pub(crate) fn parse(text: &str) -> Option<EspReport> {
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.len() > MAX_JSON || !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    // The first JSON value; mailed notifications carry a footer after it.
    let v: Value = serde_json::Deserializer::from_str(t).into_iter::<Value>().next()?.ok()?;
    from_value(&v, 0)
}

fn from_value(v: &Value, depth: u8) -> Option<EspReport> {
    if depth > 2 {
        return None;
    }
    // SNS wraps the SES notification as a JSON string in "Message".
    if let Some(inner) = v.get("Message").and_then(Value::as_str)
        && let Ok(iv) = serde_json::from_str::<Value>(inner)
    {
        return from_value(&iv, depth + 1);
    }
    if v.get("notificationType").is_some() || v.get("eventType").is_some() {
        return ses(v);
    }
    if let Some(ed) = v.get("event-data") {
        return mailgun(ed);
    }
    if v.get("RecordType").is_some() {
        return postmark(v);
    }
    if let Some(arr) = v.as_array() {
        return sendgrid(arr);
    }
    if v.get("event").is_some() && v.get("email").is_some() {
        return sendgrid(std::slice::from_ref(v));
    }
    None
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn status_of(text: Option<&str>) -> Option<EnhancedStatus> {
    text.and_then(|t| EnhancedStatus::parse(t).ok().or_else(|| EnhancedStatus::find_in(t)))
}

fn ses(v: &Value) -> Option<EspReport> {
    let ty = s(v, "notificationType").or_else(|| s(v, "eventType"))?;
    let mail = v.get("mail");
    let message_id = mail
        .and_then(|m| m.get("commonHeaders"))
        .and_then(|h| s(h, "messageId"))
        .or_else(|| mail.and_then(|m| s(m, "messageId")))
        .map(|m| m.trim_matches(['<', '>']).to_owned());
    let source = mail.and_then(|m| s(m, "source")).and_then(address_value_cased);
    match ty {
        "Bounce" => {
            let b = v.get("bounce")?;
            let transient = s(b, "bounceType") == Some("Transient");
            let hint = match s(b, "bounceSubType").unwrap_or_default() {
                "NoEmail" | "Suppressed" | "OnAccountSuppressionList" => Some(BounceReason::UserUnknown),
                "MailboxFull" => Some(BounceReason::MailboxFull),
                "MessageTooLarge" => Some(BounceReason::MessageTooBig),
                "ContentRejected" | "AttachmentRejected" => Some(BounceReason::Content),
                _ if transient => Some(BounceReason::Temporary),
                _ => None,
            };
            let recipients = b
                .get("bouncedRecipients")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .take(1000)
                        .map(|r| EspRecipient {
                            address: s(r, "emailAddress").and_then(address_value),
                            status: status_of(s(r, "status")),
                            diagnostic: s(r, "diagnosticCode").map(|d| super::fields::strip_type(d).to_owned()),
                            action: s(r, "action").map(str::to_ascii_lowercase),
                            hint,
                            // SES has given up on the message either way.
                            transient: false,
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(EspReport {
                service: "amazon_ses",
                kind: EspKind::Bounce,
                recipients,
                message_id,
                feedback_type: None,
                source,
            })
        }
        "Complaint" => {
            let c = v.get("complaint")?;
            let recipients = c
                .get("complainedRecipients")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .take(1000)
                        .map(|r| EspRecipient {
                            address: s(r, "emailAddress").and_then(address_value),
                            ..Default::default()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let feedback_type = s(c, "complaintFeedbackType").map(str::to_ascii_lowercase).or(Some("abuse".into()));
            Some(EspReport {
                service: "amazon_ses",
                kind: EspKind::Complaint,
                recipients,
                message_id,
                feedback_type,
                source,
            })
        }
        _ => None,
    }
}

fn sendgrid(events: &[Value]) -> Option<EspReport> {
    let mut kind = None;
    let mut recipients = Vec::new();
    let mut message_id = None;
    for e in events.iter().take(1000) {
        let ev = s(e, "event").unwrap_or_default();
        let this = match ev {
            "bounce" | "deferred" => EspKind::Bounce,
            "dropped" if s(e, "reason").is_some_and(|r| r.to_ascii_lowercase().contains("bounce")) => EspKind::Bounce,
            "spamreport" => EspKind::Complaint,
            _ => continue,
        };
        if kind.get_or_insert(this.clone()) != &this {
            continue;
        }
        message_id = message_id.or_else(|| s(e, "smtp-id").map(|m| m.trim_matches(['<', '>']).to_owned()));
        let diag = s(e, "reason").or_else(|| s(e, "response")).map(str::to_owned);
        let transient = ev == "deferred";
        recipients.push(EspRecipient {
            address: s(e, "email").and_then(address_value),
            status: status_of(s(e, "status")),
            diagnostic: diag,
            action: Some(if transient { "delayed" } else { "failed" }.to_owned()).filter(|_| this == EspKind::Bounce),
            hint: if s(e, "type") == Some("blocked") { Some(BounceReason::Policy) } else { None },
            transient,
        });
    }
    let kind = kind?;
    let feedback_type = (kind == EspKind::Complaint).then(|| "abuse".to_owned());
    Some(EspReport { service: "sendgrid", kind, recipients, message_id, feedback_type, source: None })
}

fn mailgun(ed: &Value) -> Option<EspReport> {
    let ev = s(ed, "event")?;
    let message_id = ed
        .get("message")
        .and_then(|m| m.get("headers"))
        .and_then(|h| s(h, "message-id"))
        .map(|m| m.trim_matches(['<', '>']).to_owned());
    let address = s(ed, "recipient").and_then(address_value);
    match ev {
        "failed" | "bounced" => {
            let ds = ed.get("delivery-status");
            let transient = s(ed, "severity") == Some("temporary");
            let code = ds.and_then(|d| d.get("code")).and_then(Value::as_u64);
            let msg = ds.and_then(|d| s(d, "message")).filter(|m| !m.is_empty());
            let desc = ds.and_then(|d| s(d, "description")).filter(|m| !m.is_empty());
            let text = [msg, desc].into_iter().flatten().collect::<Vec<_>>().join(" ");
            let diag = match code {
                Some(c) if !text.starts_with(&c.to_string()) => format!("{c} {text}"),
                _ => text,
            };
            let hint = match s(ed, "reason") {
                Some("suppress-bounce") => Some(BounceReason::UserUnknown),
                Some("suppress-complaint") | Some("suppress-unsubscribe") => Some(BounceReason::Policy),
                _ if transient => Some(BounceReason::Temporary),
                _ => None,
            };
            let status = status_of(ds.and_then(|d| s(d, "enhanced-code"))).or_else(|| EnhancedStatus::find_in(&diag));
            let r = EspRecipient {
                address,
                status,
                diagnostic: Some(diag.trim().to_owned()).filter(|d| !d.is_empty()),
                action: Some(if transient { "delayed" } else { "failed" }.to_owned()),
                hint,
                transient,
            };
            Some(EspReport {
                service: "mailgun",
                kind: EspKind::Bounce,
                recipients: vec![r],
                message_id,
                feedback_type: None,
                source: None,
            })
        }
        "complained" => Some(EspReport {
            service: "mailgun",
            kind: EspKind::Complaint,
            recipients: vec![EspRecipient { address, ..Default::default() }],
            message_id,
            feedback_type: Some("abuse".into()),
            source: None,
        }),
        _ => None,
    }
}

fn postmark(v: &Value) -> Option<EspReport> {
    let rt = s(v, "RecordType")?;
    let message_id = s(v, "MessageID").map(str::to_owned);
    let address = s(v, "Email").and_then(address_value);
    let ty = s(v, "Type").unwrap_or_default();
    if rt == "SpamComplaint" || ty == "SpamComplaint" {
        return Some(EspReport {
            service: "postmark",
            kind: EspKind::Complaint,
            recipients: vec![EspRecipient { address, ..Default::default() }],
            message_id,
            feedback_type: Some("abuse".into()),
            source: None,
        });
    }
    if rt != "Bounce" {
        return None;
    }
    let hint = match ty {
        "HardBounce" | "BadEmailAddress" => Some(BounceReason::UserUnknown),
        "DnsError" => Some(BounceReason::HostUnknown),
        "SpamNotification" | "Blocked" => Some(BounceReason::SpamBlock),
        "VirusNotification" => Some(BounceReason::Content),
        "AddressChange" => Some(BounceReason::Moved),
        "SoftBounce" | "Transient" => Some(BounceReason::Temporary),
        _ => None,
    };
    let details = s(v, "Details").map(|d| super::fields::strip_type(d).to_owned());
    let diag = details.filter(|d| !d.is_empty()).or_else(|| s(v, "Description").map(str::to_owned));
    let r = EspRecipient {
        address,
        status: diag.as_deref().and_then(EnhancedStatus::find_in),
        diagnostic: diag,
        action: Some("failed".to_owned()),
        hint,
        transient: false,
    };
    Some(EspReport {
        service: "postmark",
        kind: EspKind::Bounce,
        recipients: vec![r],
        message_id,
        feedback_type: None,
        source: None,
    })
}
