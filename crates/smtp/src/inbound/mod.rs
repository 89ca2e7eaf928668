//! The inbound SMTP listener (RFC 5321 server side): where bounces
//! (RFC 3464 delivery status notifications), complaints (RFC 5965 ARF
//! feedback reports), automatic replies (RFC 3834) and `mailto:`
//! unsubscribes come back to the platform.
//!
//! This module owns the listener and the SMTP dialogue: a connection limit
//! (a semaphore; connections above it get `421` and are closed), per-command
//! and per-read timeouts during `DATA` and an overall session limit, the
//! message size limit (RFC 1870 `SIZE` advertised, enforced while reading,
//! `552` when exceeded), line-length and error limits, and RFC 2920
//! PIPELINING (replies to a batch of commands go out together, once the
//! input is drained). Offered extensions: `PIPELINING`, `SIZE`, `8BITMIME`,
//! `SMTPUTF8`, `ENHANCEDSTATUSCODES`. No `STARTTLS`, no `AUTH`: nothing here
//! ever relays.
//!
//! What mail is wanted is the [`InboundHandler`]'s decision: a recipient is
//! accepted at `RCPT` only when [`InboundHandler::accept_rcpt`] says so
//! (`550 5.1.1` otherwise), so the server is never an open relay; after
//! `DATA` the message goes to [`InboundHandler::deliver`], whose `Ok` is the
//! `250` and whose `Err` a `451` (the sender retries later).

mod command;
mod data;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// What the server accepts and how long it waits.
#[derive(Clone, Debug)]
pub struct InboundConfig {
    /// `host:port` to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// The name in the greeting and the EHLO reply.
    pub hostname: String,
    /// Connections served at once; more get `421 4.7.0` and are closed.
    pub max_connections: usize,
    /// Largest message in octets (advertised with `SIZE`).
    pub max_message_bytes: usize,
    /// Recipients per message; more get `452 4.5.3`.
    pub max_recipients: usize,
    /// Messages per connection before the server says goodbye (`421`).
    pub max_messages_per_connection: u32,
    /// Refused commands and recipients per connection before it is closed.
    pub max_errors: u32,
    /// Wait for the next command (RFC 5321 §4.5.3.2 suggests minutes; bounce
    /// senders are machines that answer at once).
    pub command_timeout: Duration,
    /// Wait for each read of the message content.
    pub data_timeout: Duration,
    /// A whole connection, however busy, ends after this.
    pub session_timeout: Duration,
}

impl Default for InboundConfig {
    fn default() -> Self {
        InboundConfig {
            listen: "127.0.0.1:2525".into(),
            hostname: "localhost".into(),
            max_connections: 100,
            max_message_bytes: 10 * 1024 * 1024,
            max_recipients: 50,
            max_messages_per_connection: 1000,
            max_errors: 10,
            command_timeout: Duration::from_secs(60),
            data_timeout: Duration::from_secs(120),
            session_timeout: Duration::from_secs(600),
        }
    }
}

/// The application's side of the listener: which recipients exist and what
/// happens to a message.
#[async_trait]
pub trait InboundHandler: Send + Sync + 'static {
    /// Whether mail for `rcpt` (the address of `RCPT TO`, without angle
    /// brackets) is wanted. `false` refuses the recipient with `550 5.1.1`.
    async fn accept_rcpt(&self, rcpt: &str) -> bool;

    /// Takes a complete message (CRLF line endings, transparency dots
    /// removed) for the accepted recipients. `mail_from` is empty for the
    /// null reverse path `<>` that bounces carry. `Err` answers `451`: the
    /// sender keeps the message and tries again later, so only return it
    /// for failures that may pass (e.g. the database is unreachable).
    async fn deliver(&self, mail_from: &str, rcpts: &[String], data: &[u8]) -> Result<(), String>;
}

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error(
        "cannot listen for inbound SMTP on {address}: {source}; choose a free host:port (setting inbound_smtp) or stop what uses it"
    )]
    Bind { address: String, source: std::io::Error },
}

/// Counters of a running server.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub connections: AtomicU64,
    pub refused_connections: AtomicU64,
    pub messages: AtomicU64,
    pub messages_failed: AtomicU64,
    pub rejected_recipients: AtomicU64,
}

/// A snapshot of [`InboundServer::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InboundStats {
    /// Connections served.
    pub connections: u64,
    /// Connections closed at once because the limit was reached.
    pub refused_connections: u64,
    /// Messages the handler took.
    pub messages: u64,
    /// Messages the handler could not take (answered `451`).
    pub messages_failed: u64,
    /// Recipients refused at `RCPT`.
    pub rejected_recipients: u64,
}

/// A running listener. Dropping it leaves the listener running until the
/// process ends; call [`InboundServer::shutdown`] to stop it.
pub struct InboundServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    counters: Arc<Counters>,
}

/// Shared by the sessions of one server.
pub(crate) struct Shared {
    pub config: InboundConfig,
    pub handler: Arc<dyn InboundHandler>,
    pub counters: Arc<Counters>,
}

impl InboundServer {
    /// Binds `config.listen` and starts accepting connections.
    pub async fn start(config: InboundConfig, handler: Arc<dyn InboundHandler>) -> Result<InboundServer, InboundError> {
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|source| InboundError::Bind { address: config.listen.clone(), source })?;
        let local_addr =
            listener.local_addr().map_err(|source| InboundError::Bind { address: config.listen.clone(), source })?;
        let (stop, stopped) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared { config, handler, counters: counters.clone() });
        let task = tokio::spawn(accept_loop(listener, shared, stopped));
        tracing::info!(address = %local_addr, "inbound SMTP listening");
        Ok(InboundServer { local_addr, stop, task, counters })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn stats(&self) -> InboundStats {
        let c = &self.counters;
        InboundStats {
            connections: c.connections.load(Ordering::Relaxed),
            refused_connections: c.refused_connections.load(Ordering::Relaxed),
            messages: c.messages.load(Ordering::Relaxed),
            messages_failed: c.messages_failed.load(Ordering::Relaxed),
            rejected_recipients: c.rejected_recipients.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting, tells idle sessions `421` and waits up to `grace`
    /// for sessions in the middle of a message to finish.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let max = shared.config.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max));
    loop {
        let accepted = tokio::select! {
            _ = session::stop_requested(&mut stopped) => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a little
                // instead of spinning.
                tracing::warn!(error = %e, "inbound SMTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            shared.counters.refused_connections.fetch_add(1, Ordering::Relaxed);
            // Best effort and without waiting: a client that does not read
            // must not hold anything here.
            let _ = stream.try_write(b"421 4.7.0 Too many connections, try again later\r\n");
            continue;
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            session::run(stream, peer, &shared, stopped).await;
            drop(permit);
        });
    }
    drop(listener);
    // Wait for the sessions: each holds a permit until it ends.
    let _ = permits.acquire_many(u32::try_from(max).unwrap_or(u32::MAX)).await;
}
