//! One inbound connection: the RFC 5321 server dialogue from the `220`
//! greeting to `QUIT`, with the limits of [`super::InboundConfig`].
//!
//! Input is read into one buffer and split into lines here, so pipelined
//! commands (RFC 2920) are handled one after another from the buffer, and
//! the replies collected meanwhile are written in one go just before the
//! session would wait for more input (and before `354`, which the client
//! waits for).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, timeout};

use super::Shared;
use super::command::{self, Command};
use super::data::{DataReader, Fed};

/// The longest command line taken (RFC 5321 §4.5.3.1.4 asks for 512 octets;
/// parameters of extensions make lines longer).
const MAX_LINE: usize = 4096;

/// Why a session ended.
#[derive(Debug)]
enum End {
    Quit,
    Closed,
    Timeout,
    Shutdown,
    TooManyErrors,
    /// The client kept sending far past the size limit.
    Flood,
    Io(io::Error),
}

enum Line {
    Text(String),
    TooLong,
}

struct Session<'a> {
    stream: TcpStream,
    peer: SocketAddr,
    shared: &'a Shared,
    stopped: watch::Receiver<bool>,
    deadline: Instant,
    rbuf: Vec<u8>,
    rpos: usize,
    out: Vec<u8>,
    helo: Option<String>,
    mail_from: Option<String>,
    rcpts: Vec<String>,
    errors: u32,
    messages: u32,
}

pub(crate) async fn run(stream: TcpStream, peer: SocketAddr, shared: &Shared, stopped: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let mut s = Session {
        stream,
        peer,
        shared,
        stopped,
        deadline: Instant::now() + shared.config.session_timeout,
        rbuf: Vec::with_capacity(4096),
        rpos: 0,
        out: Vec::with_capacity(1024),
        helo: None,
        mail_from: None,
        rcpts: Vec::new(),
        errors: 0,
        messages: 0,
    };
    match s.dialogue().await {
        End::Io(e) => {
            tracing::debug!(peer = %s.peer, messages = s.messages, error = %e, "inbound SMTP connection failed")
        }
        end => tracing::debug!(peer = %s.peer, messages = s.messages, end = ?end, "inbound SMTP session ended"),
    }
    let _ = s.stream.shutdown().await;
}

