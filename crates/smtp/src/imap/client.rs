//! One IMAP connection: greeting, TLS, LOGIN, then one command at a time.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use super::command::{Command, Part, folder, uid_set};
use super::error::ImapError;
use super::response::{Body, Data, Response, Status, StatusText, parse, shorten};
use super::wire::{Limits, Reader, Stream, WireError};
use super::{ImapConfig, ImapTimeouts, ImapTls};
use crate::error::SmtpError;
use crate::tls;

/// The longest response text kept. A SEARCH answer is one line, so this
/// allows some 250,000 UIDs; anything longer is refused.
const MAX_TEXT: usize = 2 * 1024 * 1024;
/// Untagged responses kept per command (a FETCH or EXPUNGE of one batch
/// has one per message), and the bytes they may hold besides message
/// bodies (which have their own limit).
const MAX_DATA: usize = 100_000;
const MAX_DATA_BYTES: usize = 16 * 1024 * 1024;

/// A selected folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    pub folder: String,
    pub exists: u32,
    pub uid_validity: Option<u32>,
    /// The server keeps keywords such as `$AssentProcessed` (`\*` in
    /// PERMANENTFLAGS).
    pub keywords: bool,
    pub read_only: bool,
}

/// A logged-in IMAP connection.
pub struct ImapClient {
    r: Reader<Stream>,
    server: String,
    timeouts: ImapTimeouts,
    max_message: u64,
    next_tag: u32,
    /// Upper-case capability names.
    caps: Vec<String>,
    /// The server's last BYE, said before it hung up.
    bye: Option<String>,
    /// Bytes of untagged data kept for the running command.
    kept: usize,
    broken: bool,
}

impl ImapClient {
    /// Connects, protects the connection as configured and logs in.
    pub async fn connect(config: &ImapConfig) -> Result<ImapClient, ImapError> {
        let server = config.server();
        let t = config.timeouts;
        let tcp = match timeout(t.connect, TcpStream::connect((config.host.as_str(), config.port))).await {
            Err(_) => return Err(ImapError::Timeout { server, during: "connect", after: t.connect }),
            Ok(Err(source)) => return Err(ImapError::Connect { server, source }),
            Ok(Ok(tcp)) => tcp,
        };
        let _ = tcp.set_nodelay(true);
        let stream = match config.tls {
            ImapTls::Implicit => Stream::Tls(Box::new(handshake(tcp, config, &server).await?)),
            ImapTls::StartTls | ImapTls::None => Stream::Plain(tcp),
        };
        let mut c = ImapClient {
            r: Reader::new(stream),
            server,
            timeouts: t,
            max_message: config.max_message_bytes,
            next_tag: 1,
            caps: Vec::new(),
            bye: None,
            kept: 0,
            broken: false,
        };
        let preauth = c.greeting().await?;
        c.capability().await?;
        if config.tls == ImapTls::StartTls {
            if preauth || !c.has("STARTTLS") {
                return Err(ImapError::StartTlsUnavailable { server: c.server });
            }
            c.run_ok("STARTTLS", Command::new("STARTTLS"), 0).await?;
            // Anything sent before the handshake would be read as if it
            // came protected (CVE-2011-0411 for IMAP).
            if c.r.buffered() > 0 {
                c.broken = true;
                return Err(ImapError::StartTlsInjection { server: c.server });
            }
            let Stream::Plain(tcp) = c.r.take_stream() else {
                return Err(ImapError::Broken);
            };
            c.r.put_stream(Stream::Tls(Box::new(handshake(tcp, config, &c.server).await?)));
            c.caps.clear();
            c.capability().await?;
        }
        if config.tls == ImapTls::None {
            tracing::warn!(server = %c.server, "IMAP without TLS: the password crosses the network readable");
        }
        if !preauth {
            c.login(&config.user, config.password.expose()).await?;
        }
        Ok(c)
    }

