//! Complaints: RFC 5965 Abuse Reporting Format (`multipart/report;
//! report-type=feedback-report` with a `message/feedback-report` part) and
//! the older non-ARF feedback loops that forward the complained-about
//! message as an attachment (Microsoft JMRP with `X-HmXmrOriginalRecipient`,
//! AOL/Yahoo-style "abuse report" forwards).

use super::fields::{address_value, address_value_cased, field_groups};

/// The `message/feedback-report` fields (RFC 5965 §3.1, §3.2).
#[derive(Debug, Default, Clone)]
pub(crate) struct ArfFields {
    pub feedback_type: Option<String>,
    pub user_agent: Option<String>,
    pub version: Option<String>,
    pub original_mail_from: Option<String>,
    pub original_rcpt_to: Vec<String>,
    pub removal_recipient: Option<String>,
    pub arrival_date: Option<String>,
    pub source_ip: Option<String>,
    pub reported_domain: Option<String>,
    pub original_envelope_id: Option<String>,
}

pub(crate) fn parse(text: &str) -> ArfFields {
    let mut a = ArfFields::default();
    let one = |v: &str| Some(v.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|s| !s.is_empty());
    for f in field_groups(text).into_iter().flatten() {
        if f.is("Feedback-Type") {
            a.feedback_type = one(&f.value).map(|s| s.to_ascii_lowercase());
        } else if f.is("User-Agent") {
            a.user_agent = one(&f.value);
        } else if f.is("Version") {
            a.version = one(&f.value);
        } else if f.is("Original-Mail-From") {
            a.original_mail_from = address_value_cased(&f.value);
        } else if f.is("Original-Rcpt-To") {
            if let Some(r) = address_value(&f.value).filter(|r| !is_redacted(r))
                && !a.original_rcpt_to.contains(&r)
                && a.original_rcpt_to.len() < 100
            {
                a.original_rcpt_to.push(r);
            }
        } else if f.is("Removal-Recipient") {
            a.removal_recipient = address_value(&f.value).filter(|r| !is_redacted(r));
        } else if f.is("Arrival-Date") || f.is("Received-Date") {
            a.arrival_date = one(&f.value);
        } else if f.is("Source-IP") {
            a.source_ip = one(&f.value);
        } else if f.is("Reported-Domain") {
            a.reported_domain = one(&f.value);
        } else if f.is("Original-Envelope-Id") {
            a.original_envelope_id = one(&f.value);
        }
    }
    a
}

/// Feedback loops often hide the complainer's address ("redacted",
/// "xxxxxxx@", a hash): such a value identifies nobody.
pub(crate) fn is_redacted(addr: &str) -> bool {
    let local = addr.split('@').next().unwrap_or_default();
    addr.contains("redacted")
        || !addr.contains('@')
        || (local.len() >= 3 && local.bytes().all(|b| b == b'x' || b == b'*' || b == b'#'))
}

/// Subjects of non-ARF complaint forwards (lower-case).
const SUBJECTS: &[&str] = &[
    "complaint about message from",
    "abuse report",
    "spam report",
    "spam complaint",
    "tos notification",
    "email feedback report",
    "feedback loop",
    "fbl report",
];

pub(crate) fn subject_is_complaint(subject: &super::fields::Indexed) -> bool {
    subject.contains_any(SUBJECTS)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let a = parse(
            "Feedback-Type: Abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\nOriginal-Mail-From: <bounces+t@b.example>\r\nOriginal-Rcpt-To: <User@example.com>\r\nOriginal-Rcpt-To: <redacted@example.com>\r\nArrival-Date: Thu, 8 Mar 2005 14:00:00 EDT\r\nSource-IP: 192.0.2.1\r\n",
        );
        assert_eq!(a.feedback_type.as_deref(), Some("abuse"));
        assert_eq!(a.original_mail_from.as_deref(), Some("bounces+t@b.example"));
        assert_eq!(a.original_rcpt_to, ["user@example.com"]);
        assert_eq!(a.version.as_deref(), Some("1"));
        assert!(is_redacted("xxxxxxx@example.com"));
        assert!(!is_redacted("max@example.com"));
    }
}