/// Resolves once a shutdown is requested; never when the server handle is
/// gone without asking (dropping it leaves the server running).
pub(crate) async fn stop_requested(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Session<'_> {
    async fn dialogue(&mut self) -> End {
        let greeting = format!("{} ESMTP Assent inbound", self.shared.config.hostname);
        self.reply(220, "", &greeting);
        loop {
            let line = match self.read_line().await {
                Ok(Line::Text(l)) => l,
                Ok(Line::TooLong) => {
                    self.reply(500, "5.5.6", "line too long");
                    if let Err(end) = self.error().await {
                        return end;
                    }
                    continue;
                }
                Err(end) => return self.farewell(end).await,
            };
            let result = match command::parse(&line) {
                Err(e) => {
                    self.reply(e.code, e.enhanced, e.text);
                    self.error().await
                }
                Ok(cmd) => self.handle(cmd).await,
            };
            if let Err(end) = result {
                return self.farewell(end).await;
            }
        }
    }

    /// Says why the session ends where SMTP has words for it.
    async fn farewell(&mut self, end: End) -> End {
        let words = match end {
            End::Timeout => Some("4.4.2 Timeout, closing connection"),
            End::Shutdown => Some("4.3.2 Shutting down, try again later"),
            End::TooManyErrors => Some("4.7.0 Too many errors, closing connection"),
            End::Flood => Some("5.3.4 Message far too big, closing connection"),
            End::Quit | End::Closed | End::Io(_) => None,
        };
        if let Some(w) = words {
            let code = if matches!(end, End::Flood) { 552 } else { 421 };
            self.out.extend_from_slice(format!("{code} {w}\r\n").as_bytes());
            let _ = self.flush().await;
        }
        end
    }

    async fn handle(&mut self, cmd: Command) -> Result<(), End> {
        let shared = self.shared;
        let cfg = &shared.config;
        match cmd {
            Command::Ehlo(name) => {
                self.reset();
                self.helo = Some(name);
                let ehlo = [
                    format!("{} greets you", cfg.hostname),
                    "PIPELINING".to_string(),
                    format!("SIZE {}", cfg.max_message_bytes),
                    "8BITMIME".to_string(),
                    "SMTPUTF8".to_string(),
                    "ENHANCEDSTATUSCODES".to_string(),
                ];
                for (i, line) in ehlo.iter().enumerate() {
                    let sep = if i + 1 == ehlo.len() { ' ' } else { '-' };
                    self.out.extend_from_slice(format!("250{sep}{line}\r\n").as_bytes());
                }
            }
            Command::Helo(name) => {
                self.reset();
                self.helo = Some(name);
                let text = cfg.hostname.clone();
                self.reply(250, "", &text);
            }
            Command::Mail { path, params } => {
                if self.helo.is_none() {
                    self.reply(503, "5.5.1", "say EHLO first");
                    return self.error().await;
                }
                if self.mail_from.is_some() {
                    self.reply(503, "5.5.1", "a transaction is already open; RSET first");
                    return self.error().await;
                }
                if self.messages >= cfg.max_messages_per_connection {
                    self.reply(421, "4.7.0", "enough messages on this connection, please reconnect");
                    self.flush().await?;
                    return Err(End::Quit);
                }
                if params.size.is_some_and(|s| s > cfg.max_message_bytes as u64) {
                    let text = format!("message size exceeds the limit of {} octets", cfg.max_message_bytes);
                    self.reply(552, "5.3.4", &text);
                    return Ok(());
                }
                self.mail_from = Some(path);
                self.reply(250, "2.1.0", "sender ok");
            }
            Command::Rcpt { path } => {
                if self.mail_from.is_none() {
                    self.reply(503, "5.5.1", "MAIL FROM first");
                    return self.error().await;
                }
                if self.rcpts.iter().any(|r| r.eq_ignore_ascii_case(&path)) {
                    self.reply(250, "2.1.5", "recipient ok");
                    return Ok(());
                }
                if self.rcpts.len() >= cfg.max_recipients {
                    self.reply(452, "4.5.3", "too many recipients");
                    return Ok(());
                }
                if self.shared.handler.accept_rcpt(&path).await {
                    self.rcpts.push(path);
                    self.reply(250, "2.1.5", "recipient ok");
                } else {
                    self.shared.counters.rejected_recipients.fetch_add(1, Ordering::Relaxed);
                    self.reply(550, "5.1.1", "no such mailbox; this server only takes replies to mail it sent");
                    return self.error().await;
                }
            }
            Command::Data => {
                if self.mail_from.is_none() {
                    self.reply(503, "5.5.1", "MAIL FROM first");
                    return self.error().await;
                }
                if self.rcpts.is_empty() {
                    // RFC 2920 §3.1: 554 when no recipient was accepted.
                    self.reply(554, "5.5.1", "no valid recipients");
                    return Ok(());
                }
                self.reply(354, "", "End data with <CR><LF>.<CR><LF>");
                self.flush().await?;
                let reader = self.read_data().await?;
                self.message(reader).await;
            }
            Command::Rset => {
                self.reset();
                self.reply(250, "2.0.0", "ok");
            }
            Command::Noop => self.reply(250, "2.0.0", "ok"),
            Command::Quit => {
                let text = format!("{} closing connection", cfg.hostname);
                self.reply(221, "2.0.0", &text);
                self.flush().await?;
                return Err(End::Quit);
            }
            Command::Vrfy => self.reply(252, "2.5.2", "cannot verify addresses"),
            Command::Help => self.reply(214, "2.0.0", "RFC 5321: EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT"),
            Command::NotImplemented(verb) => {
                let text = format!("{verb} is not offered here");
                self.reply(502, "5.5.1", &text);
                return self.error().await;
            }
            Command::Unknown(_) => {
                self.reply(500, "5.5.2", "command not recognised");
                return self.error().await;
            }
        }
        Ok(())
    }

    /// Hands a complete message over and answers for it.
    async fn message(&mut self, reader: DataReader) {
        let too_big = reader.too_big();
        let from = self.mail_from.take().unwrap_or_default();
        let rcpts = std::mem::take(&mut self.rcpts);
        self.messages += 1;
        if too_big {
            let text = format!("message size exceeds the limit of {} octets", self.shared.config.max_message_bytes);
            self.reply(552, "5.3.4", &text);
            return;
        }
        let data = reader.into_message();
        match self.shared.handler.deliver(&from, &rcpts, &data).await {
            Ok(()) => {
                self.shared.counters.messages.fetch_add(1, Ordering::Relaxed);
                self.reply(250, "2.0.0", "message accepted");
            }
            Err(e) => {
                self.shared.counters.messages_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %self.peer, error = %e, "inbound message not taken; the sender will retry");
                self.reply(451, "4.3.0", "temporary failure, try again later");
            }
        }
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpts.clear();
    }

    fn reply(&mut self, code: u16, enhanced: &str, text: &str) {
        // Texts are ours or the configured host name: one line, no CR/LF.
        let text: String = text.chars().filter(|c| !c.is_control()).collect();
        let line =
            if enhanced.is_empty() { format!("{code} {text}\r\n") } else { format!("{code} {enhanced} {text}\r\n") };
        self.out.extend_from_slice(line.as_bytes());
    }

    /// Counts a refused command; too many end the session.
    async fn error(&mut self) -> Result<(), End> {
        self.errors += 1;
        if self.errors >= self.shared.config.max_errors.max(1) {
            return Err(End::TooManyErrors);
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let wait = self.shared.config.command_timeout;
        let result = timeout(wait, self.stream.write_all(&self.out)).await;
        self.out.clear();
        match result {
            Err(_) => Err(End::Timeout),
            Ok(Err(e)) => Err(End::Io(e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// The next command line, without its line ending. Replies waiting are
    /// written before the session waits for input.
    async fn read_line(&mut self) -> Result<Line, End> {
        let mut discarding = false;
        loop {
            let pending = &self.rbuf[self.rpos..];
            if let Some(i) = pending.iter().position(|&b| b == b'\n') {
                let line = &pending[..i];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let text = String::from_utf8_lossy(line).into_owned();
                self.rpos += i + 1;
                if discarding || text.len() > MAX_LINE {
                    return Ok(Line::TooLong);
                }
                return Ok(Line::Text(text));
            }
            if pending.len() > MAX_LINE {
                // Drop what came so far and look for the end of this line.
                discarding = true;
                self.rpos = self.rbuf.len();
            }
            self.flush().await?;
            let wait = self.shared.config.command_timeout;
            self.fill(wait, true).await?;
        }
    }

    async fn read_data(&mut self) -> Result<DataReader, End> {
        let limit = self.shared.config.max_message_bytes;
        // Beyond this the client is not sending a message but a flood.
        let flood = limit as u64 * 2 + (1 << 20);
        let mut reader = DataReader::new(limit);
        loop {
            match reader.feed(&self.rbuf[self.rpos..]) {
                Fed::Done(n) => {
                    self.rpos += n;
                    return Ok(reader);
                }
                Fed::More(n) => self.rpos += n,
            }
            if reader.overflow() > flood {
                return Err(End::Flood);
            }
            let wait = self.shared.config.data_timeout;
            // A message being received is finished even during shutdown.
            self.fill(wait, false).await?;
        }
    }

    /// Reads more input, waiting at most `wait` (and never past the
    /// session deadline).
    async fn fill(&mut self, wait: Duration, interruptible: bool) -> Result<(), End> {
        if self.rpos > 0 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(End::Timeout);
        }
        let wait = wait.min(left);
        self.rbuf.reserve(8192);
        let read = timeout(wait, self.stream.read_buf(&mut self.rbuf));
        let result = if interruptible {
            tokio::select! {
                _ = stop_requested(&mut self.stopped) => return Err(End::Shutdown),
                r = read => r,
            }
        } else {
            read.await
        };
        match result {
            Err(_) => Err(End::Timeout),
            Ok(Err(e)) => Err(End::Io(e)),
            Ok(Ok(0)) => Err(End::Closed),
            Ok(Ok(_)) => Ok(()),
        }
    }
}
