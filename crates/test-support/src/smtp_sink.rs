//! A real SMTP server for tests (RFC 5321 server side, with RFC 2920
//! PIPELINING, RFC 3207 STARTTLS on a self-signed certificate, RFC 4954
//! AUTH PLAIN/LOGIN): it listens on 127.0.0.1, accepts every message it is
//! not told to refuse and keeps it in memory.
//!
//! Faults are injected at run time with [`SmtpSink::add_rule`] (replies for
//! given recipients at RCPT or at the end of DATA, "temporary failure for
//! the first N attempts", dropped connections in the middle of DATA) and
//! [`SmtpSink::set_delay`] (a slow server). It counts connections, messages
//! and pipelined commands, and is quick enough for benchmarks: buffered
//! reads, replies batched until the input is drained (as RFC 2920 asks of a
//! server), and with `discard_data` the content is counted, not kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

/// How the sink behaves from the start.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    /// The name in the greeting and the EHLO reply.
    pub hostname: String,
    /// Answer EHLO (false: 502, so clients must fall back to HELO).
    pub ehlo: bool,
    /// Advertise PIPELINING.
    pub pipelining: bool,
    /// Advertise STARTTLS, with a self-signed certificate for `localhost`
    /// and `127.0.0.1`.
    pub starttls: bool,
    /// Refuse MAIL (530 5.7.0) until the client used STARTTLS.
    pub require_tls: bool,
    /// Offer AUTH PLAIN LOGIN and require it before MAIL, accepting only
    /// this user and password. Offered only over TLS when `require_tls`.
    pub auth: Option<(String, String)>,
    /// The mechanisms advertised with AUTH (both are always understood).
    pub auth_mechanisms: String,
    /// The SIZE limit advertised and enforced (552 5.3.4 above it).
    pub size_limit: usize,
    /// Keep envelopes only, not message content.
    pub discard_data: bool,
    /// Keep nothing per message, only the counters (for benchmarks).
    pub count_only: bool,
    /// Answer MAIL with 421 4.7.0 and close once a connection carried this
    /// many messages.
    pub max_messages_per_connection: Option<u32>,
    /// Wait this long before every reply (greeting included).
    pub delay: Duration,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            hostname: "sink.test".into(),
            ehlo: true,
            pipelining: true,
            starttls: false,
            require_tls: false,
            auth: None,
            auth_mechanisms: "PLAIN LOGIN".into(),
            size_limit: 50 * 1024 * 1024,
            discard_data: false,
            count_only: false,
            max_messages_per_connection: None,
            delay: Duration::ZERO,
            port: 0,
        }
    }
}

/// A fault to inject. Addresses compare without regard to ASCII case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Answer `reply` (e.g. `"550 5.1.1 User unknown"`) to RCPT TO for `address`.
    RcptReply { address: String, reply: String },
    /// Answer `reply` to RCPT TO for `address` the first `times` times, then accept.
    RcptTempFail { address: String, reply: String, times: u32 },
    /// Answer `reply` to the final dot of every message with `address` among
    /// its accepted recipients (the message is not kept).
    DataReply { address: String, reply: String },
    /// Close the connection in the middle of DATA of every message for `address`.
    DropMidData { address: String },
    /// Close the connection in the middle of DATA of the `n`-th message the
    /// sink receives (counting from 1 across all connections).
    DropNthMessage { n: u64 },
    /// Keep every message, then wait `delay` before answering its final dot.
    SlowDataEnd { delay: Duration },
}

/// A message the sink accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub from: String,
    pub recipients: Vec<String>,
    /// The content with dot-stuffing undone, lines ending in CRLF (empty
    /// with `discard_data`).
    pub data: Vec<u8>,
    /// Which connection carried it (1 for the first connection).
    pub connection: u64,
    /// Whether it came over TLS.
    pub tls: bool,
    /// The user the client authenticated as.
    pub auth_user: Option<String>,
    /// The AUTH mechanism it used (`PLAIN` or `LOGIN`).
    pub auth_mechanism: Option<String>,
}

