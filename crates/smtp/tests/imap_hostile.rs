//! The IMAP client against servers that misbehave: garbage, silence,
//! endless lines, absurd literals, wrong tags, injected data after
//! STARTTLS. Each must end in a clear error (or a skipped body), never a
//! panic, a hang or an allocation the server chose.

use std::sync::Arc;
use std::time::{Duration, Instant};

use assent_smtp::Secret;
use assent_smtp::imap::{Body, ImapClient, ImapConfig, ImapError, ImapTimeouts, ImapTls};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the fake server answers to a command (tag, upper-case command).
enum Reply {
    Bytes(Vec<u8>),
    /// Say nothing, keep the connection open.
    Silence,
}

type Script = Arc<dyn Fn(&str, &str) -> Reply + Send + Sync>;

/// A one-connection server that greets with `greeting` (None: silence)
/// and answers each command line with `script`.
async fn fake(greeting: Option<Vec<u8>>, script: Script) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else { return };
        let (r, mut w) = tcp.into_split();
        let Some(greeting) = greeting else {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        };
        if w.write_all(&greeting).await.is_err() {
            return;
        }
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut words = line.splitn(3, ' ');
            let tag = words.next().unwrap_or("").to_string();
            let cmd = words.next().unwrap_or("").to_ascii_uppercase();
            let cmd = if cmd == "UID" {
                format!("UID {}", words.next().unwrap_or("").split(' ').next().unwrap_or("").to_ascii_uppercase())
            } else {
                cmd
            };
            match script(&tag, &cmd) {
                Reply::Bytes(b) => {
                    if w.write_all(&b).await.is_err() {
                        return;
                    }
                }
                Reply::Silence => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
            }
        }
    });
    port
}

fn config(port: u16) -> ImapConfig {
    let mut c = ImapConfig::new("127.0.0.1", "bounces", Secret::new("secret"));
    c.port = port;
    c.tls = ImapTls::None;
    c.timeouts = ImapTimeouts {
        connect: Duration::from_millis(500),
        read: Duration::from_millis(300),
        command: Duration::from_secs(5),
    };
    c.max_message_bytes = 1024 * 1024;
    c
}

