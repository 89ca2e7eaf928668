//! The inbound listener over real TCP on loopback: recipients only as the
//! handler allows (never a relay), the null sender of bounces, SIZE, DATA
//! transparency, pipelining, the connection, error and time limits, and
//! shutdown. The client side is this crate's own `SmtpConnection` where a
//! well-behaved client is wanted, and raw bytes where it is not.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assent_smtp::inbound::{InboundConfig, InboundHandler, InboundServer};
use assent_smtp::{RecipientOutcome, Relay, SmtpConnection, Stage, TlsMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Envelope sender, recipients, content.
type Received = (String, Vec<String>, Vec<u8>);

#[derive(Default)]
struct Recorder {
    messages: Mutex<Vec<Received>>,
    fail: AtomicBool,
}

#[async_trait::async_trait]
impl InboundHandler for Recorder {
    async fn accept_rcpt(&self, rcpt: &str) -> bool {
        rcpt.to_ascii_lowercase().starts_with("bounces+")
    }

    async fn deliver(&self, mail_from: &str, rcpts: &[String], data: &[u8]) -> Result<(), String> {
        if self.fail.load(Ordering::Relaxed) {
            return Err("database unreachable".into());
        }
        self.messages.lock().expect("lock").push((mail_from.to_string(), rcpts.to_vec(), data.to_vec()));
        Ok(())
    }
}

fn config() -> InboundConfig {
    InboundConfig { listen: "127.0.0.1:0".into(), hostname: "inbound.test".into(), ..InboundConfig::default() }
}

async fn start(config: InboundConfig) -> (InboundServer, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let server = InboundServer::start(config, recorder.clone()).await.expect("start inbound server");
    (server, recorder)
}

fn relay(server: &InboundServer) -> Relay {
    let mut r = Relay::new("127.0.0.1", server.local_addr().port());
    r.tls = TlsMode::None;
    r
}

/// A raw client: writes bytes, reads until `replies` final reply lines came.
struct Raw(TcpStream, Vec<u8>);

impl Raw {
    async fn connect(server: &InboundServer) -> Raw {
        let mut raw = Raw(TcpStream::connect(server.local_addr()).await.expect("connect"), Vec::new());
        let greeting = raw.replies(1).await;
        assert!(greeting[0].starts_with("220 inbound.test"), "{greeting:?}");
        raw
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).await.expect("write");
    }

    /// The next `n` replies (multi-line replies joined), each as its last line.
    async fn replies(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        while out.len() < n {
            if let Some(i) = self.1.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.1.drain(..=i).collect();
                let line = String::from_utf8_lossy(&line).trim_end().to_string();
                if line.as_bytes().get(3) != Some(&b'-') {
                    out.push(line);
                }
                continue;
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), self.0.read(&mut buf))
                .await
                .expect("a reply within 5 s")
                .expect("read");
            assert!(n > 0, "connection closed; replies so far: {out:?}");
            self.1.extend_from_slice(&buf[..n]);
        }
        out
    }

    /// True once the server closed the connection.
    async fn closed(&mut self) -> bool {
        let mut buf = [0u8; 256];
        matches!(tokio::time::timeout(Duration::from_secs(5), self.0.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
    }
}

fn codes(replies: &[String]) -> Vec<&str> {
    replies.iter().map(|r| &r[..3]).collect()
}

#[tokio::test]
async fn takes_mail_only_for_recipients_the_handler_wants() {
    let (server, recorder) = start(config()).await;
    let mut conn = SmtpConnection::connect(&relay(&server)).await.expect("connect");
    let caps = conn.capabilities().clone();
    assert!(caps.pipelining && caps.eight_bit_mime && caps.smtputf8);
    assert_eq!(caps.size, Some(10 * 1024 * 1024));
    assert!(!caps.starttls && !caps.auth_plain, "no STARTTLS, no AUTH: nothing here relays");

    let body = b"From: MAILER-DAEMON@mx.example\r\nSubject: failure\r\n\r\n.leading dot\r\nbye\r\n";
    let rcpts = ["bounces+abc@bounce.example.com", "someone@gmail.example"];
    // The null reverse path, as bounces carry it.
    let out = conn.send("", &rcpts, body).await.expect("send");
    assert!(out.get(rcpts[0]).is_some_and(RecipientOutcome::is_accepted), "{out:?}");
    match out.get(rcpts[1]) {
        Some(RecipientOutcome::PermFail { code: 550, stage: Stage::Rcpt, enhanced, .. }) => {
            assert_eq!(enhanced.map(|e| e.to_string()).as_deref(), Some("5.1.1"));
        }
        other => panic!("the open-relay attempt must be refused at RCPT with 550: {other:?}"),
    }
    conn.quit().await;

    let got = recorder.messages.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    let (from, to, data) = &got[0];
    assert_eq!((from.as_str(), to.as_slice()), ("", &[rcpts[0].to_string()][..]));
    assert_eq!(data.as_slice(), &body[..], "the transparency dot is removed again");
    let stats = server.stats();
    assert_eq!((stats.messages, stats.rejected_recipients), (1, 1));
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_message_nobody_may_receive_is_refused_before_data() {
    let (server, recorder) = start(config()).await;
    let mut conn = SmtpConnection::connect(&relay(&server)).await.expect("connect");
    let out = conn.send("spammer@example.net", &["victim@example.org"], b"Subject: x\r\n\r\nx\r\n").await;
    let out = out.expect("send");
    assert!(matches!(out.get("victim@example.org"), Some(RecipientOutcome::PermFail { code: 550, .. })), "{out:?}");
    assert!(recorder.messages.lock().expect("lock").is_empty());
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn handler_failure_is_a_temporary_451() {
    let (server, recorder) = start(config()).await;
    recorder.fail.store(true, Ordering::Relaxed);
    let mut conn = SmtpConnection::connect(&relay(&server)).await.expect("connect");
    let out = conn.send("", &["bounces+x@b.example"], b"Subject: x\r\n\r\nx\r\n").await.expect("send");
    match out.get("bounces+x@b.example") {
        Some(RecipientOutcome::TempFail { code: 451, .. }) => {}
        other => panic!("expected 451: {other:?}"),
    }
    assert_eq!(server.stats().messages_failed, 1);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let (server, recorder) = start(config()).await;
    let mut c = Raw::connect(&server).await;
    c.send(
        b"EHLO client.example\r\nMAIL FROM:<>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<bounces+1@b.example>\r\nRCPT TO:<BOUNCES+2@b.example>\r\nDATA\r\n",
    )
    .await;
    let r = c.replies(6).await;
    assert_eq!(codes(&r), ["250", "250", "550", "250", "250", "354"], "{r:?}");
    c.send(b"Subject: one\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bounces+3@b.example>\r\nDATA\r\n")
        .await;
    let r = c.replies(4).await;
    assert_eq!(codes(&r), ["250", "250", "250", "354"], "{r:?}");
    c.send(b"Subject: two\r\n\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n").await;
    let r = c.replies(4).await;
    assert_eq!(codes(&r), ["250", "250", "250", "221"], "{r:?}");
    assert!(c.closed().await);
    let got = recorder.messages.lock().expect("lock").clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, ["bounces+1@b.example", "BOUNCES+2@b.example"]);
    assert_eq!(got[0].2, b"Subject: one\r\n\r\nbody\r\n");
    assert_eq!((got[1].0.as_str(), got[1].2.as_slice()), ("a@b.example", &b"Subject: two\r\n\r\n"[..]));
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn commands_out_of_order_and_unknown_ones_are_refused() {
    let (server, _) = start(config()).await;
    let mut c = Raw::connect(&server).await;
    c.send(b"MAIL FROM:<>\r\nHELO client.example\r\nRCPT TO:<bounces+1@b.example>\r\nDATA\r\nMAIL FROM:<>\r\nDATA\r\nMAIL FROM:<>\r\nSTARTTLS\r\nAUTH PLAIN AAAA\r\nVRFY root\r\nFOO\r\nRCPT TO:<bounces+1@b.example> NOTIFY=NEVER\r\n").await;
    let r = c.replies(12).await;
    assert_eq!(
        codes(&r),
        ["503", "250", "503", "503", "250", "554", "503", "502", "502", "252", "500", "555"],
        "{r:?}"
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn the_size_limit_is_advertised_and_enforced() {
    let (server, recorder) = start(InboundConfig { max_message_bytes: 1000, ..config() }).await;
    let mut c = Raw::connect(&server).await;
    c.send(b"EHLO client.example\r\n").await;
    let ehlo = c.replies(1).await;
    assert_eq!(codes(&ehlo), ["250"]);
    c.send(b"MAIL FROM:<> SIZE=5000\r\nMAIL FROM:<> SIZE=500\r\nRCPT TO:<bounces+1@b.example>\r\nDATA\r\n").await;
    let r = c.replies(4).await;
    assert_eq!(codes(&r), ["552", "250", "250", "354"], "{r:?}");
    assert!(r[0].contains("5.3.4"));
    // The client lied about the size: the content is read to the end and refused.
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    for _ in 0..100 {
        big.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    big.extend_from_slice(b".\r\nNOOP\r\n");
    c.send(&big).await;
    let r = c.replies(2).await;
    assert_eq!(codes(&r), ["552", "250"], "the session goes on after a refused message: {r:?}");
    assert!(recorder.messages.lock().expect("lock").is_empty());
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn endless_content_far_over_the_limit_closes_the_connection() {
    let (server, _) = start(InboundConfig { max_message_bytes: 1000, ..config() }).await;
    let mut c = Raw::connect(&server).await;
    c.send(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bounces+1@b.example>\r\nDATA\r\n").await;
    assert_eq!(codes(&c.replies(4).await), ["250", "250", "250", "354"]);
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..64 {
        if c.0.write_all(&chunk).await.is_err() {
            break;
        }
    }
    // The server answers 552 and closes; the client may see the reply or,
    // with its own data still unread there, a reset.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), c.0.read_to_end(&mut rest)).await.expect("closed in time");
    if read.is_ok() && !rest.is_empty() {
        assert!(String::from_utf8_lossy(&rest).contains("552 5.3.4"), "{:?}", String::from_utf8_lossy(&rest));
    }
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn long_lines_and_too_many_errors() {
    let (server, _) = start(InboundConfig { max_errors: 3, ..config() }).await;
    let mut c = Raw::connect(&server).await;
    let mut long = vec![b'A'; 10_000];
    long.extend_from_slice(b"\r\nNOOP\r\n");
    c.send(&long).await;
    assert_eq!(codes(&c.replies(2).await), ["500", "250"]);
    c.send(b"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<guess1@b.example>\r\nRCPT TO:<guess2@b.example>\r\n").await;
    let r = c.replies(5).await;
    assert_eq!(codes(&r), ["250", "250", "550", "550", "421"], "{r:?}");
    assert!(c.closed().await);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn connections_over_the_limit_are_turned_away() {
    let (server, _) = start(InboundConfig { max_connections: 1, ..config() }).await;
    let _first = Raw::connect(&server).await;
    let mut second = TcpStream::connect(server.local_addr()).await.expect("connect");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), second.read_to_end(&mut buf)).await.expect("closed").expect("read");
    assert!(String::from_utf8_lossy(&buf).starts_with("421 4.7.0"), "{:?}", String::from_utf8_lossy(&buf));
    assert_eq!(server.stats().refused_connections, 1);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn idle_clients_time_out() {
    let (server, _) = start(InboundConfig { command_timeout: Duration::from_millis(200), ..config() }).await;
    let mut c = Raw::connect(&server).await;
    let r = c.replies(1).await;
    assert!(r[0].starts_with("421 4.4.2"), "{r:?}");
    assert!(c.closed().await);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn shutdown_says_goodbye_to_idle_sessions() {
    let (server, _) = start(config()).await;
    let mut c = Raw::connect(&server).await;
    let addr = server.local_addr();
    server.shutdown(Duration::from_secs(2)).await;
    let r = c.replies(1).await;
    assert!(r[0].starts_with("421 4.3.2"), "{r:?}");
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
}
