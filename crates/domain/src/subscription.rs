//! The life cycle of one subscription (one address on one list). The rules
//! that matter: only a confirmed subscription is mailed, a re-submitted form
//! never downgrades a confirmed subscriber (PRODUCT.md rule 2), and bounced,
//! complained and erased subscriptions never come back to life — a new
//! double opt-in after them creates a new subscription.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Signed up, confirmation link not clicked yet.
    Pending,
    Confirmed,
    Unsubscribed,
    Bounced,
    Complained,
    Erased,
}

/// Something that happened to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionEvent {
    /// A sign-up form was submitted (or the API did it for a form).
    Requested,
    /// The confirmation link was clicked.
    Confirmed,
    Unsubscribed,
    HardBounced,
    Complained,
    Erased,
}

/// The result of applying an event that is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    To(SubscriptionStatus),
    /// The event is allowed but changes nothing (e.g. a repeated click).
    Unchanged,
}

#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionError {
    #[error("{}", illegal_message(*.from, *.event))]
    Illegal { from: SubscriptionStatus, event: SubscriptionEvent },
}

impl TransitionError {
    /// Stable snake_case code, used as the API error code.
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::Illegal { .. } => "illegal_transition",
        }
    }
}

fn illegal_message(from: SubscriptionStatus, event: SubscriptionEvent) -> String {
    let why = match from {
        SubscriptionStatus::Unsubscribed => {
            "an unsubscribed address must sign up again and confirm a new double opt-in"
        }
        SubscriptionStatus::Bounced => {
            "the address bounced permanently; this subscription is closed and can only be erased"
        }
        SubscriptionStatus::Complained => {
            "the recipient reported the mail as spam; this subscription is closed and can only be erased"
        }
        SubscriptionStatus::Erased => "the data was erased; a new sign-up creates a new subscription",
        // Every event is legal from these states.
        SubscriptionStatus::Pending | SubscriptionStatus::Confirmed => "this is not allowed",
    };
    format!("a subscription that is {} cannot be {}: {why}", from.as_str(), event.past_tense())
}