    /// Whether the server announced `name` (e.g. `MOVE`, `UIDPLUS`).
    pub fn has(&self, name: &str) -> bool {
        self.caps.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    pub fn capabilities(&self) -> &[String] {
        &self.caps
    }

    /// Reads the greeting; `true` for PREAUTH.
    async fn greeting(&mut self) -> Result<bool, ImapError> {
        self.r.set_deadline(Some(Instant::now() + self.timeouts.connect));
        loop {
            match self.read("greeting", &mut 0).await? {
                Response::Data(Data::Status(s)) => {
                    self.note_caps(&s);
                    return match s.status {
                        Status::Ok => Ok(false),
                        Status::PreAuth => Ok(true),
                        Status::Bye => {
                            self.broken = true;
                            Err(ImapError::Closed {
                                server: self.server.clone(),
                                during: "greeting",
                                bye: Some(s.describe()),
                            })
                        }
                        Status::No | Status::Bad => {
                            Err(self.protocol("greeting", format!("greeting {}", s.describe())))
                        }
                    };
                }
                Response::Data(_) => {}
                other => return Err(self.protocol("greeting", format!("unexpected {other:?} before the greeting"))),
            }
        }
    }

    async fn capability(&mut self) -> Result<(), ImapError> {
        self.run_ok("CAPABILITY", Command::new("CAPABILITY"), 0).await?;
        if self.caps.is_empty() {
            return Err(self.protocol("CAPABILITY", "no capabilities announced".into()));
        }
        Ok(())
    }

    async fn login(&mut self, user: &str, password: &str) -> Result<(), ImapError> {
        if self.has("LOGINDISABLED") {
            return Err(ImapError::LoginDisabled { server: self.server.clone() });
        }
        let cmd = Command::new("LOGIN").string(user.as_bytes()).string(password.as_bytes());
        let (_, status) = self.run("LOGIN", cmd, 0).await?;
        match status.status {
            Status::Ok => {}
            Status::No => {
                return Err(ImapError::AuthFailed {
                    server: self.server.clone(),
                    user: user.to_string(),
                    text: status.describe(),
                });
            }
            _ => return Err(self.rejected("LOGIN", &status)),
        }
        // Servers announce more after login; the OK often carries it.
        if status.code_name().as_deref() != Some("CAPABILITY") {
            self.capability().await?;
        }
        Ok(())
    }

    /// Selects `name` for reading and changing.
    pub async fn select(&mut self, name: &str) -> Result<Selected, ImapError> {
        let cmd = Command::new("SELECT ").text(&folder(name)?);
        let (data, status) = self.run_ok("SELECT", cmd, 0).await?;
        let mut sel =
            Selected { folder: name.to_string(), exists: 0, uid_validity: None, keywords: true, read_only: false };
        for d in &data {
            match d {
                Data::Exists(n) => sel.exists = *n,
                Data::Status(s) if s.status == Status::Ok => match s.code_name().as_deref() {
                    Some("UIDVALIDITY") => sel.uid_validity = s.code_args().parse().ok(),
                    Some("PERMANENTFLAGS") => sel.keywords = s.code_args().contains("\\*"),
                    _ => {}
                },
                _ => {}
            }
        }
        sel.read_only = status.code_name().as_deref() == Some("READ-ONLY");
        Ok(sel)
    }

    /// Creates a folder; one that exists already is fine.
    pub async fn create(&mut self, name: &str) -> Result<(), ImapError> {
        let cmd = Command::new("CREATE ").text(&folder(name)?);
        let (_, status) = self.run("CREATE", cmd, 0).await?;
        match (status.status, status.code_name().as_deref()) {
            (Status::Ok, _) | (Status::No, Some("ALREADYEXISTS")) => Ok(()),
            _ => Err(self.rejected("CREATE", &status)),
        }
    }

    /// `UID SEARCH criteria`, ascending. The criteria are written by the
    /// caller (e.g. `UNDELETED UNKEYWORD $AssentProcessed`).
    pub async fn uid_search(&mut self, criteria: &str) -> Result<Vec<u32>, ImapError> {
        let (data, _) = self.run_ok("UID SEARCH", Command::new("UID SEARCH ").text(criteria), 0).await?;
        let mut uids: Vec<u32> = data
            .into_iter()
            .filter_map(|d| match d {
                Data::Search(u) => Some(u),
                _ => None,
            })
            .flatten()
            .collect();
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// The sizes (`RFC822.SIZE`) of messages, by UID; vanished ones are missing.
    pub async fn uid_sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u64)>, ImapError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let cmd = Command::new("UID FETCH ").text(&uid_set(uids)).text(" (UID RFC822.SIZE)");
        let (data, _) = self.run_ok("UID FETCH", cmd, 0).await?;
        Ok(data
            .into_iter()
            .filter_map(|d| match d {
                Data::Fetch(f) => Some((f.uid?, f.size?)),
                _ => None,
            })
            .filter(|(uid, _)| uids.contains(uid))
            .collect())
    }

