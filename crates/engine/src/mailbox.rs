//! Bounces and complaints read from an existing mailbox over IMAP, for
//! installations whose bounces land there instead of at the inbound SMTP
//! listener.
//!
//! Every `interval` the [`MailboxPoller`] logs in, selects the folder and
//! searches for messages not yet processed (`UNDELETED UNKEYWORD
//! $AssentProcessed`; `UNDELETED UNSEEN` on servers that keep no
//! keywords). It reads them one at a time (`BODY.PEEK[]`, so reading marks
//! nothing), in batches of at most `batch`, hands each to the
//! [`MailboxHandler`] (the [`InboundProcessor`]) and then marks the batch:
//! * recognised messages (ours, whatever they said) and messages too big
//!   to read are moved to the processed folder (created when missing) or,
//!   in flag mode, get `\Seen` and `$AssentProcessed`;
//! * messages about nothing of ours get only `$AssentProcessed`: they stay
//!   where they are, unread, for whoever else reads the mailbox.
//!
//! A message whose report could not be stored (database down) is left
//! unmarked, and the poll stops there: the next poll reads it again, so
//! nothing is lost. A message processed but not marked (connection lost
//! in between) is read again too; reports are recorded once per campaign,
//! contact and kind, so reading one twice changes nothing.
//!
//! On shutdown a poll stops after the message at hand, marks what it has
//! done and logs out; a server too slow for that is abandoned after a
//! grace period, which the rule above makes harmless.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use assent_smtp::imap::{Body, ImapClient, ImapConfig, ImapError, KEYWORD_PROCESSED};
use tokio::sync::watch;

use crate::inbound::{InboundError, InboundProcessor, Recognition};

/// What happens to a processed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Processed {
    /// Moved to this folder.
    Move(String),
    /// Left in place with `\Seen` and `$AssentProcessed`.
    Flag,
}

impl Processed {
    /// `flag`, `move` (to `Processed`) or `move:FOLDER`.
    pub fn parse(s: &str) -> Option<Processed> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("flag") {
            return Some(Processed::Flag);
        }
        if s.eq_ignore_ascii_case("move") {
            return Some(Processed::Move("Processed".into()));
        }
        let (verb, folder) = s.split_once(':')?;
        let folder = folder.trim();
        (verb.trim().eq_ignore_ascii_case("move") && !folder.is_empty()).then(|| Processed::Move(folder.to_string()))
    }
}

/// What reads a message taken from the mailbox.
#[async_trait::async_trait]
pub trait MailboxHandler: Send + Sync {
    /// An error leaves the message in the mailbox for the next poll.
    async fn handle(&self, message: &[u8]) -> Result<Recognition, InboundError>;
}

#[async_trait::async_trait]
impl MailboxHandler for InboundProcessor {
    async fn handle(&self, message: &[u8]) -> Result<Recognition, InboundError> {
        self.process_mailbox_message(message).await
    }
}

/// Settings of the [`MailboxPoller`].
#[derive(Clone, Debug)]
pub struct MailboxConfig {
    pub imap: ImapConfig,
    /// The folder the bounces land in.
    pub folder: String,
    pub processed: Processed,
    pub interval: Duration,
    /// Messages read before they are marked (bounds what one lost
    /// connection makes the next poll read again).
    pub batch: usize,
}

/// What one poll did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Unprocessed messages found.
    pub found: usize,
    pub recognised: usize,
    pub unrecognised: usize,
    /// Larger than `max_message_bytes`: marked without reading.
    pub too_big: usize,
    /// Left for the next poll (a store error, or shutdown).
    pub left: usize,
}

/// How long a poll may go on after shutdown was asked for: it stops after
/// the message at hand anyway, this only bounds a slow server.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Returns `grace` after `stop` turned true (or its sender was dropped).
async fn stopped_then(mut stop: watch::Receiver<bool>, grace: Duration) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            break;
        }
    }
    tokio::time::sleep(grace).await;
}

/// Polls one IMAP folder.
pub struct MailboxPoller {
    pub config: MailboxConfig,
    pub handler: Arc<dyn MailboxHandler>,
}

