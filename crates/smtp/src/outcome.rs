//! What happened to each recipient of a message: the pure mapping from SMTP
//! replies to outcomes the delivery engine acts on.
//!
//! The rule this module exists for (DESIGN.md invariant): a recipient is
//! [`RecipientOutcome::Accepted`] only when the server answered 2xx to its
//! `RCPT TO` *and* 2xx to the final `.` of `DATA`. A 4xx is a
//! [`RecipientOutcome::TempFail`] (retry later), a 5xx a
//! [`RecipientOutcome::PermFail`] (a bounce, classified by the domain layer
//! from the code, the RFC 3463 enhanced code and the text), and a connection
//! that broke or timed out before the final reply is
//! [`RecipientOutcome::ConnectionLost`]: not accepted, to be retried.

use std::fmt;

use crate::reply::{EnhancedCode, Reply};

/// The step of the SMTP dialogue (RFC 5321 §3) something happened at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Opening the TCP connection (and the TLS handshake for `smtps`).
    Connect,
    /// Waiting for the server's 220 greeting.
    Greeting,
    /// EHLO or HELO.
    Ehlo,
    /// STARTTLS and the TLS handshake after it (RFC 3207).
    StartTls,
    /// AUTH (RFC 4954).
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA, the message content and the reply to the final `.`.
    Data,
    /// RSET between transactions.
    Reset,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "EHLO",
            Stage::StartTls => "STARTTLS",
            Stage::Auth => "AUTH",
            Stage::Mail => "MAIL FROM",
            Stage::Rcpt => "RCPT TO",
            Stage::Data => "DATA",
            Stage::Reset => "RSET",
        })
    }
}

/// What happened to one recipient of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientOutcome {
    /// The server took responsibility for the message (2xx to RCPT and to
    /// the final `.`). The reply is the one to the final `.`; it usually
    /// carries the server's queue id.
    Accepted { reply: Reply },
    /// A 4xx reply: try again later.
    TempFail { code: u16, enhanced: Option<EnhancedCode>, text: String },
    /// A 5xx reply: the server refused the message for this recipient at
    /// `stage` (MAIL FROM, RCPT TO or DATA).
    PermFail { code: u16, enhanced: Option<EnhancedCode>, text: String, stage: Stage },
    /// The connection broke, timed out or the server stopped speaking SMTP
    /// before it answered the final `.`: nothing was accepted; retry.
    ConnectionLost { stage: Stage, error: String },
}

impl RecipientOutcome {
    /// Maps a server reply at `stage` to an outcome: 2xx accepted, 4xx
    /// temporary, 5xx permanent. Replies that make no sense at a final
    /// step (1xx, 3xx) are treated as temporary failures: the message was
    /// not accepted, and trying again is the safe course.
    pub fn from_reply(reply: &Reply, stage: Stage) -> RecipientOutcome {
        match reply.code / 100 {
            2 => RecipientOutcome::Accepted { reply: reply.clone() },
            5 => RecipientOutcome::PermFail {
                code: reply.code,
                enhanced: reply.enhanced,
                text: reply.text.clone(),
                stage,
            },
            _ => RecipientOutcome::TempFail { code: reply.code, enhanced: reply.enhanced, text: reply.text.clone() },
        }
    }

    /// Maps a reply that rejects at `stage` (it is known not to be an
    /// acceptance, e.g. a 2xx where 354 was due): like [`Self::from_reply`]
    /// but never `Accepted`.
    pub(crate) fn rejection(reply: &Reply, stage: Stage) -> RecipientOutcome {
        match RecipientOutcome::from_reply(reply, stage) {
            RecipientOutcome::Accepted { .. } => RecipientOutcome::ConnectionLost {
                stage,
                error: format!("the server answered {reply} where it should not have; the connection was dropped"),
            },
            other => other,
        }
    }

    /// True only for [`RecipientOutcome::Accepted`].
    pub fn is_accepted(&self) -> bool {
        matches!(self, RecipientOutcome::Accepted { .. })
    }

    /// True when trying the same recipient again later may succeed
    /// (temporary failure or lost connection).
    pub fn is_retryable(&self) -> bool {
        matches!(self, RecipientOutcome::TempFail { .. } | RecipientOutcome::ConnectionLost { .. })
    }

    /// The reply code, when the server gave one.
    pub fn code(&self) -> Option<u16> {
        match self {
            RecipientOutcome::Accepted { reply } => Some(reply.code),
            RecipientOutcome::TempFail { code, .. } | RecipientOutcome::PermFail { code, .. } => Some(*code),
            RecipientOutcome::ConnectionLost { .. } => None,
        }
    }

    /// The enhanced status code, when the server gave one.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        match self {
            RecipientOutcome::Accepted { reply } => reply.enhanced,
            RecipientOutcome::TempFail { enhanced, .. } | RecipientOutcome::PermFail { enhanced, .. } => *enhanced,
            RecipientOutcome::ConnectionLost { .. } => None,
        }
    }
}

