//! One SMTP client connection to a relay (RFC 5321): greeting, EHLO (HELO
//! as a fallback), STARTTLS (RFC 3207), AUTH PLAIN/LOGIN (RFC 4954), mail
//! transactions with PIPELINING (RFC 2920), RSET and QUIT.
//!
//! A transaction never fails as a whole because of the server: every
//! recipient gets a [`RecipientOutcome`]. When the connection breaks, the
//! recipients still waiting get [`RecipientOutcome::ConnectionLost`] and the
//! connection is marked broken; the caller (usually [`crate::Pool`])
//! discards it.

use std::io;
use std::ops::Range;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;

use crate::data;
use crate::error::SmtpError;
use crate::outcome::{RecipientOutcome, RecipientResult, SendOutcome, Stage};
use crate::relay::{Relay, Timeouts, TlsMode};
use crate::reply::{MAX_REPLY_LEN, Reply, ReplyError, parse_reply};
use crate::tls;

/// What the server said it supports in its EHLO reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The server answered EHLO (false after a HELO fallback).
    pub esmtp: bool,
    pub pipelining: bool,
    pub starttls: bool,
    pub auth_plain: bool,
    pub auth_login: bool,
    /// `SIZE` (RFC 1870): `Some(0)` when offered without a limit.
    pub size: Option<u64>,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
}

