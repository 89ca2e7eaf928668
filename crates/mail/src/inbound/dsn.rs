//! RFC 3464 `message/delivery-status` bodies (and RFC 6533
//! `message/global-delivery-status`, which has the same shape in UTF-8).
//!
//! The body is one group of per-message fields followed by one group per
//! recipient, groups separated by blank lines. Real reports bend this:
//! missing or doubled blank lines, per-message fields mixed into the first
//! recipient, unindented folding. So fields are read by name, a new
//! recipient starts at a blank line or a second `Final-Recipient`, and a
//! group with no recipient of its own is merged into the one before.

use super::fields::{Field, address_value, address_value_cased, field_groups, find_addresses, strip_type};

#[derive(Debug, Default, Clone)]
pub(crate) struct Dsn {
    pub reporting_mta: Option<String>,
    pub original_envelope_id: Option<String>,
    /// Postfix names the envelope sender of the bounced message.
    pub envelope_sender: Option<String>,
    pub recipients: Vec<DsnRecipient>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct DsnRecipient {
    pub final_recipient: Option<String>,
    pub original_recipient: Option<String>,
    pub action: Option<String>,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
    /// `X-Supplementary-Info` / `X400-Supplementary-Info`: gateways put the
    /// remote server's words there ("… gives error message 5.7.1 Unable to
    /// relay") beside a Diagnostic-Code of their own that says nothing.
    pub supplementary: Option<String>,
}

impl DsnRecipient {
    fn has_recipient(&self) -> bool {
        self.final_recipient.is_some() || self.original_recipient.is_some()
    }

    fn is_empty(&self) -> bool {
        !self.has_recipient()
            && self.action.is_none()
            && self.status.is_none()
            && self.diagnostic.is_none()
            && self.remote_mta.is_none()
            && self.supplementary.is_none()
    }

    /// Fills what `self` lacks from an orphan group.
    fn absorb(&mut self, o: DsnRecipient) {
        self.action = self.action.take().or(o.action);
        self.status = self.status.take().or(o.status);
        self.diagnostic = self.diagnostic.take().or(o.diagnostic);
        self.remote_mta = self.remote_mta.take().or(o.remote_mta);
        self.supplementary = self.supplementary.take().or(o.supplementary);
    }

    /// The address the sender used (RFC 3464 §2.3.1 `Original-Recipient`)
    /// when it is a whole address: that is what was sent to, while
    /// `Final-Recipient` may be an internal alias after forwarding or
    /// rewriting (`user@sims-ms-daemon`, a local mailbox name).
    pub fn recipient(&self) -> Option<&str> {
        let original = self.original_recipient.as_deref().filter(|a| is_full_address(a));
        original.or(self.final_recipient.as_deref()).or(self.original_recipient.as_deref())
    }