struct RuleState {
    rule: Rule,
    hits: u32,
}

struct Shared {
    config: SinkConfig,
    tls: Option<TlsAcceptor>,
    rules: Mutex<Vec<RuleState>>,
    has_rules: AtomicBool,
    delay_us: AtomicU64,
    max_per_connection: AtomicU32,
    messages: Mutex<Vec<ReceivedMessage>>,
    count: AtomicU64,
    recipients: AtomicU64,
    bytes: AtomicU64,
    connections: AtomicU64,
    open_connections: AtomicU64,
    peak_connections: AtomicU64,
    data_started: AtomicU64,
    pipelined: AtomicU64,
    most_on_one_connection: AtomicU64,
    /// Bumped to make connections waiting for a command hang up.
    kick: watch::Sender<u64>,
}

/// Poisoning only means a test thread panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running sink; it stops when dropped.
pub struct SmtpSink {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl SmtpSink {
    /// Starts the sink on 127.0.0.1 on a free port.
    pub async fn start(config: SinkConfig) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await.expect("bind the SMTP sink");
        let addr = listener.local_addr().expect("SMTP sink address");
        let tls = config.starttls.then(tls_acceptor);
        let shared = Arc::new(Shared {
            delay_us: AtomicU64::new(config.delay.as_micros() as u64),
            max_per_connection: AtomicU32::new(config.max_messages_per_connection.unwrap_or(0)),
            config,
            tls,
            rules: Mutex::new(Vec::new()),
            has_rules: AtomicBool::new(false),
            messages: Mutex::new(Vec::new()),
            count: AtomicU64::new(0),
            recipients: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            open_connections: AtomicU64::new(0),
            peak_connections: AtomicU64::new(0),
            data_started: AtomicU64::new(0),
            pipelined: AtomicU64::new(0),
            most_on_one_connection: AtomicU64::new(0),
            kick: watch::Sender::new(0),
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept(listener, shared.clone(), stopped));
        SmtpSink { addr, shared, stop }
    }

