//! Errors that stop a message before any recipient got an outcome: the
//! session could not be set up (connect, greeting, EHLO, STARTTLS, AUTH) or
//! the envelope cannot be sent as given. Nothing was handed over when one of
//! these is returned; what happened to recipients of an attempted
//! transaction is a [`crate::SendOutcome`] instead.

use std::time::Duration;

use crate::outcome::Stage;
use crate::reply::{Reply, ReplyError};

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("cannot connect to relay {relay}: {source}; check the host and port and that the relay is running")]
    Connect { relay: String, source: std::io::Error },
    #[error("relay {relay} did not answer within {after:?} at {stage}; the relay is down or overloaded, try later")]
    Timeout { relay: String, stage: Stage, after: Duration },
    #[error("connection to relay {relay} lost at {stage}: {source}; try later")]
    Io { relay: String, stage: Stage, source: std::io::Error },
    #[error("relay {relay} closed the connection at {stage}; try later")]
    Closed { relay: String, stage: Stage },
    #[error("relay {relay} sent a malformed reply at {stage}: {source}")]
    Protocol { relay: String, stage: Stage, source: ReplyError },
    #[error("relay {relay} refused the session at {stage}: {reply}")]
    Rejected { relay: String, stage: Stage, reply: Reply },
    #[error(
        "relay {relay} does not offer STARTTLS but the relay URL says tls=required; fix the relay or set tls=starttls"
    )]
    StartTlsUnavailable { relay: String },
    #[error(
        "relay {relay} sent data right after accepting STARTTLS (a command injection attempt); the connection was dropped"
    )]
    StartTlsInjection { relay: String },
    #[error(
        "TLS handshake with {host} failed: {source}; check the relay's certificate (for a test relay with a self-signed certificate set tls_insecure=true)"
    )]
    Tls { host: String, source: std::io::Error },
    #[error("TLS is not available: {reason}")]
    TlsConfig { reason: String },
    #[error("{host:?} is not a valid host name for TLS; use the name on the relay's certificate")]
    InvalidServerName { host: String },
    #[error(
        "refusing to send the password for {user} to relay {relay} without TLS: the relay offers no STARTTLS; enable TLS on the relay or set tls=none to allow it"
    )]
    CleartextAuth { relay: String, user: String },
    #[error(
        "relay {relay} offers no AUTH PLAIN or LOGIN but credentials are configured; remove user/password or check the relay (many offer AUTH only after STARTTLS)"
    )]
    AuthUnavailable { relay: String },
    #[error("relay {relay} rejected the credentials of user {user}: {reply}; check user and password in the relay URL")]
    AuthFailed { relay: String, user: String, reply: Reply },
    #[error("no recipients given; a message needs at least one")]
    NoRecipients,
    #[error("address {address:?} contains characters not allowed in an SMTP envelope (control characters, < or >)")]
    BadAddress { address: String },
    #[error(
        "address {address:?} is not ASCII and relay {relay} does not offer SMTPUTF8 (RFC 6531); use a relay that does"
    )]
    Utf8NotSupported { relay: String, address: String },
    #[error("this connection failed earlier and can no longer be used; open a new one")]
    Broken,
    #[error("the pool for relay {relay} was closed")]
    PoolClosed { relay: String },
    #[error("every relay is backing off after connection failures; retry in {retry_in:?}")]
    NoRelayAvailable { retry_in: Duration },
}

impl SmtpError {
    /// True when the error says the relay could not be reached or could not
    /// be used (as opposed to a problem with the message itself): a
    /// [`crate::RelaySet`] backs the relay off and tries another one.
    pub fn is_relay_failure(&self) -> bool {
        !matches!(
            self,
            SmtpError::NoRecipients
                | SmtpError::BadAddress { .. }
                | SmtpError::Utf8NotSupported { .. }
                | SmtpError::Broken
                | SmtpError::PoolClosed { .. }
                | SmtpError::NoRelayAvailable { .. }
        )
    }
}
