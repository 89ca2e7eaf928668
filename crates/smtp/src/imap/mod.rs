//! A small IMAP4rev1 client (RFC 3501) for reading bounces and complaints
//! out of an existing mailbox.
//!
//! It does what a mailbox poller needs and no more: implicit TLS (port 993,
//! RFC 8314) or STARTTLS (RFC 3501 §6.2.1; plain only when configured
//! explicitly), LOGIN with quoted strings or literals, CAPABILITY, SELECT,
//! CREATE, UID SEARCH, UID FETCH of sizes and of whole messages
//! (`BODY.PEEK[]`, so reading marks nothing), UID STORE, UID MOVE
//! (RFC 6851) or else UID COPY + `\Deleted` + UID EXPUNGE (RFC 4315
//! UIDPLUS) / EXPUNGE, APPEND and LOGOUT.
//!
//! One command at a time, each with a tag of its own that its completion
//! must carry. Every read has a timeout and every command a deadline;
//! responses are length-limited and message bodies above
//! [`ImapConfig::max_message_bytes`] are read past, never buffered. `NO`
//! and `BAD` become [`ImapError`]s that name the command and quote the
//! server; hostile or broken server output is an error, never a panic.
//! Certificates are checked like the SMTP client's (`crate::tls`).

mod client;
mod command;
mod error;
mod response;
mod wire;

use std::time::Duration;

pub use client::{ImapClient, Selected};
pub use command::KEYWORD_PROCESSED;
pub use error::ImapError;
pub use response::{Body, Fetch, Status, StatusText};

use crate::relay::Secret;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImapTls {
    /// TLS from the first byte (`imaps`, port 993).
    Implicit,
    /// Plain connect, then STARTTLS, required (port 143).
    StartTls,
    /// No TLS: the password crosses the network readable. Only for tests
    /// and servers on the same host, and only when configured explicitly.
    None,
}

impl ImapTls {
    pub fn parse(s: &str) -> Option<ImapTls> {
        match s.trim().to_ascii_lowercase().as_str() {
            "implicit" | "imaps" | "tls" => Some(ImapTls::Implicit),
            "starttls" => Some(ImapTls::StartTls),
            "none" | "off" => Some(ImapTls::None),
            _ => None,
        }
    }

    /// The usual port.
    pub fn default_port(self) -> u16 {
        match self {
            ImapTls::Implicit => 993,
            ImapTls::StartTls | ImapTls::None => 143,
        }
    }
}

/// Time limits of an IMAP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImapTimeouts {
    /// TCP connect and TLS handshake.
    pub connect: Duration,
    /// Silence allowed while waiting for (the rest of) a response.
    pub read: Duration,
    /// The most one command may take in all, a large FETCH included.
    pub command: Duration,
}

impl Default for ImapTimeouts {
    fn default() -> Self {
        ImapTimeouts {
            connect: Duration::from_secs(30),
            read: Duration::from_secs(60),
            command: Duration::from_secs(300),
        }
    }
}

/// Where and how to log in.
#[derive(Clone, Debug)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub tls: ImapTls,
    /// Accept any certificate (test servers with self-signed certificates).
    pub tls_insecure: bool,
    pub user: String,
    pub password: Secret,
    pub timeouts: ImapTimeouts,
    /// Messages larger than this are not downloaded.
    pub max_message_bytes: u64,
}

impl ImapConfig {
    /// Implicit TLS on port 993, default limits.
    pub fn new(host: impl Into<String>, user: impl Into<String>, password: Secret) -> ImapConfig {
        ImapConfig {
            host: host.into(),
            port: 993,
            tls: ImapTls::Implicit,
            tls_insecure: false,
            user: user.into(),
            password,
            timeouts: ImapTimeouts::default(),
            max_message_bytes: 10 * 1024 * 1024,
        }
    }

    /// `host:port` for messages.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}
