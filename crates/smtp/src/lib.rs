//! Outbound SMTP for Assent: hands messages to relays and says, for every
//! recipient, what the relay did with them.
//!
//! This crate owns the relay configuration ([`Relay`], parsed from
//! `smtp://` / `smtps://` URLs), the client side of the SMTP dialogue
//! ([`SmtpConnection`]: RFC 5321 SMTP, RFC 3207 STARTTLS, RFC 4954 AUTH
//! PLAIN/LOGIN, RFC 2920 PIPELINING, RFC 1870 SIZE, RFC 6152 8BITMIME,
//! RFC 6531 SMTPUTF8), reply parsing with RFC 3463 enhanced status codes
//! ([`Reply`], [`EnhancedCode`]), the mapping from replies to outcomes
//! ([`RecipientOutcome`]), and connection pools over one or several relays
//! ([`Pool`], [`RelaySet`]).
//!
//! The invariant it keeps for the engine: a recipient is
//! [`RecipientOutcome::Accepted`] only after a 2xx to its RCPT and a 2xx to
//! the final `.` of DATA. Lost connections and timeouts are
//! [`RecipientOutcome::ConnectionLost`], never accepted. Classifying
//! rejections into hard/soft/policy bounces is the domain layer's job; this
//! crate hands over the code, the enhanced code, the text and the stage.
//!
//! Besides SMTP it holds the other mail protocol Assent speaks: [`imap`], a
//! small IMAP4rev1 client (RFC 3501) for reading bounces and complaints out
//! of an existing mailbox.

mod client;
pub mod data;
mod error;
pub mod imap;
pub mod inbound;
mod outcome;
mod pool;
mod relay;
pub mod reply;
mod tls;

pub use client::{Capabilities, SmtpConnection};
pub use error::SmtpError;
pub use outcome::{RecipientOutcome, RecipientResult, SendOutcome, Stage};
pub use pool::{Backoff, Pool, PoolStats, RelaySet, RelayStatus, Routed};
pub use relay::{DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_MESSAGES, Relay, RelayError, Secret, Timeouts, TlsMode};
pub use reply::{EnhancedCode, Reply, ReplyError, parse_reply};