    /// The comment of `Status: 5.0.0 (recipient reached disk quota)`, the
    /// only explanation some MTAs give.
    fn status_comment(&self) -> Option<String> {
        let s = self.status.as_deref()?;
        let open = s.find('(')?;
        let close = s.rfind(')').filter(|&c| c > open)?;
        let c = s[open + 1..close].trim();
        (!c.is_empty()).then(|| c.to_owned())
    }
}

fn is_full_address(a: &str) -> bool {
    find_addresses(a).first().is_some_and(|r| r.start == 0 && r.end == a.len())
}

/// At most this many recipients are reported from one DSN.
const MAX_RECIPIENTS: usize = 1000;

pub(crate) fn parse(text: &str) -> Dsn {
    let mut dsn = Dsn::default();
    let mut groups: Vec<DsnRecipient> = Vec::new();
    for group in field_groups(text) {
        let mut cur = DsnRecipient::default();
        for f in group {
            if per_message(&mut dsn, &f) {
                continue;
            }
            let starts_new = (f.is("Final-Recipient") && cur.final_recipient.is_some())
                || (f.is("Original-Recipient")
                    && (cur.original_recipient.is_some()
                        || (cur.final_recipient.is_some() && (cur.action.is_some() || cur.status.is_some()))));
            if starts_new {
                groups.push(std::mem::take(&mut cur));
            }
            per_recipient(&mut cur, &f);
        }
        if !cur.is_empty() {
            groups.push(cur);
        }
        if groups.len() > MAX_RECIPIENTS {
            break;
        }
    }
    for mut g in groups {
        match dsn.recipients.last_mut() {
            Some(prev) if !g.has_recipient() => prev.absorb(g),
            // Fields ahead of every recipient (a per-message group out of
            // order, Boxbe) belong to the first recipient.
            Some(prev) if !prev.has_recipient() => {
                g.absorb(std::mem::take(prev));
                *prev = g;
            }
            _ => dsn.recipients.push(g),
        }
    }
    dsn.recipients.truncate(MAX_RECIPIENTS);
    for r in &mut dsn.recipients {
        r.diagnostic = match (r.diagnostic.take(), r.supplementary.take()) {
            (Some(d), Some(s)) => Some(format!("{d} {s}")),
            (d, s) => d.or(s),
        };
        if r.diagnostic.is_none() {
            r.diagnostic = r.status_comment();
        }
    }
    dsn
}

fn per_message(dsn: &mut Dsn, f: &Field<'_>) -> bool {
    let v = || Some(f.value.trim().to_owned()).filter(|s| !s.is_empty());
    if f.is("Reporting-MTA") {
        dsn.reporting_mta = v().map(|s| strip_type(&s).to_owned());
    } else if f.is("Original-Envelope-Id") {
        dsn.original_envelope_id = v();
    } else if f.is("X-Postfix-Sender") || f.is("X-Original-Sender") {
        dsn.envelope_sender = address_value_cased(&f.value);
    } else {
        return f.is("DSN-Gateway")
            || f.is("Received-From-MTA")
            || f.is("Arrival-Date")
            || f.is("X-Postfix-Queue-ID")
            || f.is("X-Queue-ID");
    }
    true
}

fn per_recipient(r: &mut DsnRecipient, f: &Field<'_>) {
    let nonempty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    if f.is("Final-Recipient") {
        r.final_recipient = address_value(&f.value);
    } else if f.is("Original-Recipient") {
        r.original_recipient = address_value(&f.value);
    } else if f.is("X-Actual-Recipient") && r.final_recipient.is_none() {
        r.final_recipient = address_value(&f.value);
    } else if f.is("Action") {
        r.action = f.value.split_whitespace().next().map(|a| a.trim_end_matches([';', '.', ',']).to_ascii_lowercase());
    } else if f.is("Status") {
        r.status = nonempty(&f.value);
    } else if f.is("Diagnostic-Code") {
        r.diagnostic = nonempty(strip_type(&f.value));
    } else if f.is("Remote-MTA") {
        r.remote_mta = nonempty(strip_type(&f.value));
    } else if f.is("X-Supplementary-Info") || f.is("X400-Supplementary-Info") {
        r.supplementary = nonempty(f.value.trim_matches('"'));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fields_ahead_of_every_recipient_belong_to_the_first() {
        // Boxbe puts Action and Remote-MTA in a group of their own.
        let d = parse(
            "Reporting-MTA: dns; boxbe.com\n\nRemote-MTA: dns; yahoo.com\nAction: failed\n\n\
             Final-Recipient: rfc822; a@example.com\nStatus: 4.7.0\n",
        );
        assert_eq!(d.recipients.len(), 1);
        assert_eq!(d.recipients[0].recipient(), Some("a@example.com"));
        assert_eq!(d.recipients[0].action.as_deref(), Some("failed"));
        assert_eq!(d.recipients[0].remote_mta.as_deref(), Some("yahoo.com"));
        // Nobody named: the fields still make one entry.
        let d = parse("Reporting-MTA: dns; x.example\n\nAction: failed\nStatus: 5.0.0\n");
        assert_eq!(d.recipients.len(), 1);
        assert_eq!(d.recipients[0].status.as_deref(), Some("5.0.0"));
    }

    #[test]
    fn standard_two_recipients() {
        let t = "Reporting-MTA: dns; mx.example.net\nX-Postfix-Sender: rfc822; bounces+t1@b.example\nArrival-Date: Mon, 1 Jan 2024 10:00:00 +0000\n\nFinal-Recipient: rfc822; a@example.com\nOriginal-Recipient: rfc822;a@example.com\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.example.com\nDiagnostic-Code: smtp; 550 5.1.1 <a@example.com>: Recipient\n    address rejected: User unknown\n\nFinal-Recipient: rfc822; b@example.com\nAction: delayed\nStatus: 4.4.1\n";
        let d = parse(t);
        assert_eq!(d.reporting_mta.as_deref(), Some("mx.example.net"));
        assert_eq!(d.envelope_sender.as_deref(), Some("bounces+t1@b.example"));
        assert_eq!(d.recipients.len(), 2);
        let a = &d.recipients[0];
        assert_eq!(a.recipient(), Some("a@example.com"));
        assert_eq!(a.action.as_deref(), Some("failed"));
        assert_eq!(a.status.as_deref(), Some("5.1.1"));
        assert_eq!(
            a.diagnostic.as_deref(),
            Some("550 5.1.1 <a@example.com>: Recipient\naddress rejected: User unknown")
        );
        assert_eq!(d.recipients[1].action.as_deref(), Some("delayed"));
    }

    #[test]
    fn no_blank_lines_and_orphans() {
        let t = "Reporting-MTA: dns; x\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.0.0\nFinal-Recipient: rfc822; b@example.com\nAction: failed\n\nStatus: 5.2.2\n\nDiagnostic-Code: smtp; 552 full\n";
        let d = parse(t);
        assert_eq!(d.recipients.len(), 2);
        assert_eq!(d.recipients[1].status.as_deref(), Some("5.2.2"));
        assert_eq!(d.recipients[1].diagnostic.as_deref(), Some("552 full"));
    }

    #[test]
    fn original_recipient_and_status_comment() {
        let t = "Reporting-MTA: dns;x\n\nAction: failed\nStatus: 5.0.0 (recipient reached disk quota)\nOriginal-recipient: rfc822;a@example.com\nFinal-recipient: rfc822;a@sims-ms-daemon\n";
        let d = parse(t);
        assert_eq!(d.recipients[0].recipient(), Some("a@example.com"));
        assert_eq!(d.recipients[0].diagnostic.as_deref(), Some("recipient reached disk quota"));
        let t = "Final-Recipient: rfc822; b@example.com\nOriginal-Recipient: rfc822; b\nAction: failed\n";
        assert_eq!(parse(t).recipients[0].recipient(), Some("b@example.com"));
    }
}