impl SubscriptionStatus {
    pub const ALL: &'static [SubscriptionStatus] = &[
        SubscriptionStatus::Pending,
        SubscriptionStatus::Confirmed,
        SubscriptionStatus::Unsubscribed,
        SubscriptionStatus::Bounced,
        SubscriptionStatus::Complained,
        SubscriptionStatus::Erased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Confirmed => "confirmed",
            SubscriptionStatus::Unsubscribed => "unsubscribed",
            SubscriptionStatus::Bounced => "bounced",
            SubscriptionStatus::Complained => "complained",
            SubscriptionStatus::Erased => "erased",
        }
    }

    pub fn parse(s: &str) -> Option<SubscriptionStatus> {
        Self::ALL.iter().copied().find(|st| st.as_str() == s)
    }

    /// Only a confirmed subscription may receive campaigns.
    pub fn is_mailable(self) -> bool {
        self == SubscriptionStatus::Confirmed
    }

    /// States nothing but erasure can leave.
    pub fn is_terminal(self) -> bool {
        matches!(self, SubscriptionStatus::Bounced | SubscriptionStatus::Complained | SubscriptionStatus::Erased)
    }

    pub fn apply(self, event: SubscriptionEvent) -> Result<Transition, TransitionError> {
        use SubscriptionEvent as E;
        use SubscriptionStatus as S;
        use Transition::{To, Unchanged};

        let illegal = Err(TransitionError::Illegal { from: self, event });
        match (self, event) {
            // Erasure is always possible (GDPR Art. 17).
            (S::Erased, E::Erased) => Ok(Unchanged),
            (_, E::Erased) => Ok(To(S::Erased)),

            (S::Bounced, E::HardBounced) | (S::Complained, E::Complained) => Ok(Unchanged),
            (S::Bounced | S::Complained | S::Erased, _) => illegal,

            // Resending the confirmation mail is the caller's business.
            (S::Pending, E::Requested) => Ok(Unchanged),
            (S::Pending, E::Confirmed) => Ok(To(S::Confirmed)),
            // A re-submitted form never downgrades a confirmed subscriber.
            (S::Confirmed, E::Requested | E::Confirmed) => Ok(Unchanged),
            (S::Pending | S::Confirmed, E::Unsubscribed) => Ok(To(S::Unsubscribed)),

            (S::Unsubscribed, E::Unsubscribed) => Ok(Unchanged),
            // Coming back needs a fresh double opt-in.
            (S::Unsubscribed, E::Requested) => Ok(To(S::Pending)),
            (S::Unsubscribed, E::Confirmed) => illegal,

            (S::Pending | S::Confirmed | S::Unsubscribed, E::HardBounced) => Ok(To(S::Bounced)),
            (S::Pending | S::Confirmed | S::Unsubscribed, E::Complained) => Ok(To(S::Complained)),
        }
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SubscriptionEvent {
    pub const ALL: &'static [SubscriptionEvent] = &[
        SubscriptionEvent::Requested,
        SubscriptionEvent::Confirmed,
        SubscriptionEvent::Unsubscribed,
        SubscriptionEvent::HardBounced,
        SubscriptionEvent::Complained,
        SubscriptionEvent::Erased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionEvent::Requested => "requested",
            SubscriptionEvent::Confirmed => "confirmed",
            SubscriptionEvent::Unsubscribed => "unsubscribed",
            SubscriptionEvent::HardBounced => "hard_bounced",
            SubscriptionEvent::Complained => "complained",
            SubscriptionEvent::Erased => "erased",
        }
    }

    fn past_tense(self) -> &'static str {
        match self {
            SubscriptionEvent::Requested => "requested again",
            SubscriptionEvent::Confirmed => "confirmed",
            SubscriptionEvent::Unsubscribed => "unsubscribed",
            SubscriptionEvent::HardBounced => "marked as hard-bounced",
            SubscriptionEvent::Complained => "marked as complained",
            SubscriptionEvent::Erased => "erased",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use SubscriptionEvent as E;
    use SubscriptionStatus as S;
    use Transition::{To, Unchanged};

    fn illegal(from: S, event: E) -> Result<Transition, TransitionError> {
        Err(TransitionError::Illegal { from, event })
    }

    /// The whole table, written out so a change to it is a visible diff.
    #[test]
    #[rustfmt::skip]
    fn transition_table() {
        let table: &[(S, [Result<Transition, TransitionError>; 6])] = &[
            (S::Pending, [
                Ok(Unchanged), Ok(To(S::Confirmed)), Ok(To(S::Unsubscribed)),
                Ok(To(S::Bounced)), Ok(To(S::Complained)), Ok(To(S::Erased)),
            ]),
            (S::Confirmed, [
                Ok(Unchanged), Ok(Unchanged), Ok(To(S::Unsubscribed)),
                Ok(To(S::Bounced)), Ok(To(S::Complained)), Ok(To(S::Erased)),
            ]),
            (S::Unsubscribed, [
                Ok(To(S::Pending)), illegal(S::Unsubscribed, E::Confirmed), Ok(Unchanged),
                Ok(To(S::Bounced)), Ok(To(S::Complained)), Ok(To(S::Erased)),
            ]),
            (S::Bounced, [
                illegal(S::Bounced, E::Requested), illegal(S::Bounced, E::Confirmed),
                illegal(S::Bounced, E::Unsubscribed), Ok(Unchanged),
                illegal(S::Bounced, E::Complained), Ok(To(S::Erased)),
            ]),
            (S::Complained, [
                illegal(S::Complained, E::Requested), illegal(S::Complained, E::Confirmed),
                illegal(S::Complained, E::Unsubscribed), illegal(S::Complained, E::HardBounced),
                Ok(Unchanged), Ok(To(S::Erased)),
            ]),
            (S::Erased, [
                illegal(S::Erased, E::Requested), illegal(S::Erased, E::Confirmed),
                illegal(S::Erased, E::Unsubscribed), illegal(S::Erased, E::HardBounced),
                illegal(S::Erased, E::Complained), Ok(Unchanged),
            ]),
        ];
        assert_eq!(table.len(), S::ALL.len());
        for (from, row) in table {
            for (event, expected) in E::ALL.iter().zip(row) {
                assert_eq!(from.apply(*event), *expected, "{from:?} + {event:?}");
            }
        }
    }

    #[test]
    fn only_confirmed_is_mailable_and_terminal_states() {
        for s in S::ALL {
            assert_eq!(s.is_mailable(), *s == S::Confirmed);
            assert_eq!(s.is_terminal(), matches!(s, S::Bounced | S::Complained | S::Erased));
            assert_eq!(S::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert_eq!(S::parse("active"), None);
    }

    #[test]
    fn errors_explain_why() {
        let e = S::Unsubscribed.apply(E::Confirmed).unwrap_err();
        assert_eq!(e.code(), "illegal_transition");
        let msg = e.to_string();
        assert!(msg.contains("unsubscribed") && msg.contains("double opt-in"), "{msg}");
        let msg = S::Erased.apply(E::Requested).unwrap_err().to_string();
        assert!(msg.contains("new subscription"), "{msg}");
        let msg = S::Bounced.apply(E::Confirmed).unwrap_err().to_string();
        assert!(msg.contains("bounced"), "{msg}");
    }
}