    /// Starts a sink with the default configuration.
    pub async fn start_default() -> SmtpSink {
        SmtpSink::start(SinkConfig::default()).await
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT?tls=none`, ready for `Relay::parse`.
    pub fn url(&self) -> String {
        format!("smtp://{}?tls=none", self.addr)
    }

    /// Adds a fault rule; the first matching rule wins.
    pub fn add_rule(&self, rule: Rule) {
        lock(&self.shared.rules).push(RuleState { rule, hits: 0 });
        self.shared.has_rules.store(true, Ordering::Release);
    }

    /// Replaces all rules.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        let mut current = lock(&self.shared.rules);
        *current = rules.into_iter().map(|rule| RuleState { rule, hits: 0 }).collect();
        self.shared.has_rules.store(!current.is_empty(), Ordering::Release);
    }

    pub fn clear_rules(&self) {
        self.set_rules(Vec::new());
    }

    /// Waits `delay` before every reply from now on.
    pub fn set_delay(&self, delay: Duration) {
        self.shared.delay_us.store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    /// Changes `max_messages_per_connection` (`None`: no limit).
    pub fn set_max_messages_per_connection(&self, max: Option<u32>) {
        self.shared.max_per_connection.store(max.unwrap_or(0), Ordering::Relaxed);
    }

    /// The accepted messages so far (empty with `count_only`).
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        lock(&self.shared.messages).clone()
    }

    /// How many messages were accepted.
    pub fn count(&self) -> u64 {
        self.shared.count.load(Ordering::Acquire)
    }

    /// How many recipients of accepted messages there were.
    pub fn recipient_count(&self) -> u64 {
        self.shared.recipients.load(Ordering::Acquire)
    }

    /// How many times each recipient address (lower-cased) received a message.
    pub fn deliveries_per_recipient(&self) -> HashMap<String, usize> {
        let mut map = HashMap::new();
        for m in lock(&self.shared.messages).iter() {
            for r in &m.recipients {
                *map.entry(r.to_ascii_lowercase()).or_insert(0) += 1;
            }
        }
        map
    }

    /// Bytes of content accepted.
    pub fn bytes(&self) -> u64 {
        self.shared.bytes.load(Ordering::Relaxed)
    }

    /// How many connections were opened.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Acquire)
    }

    /// The most connections open at the same time.
    pub fn peak_connections(&self) -> u64 {
        self.shared.peak_connections.load(Ordering::Acquire)
    }

    /// How many commands arrived while replies to earlier ones were still
    /// unsent: proof the client pipelines.
    pub fn pipelined_commands(&self) -> u64 {
        self.shared.pipelined.load(Ordering::Relaxed)
    }

    /// Closes every connection that is waiting for a command, as a server
    /// does when it times out idle clients.
    pub fn drop_idle_connections(&self) {
        self.shared.kick.send_modify(|n| *n += 1);
    }

    /// The most messages accepted over one connection.
    pub fn most_messages_on_one_connection(&self) -> u64 {
        self.shared.most_on_one_connection.load(Ordering::Relaxed)
    }

    /// Waits until at least `n` messages were accepted and returns true, or
    /// returns false after `timeout`.
    pub async fn wait_for(&self, n: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.count() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn tls_acceptor() -> TlsAcceptor {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("generate the sink's self-signed certificate");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![key.cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der())),
        )
        .expect("the sink's TLS certificate");
    TlsAcceptor::from(Arc::new(config))
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let id = shared.connections.fetch_add(1, Ordering::AcqRel) + 1;
        let open = shared.open_connections.fetch_add(1, Ordering::AcqRel) + 1;
        shared.peak_connections.fetch_max(open, Ordering::AcqRel);
        let shared = shared.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            serve(tcp, id, shared.clone(), stop).await;
            shared.open_connections.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

enum SinkStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl SinkStream {
    async fn read_buf(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        match self {
            SinkStream::Plain(s) => s.read_buf(buf).await,
            SinkStream::Tls(s) => s.read_buf(buf).await,
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            SinkStream::Plain(s) => s.write_all(bytes).await,
            SinkStream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
        }
    }

    async fn shutdown(&mut self) {
        let _ = match self {
            SinkStream::Plain(s) => s.shutdown().await,
            SinkStream::Tls(s) => s.shutdown().await,
        };
    }
}

enum Exit {
    Close,
    StartTls,
}

enum Step {
    Continue,
    Close,
    StartTls,
}

enum Auth {
    None,
    PlainResponse,
    LoginUser,
    LoginPassword(String),
}

struct Session {
    shared: Arc<Shared>,
    id: u64,
    rbuf: Vec<u8>,
    out: Vec<u8>,
    tls: bool,
    greeted: bool,
    auth_user: Option<String>,
    auth_mechanism: Option<String>,
    auth: Auth,
    mail: Option<String>,
    rcpts: Vec<String>,
    in_data: bool,
    data: Vec<u8>,
    data_len: usize,
    drop_in_data: bool,
    messages_here: u64,
    extra_delay: Option<Duration>,
}

const MAX_LINE: usize = 1 << 20;

async fn serve(tcp: TcpStream, id: u64, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut stream = SinkStream::Plain(tcp);
    let mut kick = shared.kick.subscribe();
    let mut session = Session {
        id,
        rbuf: Vec::with_capacity(16 * 1024),
        out: Vec::with_capacity(1024),
        tls: false,
        greeted: false,
        auth_user: None,
        auth_mechanism: None,
        auth: Auth::None,
        mail: None,
        rcpts: Vec::new(),
        in_data: false,
        data: Vec::new(),
        data_len: 0,
        drop_in_data: false,
        messages_here: 0,
        extra_delay: None,
        shared,
    };
    session.delay().await;
    let greeting = format!("220 {} ESMTP Assent test sink\r\n", session.shared.config.hostname);
    if stream.write_all(greeting.as_bytes()).await.is_err() {
        return;
    }
    loop {
        match session.run(&mut stream, &mut stop, &mut kick).await {
            Exit::Close => {
                stream.shutdown().await;
                return;
            }
            Exit::StartTls => {
                let (SinkStream::Plain(tcp), Some(acceptor)) = (stream, session.shared.tls.clone()) else {
                    return;
                };
                match acceptor.accept(tcp).await {
                    Ok(tls) => stream = SinkStream::Tls(Box::new(tls)),
                    Err(_) => return,
                }
                // RFC 3207 §4.2: forget everything known from before TLS.
                session.rbuf.clear();
                session.tls = true;
                session.greeted = false;
                session.auth_user = None;
                session.auth_mechanism = None;
                session.reset();
            }
        }
    }
}

impl Session {
    fn delay_now(&self) -> Duration {
        Duration::from_micros(self.shared.delay_us.load(Ordering::Relaxed))
    }

    async fn delay(&self) {
        let d = self.delay_now();
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    fn reset(&mut self) {
        self.mail = None;
        self.rcpts.clear();
        self.in_data = false;
        self.data.clear();
        self.data_len = 0;
        self.drop_in_data = false;
        self.auth = Auth::None;
    }

    fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    async fn run(
        &mut self,
        stream: &mut SinkStream,
        stop: &mut watch::Receiver<bool>,
        kick: &mut watch::Receiver<u64>,
    ) -> Exit {
        loop {
            if self.in_data && self.drop_in_data && !self.rbuf.is_empty() {
                // The client is sending content: hang up on it.
                return Exit::Close;
            }
            let buf = std::mem::take(&mut self.rbuf);
            let mut pos = 0;
            let mut exit = None;
            while let Some(i) = memchr::memchr(b'\n', &buf[pos..]) {
                let raw = &buf[pos..pos + i];
                let line = raw.strip_suffix(b"\r").unwrap_or(raw);
                pos += i + 1;
                let step = if self.in_data {
                    self.data_line(line)
                } else {
                    if !self.out.is_empty() {
                        self.shared.pipelined.fetch_add(1, Ordering::Relaxed);
                    }
                    if !self.delay_now().is_zero() {
                        if !self.out.is_empty() && stream.write_all(&self.out).await.is_err() {
                            return Exit::Close;
                        }
                        self.out.clear();
                        self.delay().await;
                    }
                    self.command(line)
                };
                if let Some(d) = self.extra_delay.take() {
                    tokio::time::sleep(d).await;
                }
                match step {
                    Step::Continue => {
                        if self.in_data && self.drop_in_data && pos < buf.len() {
                            return Exit::Close;
                        }
                    }
                    Step::Close => {
                        exit = Some(Exit::Close);
                        break;
                    }
                    Step::StartTls => {
                        exit = Some(Exit::StartTls);
                        break;
                    }
                }
            }
            self.rbuf = buf;
            self.rbuf.drain(..pos);
            if !self.out.is_empty() {
                if stream.write_all(&self.out).await.is_err() {
                    return Exit::Close;
                }
                self.out.clear();
            }
            if let Some(exit) = exit {
                return exit;
            }
            if self.rbuf.len() > MAX_LINE {
                let _ = stream.write_all(b"500 5.5.2 Line too long\r\n").await;
                return Exit::Close;
            }
            self.rbuf.reserve(16 * 1024);
            let read = tokio::select! {
                read = stream.read_buf(&mut self.rbuf) => read,
                _ = stop.changed() => return Exit::Close,
                _ = kick.changed(), if !self.in_data && self.rbuf.is_empty() => return Exit::Close,
            };
            match read {
                Ok(0) | Err(_) => return Exit::Close,
                Ok(_) => {}
            }
        }
    }

    fn data_line(&mut self, line: &[u8]) -> Step {
        if line == b"." {
            return self.end_of_data();
        }
        let line = line.strip_prefix(b".").unwrap_or(line);
        self.data_len += line.len() + 2;
        if !self.shared.config.discard_data && !self.shared.config.count_only {
            self.data.extend_from_slice(line);
            self.data.extend_from_slice(b"\r\n");
        }
        Step::Continue
    }

    fn end_of_data(&mut self) -> Step {
        self.in_data = false;
        let shared = self.shared.clone();
        if self.data_len > shared.config.size_limit {
            self.reply("552 5.3.4 Message too big");
            self.reset();
            return Step::Continue;
        }
        if shared.has_rules.load(Ordering::Acquire) {
            let mut refusal = None;
            for state in lock(&shared.rules).iter() {
                match &state.rule {
                    Rule::DataReply { address, reply } if self.has_recipient(address) => {
                        refusal = Some(reply.clone());
                        break;
                    }
                    Rule::SlowDataEnd { delay } => self.extra_delay = Some(*delay),
                    _ => {}
                }
            }
            if let Some(reply) = refusal {
                self.reply(&reply);
                self.reset();
                return Step::Continue;
            }
        }
        let n = shared.count.fetch_add(1, Ordering::AcqRel) + 1;
        shared.recipients.fetch_add(self.rcpts.len() as u64, Ordering::AcqRel);
        shared.bytes.fetch_add(self.data_len as u64, Ordering::Relaxed);
        self.messages_here += 1;
        shared.most_on_one_connection.fetch_max(self.messages_here, Ordering::Relaxed);
        if !shared.config.count_only {
            let message = ReceivedMessage {
                from: self.mail.take().unwrap_or_default(),
                recipients: std::mem::take(&mut self.rcpts),
                data: std::mem::take(&mut self.data),
                connection: self.id,
                tls: self.tls,
                auth_user: self.auth_user.clone(),
                auth_mechanism: self.auth_mechanism.clone(),
            };
            lock(&shared.messages).push(message);
        }
        self.reply(&format!("250 2.0.0 Ok: queued as {}.{n}", self.id));
        self.reset();
        Step::Continue
    }

    fn has_recipient(&self, address: &str) -> bool {
        self.rcpts.iter().any(|r| r.eq_ignore_ascii_case(address))
    }

    fn command(&mut self, line: &[u8]) -> Step {
        match std::mem::replace(&mut self.auth, Auth::None) {
            Auth::None => {}
            Auth::PlainResponse => {
                self.auth_plain(line);
                return Step::Continue;
            }
            Auth::LoginUser => {
                if line == b"*" {
                    self.reply("501 5.0.0 Authentication cancelled");
                } else {
                    let user = decode(line).unwrap_or_default();
                    self.auth = Auth::LoginPassword(user);
                    self.reply("334 UGFzc3dvcmQ6");
                }
                return Step::Continue;
            }
            Auth::LoginPassword(user) => {
                let password = decode(line).unwrap_or_default();
                self.check_credentials(&user, &password);
                return Step::Continue;
            }
        }
        let text = String::from_utf8_lossy(line);
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v, a.trim()),
            None => (text.as_ref(), ""),
        };
        let shared = self.shared.clone();
        let config = &shared.config;
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" if !config.ehlo => self.reply("502 5.5.2 Command not recognized"),
            "EHLO" => {
                self.reset();
                self.greeted = true;
                let mut lines = vec![format!("{} greets {arg}", config.hostname)];
                if config.pipelining {
                    lines.push("PIPELINING".into());
                }
                lines.push(format!("SIZE {}", config.size_limit));
                lines.push("8BITMIME".into());
                lines.push("SMTPUTF8".into());
                lines.push("ENHANCEDSTATUSCODES".into());
                if config.starttls && !self.tls {
                    lines.push("STARTTLS".into());
                }
                if config.auth.is_some() && (self.tls || !config.require_tls) {
                    lines.push(format!("AUTH {}", config.auth_mechanisms));
                }
                let last = lines.len() - 1;
                for (i, l) in lines.iter().enumerate() {
                    let sep = if i == last { ' ' } else { '-' };
                    self.out.extend_from_slice(format!("250{sep}{l}\r\n").as_bytes());
                }
            }
            "HELO" => {
                self.reset();
                self.greeted = true;
                let reply = format!("250 {}", config.hostname);
                self.reply(&reply);
            }
            "STARTTLS" => {
                if !config.starttls || self.tls {
                    self.reply("502 5.5.1 STARTTLS not available");
                } else {
                    self.reply("220 2.0.0 Ready to start TLS");
                    return Step::StartTls;
                }
            }
            "AUTH" => self.auth_start(arg),
            "MAIL" => return self.mail(arg),
            "RCPT" => self.rcpt(arg),
            "DATA" => {
                if self.mail.is_none() {
                    self.reply("503 5.5.1 Error: need MAIL command");
                } else if self.rcpts.is_empty() {
                    self.reply("554 5.5.1 Error: no valid recipients");
                } else {
                    self.start_data();
                }
            }
            "RSET" => {
                self.reset();
                self.reply("250 2.0.0 Ok");
            }
            "NOOP" => self.reply("250 2.0.0 Ok"),
            "VRFY" => self.reply("252 2.0.0 Cannot VRFY user"),
            "QUIT" => {
                self.reply("221 2.0.0 Bye");
                return Step::Close;
            }
            _ => self.reply("500 5.5.2 Error: command not recognized"),
        }
        Step::Continue
    }

    fn auth_start(&mut self, arg: &str) {
        let shared = self.shared.clone();
        let config = &shared.config;
        if config.auth.is_none() {
            self.reply("502 5.5.1 AUTH not available");
            return;
        }
        if config.require_tls && !self.tls {
            self.reply("530 5.7.0 Must issue a STARTTLS command first");
            return;
        }
        if self.auth_user.is_some() {
            self.reply("503 5.5.1 Already authenticated");
            return;
        }
        let (mechanism, initial) = match arg.split_once(' ') {
            Some((m, i)) => (m, Some(i.trim())),
            None => (arg, None),
        };
        let mechanism = mechanism.to_ascii_uppercase();
        if mechanism == "PLAIN" || mechanism == "LOGIN" {
            self.auth_mechanism = Some(mechanism.clone());
        }
        match (mechanism.as_str(), initial) {
            ("PLAIN", Some(initial)) => self.auth_plain(initial.as_bytes()),
            ("PLAIN", None) => {
                self.auth = Auth::PlainResponse;
                self.reply("334 ");
            }
            ("LOGIN", None) => {
                self.auth = Auth::LoginUser;
                self.reply("334 VXNlcm5hbWU6");
            }
            ("LOGIN", Some(user)) => {
                self.auth = Auth::LoginPassword(decode(user.as_bytes()).unwrap_or_default());
                self.reply("334 UGFzc3dvcmQ6");
            }
            _ => self.reply("504 5.5.4 Unrecognized authentication type"),
        }
    }

    fn auth_plain(&mut self, response: &[u8]) {
        if response == b"*" {
            self.reply("501 5.0.0 Authentication cancelled");
            return;
        }
        let decoded = decode(response).unwrap_or_default();
        let mut parts = decoded.split('\0');
        let (_authzid, user, password) = (parts.next(), parts.next(), parts.next());
        match (user, password) {
            (Some(user), Some(password)) => self.check_credentials(user, password),
            _ => self.reply("501 5.5.2 Cannot decode AUTH PLAIN response"),
        }
    }

    fn check_credentials(&mut self, user: &str, password: &str) {
        let ok = self.shared.config.auth.as_ref().is_some_and(|(u, p)| u == user && p == password);
        if ok {
            self.auth_user = Some(user.to_string());
            self.reply("235 2.7.0 Authentication successful");
        } else {
            self.auth_mechanism = None;
            self.reply("535 5.7.8 Authentication credentials invalid");
        }
    }

    fn mail(&mut self, arg: &str) -> Step {
        let shared = self.shared.clone();
        let config = &shared.config;
        if !self.greeted {
            self.reply("503 5.5.1 Error: send HELO/EHLO first");
        } else if config.require_tls && !self.tls {
            self.reply("530 5.7.0 Must issue a STARTTLS command first");
        } else if config.auth.is_some() && self.auth_user.is_none() {
            self.reply("530 5.7.0 Authentication required");
        } else if self.mail.is_some() {
            self.reply("503 5.5.1 Error: nested MAIL command");
        } else {
            let max = u64::from(self.shared.max_per_connection.load(Ordering::Relaxed));
            if max > 0 && self.messages_here >= max {
                self.reply("421 4.7.0 Too many messages on one connection, closing");
                return Step::Close;
            }
            let Some((address, params)) = path(arg, "FROM:") else {
                self.reply("501 5.5.4 Syntax: MAIL FROM:<address>");
                return Step::Continue;
            };
            let size = params
                .split_ascii_whitespace()
                .find_map(|p| p.get(..5).filter(|k| k.eq_ignore_ascii_case("SIZE=")).map(|_| &p[5..]))
                .and_then(|n| n.parse::<usize>().ok());
            if size.is_some_and(|n| n > config.size_limit) {
                self.reply("552 5.3.4 Message size exceeds fixed limit");
                return Step::Continue;
            }
            self.mail = Some(address);
            self.reply("250 2.1.0 Ok");
        }
        Step::Continue
    }

    fn rcpt(&mut self, arg: &str) {
        if self.mail.is_none() {
            self.reply("503 5.5.1 Error: need MAIL command");
            return;
        }
        let Some((address, _)) = path(arg, "TO:") else {
            self.reply("501 5.5.4 Syntax: RCPT TO:<address>");
            return;
        };
        if self.shared.has_rules.load(Ordering::Acquire) {
            let mut answer = None;
            for state in lock(&self.shared.rules).iter_mut() {
                match &state.rule {
                    Rule::RcptReply { address: a, reply } if a.eq_ignore_ascii_case(&address) => {
                        answer = Some(reply.clone());
                        break;
                    }
                    Rule::RcptTempFail { address: a, reply, times }
                        if a.eq_ignore_ascii_case(&address) && state.hits < *times =>
                    {
                        answer = Some(reply.clone());
                        state.hits += 1;
                        break;
                    }
                    _ => {}
                }
            }
            if let Some(reply) = answer {
                self.reply(&reply);
                return;
            }
        }
        self.rcpts.push(address);
        self.reply("250 2.1.5 Ok");
    }

    fn start_data(&mut self) {
        self.in_data = true;
        self.data_len = 0;
        let n = self.shared.data_started.fetch_add(1, Ordering::AcqRel) + 1;
        if self.shared.has_rules.load(Ordering::Acquire) {
            self.drop_in_data = lock(&self.shared.rules).iter().any(|s| match &s.rule {
                Rule::DropMidData { address } => self.rcpts.iter().any(|r| r.eq_ignore_ascii_case(address)),
                Rule::DropNthMessage { n: nth } => *nth == n,
                _ => false,
            });
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>");
    }
}

/// The address in `FROM:<address> params` / `TO:<address> params`.
fn path(arg: &str, keyword: &str) -> Option<(String, String)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (address, params) = rest.split_once('>')?;
    Some((address.to_string(), params.trim().to_string()))
}

fn decode(b64: &[u8]) -> Option<String> {
    String::from_utf8(BASE64.decode(b64).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `input` in one go and reads until `replies` reply lines ending
    /// a reply (code followed by a space) have arrived.
    async fn exchange(tcp: &mut TcpStream, input: &str, replies: usize) -> String {
        tcp.write_all(input.as_bytes()).await.expect("write");
        let mut got = String::new();
        let mut buf = [0u8; 4096];
        while got.lines().filter(|l| l.as_bytes().get(3) != Some(&b'-')).count() < replies {
            let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
                .await
                .expect("reply in time")
                .expect("read");
            assert!(n > 0, "closed early; got {got:?}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        got
    }

    #[tokio::test]
    async fn speaks_pipelined_smtp() {
        let sink = SmtpSink::start(SinkConfig { auth: Some(("u".into(), "p".into())), ..SinkConfig::default() }).await;
        sink.add_rule(Rule::RcptReply { address: "no@x.test".into(), reply: "550 5.1.1 User unknown".into() });
        let mut tcp = TcpStream::connect(sink.addr()).await.expect("connect");
        let greeting = exchange(&mut tcp, "", 1).await;
        assert!(greeting.starts_with("220 sink.test"), "{greeting}");
        let ehlo = exchange(&mut tcp, "EHLO client.test\r\n", 1).await;
        assert!(ehlo.contains("250-PIPELINING") && ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
        let early = exchange(&mut tcp, "MAIL FROM:<a@x.test>\r\n", 1).await;
        assert!(early.starts_with("530 5.7.0"), "{early}");
        let token = BASE64.encode("\0u\0p");
        let auth = exchange(&mut tcp, &format!("AUTH PLAIN {token}\r\n"), 1).await;
        assert!(auth.starts_with("235"), "{auth}");
        let batch = exchange(
            &mut tcp,
            "MAIL FROM:<a@x.test> SIZE=40\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<no@x.test>\r\nDATA\r\n",
            4,
        )
        .await;
        let codes: Vec<&str> = batch.lines().map(|l| &l[..3]).collect();
        assert_eq!(codes, ["250", "250", "550", "354"], "{batch}");
        let end = exchange(&mut tcp, "Subject: t\r\n\r\n..\r\n...x\r\n.\r\nNOOP\r\nRSET\r\nQUIT\r\n", 4).await;
        let codes: Vec<&str> = end.lines().map(|l| &l[..3]).collect();
        assert_eq!(codes, ["250", "250", "250", "221"], "{end}");
        let got = sink.messages();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].recipients, ["b@x.test"]);
        assert_eq!(got[0].data, b"Subject: t\r\n\r\n.\r\n..x\r\n");
        assert_eq!(got[0].auth_user.as_deref(), Some("u"));
        assert!(sink.pipelined_commands() >= 3);
        assert_eq!(sink.connections(), 1);
    }

    #[tokio::test]
    async fn refuses_data_without_recipients_and_counts_only() {
        let sink = SmtpSink::start(SinkConfig { count_only: true, ..SinkConfig::default() }).await;
        let mut tcp = TcpStream::connect(sink.addr()).await.expect("connect");
        exchange(&mut tcp, "", 1).await;
        let out =
            exchange(&mut tcp, "HELO c\r\nDATA\r\nMAIL FROM:<>\r\nDATA\r\nRCPT TO:<a@x.test>\r\nDATA\r\n", 6).await;
        let codes: Vec<&str> = out.lines().map(|l| &l[..3]).collect();
        assert_eq!(codes, ["250", "503", "250", "554", "250", "354"], "{out}");
        exchange(&mut tcp, "hello\r\n.\r\n", 1).await;
        assert!(sink.wait_for(1, Duration::from_secs(1)).await);
        assert!(sink.messages().is_empty());
        assert_eq!(sink.recipient_count(), 1);
    }
}
