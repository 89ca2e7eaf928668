//! Background work of Assent. This crate owns the delivery of
//! transactional mail (double opt-in confirmations) from the queue the
//! store keeps, the transports mail leaves through (a maildir outbox by
//! default), and housekeeping such as deleting sign-ups never confirmed.
//! Campaign fan-out and delivery workers join it with their issue.

pub mod campaign;
pub mod confirmation;
pub mod delivery;
pub mod dns;
pub mod housekeeping;
pub mod import;
pub mod inbound;
pub mod keys;
pub mod mailbox;
pub mod message;
pub mod outbox;
pub mod reputation;
pub mod throttle;
pub mod transport;

pub use confirmation::ConfirmationMailer;
pub use outbox::Outbox;
pub use transport::{Maildir, Transport, TransportError};

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
