//! Delivers the transactional mail queue: claims due rows with a lease,
//! renders each mail, hands it to the transport, and records the outcome.
//! A crash between hand-over and record means the mail goes out once more
//! after the lease ends — never that it is lost.

use std::sync::Arc;
use std::time::Duration;

use assent_store::{QueuedMail, Store};
use tokio::sync::{Notify, watch};

use crate::confirmation::ConfirmationMailer;
use crate::transport::{Transport, TransportError};

const BATCH: i64 = 100;
const LEASE_MS: i64 = 5 * 60 * 1000;
/// After this many attempts a mail is given up (with its error kept).
const MAX_ATTEMPTS: i64 = 12;

pub struct Outbox {
    pub store: Arc<dyn Store>,
    pub transport: Arc<dyn Transport>,
    pub mailer: ConfirmationMailer,
    /// Envelope sender and `From` of transactional mail.
    pub from: String,
    /// Wakes the worker when new mail is queued.
    pub wake: Arc<Notify>,
}

impl Outbox {
    /// Delivers everything due now; returns how many mails went out.
    pub async fn deliver_due(&self) -> usize {
        let mut delivered = 0;
        loop {
            let batch = match self.store.claim_mail(crate::now_ms(), BATCH, LEASE_MS).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the mail queue");
                    return delivered;
                }
            };
            if batch.is_empty() {
                return delivered;
            }
            for mail in &batch {
                if self.deliver(mail).await {
                    delivered += 1;
                }
            }
        }
    }

    async fn deliver(&self, mail: &QueuedMail) -> bool {
        let outcome = match self.build(mail).await {
            Ok(Some(message)) => self.transport.send(&self.from, &mail.recipient, &message).await,
            Ok(None) => Err(TransportError::Permanent("the request no longer exists".into())),
            Err(e) => Err(TransportError::Temporary(e.to_string())),
        };
        let recorded = match &outcome {
            Ok(()) => self.store.mark_mail_sent(mail).await,
            Err(TransportError::Temporary(reason)) if mail.attempts < MAX_ATTEMPTS => {
                // 1, 2, 4 … minutes, at most an hour apart.
                let backoff = 60_000i64 << (mail.attempts.clamp(1, 7) - 1);
                tracing::warn!(mail = mail.id, %reason, "delivery deferred");
                self.store.mark_mail_failed(mail, reason, Some(crate::now_ms() + backoff.min(3_600_000))).await
            }
            Err(e) => {
                tracing::warn!(mail = mail.id, error = %e, "delivery given up");
                self.store.mark_mail_failed(mail, &e.to_string(), None).await
            }
        };
        if let Err(e) = recorded {
            tracing::error!(mail = mail.id, error = %e, "cannot record the delivery outcome");
        }
        outcome.is_ok()
    }

    async fn build(&self, mail: &QueuedMail) -> assent_store::Result<Option<Vec<u8>>> {
        match mail.kind.as_str() {
            "confirmation" => {
                let Some(content) = self.mailer.content(mail.account_id, mail.ref_id).await? else { return Ok(None) };
                match crate::message::transactional(
                    &self.from,
                    &mail.recipient,
                    &content.subject,
                    &content.text,
                    &content.html,
                ) {
                    Ok(m) => Ok(Some(m)),
                    Err(e) => {
                        tracing::warn!(mail = mail.id, error = %e, "cannot build the confirmation mail");
                        Ok(None)
                    }
                }
            }
            _ => Ok(None),
        }
    }

    /// Runs until `shutdown` turns true, delivering as mail arrives.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            self.deliver_due().await;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}