/// A well-behaved server up to SELECT; `fetch` answers UID FETCH.
fn mostly_fine(fetch: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Script {
    Arc::new(move |tag, cmd| match cmd {
        "CAPABILITY" => Reply::Bytes(format!("* CAPABILITY IMAP4rev1 MOVE\r\n{tag} OK done\r\n").into_bytes()),
        "LOGIN" | "LOGOUT" | "UID STORE" => Reply::Bytes(format!("{tag} OK done\r\n").into_bytes()),
        "SELECT" => Reply::Bytes(format!("* 1 EXISTS\r\n{tag} OK [READ-WRITE] selected\r\n").into_bytes()),
        "UID FETCH" => fetch(tag),
        _ => Reply::Bytes(format!("{tag} BAD unknown\r\n").into_bytes()),
    })
}

const OK: &[u8] = b"* OK fake ready\r\n";

async fn connect(port: u16) -> Result<ImapClient, ImapError> {
    ImapClient::connect(&config(port)).await
}

#[tokio::test]
async fn garbage_greeting_is_a_protocol_error() {
    let port = fake(Some(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()), mostly_fine(|_| Reply::Silence)).await;
    let err = connect(port).await.err().expect("garbage is refused");
    assert!(matches!(err, ImapError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("imap_port"), "the message says what to check: {err}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let started = Instant::now();
    let port = fake(None, mostly_fine(|_| Reply::Silence)).await;
    let err = connect(port).await.err().expect("silence is an error");
    assert!(matches!(err, ImapError::Timeout { during: "greeting", .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    let port = fake(Some(OK.to_vec()), mostly_fine(|_| Reply::Silence)).await;
    let mut c = connect(port).await.expect("login");
    c.select("INBOX").await.expect("select");
    let err = c.uid_fetch(1).await.expect_err("silence is an error");
    assert!(matches!(err, ImapError::Timeout { during: "UID FETCH", .. }), "{err}");
    assert!(matches!(c.uid_fetch(1).await, Err(ImapError::Broken)), "a broken connection stays broken");
}

#[tokio::test]
async fn endless_lines_are_refused() {
    let port =
        fake(Some(OK.to_vec()), mostly_fine(|_| Reply::Bytes(std::iter::repeat_n(b'x', 3 * 1024 * 1024).collect())))
            .await;
    let mut c = connect(port).await.expect("login");
    c.select("INBOX").await.expect("select");
    let err = c.uid_fetch(1).await.expect_err("an endless line is an error");
    assert!(err.to_string().contains("longer than"), "{err}");
}

#[tokio::test]
async fn huge_literals_are_skipped_or_refused_never_buffered() {
    // 20 MB announced and sent, 1 MB allowed: read past, reported as too big.
    let port = fake(
        Some(OK.to_vec()),
        mostly_fine(|tag| {
            let mut b = b"* 1 FETCH (UID 1 BODY[] {20000000}\r\n".to_vec();
            b.resize(b.len() + 20_000_000, b'a');
            b.extend_from_slice(format!(")\r\n{tag} OK fetched\r\n").as_bytes());
            Reply::Bytes(b)
        }),
    )
    .await;
    let mut c = connect(port).await.expect("login");
    c.select("INBOX").await.expect("select");
    assert_eq!(c.uid_fetch(1).await.expect("fetch"), Some(Body::TooBig(20_000_000)));
    c.uid_add_flags(&[1], &["$AssentProcessed"]).await.expect("the connection is still in step");

    // 4 GB announced, then nothing: an error, and no 4 GB buffer.
    let port =
        fake(Some(OK.to_vec()), mostly_fine(|_| Reply::Bytes(b"* 1 FETCH (UID 1 BODY[] {4000000000}\r\nabc".to_vec())))
            .await;
    let mut c = connect(port).await.expect("login");
    c.select("INBOX").await.expect("select");
    let err = c.uid_fetch(1).await.expect_err("an absurd literal is an error");
    assert!(err.to_string().contains("literal of 4000000000 bytes"), "{err}");
}

#[tokio::test]
async fn wrong_tags_and_refusals_are_clear_errors() {
    let port =
        fake(Some(OK.to_vec()), mostly_fine(|_| Reply::Bytes(b"Z9999 OK [UIDNEXT 5] someone else's\r\n".to_vec())))
            .await;
    let mut c = connect(port).await.expect("login");
    c.select("INBOX").await.expect("select");
    let err = c.uid_fetch(1).await.expect_err("a wrong tag is an error");
    assert!(err.to_string().contains("Z9999"), "{err}");

    let script: Script = Arc::new(|tag, cmd| match cmd {
        "CAPABILITY" => Reply::Bytes(format!("* CAPABILITY IMAP4rev1\r\n{tag} OK\r\n").into_bytes()),
        _ => Reply::Bytes(format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n").into_bytes()),
    });
    let port = fake(Some(OK.to_vec()), script).await;
    let err = connect(port).await.err().expect("refused login");
    assert!(matches!(err, ImapError::AuthFailed { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("imap_password") && text.contains("AUTHENTICATIONFAILED"), "{text}");
    assert!(!text.contains("secret"), "never the password: {text}");

    let port = fake(Some(b"* BYE too many connections\r\n".to_vec()), mostly_fine(|_| Reply::Silence)).await;
    let err = connect(port).await.err().expect("BYE");
    assert!(err.to_string().contains("too many connections"), "{err}");

    let port =
        fake(Some(OK.to_vec()), mostly_fine(|tag| Reply::Bytes(format!("{tag} BAD no such message\r\n").into_bytes())))
            .await;
    let mut c = connect(port).await.expect("login");
    c.select("INBOX").await.expect("select");
    let err = c.uid_fetch(1).await.expect_err("BAD");
    assert!(matches!(err, ImapError::Rejected { command: "UID FETCH", status: "BAD", .. }), "{err}");
}

#[tokio::test]
async fn data_injected_after_starttls_is_refused() {
    let script: Script = Arc::new(|tag, cmd| match cmd {
        "CAPABILITY" => Reply::Bytes(format!("* CAPABILITY IMAP4rev1 STARTTLS\r\n{tag} OK\r\n").into_bytes()),
        "STARTTLS" => {
            Reply::Bytes(format!("{tag} OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1] injected\r\n").into_bytes())
        }
        _ => Reply::Silence,
    });
    let port = fake(Some(OK.to_vec()), script).await;
    let mut cfg = config(port);
    cfg.tls = ImapTls::StartTls;
    let err = ImapClient::connect(&cfg).await.err().expect("injection");
    assert!(matches!(err, ImapError::StartTlsInjection { .. }), "{err}");

    let port = fake(Some(OK.to_vec()), mostly_fine(|_| Reply::Silence)).await;
    let mut cfg = config(port);
    cfg.tls = ImapTls::StartTls;
    let err = ImapClient::connect(&cfg).await.err().expect("no STARTTLS");
    assert!(matches!(err, ImapError::StartTlsUnavailable { .. }), "{err}");
}

#[tokio::test]
async fn floods_of_responses_are_cut_off() {
    let port = fake(
        Some(OK.to_vec()),
        mostly_fine(|tag| {
            let mut b = Vec::new();
            for i in 0..120_000 {
                b.extend_from_slice(format!("* {i} EXISTS\r\n").as_bytes());
            }
            b.extend_from_slice(format!("{tag} OK\r\n").as_bytes());
            Reply::Bytes(b)
        }),
    )
    .await;
    let mut c = connect(port).await.expect("login");
    c.select("INBOX").await.expect("select");
    let err = c.uid_fetch(1).await.expect_err("a flood is an error");
    assert!(matches!(err, ImapError::Protocol { .. }) && err.to_string().contains("100000 responses"), "{err}");
}