    /// The whole message `uid` without setting `\Seen` (`BODY.PEEK[]`);
    /// [`Body::TooBig`] when it is larger than the configured limit,
    /// `None` when it is gone.
    pub async fn uid_fetch(&mut self, uid: u32) -> Result<Option<Body>, ImapError> {
        let cmd = Command::new("UID FETCH ").text(&uid.to_string()).text(" (UID BODY.PEEK[])");
        let (data, _) = self.run_ok("UID FETCH", cmd, self.max_message).await?;
        Ok(data.into_iter().find_map(|d| match d {
            Data::Fetch(f) if f.uid == Some(uid) => f.body,
            _ => None,
        }))
    }

    /// Adds flags (`\Seen`, keywords) to messages.
    pub async fn uid_add_flags(&mut self, uids: &[u32], flags: &[&str]) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        // flag = "\" atom / atom (RFC 3501 §9); nothing that ends the list.
        let bad = |f: &&&str| f.is_empty() || !f.bytes().all(|b| b.is_ascii_graphic() && !b"(){\"%*]".contains(&b));
        if let Some(f) = flags.iter().find(bad) {
            return Err(ImapError::Rejected {
                server: self.server.clone(),
                command: "UID STORE",
                status: "refused",
                text: format!("{f:?} is no valid flag"),
            });
        }
        let cmd =
            Command::new("UID STORE ").text(&uid_set(uids)).text(" +FLAGS.SILENT (").text(&flags.join(" ")).text(")");
        self.run_ok("UID STORE", cmd, 0).await.map(drop)
    }

    /// Moves messages to `target`, creating it when the server says it is
    /// missing. Without MOVE: COPY, `\Deleted`, then UID EXPUNGE of just
    /// these (UIDPLUS) or EXPUNGE (which also removes other messages
    /// someone marked `\Deleted`, as any IMAP client's expunge would).
    pub async fn uid_move(&mut self, uids: &[u32], target: &str) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uid_set(uids);
        let target_q = folder(target)?;
        let (verb, name) = if self.has("MOVE") { ("UID MOVE ", "UID MOVE") } else { ("UID COPY ", "UID COPY") };
        let cmd = Command::new(verb).text(&set).text(" ").text(&target_q);
        let (_, status) = self.run(name, cmd.clone(), 0).await?;
        if status.status != Status::Ok {
            if status.status != Status::No {
                return Err(self.rejected(name, &status));
            }
            // TRYCREATE says the folder is missing; some servers do not say.
            let first = self.rejected(name, &status);
            if self.create(target).await.is_err() {
                return Err(first);
            }
            self.run_ok(name, cmd, 0).await?;
        }
        if name == "UID MOVE" {
            return Ok(());
        }
        self.uid_add_flags(uids, &["\\Deleted"]).await?;
        if self.has("UIDPLUS") {
            self.run_ok("UID EXPUNGE", Command::new("UID EXPUNGE ").text(&set), 0).await?;
        } else {
            self.run_ok("EXPUNGE", Command::new("EXPUNGE"), 0).await?;
        }
        Ok(())
    }

    /// Stores a message in `target` (tests, and putting mail back).
    pub async fn append(&mut self, target: &str, flags: &[&str], message: &[u8]) -> Result<(), ImapError> {
        let cmd = Command::new("APPEND ").text(&folder(target)?).text(" (").text(&flags.join(" ")).text(")");
        self.run_ok("APPEND", cmd.literal(message.to_vec()), 0).await.map(drop)
    }

    /// Says goodbye; errors do not matter any more.
    pub async fn logout(mut self) {
        if !self.broken {
            let _ = self.run("LOGOUT", Command::new("LOGOUT"), 0).await;
        }
        let _ = timeout(Duration::from_secs(2), self.r.stream_mut().shutdown()).await;
    }

    /// Runs a command and requires OK.
    async fn run_ok(
        &mut self,
        during: &'static str,
        cmd: Command,
        keep: u64,
    ) -> Result<(Vec<Data>, StatusText), ImapError> {
        let (data, status) = self.run(during, cmd, keep).await?;
        if status.status != Status::Ok {
            return Err(self.rejected(during, &status));
        }
        Ok((data, status))
    }

    /// Sends one tagged command and reads until its completion; returns the
    /// untagged data and the completion. `keep` is how many literal bytes
    /// (message bodies) may be held.
    async fn run(
        &mut self,
        during: &'static str,
        cmd: Command,
        mut keep: u64,
    ) -> Result<(Vec<Data>, StatusText), ImapError> {
        if self.broken {
            return Err(ImapError::Broken);
        }
        let tag = format!("A{:04}", self.next_tag);
        self.next_tag = self.next_tag.wrapping_add(1);
        self.r.set_deadline(Some(Instant::now() + self.timeouts.command));
        self.kept = 0;
        let mut data = Vec::new();
        let mut out = format!("{tag} ").into_bytes();
        for part in cmd.parts {
            match part {
                Part::Text(t) => out.extend_from_slice(&t),
                Part::Literal(l) => {
                    out.extend_from_slice(format!("{{{}}}\r\n", l.len()).as_bytes());
                    self.send(&out, during).await?;
                    out.clear();
                    // The server says `+` to go on, or refuses at once.
                    loop {
                        match self.read(during, &mut keep).await? {
                            Response::Continue => break,
                            Response::Tagged { tag: t, status } if t == tag => return Ok((data, status)),
                            Response::Tagged { tag: t, .. } => return Err(self.wrong_tag(during, &t, &tag)),
                            Response::Data(d) => self.collect(&mut data, d, during)?,
                        }
                    }
                    out.extend_from_slice(&l);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        self.send(&out, during).await?;
        drop(out);
        loop {
            match self.read(during, &mut keep).await? {
                Response::Tagged { tag: t, status } if t == tag => {
                    self.note_caps(&status);
                    return Ok((data, status));
                }
                Response::Tagged { tag: t, .. } => return Err(self.wrong_tag(during, &t, &tag)),
                Response::Continue => {
                    return Err(self.protocol(during, "continuation request without a literal to send".into()));
                }
                Response::Data(d) => self.collect(&mut data, d, during)?,
            }
        }
    }

    fn collect(&mut self, data: &mut Vec<Data>, d: Data, during: &'static str) -> Result<(), ImapError> {
        let weight = match &d {
            Data::Capability(c) => {
                self.caps = c.iter().map(|c| c.to_ascii_uppercase()).collect();
                return Ok(());
            }
            Data::Status(s) if s.status == Status::Bye => {
                self.bye = Some(s.describe());
                return Ok(());
            }
            // Only response codes matter (UIDVALIDITY, PERMANENTFLAGS, …).
            Data::Status(s) if s.code.is_none() => return Ok(()),
            Data::Status(s) => {
                self.note_caps(s);
                s.code.as_ref().map_or(0, String::len) + s.text.len()
            }
            Data::Other => return Ok(()),
            Data::Search(u) => u.len() * 4,
            Data::Fetch(f) => f.flags.as_ref().map_or(0, |f| f.iter().map(String::len).sum()) + 32,
            Data::Exists(_) | Data::Expunge(_) => 8,
        };
        self.kept += weight;
        if data.len() >= MAX_DATA || self.kept > MAX_DATA_BYTES {
            return Err(self
                .protocol(during, format!("more than {MAX_DATA} responses or {MAX_DATA_BYTES} bytes to one command")));
        }
        data.push(d);
        Ok(())
    }

    /// Capabilities carried in a response code (`[CAPABILITY …]`).
    fn note_caps(&mut self, s: &StatusText) {
        if s.code_name().as_deref() == Some("CAPABILITY") {
            self.caps = s.code_args().split_whitespace().take(1000).map(str::to_ascii_uppercase).collect();
        }
    }

    async fn send(&mut self, bytes: &[u8], during: &'static str) -> Result<(), ImapError> {
        let limit = self.timeouts.read;
        match self.r.send(bytes, limit).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.wire(during, e)),
        }
    }

    async fn read(&mut self, during: &'static str, keep: &mut u64) -> Result<Response, ImapError> {
        let limits = Limits { max_text: MAX_TEXT, idle: self.timeouts.read };
        let frame = match self.r.frame(limits, keep).await {
            Ok(f) => f,
            Err(e) => return Err(self.wire(during, e)),
        };
        parse(frame).map_err(|detail| self.protocol(during, detail))
    }

    fn wire(&mut self, during: &'static str, e: WireError) -> ImapError {
        self.broken = true;
        let server = self.server.clone();
        match e {
            // A wait cut short by the command's deadline reports the deadline.
            WireError::Timeout(d) => {
                let after = if d < self.timeouts.read { self.timeouts.command } else { d };
                ImapError::Timeout { server, during, after }
            }
            WireError::Io(source) => ImapError::Io { server, during, source },
            WireError::Closed => ImapError::Closed { server, during, bye: self.bye.clone() },
            WireError::Malformed(detail) => ImapError::Protocol { server, during, detail },
        }
    }

    fn protocol(&mut self, during: &'static str, detail: String) -> ImapError {
        self.broken = true;
        ImapError::Protocol { server: self.server.clone(), during, detail: shorten(&detail, 300) }
    }

    fn wrong_tag(&mut self, during: &'static str, got: &str, want: &str) -> ImapError {
        self.protocol(during, format!("completion for tag {got:?} while waiting for {want:?}"))
    }

    fn rejected(&self, command: &'static str, s: &StatusText) -> ImapError {
        ImapError::Rejected { server: self.server.clone(), command, status: s.status.as_str(), text: s.describe() }
    }
}

async fn handshake(
    tcp: TcpStream,
    config: &ImapConfig,
    server: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    let after = config.timeouts.connect;
    match timeout(after, tls::handshake(tcp, &config.host, config.tls_insecure)).await {
        Err(_) => Err(ImapError::Timeout { server: server.to_string(), during: "TLS handshake", after }),
        Ok(Ok(s)) => Ok(s),
        Ok(Err(SmtpError::Tls { source, .. })) => Err(ImapError::Tls { server: server.to_string(), source }),
        Ok(Err(SmtpError::InvalidServerName { host })) => Err(ImapError::InvalidServerName { host }),
        Ok(Err(SmtpError::TlsConfig { reason })) => Err(ImapError::TlsConfig { reason }),
        Ok(Err(other)) => Err(ImapError::TlsConfig { reason: other.to_string() }),
    }
}