impl fmt::Display for RecipientOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = |f: &mut fmt::Formatter<'_>, code: u16, enhanced: &Option<EnhancedCode>, text: &str| {
            write!(f, "{code}")?;
            if let Some(e) = enhanced {
                write!(f, " {e}")?;
            }
            write!(f, " {}", text.replace('\n', " / "))
        };
        match self {
            RecipientOutcome::Accepted { reply } => write!(f, "accepted: {reply}"),
            RecipientOutcome::TempFail { code: c, enhanced, text } => {
                f.write_str("temporary failure: ")?;
                code(f, *c, enhanced, text)
            }
            RecipientOutcome::PermFail { code: c, enhanced, text, stage } => {
                write!(f, "permanent failure at {stage}: ")?;
                code(f, *c, enhanced, text)
            }
            RecipientOutcome::ConnectionLost { stage, error } => write!(f, "connection lost at {stage}: {error}"),
        }
    }
}

/// The outcome for one recipient address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientResult {
    pub address: String,
    pub outcome: RecipientOutcome,
}

/// The outcome of sending one message: one result per recipient, in the
/// order the recipients were given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendOutcome {
    pub recipients: Vec<RecipientResult>,
}

impl SendOutcome {
    /// True when every recipient was accepted.
    pub fn all_accepted(&self) -> bool {
        self.recipients.iter().all(|r| r.outcome.is_accepted())
    }

    /// How many recipients were accepted.
    pub fn accepted_count(&self) -> usize {
        self.recipients.iter().filter(|r| r.outcome.is_accepted()).count()
    }

    /// The outcome for `address` (compared without regard to ASCII case).
    pub fn get(&self, address: &str) -> Option<&RecipientOutcome> {
        self.recipients.iter().find(|r| r.address.eq_ignore_ascii_case(address)).map(|r| &r.outcome)
    }

    /// True when any recipient ended with a lost connection.
    pub fn connection_lost(&self) -> bool {
        self.recipients.iter().any(|r| matches!(r.outcome, RecipientOutcome::ConnectionLost { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::parse_reply;

    fn reply(s: &str) -> Reply {
        parse_reply(s.as_bytes()).expect("valid").expect("complete").0
    }

    #[test]
    fn classes_map_to_outcomes() {
        let ok = RecipientOutcome::from_reply(&reply("250 2.0.0 Ok: queued as ABC\r\n"), Stage::Data);
        assert!(ok.is_accepted());
        assert!(!ok.is_retryable());
        assert_eq!(ok.to_string(), "accepted: 250 2.0.0 Ok: queued as ABC");

        let temp = RecipientOutcome::from_reply(&reply("450 4.2.0 Mailbox busy\r\n"), Stage::Rcpt);
        assert_eq!(
            temp,
            RecipientOutcome::TempFail {
                code: 450,
                enhanced: Some(EnhancedCode { class: 4, subject: 2, detail: 0 }),
                text: "Mailbox busy".into()
            }
        );
        assert!(temp.is_retryable());

        let unknown = RecipientOutcome::from_reply(&reply("550 5.1.1 User unknown\r\n"), Stage::Rcpt);
        assert_eq!(
            unknown,
            RecipientOutcome::PermFail {
                code: 550,
                enhanced: Some(EnhancedCode { class: 5, subject: 1, detail: 1 }),
                text: "User unknown".into(),
                stage: Stage::Rcpt
            }
        );
        assert!(!unknown.is_accepted() && !unknown.is_retryable());
        assert_eq!(unknown.to_string(), "permanent failure at RCPT TO: 550 5.1.1 User unknown");

        let policy = RecipientOutcome::from_reply(&reply("554 5.7.1 Message rejected as spam\r\n"), Stage::Data);
        assert!(matches!(policy, RecipientOutcome::PermFail { code: 554, stage: Stage::Data, .. }));
        assert_eq!(policy.enhanced().map(|e| e.to_string()).as_deref(), Some("5.7.1"));
    }

    #[test]
    fn intermediate_is_never_accepted() {
        let r = RecipientOutcome::from_reply(&reply("354 go on\r\n"), Stage::Data);
        assert!(matches!(r, RecipientOutcome::TempFail { code: 354, .. }));
        let r = RecipientOutcome::rejection(&reply("250 ok\r\n"), Stage::Data);
        assert!(matches!(r, RecipientOutcome::ConnectionLost { stage: Stage::Data, .. }));
        assert!(!r.is_accepted() && r.is_retryable());
    }

    #[test]
    fn send_outcome_helpers() {
        let o = SendOutcome {
            recipients: vec![
                RecipientResult {
                    address: "a@x.test".into(),
                    outcome: RecipientOutcome::from_reply(&reply("250 ok\r\n"), Stage::Data),
                },
                RecipientResult {
                    address: "b@x.test".into(),
                    outcome: RecipientOutcome::ConnectionLost { stage: Stage::Data, error: "reset".into() },
                },
            ],
        };
        assert!(!o.all_accepted());
        assert_eq!(o.accepted_count(), 1);
        assert!(o.connection_lost());
        assert!(o.get("A@X.TEST").is_some_and(RecipientOutcome::is_accepted));
        assert_eq!(o.get("b@x.test").and_then(RecipientOutcome::code), None);
    }
}
