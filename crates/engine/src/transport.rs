//! Where finished messages go: SMTP relays when configured, otherwise the
//! maildir outbox, so a newcomer can follow the whole flow with nothing
//! else installed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TransportError {
    /// Worth retrying later (disk full, relay busy).
    #[error("temporary delivery failure: {0}")]
    Temporary(String),
    /// Retrying will not help.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Hands a finished message over. Returns only once the message is safely
/// stored or accepted; an error means it was not.
#[async_trait]
pub trait Transport: Send + Sync {
    async fn send(&self, envelope_from: &str, recipient: &str, message: &[u8]) -> Result<(), TransportError>;
}

/// A maildir (`tmp/`, `new/`, `cur/`): each message is written to `tmp/`,
/// synced, then renamed into `new/`, so readers never see half a message.
#[derive(Debug)]
pub struct Maildir {
    dir: PathBuf,
    counter: AtomicU64,
}

impl Maildir {
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Maildir> {
        let dir = dir.into();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        Ok(Maildir { dir, counter: AtomicU64::new(0) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The messages delivered so far (`new/` and `cur/`), oldest first.
    pub fn messages(&self) -> std::io::Result<Vec<Vec<u8>>> {
        let mut files = Vec::new();
        for sub in ["cur", "new"] {
            for entry in std::fs::read_dir(self.dir.join(sub))? {
                let entry = entry?;
                files.push((entry.metadata()?.modified()?, entry.path()));
            }
        }
        files.sort();
        files.into_iter().map(|(_, p)| std::fs::read(p)).collect()
    }
}

#[async_trait]
impl Transport for Maildir {
    async fn send(&self, envelope_from: &str, recipient: &str, message: &[u8]) -> Result<(), TransportError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!("{nanos}.{}_{n}.assent", std::process::id());
        let tmp = self.dir.join("tmp").join(&name);
        let new = self.dir.join("new").join(&name);
        // Return-Path and Delivered-To as a local delivery agent would add
        // them, so the envelope is visible in the outbox.
        let mut data = Vec::with_capacity(message.len() + 128);
        data.extend_from_slice(
            format!("Return-Path: <{}>\r\nDelivered-To: {}\r\n", clean(envelope_from), clean(recipient)).as_bytes(),
        );
        data.extend_from_slice(message);
        let result = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &new)
        })
        .await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                Err(TransportError::Temporary(format!("cannot write to the outbox {}: {e}", self.dir.display())))
            }
            Err(e) => Err(TransportError::Temporary(format!("outbox writer failed: {e}"))),
        }
    }
}

/// Envelope values never carry line breaks into the header block.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Outgoing mail through SMTP relays (pooled connections, weighted relays
/// with back-off). The server's reply decides: 2xx after DATA is the only
/// success; 4xx and lost connections are temporary; 5xx permanent, with
/// the reply text kept for bounce classification.
pub struct SmtpTransport {
    relays: assent_smtp::RelaySet,
}

impl SmtpTransport {
    pub fn new(relays: Vec<assent_smtp::Relay>) -> Result<SmtpTransport, assent_smtp::RelayError> {
        Ok(SmtpTransport { relays: assent_smtp::RelaySet::new(relays)? })
    }

    /// Each relay's health (back-off, failures), for monitoring.
    pub fn status(&self) -> Vec<assent_smtp::RelayStatus> {
        self.relays.status()
    }
}

fn reply_text(code: u16, enhanced: Option<assent_smtp::EnhancedCode>, text: &str) -> String {
    match enhanced {
        Some(e) => format!("{code} {e} {text}"),
        None => format!("{code} {text}"),
    }
}

#[async_trait]
impl Transport for SmtpTransport {
    async fn send(&self, envelope_from: &str, recipient: &str, message: &[u8]) -> Result<(), TransportError> {
        use assent_smtp::RecipientOutcome;
        let routed = self
            .relays
            .send(envelope_from, &[recipient], message)
            .await
            .map_err(|e| TransportError::Temporary(format!("no relay took the message: {e}")))?;
        match routed.outcome.recipients.first().map(|r| &r.outcome) {
            Some(RecipientOutcome::Accepted { .. }) => Ok(()),
            Some(RecipientOutcome::TempFail { code, enhanced, text }) => {
                Err(TransportError::Temporary(reply_text(*code, *enhanced, text)))
            }
            Some(RecipientOutcome::PermFail { code, enhanced, text, .. }) => {
                Err(TransportError::Permanent(reply_text(*code, *enhanced, text)))
            }
            Some(RecipientOutcome::ConnectionLost { stage, error }) => {
                Err(TransportError::Temporary(format!("connection lost at {stage:?}: {error}")))
            }
            None => Err(TransportError::Temporary("the relay gave no answer for the recipient".into())),
        }
    }
}