impl MailboxPoller {
    /// Polls every `interval` until `stop` turns true; a failed poll is
    /// logged (the error says what to do) and tried again next time.
    pub async fn work(self, mut stop: watch::Receiver<bool>) {
        let server = self.config.imap.server();
        tracing::info!(server = %server, folder = %self.config.folder, "polling the bounce mailbox");
        loop {
            let result = tokio::select! {
                r = self.poll(&stop) => r,
                () = stopped_then(stop.clone(), STOP_GRACE) => {
                    tracing::warn!("stopped in the middle of a mailbox poll; what was not marked is read again next time");
                    return;
                }
            };
            match result {
                Ok(r) if r.found > 0 => tracing::info!(
                    found = r.found,
                    recognised = r.recognised,
                    unrecognised = r.unrecognised,
                    too_big = r.too_big,
                    left = r.left,
                    "bounce mailbox polled"
                ),
                Ok(_) => tracing::debug!(server = %server, "bounce mailbox empty"),
                Err(e) => tracing::warn!(error = %e, retry_in = ?self.config.interval, "bounce mailbox poll failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.interval) => {}
                _ = stop.changed() => {}
            }
            // A dropped sender is a stop too.
            if *stop.borrow() || stop.has_changed().is_err() {
                return;
            }
        }
    }

    /// One poll: connect, process what is new, mark it, log out.
    pub async fn poll(&self, stop: &watch::Receiver<bool>) -> Result<PollReport, ImapError> {
        let mut client = ImapClient::connect(&self.config.imap).await?;
        let result = self.poll_on(&mut client, stop).await;
        client.logout().await;
        result
    }

    async fn poll_on(&self, client: &mut ImapClient, stop: &watch::Receiver<bool>) -> Result<PollReport, ImapError> {
        let folder = &self.config.folder;
        let selected = client.select(folder).await?;
        if selected.read_only {
            return Err(ImapError::ReadOnly { server: self.config.imap.server(), folder: folder.clone() });
        }
        let keywords = selected.keywords;
        let criteria =
            if keywords { format!("UNDELETED UNKEYWORD {KEYWORD_PROCESSED}") } else { "UNDELETED UNSEEN".to_string() };
        let uids = client.uid_search(&criteria).await?;
        let mut report = PollReport { found: uids.len(), ..PollReport::default() };
        let max = self.config.imap.max_message_bytes;
        let mut vanished = 0;
        'batches: for batch in uids.chunks(self.config.batch.max(1)) {
            let sizes: HashMap<u32, u64> = client.uid_sizes(batch).await?.into_iter().collect();
            let mut done = Vec::new();
            let mut foreign = Vec::new();
            let mut halt = false;
            for &uid in batch {
                if *stop.borrow() {
                    halt = true;
                    break;
                }
                let Some(&size) = sizes.get(&uid) else {
                    vanished += 1;
                    continue;
                };
                let body = if size > max { Some(Body::TooBig(size)) } else { client.uid_fetch(uid).await? };
                match body {
                    None => vanished += 1,
                    Some(Body::TooBig(size)) => {
                        tracing::warn!(
                            uid,
                            size,
                            max,
                            "message in the bounce mailbox is larger than imap_max_message_bytes; marked processed unread"
                        );
                        report.too_big += 1;
                        done.push(uid);
                    }
                    Some(Body::Data(raw)) => match self.handler.handle(&raw).await {
                        Ok(Recognition::Recognised) => {
                            report.recognised += 1;
                            done.push(uid);
                        }
                        Ok(Recognition::Unrecognised) => {
                            tracing::info!(uid, "message in the bounce mailbox concerns nothing of ours; left there");
                            report.unrecognised += 1;
                            foreign.push(uid);
                        }
                        Err(e) => {
                            tracing::warn!(uid, error = %e, "report not applied; the message stays for the next poll");
                            halt = true;
                            break;
                        }
                    },
                }
            }
            self.mark(client, &done, &foreign, keywords).await?;
            if halt {
                break 'batches;
            }
        }
        let handled = report.recognised + report.unrecognised + report.too_big + vanished;
        report.left = report.found.saturating_sub(handled);
        Ok(report)
    }

    async fn mark(
        &self,
        client: &mut ImapClient,
        done: &[u32],
        foreign: &[u32],
        keywords: bool,
    ) -> Result<(), ImapError> {
        match &self.config.processed {
            Processed::Move(target) => client.uid_move(done, target).await?,
            Processed::Flag if keywords => client.uid_add_flags(done, &["\\Seen", KEYWORD_PROCESSED]).await?,
            Processed::Flag => client.uid_add_flags(done, &["\\Seen"]).await?,
        }
        let flags: &[&str] = if keywords { &[KEYWORD_PROCESSED] } else { &["\\Seen"] };
        client.uid_add_flags(foreign, flags).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processed_modes() {
        assert_eq!(Processed::parse("flag"), Some(Processed::Flag));
        assert_eq!(Processed::parse(" FLAG "), Some(Processed::Flag));
        assert_eq!(Processed::parse("move"), Some(Processed::Move("Processed".into())));
        assert_eq!(Processed::parse("move:Bounces/Done"), Some(Processed::Move("Bounces/Done".into())));
        assert_eq!(Processed::parse("move:"), None);
        assert_eq!(Processed::parse("delete"), None);
        assert_eq!(Processed::parse("copy:X"), None);
    }
}