impl Capabilities {
    /// Reads the keywords of an EHLO reply (every line after the first).
    pub fn from_ehlo(reply: &Reply) -> Capabilities {
        let mut caps = Capabilities { esmtp: true, ..Capabilities::default() };
        for line in reply.lines().skip(1) {
            let mut words = line.split([' ', '=']);
            let keyword = words.next().unwrap_or("").to_ascii_uppercase();
            match keyword.as_str() {
                "PIPELINING" => caps.pipelining = true,
                "STARTTLS" => caps.starttls = true,
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "AUTH" => {
                    for mechanism in words {
                        match mechanism.to_ascii_uppercase().as_str() {
                            "PLAIN" => caps.auth_plain = true,
                            "LOGIN" => caps.auth_login = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        caps
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Why reading or writing failed.
enum WireError {
    Timeout(Duration),
    Io(io::Error),
    Closed,
    Protocol(ReplyError),
}

impl WireError {
    fn into_smtp(self, relay: &str, stage: Stage) -> SmtpError {
        let relay = relay.to_string();
        match self {
            WireError::Timeout(after) => SmtpError::Timeout { relay, stage, after },
            WireError::Io(source) => SmtpError::Io { relay, stage, source },
            WireError::Closed => SmtpError::Closed { relay, stage },
            WireError::Protocol(source) => SmtpError::Protocol { relay, stage, source },
        }
    }

    fn lost(self, stage: Stage) -> RecipientOutcome {
        let error = match self {
            WireError::Timeout(after) => format!("no answer within {after:?}"),
            WireError::Io(e) => e.to_string(),
            WireError::Closed => "the server closed the connection".to_string(),
            WireError::Protocol(e) => e.to_string(),
        };
        RecipientOutcome::ConnectionLost { stage, error }
    }
}

/// The byte stream with its read buffer.
struct Wire {
    stream: Stream,
    rbuf: Vec<u8>,
    rpos: usize,
}

impl Wire {
    fn new(stream: Stream) -> Wire {
        Wire { stream, rbuf: Vec::with_capacity(4096), rpos: 0 }
    }

    async fn read_reply(&mut self, limit: Duration) -> Result<Reply, WireError> {
        let result = timeout(limit, async {
            loop {
                if let Some((reply, used)) = parse_reply(&self.rbuf[self.rpos..]).map_err(WireError::Protocol)? {
                    self.rpos += used;
                    if self.rpos == self.rbuf.len() {
                        self.rbuf.clear();
                        self.rpos = 0;
                    }
                    return Ok(reply);
                }
                if self.rpos > 0 {
                    self.rbuf.drain(..self.rpos);
                    self.rpos = 0;
                }
                if self.rbuf.len() > MAX_REPLY_LEN {
                    return Err(WireError::Protocol(ReplyError::TooLong));
                }
                self.rbuf.reserve(4096);
                let n = match &mut self.stream {
                    Stream::Plain(s) => s.read_buf(&mut self.rbuf).await,
                    Stream::Tls(s) => s.read_buf(&mut self.rbuf).await,
                }
                .map_err(WireError::Io)?;
                if n == 0 {
                    return Err(WireError::Closed);
                }
            }
        })
        .await;
        result.unwrap_or(Err(WireError::Timeout(limit)))
    }

    async fn write(&mut self, bytes: &[u8], limit: Duration) -> Result<(), WireError> {
        let result = timeout(limit, async {
            match &mut self.stream {
                Stream::Plain(s) => s.write_all(bytes).await,
                Stream::Tls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
            }
        })
        .await;
        match result {
            Ok(r) => r.map_err(WireError::Io),
            Err(_) => Err(WireError::Timeout(limit)),
        }
    }

    fn has_buffered_input(&self) -> bool {
        self.rpos < self.rbuf.len()
    }

    async fn shutdown(&mut self) {
        let _ = match &mut self.stream {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
        };
    }
}

/// An open, greeted (and, as configured, encrypted and authenticated)
/// connection to a relay.
pub struct SmtpConnection {
    wire: Wire,
    relay: String,
    caps: Capabilities,
    greeting: Reply,
    timeouts: Timeouts,
    tls: bool,
    broken: bool,
    transactions: u32,
    out: Vec<u8>,
}

impl std::fmt::Debug for SmtpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConnection")
            .field("relay", &self.relay)
            .field("tls", &self.tls)
            .field("broken", &self.broken)
            .field("transactions", &self.transactions)
            .field("capabilities", &self.caps)
            .finish()
    }
}

impl SmtpConnection {
    /// Connects to `relay`, reads the greeting, says EHLO, upgrades with
    /// STARTTLS and authenticates as the relay is configured.
    pub async fn connect(relay: &Relay) -> Result<SmtpConnection, SmtpError> {
        let name = relay.address();
        let t = relay.timeouts;
        let tcp = match timeout(t.connect, TcpStream::connect((relay.host.as_str(), relay.port))).await {
            Err(_) => return Err(SmtpError::Timeout { relay: name, stage: Stage::Connect, after: t.connect }),
            Ok(Err(source)) => return Err(SmtpError::Connect { relay: name, source }),
            Ok(Ok(tcp)) => tcp,
        };
        // Commands are written in whole batches, so Nagle only adds latency.
        let _ = tcp.set_nodelay(true);
        let mut is_tls = false;
        let stream = if relay.tls == TlsMode::Implicit {
            is_tls = true;
            Stream::Tls(Box::new(Self::handshake(tcp, relay, Stage::Connect).await?))
        } else {
            Stream::Plain(tcp)
        };
        let mut wire = Wire::new(stream);
        let greeting = wire.read_reply(t.command).await.map_err(|e| e.into_smtp(&name, Stage::Greeting))?;
        if !greeting.is_positive() {
            return Err(SmtpError::Rejected { relay: name, stage: Stage::Greeting, reply: greeting });
        }
        let mut caps = hello(&mut wire, relay, &name).await?;

        let want_tls = match relay.tls {
            TlsMode::Required => {
                if !caps.starttls {
                    return Err(SmtpError::StartTlsUnavailable { relay: name });
                }
                true
            }
            TlsMode::StartTls => caps.starttls,
            TlsMode::None | TlsMode::Implicit => false,
        };
        if want_tls {
            let stage = Stage::StartTls;
            wire.write(b"STARTTLS\r\n", t.command).await.map_err(|e| e.into_smtp(&name, stage))?;
            let reply = wire.read_reply(t.command).await.map_err(|e| e.into_smtp(&name, stage))?;
            if reply.is_positive() {
                // RFC 3207 §6: anything the server sent after its 220 was
                // sent before the handshake and must not be trusted.
                if wire.has_buffered_input() {
                    return Err(SmtpError::StartTlsInjection { relay: name });
                }
                let Stream::Plain(tcp) = wire.stream else {
                    // Invariant: `want_tls` is false for implicit TLS, the only
                    // way the stream is already encrypted here.
                    return Err(SmtpError::TlsConfig { reason: "STARTTLS on an encrypted stream".into() });
                };
                wire = Wire::new(Stream::Tls(Box::new(Self::handshake(tcp, relay, stage).await?)));
                is_tls = true;
                caps = hello(&mut wire, relay, &name).await?;
            } else if relay.tls == TlsMode::Required || reply.code == 421 {
                return Err(SmtpError::Rejected { relay: name, stage, reply });
            }
        }

        if let Some((user, password)) = relay.credentials() {
            if !is_tls && relay.tls != TlsMode::None {
                return Err(SmtpError::CleartextAuth { relay: name, user: user.to_string() });
            }
            authenticate(&mut wire, &caps, &name, user, password, t.command).await?;
        }

        Ok(SmtpConnection {
            wire,
            relay: name,
            caps,
            greeting,
            timeouts: t,
            tls: is_tls,
            broken: false,
            transactions: 0,
            out: Vec::with_capacity(4096),
        })
    }

    async fn handshake(tcp: TcpStream, relay: &Relay, stage: Stage) -> Result<TlsStream<TcpStream>, SmtpError> {
        let after = relay.timeouts.connect;
        match timeout(after, tls::handshake(tcp, &relay.host, relay.tls_insecure)).await {
            Ok(result) => result,
            Err(_) => Err(SmtpError::Timeout { relay: relay.address(), stage, after }),
        }
    }

    /// What the server offered in its (last) EHLO reply.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The server's 220 greeting.
    pub fn greeting(&self) -> &Reply {
        &self.greeting
    }

    /// True when the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// True when the connection broke, timed out or the server announced
    /// it is closing (421): it must not be used again.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// How many mail transactions were started on this connection.
    pub fn transactions(&self) -> u32 {
        self.transactions
    }

    /// Sends one message to `recipients` with `from` as the envelope sender
    /// (`""` for the null sender), and returns an outcome per recipient.
    ///
    /// An `Err` means nothing was sent: the envelope cannot be sent as
    /// given, or the connection was already broken.
    pub async fn send<S: AsRef<str>>(
        &mut self,
        from: &str,
        recipients: &[S],
        message: &[u8],
    ) -> Result<SendOutcome, SmtpError> {
        if self.broken {
            return Err(SmtpError::Broken);
        }
        if recipients.is_empty() {
            return Err(SmtpError::NoRecipients);
        }
        let mut utf8 = false;
        for address in std::iter::once(from).chain(recipients.iter().map(AsRef::as_ref)) {
            if address.chars().any(|c| c.is_control() || c == '<' || c == '>') {
                return Err(SmtpError::BadAddress { address: address.to_string() });
            }
            if !address.is_ascii() {
                if !self.caps.smtputf8 {
                    return Err(SmtpError::Utf8NotSupported {
                        relay: self.relay.clone(),
                        address: address.to_string(),
                    });
                }
                utf8 = true;
            }
        }

        let mut out = std::mem::take(&mut self.out);
        let outcomes = self.transaction(&mut out, from, recipients, message, utf8).await;
        out.clear();
        if out.capacity() > 1 << 20 {
            out.shrink_to(4096);
        }
        self.out = out;

        let results = recipients
            .iter()
            .zip(outcomes)
            .map(|(address, outcome)| RecipientResult {
                address: address.as_ref().to_string(),
                // Invariant: `transaction` gives every recipient an outcome;
                // were one missing, "lost" is the safe answer (retry).
                outcome: outcome.unwrap_or_else(|| RecipientOutcome::ConnectionLost {
                    stage: Stage::Data,
                    error: "no outcome recorded".into(),
                }),
            })
            .collect();
        Ok(SendOutcome { recipients: results })
    }

    /// The dialogue of one transaction. `out` holds the commands: MAIL,
    /// one RCPT per recipient, DATA; with PIPELINING they go out in one
    /// write, otherwise each before its reply is read.
    async fn transaction<S: AsRef<str>>(
        &mut self,
        out: &mut Vec<u8>,
        from: &str,
        recipients: &[S],
        message: &[u8],
        utf8: bool,
    ) -> Vec<Option<RecipientOutcome>> {
        let n = recipients.len();
        let mut outcomes: Vec<Option<RecipientOutcome>> = vec![None; n];
        let mut ranges: Vec<Range<usize>> = Vec::with_capacity(n + 2);

        out.extend_from_slice(b"MAIL FROM:<");
        out.extend_from_slice(from.as_bytes());
        out.push(b'>');
        if self.caps.size.is_some() {
            out.extend_from_slice(format!(" SIZE={}", message.len()).as_bytes());
        }
        if self.caps.eight_bit_mime && !message.is_ascii() {
            out.extend_from_slice(b" BODY=8BITMIME");
        }
        if utf8 {
            out.extend_from_slice(b" SMTPUTF8");
        }
        out.extend_from_slice(b"\r\n");
        ranges.push(0..out.len());
        for r in recipients {
            let start = out.len();
            out.extend_from_slice(b"RCPT TO:<");
            out.extend_from_slice(r.as_ref().as_bytes());
            out.extend_from_slice(b">\r\n");
            ranges.push(start..out.len());
        }
        let start = out.len();
        out.extend_from_slice(b"DATA\r\n");
        ranges.push(start..out.len());

        let pipelined = self.caps.pipelining;
        let command = self.timeouts.command;
        self.transactions += 1;
        if pipelined && let Err(e) = self.wire.write(out, command).await {
            self.lose(&mut outcomes, e, Stage::Mail);
            return outcomes;
        }
        let mut step = 0;

        // MAIL FROM
        let mail = match self.exchange(out, pipelined, &ranges[step]).await {
            Ok(reply) => reply,
            Err(e) => {
                self.lose(&mut outcomes, e, Stage::Mail);
                return outcomes;
            }
        };
        step += 1;
        let mail_ok = mail.is_positive();
        if !mail_ok {
            for o in &mut outcomes {
                *o = Some(RecipientOutcome::rejection(&mail, Stage::Mail));
            }
            if !pipelined {
                self.reset_quietly().await;
                return outcomes;
            }
        }

        // RCPT TO, one reply per recipient
        let mut accepted = 0;
        for i in 0..n {
            let reply = match self.exchange(out, pipelined, &ranges[step + i]).await {
                Ok(reply) => reply,
                Err(e) => {
                    self.lose(&mut outcomes, e, Stage::Rcpt);
                    return outcomes;
                }
            };
            if mail_ok {
                if reply.is_positive() {
                    accepted += 1;
                } else {
                    outcomes[i] = Some(RecipientOutcome::rejection(&reply, Stage::Rcpt));
                }
            }
        }
        step += n;
        if !pipelined && accepted == 0 {
            self.reset_quietly().await;
            return outcomes;
        }

        // DATA
        let data = match self.exchange(out, pipelined, &ranges[step]).await {
            Ok(reply) => reply,
            Err(e) => {
                self.lose(&mut outcomes, e, Stage::Data);
                return outcomes;
            }
        };
        if data.code != 354 {
            for o in outcomes.iter_mut().filter(|o| o.is_none()) {
                *o = Some(RecipientOutcome::rejection(&data, Stage::Data));
            }
            if data.is_positive() {
                // A 2xx to DATA is not SMTP; do not trust this server further.
                self.broken = true;
            } else {
                self.reset_quietly().await;
            }
            return outcomes;
        }
        if accepted == 0 {
            // RFC 2920 §3.1: the server took DATA although no recipient was
            // accepted; end the empty message and forget it.
            let stage = Stage::Data;
            match self.wire.write(b".\r\n", command).await {
                Ok(()) => match self.wire.read_reply(command).await {
                    Ok(_) => self.reset_quietly().await,
                    Err(e) => self.lose(&mut outcomes, e, stage),
                },
                Err(e) => self.lose(&mut outcomes, e, stage),
            }
            return outcomes;
        }

        // The content and the reply to the final dot.
        out.clear();
        data::stuff_into(message, out);
        let limit = self.timeouts.data;
        if let Err(e) = self.wire.write(out, limit).await {
            self.lose(&mut outcomes, e, Stage::Data);
            return outcomes;
        }
        let end = match self.wire.read_reply(limit).await {
            Ok(reply) => reply,
            Err(e) => {
                self.lose(&mut outcomes, e, Stage::Data);
                return outcomes;
            }
        };
        if end.code == 421 {
            self.broken = true;
        }
        for o in outcomes.iter_mut().filter(|o| o.is_none()) {
            *o = Some(RecipientOutcome::from_reply(&end, Stage::Data));
        }
        outcomes
    }

    /// Writes the command in `range` unless it was pipelined already, then
    /// reads its reply.
    async fn exchange(&mut self, out: &[u8], pipelined: bool, range: &Range<usize>) -> Result<Reply, WireError> {
        let limit = self.timeouts.command;
        if !pipelined {
            self.wire.write(&out[range.clone()], limit).await?;
        }
        let reply = self.wire.read_reply(limit).await?;
        if reply.code == 421 {
            // The server is closing the connection (RFC 5321 §3.8).
            self.broken = true;
        }
        Ok(reply)
    }

    /// Every recipient without an outcome lost the connection at `stage`.
    fn lose(&mut self, outcomes: &mut [Option<RecipientOutcome>], error: WireError, stage: Stage) {
        self.broken = true;
        let lost = error.lost(stage);
        for o in outcomes.iter_mut().filter(|o| o.is_none()) {
            *o = Some(lost.clone());
        }
    }

    /// RSET after a failed transaction; a connection that cannot reset is
    /// marked broken.
    async fn reset_quietly(&mut self) {
        if !self.broken && self.reset().await.is_err() {
            self.broken = true;
        }
    }

    /// Aborts the current transaction (RSET).
    pub async fn reset(&mut self) -> Result<(), SmtpError> {
        self.simple(b"RSET\r\n", Stage::Reset).await
    }

    /// Checks that the server still answers (NOOP).
    pub async fn noop(&mut self) -> Result<(), SmtpError> {
        self.simple(b"NOOP\r\n", Stage::Reset).await
    }

    async fn simple(&mut self, command: &[u8], stage: Stage) -> Result<(), SmtpError> {
        if self.broken {
            return Err(SmtpError::Broken);
        }
        let limit = self.timeouts.command;
        let result = async {
            self.wire.write(command, limit).await?;
            self.wire.read_reply(limit).await
        }
        .await;
        match result {
            Ok(reply) if reply.is_positive() => Ok(()),
            Ok(reply) => {
                self.broken = true;
                Err(SmtpError::Rejected { relay: self.relay.clone(), stage, reply })
            }
            Err(e) => {
                self.broken = true;
                Err(e.into_smtp(&self.relay, stage))
            }
        }
    }

    /// Says QUIT (waiting at most a few seconds for the answer) and closes
    /// the connection.
    pub async fn quit(mut self) {
        if !self.broken {
            let limit = self.timeouts.command.min(Duration::from_secs(5));
            if self.wire.write(b"QUIT\r\n", limit).await.is_ok() {
                let _ = self.wire.read_reply(limit).await;
            }
        }
        self.wire.shutdown().await;
    }
}

/// EHLO, or HELO when the server does not know EHLO.
async fn hello(wire: &mut Wire, relay: &Relay, name: &str) -> Result<Capabilities, SmtpError> {
    let limit = relay.timeouts.command;
    let stage = Stage::Ehlo;
    let command = format!("EHLO {}\r\n", relay.helo_name);
    wire.write(command.as_bytes(), limit).await.map_err(|e| e.into_smtp(name, stage))?;
    let reply = wire.read_reply(limit).await.map_err(|e| e.into_smtp(name, stage))?;
    if reply.is_positive() {
        return Ok(Capabilities::from_ehlo(&reply));
    }
    if !reply.is_permanent() {
        return Err(SmtpError::Rejected { relay: name.to_string(), stage, reply });
    }
    let command = format!("HELO {}\r\n", relay.helo_name);
    wire.write(command.as_bytes(), limit).await.map_err(|e| e.into_smtp(name, stage))?;
    let reply = wire.read_reply(limit).await.map_err(|e| e.into_smtp(name, stage))?;
    if reply.is_positive() {
        Ok(Capabilities::default())
    } else {
        Err(SmtpError::Rejected { relay: name.to_string(), stage, reply })
    }
}

/// AUTH PLAIN when offered (one round trip), else AUTH LOGIN (RFC 4954).
async fn authenticate(
    wire: &mut Wire,
    caps: &Capabilities,
    name: &str,
    user: &str,
    password: &str,
    limit: Duration,
) -> Result<(), SmtpError> {
    let stage = Stage::Auth;
    let io = |e: WireError| e.into_smtp(name, stage);
    let failed = |reply: Reply| SmtpError::AuthFailed { relay: name.to_string(), user: user.to_string(), reply };
    let mut exchange = async |line: String| -> Result<Reply, SmtpError> {
        wire.write(line.as_bytes(), limit).await.map_err(io)?;
        wire.read_reply(limit).await.map_err(io)
    };
    if caps.auth_plain {
        let token = BASE64.encode(format!("\0{user}\0{password}"));
        let reply = exchange(format!("AUTH PLAIN {token}\r\n")).await?;
        return if reply.code == 235 { Ok(()) } else { Err(failed(reply)) };
    }
    if caps.auth_login {
        let reply = exchange("AUTH LOGIN\r\n".to_string()).await?;
        if reply.code != 334 {
            return Err(failed(reply));
        }
        let reply = exchange(format!("{}\r\n", BASE64.encode(user))).await?;
        if reply.code != 334 {
            return Err(failed(reply));
        }
        let reply = exchange(format!("{}\r\n", BASE64.encode(password))).await?;
        return if reply.code == 235 { Ok(()) } else { Err(failed(reply)) };
    }
    Err(SmtpError::AuthUnavailable { relay: name.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_from_ehlo() {
        let (reply, _) = parse_reply(
            b"250-mx.test greets you\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250-STARTTLS\r\n250-AUTH=LOGIN\r\n250-AUTH PLAIN XOAUTH2\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n",
        )
        .expect("valid")
        .expect("complete");
        let caps = Capabilities::from_ehlo(&reply);
        assert_eq!(
            caps,
            Capabilities {
                esmtp: true,
                pipelining: true,
                starttls: true,
                auth_plain: true,
                auth_login: true,
                size: Some(35882577),
                eight_bit_mime: true,
                smtputf8: true,
            }
        );
        let (reply, _) = parse_reply(b"250-x\r\n250 size\r\n").expect("valid").expect("complete");
        assert_eq!(Capabilities::from_ehlo(&reply).size, Some(0));
        let (reply, _) = parse_reply(b"250 x\r\n").expect("valid").expect("complete");
        assert!(!Capabilities::from_ehlo(&reply).pipelining);
    }
}
