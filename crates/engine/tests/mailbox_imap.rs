//! Bounces and complaints read from a mailbox over IMAP, against a real
//! dovecot (`assent_test_support::imap_server`; skipped with a notice when
//! dovecot is not installed, a failure under `CI=true`).
//!
//! The first tests drive the IMAP client itself: TLS both ways, LOGIN with
//! a quoted and with a literal password, SELECT, SEARCH, FETCH of a
//! multi-line message, flags, MOVE and its COPY + EXPUNGE fallbacks. The
//! others send a campaign through the real engine, put what remote systems
//! would answer into the mailbox (a DSN for a VERP address, an ARF
//! complaint that names no address of ours, an out-of-office answer, a
//! `mailto:` unsubscribe, someone else's mail, a message too big to read)
//! and run the poller.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use assent_engine::inbound::{InboundError, InboundProcessor, InboundSettings, Recognition};
use assent_engine::mailbox::{MailboxConfig, MailboxHandler, MailboxPoller, PollReport, Processed};
use assent_smtp::Secret;
use assent_smtp::imap::{Body, ImapClient, ImapError, ImapTls, KEYWORD_PROCESSED};
use assent_store::StoreError;
use assent_test_support::imap_server::{self, ImapServer, LITERAL_PASSWORD, LITERAL_USER};
use assent_test_support::{TestApp, spawn_app_with};
use assent_web::WebConfig;
use serde_json::Value;
use support::{Sent, contact, find, original, sent};
use tokio::sync::watch;

const UNPROCESSED: &str = "UNDELETED UNKEYWORD $AssentProcessed";

async fn client(server: &ImapServer, tls: ImapTls) -> ImapClient {
    ImapClient::connect(&server.config(tls)).await.unwrap_or_else(|e| panic!("{e}\n{}", server.log()))
}

async fn body(c: &mut ImapClient, uid: u32) -> Vec<u8> {
    match c.uid_fetch(uid).await.expect("fetch") {
        Some(Body::Data(d)) => d,
        other => panic!("UID {uid}: {other:?}"),
    }
}

#[tokio::test]
async fn imap_client_against_dovecot() {
    let Some(server) = imap_server::start() else { return };
    // Lines that look like protocol: a ')' and a literal announcement.
    let multi: &[u8] = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: multi\r\n\r\nline 1\r\n) line 2\r\n\
                         {5}\r\n* OK not a response\r\n.\r\n";
    server.deliver("INBOX", multi);
    server.deliver("INBOX", b"Subject: two\r\n\r\nsecond\r\n");
    server.deliver("INBOX", b"Subject: three\r\n\r\nthird\r\n");

    // Implicit TLS, a password that needs quoting.
    let mut c = client(&server, ImapTls::Implicit).await;
    assert!(c.has("MOVE") && c.has("UIDPLUS"), "{:?}", c.capabilities());
    let sel = c.select("INBOX").await.expect("select");
    assert_eq!((sel.exists, sel.keywords, sel.read_only), (3, true, false), "{sel:?}");
    let uids = c.uid_search(UNPROCESSED).await.expect("search");
    assert_eq!(uids.len(), 3);
    let mut bodies = Vec::new();
    for &uid in &uids {
        bodies.push(body(&mut c, uid).await);
    }
    assert!(bodies.iter().any(|b| b == multi), "the multi-line message comes back byte for byte");
    assert_eq!(c.uid_search("UNSEEN").await.expect("search").len(), 3, "BODY.PEEK[] marks nothing");

    c.uid_add_flags(&uids[1..2], &["\\Seen", KEYWORD_PROCESSED]).await.expect("flag");
    assert_eq!(c.uid_search(UNPROCESSED).await.expect("search"), [uids[0], uids[2]]);
    assert_eq!(c.uid_search(&format!("KEYWORD {KEYWORD_PROCESSED} SEEN")).await.expect("search"), [uids[1]]);

    // Moving into a folder that does not exist yet creates it.
    c.uid_move(&uids[2..], "Processed").await.expect("move");
    assert_eq!(c.uid_search("ALL").await.expect("search"), uids[..2]);
    assert_eq!(server.messages("Processed").len(), 1);
    c.uid_move(&uids[..1], "Processed").await.expect("move into the existing folder");
    assert_eq!(server.messages("Processed").len(), 2);
    assert!(matches!(c.uid_fetch(uids[0]).await, Ok(None)), "a moved message is gone");
    c.append("INBOX", &["\\Seen"], b"Subject: appended\r\n\r\nfour\r\n").await.expect("append");
    assert_eq!(c.uid_search("SEEN").await.expect("search").len(), 2, "the flagged and the appended one");
    let sel = c.select("Processed").await.expect("select Processed");
    assert_eq!(sel.exists, 2);
    c.logout().await;

    // STARTTLS, and a password that can only be sent as a literal.
    let mut config = server.config(ImapTls::StartTls);
    config.user = LITERAL_USER.into();
    config.password = Secret::new(LITERAL_PASSWORD);
    let mut c = ImapClient::connect(&config).await.unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(c.select("INBOX").await.expect("select").exists, 0);
    c.logout().await;

    // Plain (tests only) and a message over the size limit.
    let mut config = server.config(ImapTls::None);
    config.max_message_bytes = 10;
    let mut c = ImapClient::connect(&config).await.expect("plain login");
    c.select("INBOX").await.expect("select");
    let uid = c.uid_search("ALL").await.expect("search")[0];
    assert!(matches!(c.uid_fetch(uid).await, Ok(Some(Body::TooBig(n))) if n > 10));
    let sizes = c.uid_sizes(&[uid, 999]).await.expect("sizes");
    assert_eq!(sizes.len(), 1, "{sizes:?}");
    c.logout().await;

    // Wrong password, bad folder: errors that say what to do.
    let mut config = server.config(ImapTls::Implicit);
    config.password = Secret::new("wrong");
    let err = ImapClient::connect(&config).await.err().expect("wrong password");
    assert!(matches!(err, ImapError::AuthFailed { .. }) && err.to_string().contains("imap_password"), "{err}");
    let mut c = client(&server, ImapTls::Implicit).await;
    let err = c.select("Nowhere").await.expect_err("missing folder");
    assert!(err.to_string().contains("SELECT") && err.to_string().contains("NO"), "{err}");
    let err = c.select("Gelöscht").await.expect_err("non-ASCII folder");
    assert!(matches!(err, ImapError::BadFolderName { .. }), "{err}");
    c.logout().await;
}

/// Without MOVE the client copies, marks `\Deleted` and expunges: with
/// UIDPLUS just those messages, without it the whole folder's deleted ones.
#[tokio::test]
async fn moves_without_the_move_extension() {
    for (caps, uidplus) in [("IMAP4rev1 LITERAL+ UIDPLUS", true), ("IMAP4rev1 LITERAL+", false)] {
        let Some(server) = imap_server::start_with(&format!("imap_capability = {caps}")) else { return };
        for i in 0..3 {
            server.deliver("INBOX", format!("Subject: {i}\r\n\r\nbody {i}\r\n").as_bytes());
        }
        let mut c = client(&server, ImapTls::Implicit).await;
        assert!(!c.has("MOVE") && c.has("UIDPLUS") == uidplus, "{:?}", c.capabilities());
        c.select("INBOX").await.expect("select");
        let uids = c.uid_search("ALL").await.expect("search");
        c.uid_move(&uids[..2], "Done").await.expect("copy and expunge");
        assert_eq!(c.uid_search("ALL").await.expect("search"), uids[2..], "{caps}");
        assert_eq!(server.messages("Done").len(), 2, "{caps}");
        assert_eq!(server.messages("INBOX").len(), 1, "{caps}: expunged, not just flagged");
        c.logout().await;
    }
}

// --- the poller, end to end --------------------------------------------------

const FBL: &str = "fbl@bounce.news.beispiel.de";

/// A Postfix DSN as the bounce mailbox receives it: the VERP address only
/// in `X-Original-To` and `To`, the mailbox's own address in `Delivered-To`.
fn dsn(s: &Sent, status: &str, diagnostic: &str) -> String {
    format!(
        "Return-Path: <>\r\nDelivered-To: bouncebox@beispiel.de\r\nX-Original-To: {verp}\r\n\
         From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: {verp}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{status}.dsn@mx.example.org>\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn-b\"\r\n\r\n\
         --dsn-b\r\nContent-Type: text/plain\r\n\r\n<{to}>: host mx.example.org said: {diagnostic}\r\n\r\n\
         --dsn-b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
         Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; {diagnostic}\r\n\r\n--dsn-b--\r\n",
        verp = s.verp,
        to = s.to,
    )
}

/// An ARF complaint forwarded to the mailbox under an address that is none
/// of ours: only the quoted original says whom it is about.
fn arf(s: &Sent) -> String {
    format!(
        "From: Feedback Loop <fbl@feedback.mailbox.example>\r\nTo: abuse-desk@beispiel.de\r\n\
         Delivered-To: bouncebox@beispiel.de\r\nSubject: Abuse report\r\nMessage-ID: <arf@feedback.mailbox.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"arf-b\"\r\n\r\n\
         --arf-b\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n\
         --arf-b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: ExampleFBL/2.1\r\n\
         Version: 1\r\n\r\n--arf-b\r\nContent-Type: message/rfc822\r\n\r\n{original}\r\n--arf-b--\r\n",
        original = original(s),
    )
}

fn out_of_office(s: &Sent) -> String {
    format!(
        "From: {to}\r\nTo: {verp}\r\nDelivered-To: bouncebox@beispiel.de\r\nSubject: Out of Office\r\n\
         Auto-Submitted: auto-replied\r\nMessage-ID: <ooo@example.org>\r\n\r\nI am away until Monday.\r\n",
        to = s.to,
        verp = s.verp,
    )
}

fn unsubscribe(s: &Sent) -> String {
    format!(
        "From: {to}\r\nTo: {mailto}\r\nSubject: unsubscribe\r\nMessage-ID: <unsub@example.org>\r\n\r\nStop.\r\n",
        to = s.to,
        mailto = s.mailto,
    )
}

const SOMEONE_ELSES: &str = "From: friend@example.org\r\nTo: bouncebox@beispiel.de\r\nSubject: lunch?\r\n\
                             Message-ID: <lunch@example.org>\r\n\r\nAre you free on Friday?\r\n";

/// An app that sent one campaign to `n` contacts; the delivered messages.
async fn campaign(n: usize) -> (TestApp, String, Vec<Sent>) {
    let app = spawn_app_with(WebConfig { public_url: "https://assent.test".into(), ..WebConfig::default() }).await;
    let emails: Vec<String> = (0..n).map(|i| format!("person{i}@example.org")).collect();
    let s = app.sending(&emails).await;
    app.send_campaign(&s.token, s.campaign).await;
    app.wait_campaign(&s.token, s.campaign, |c| c["status"] == "sent").await;
    let mails = app.wait_for_mail(n).await;
    let sent: Vec<Sent> = mails.iter().map(|m| sent(m)).collect();
    (app, s.token, sent)
}

fn state(c: &Value) -> (Option<&str>, &str) {
    (c["suppressed"].as_str(), c["subscriptions"][0]["status"].as_str().unwrap_or(""))
}

fn events(c: &Value, kind: &str) -> usize {
    c["consent_events"].as_array().expect("consent_events").iter().filter(|e| e["kind"] == kind).count()
}

fn processor(app: &TestApp) -> Arc<InboundProcessor> {
    let settings = InboundSettings { feedback_address: Some(FBL.into()), ..InboundSettings::default() };
    Arc::new(InboundProcessor::new(app.store.clone(), app.tokens.clone(), settings))
}

fn poller(server: &ImapServer, processed: Processed, handler: Arc<dyn MailboxHandler>) -> MailboxPoller {
    let mut imap = server.config(ImapTls::Implicit);
    imap.max_message_bytes = 256 * 1024;
    MailboxPoller {
        config: MailboxConfig {
            imap,
            folder: "INBOX".into(),
            processed,
            interval: std::time::Duration::from_secs(60),
            batch: 2,
        },
        handler,
    }
}

#[tokio::test]
async fn the_poller_applies_reports_and_moves_them() {
    let Some(server) = imap_server::start() else { return };
    let (app, token, sent) = campaign(5).await;
    let to = |i: usize| format!("person{i}@example.org");
    let p = |i: usize| find(&sent, &to(i));

    server.deliver("INBOX", dsn(p(0), "5.1.1", "550 5.1.1 <person0@example.org>: User unknown").as_bytes());
    server.deliver("INBOX", arf(p(1)).as_bytes());
    server.deliver("INBOX", out_of_office(p(2)).as_bytes());
    server.deliver("INBOX", unsubscribe(p(3)).as_bytes());
    server.deliver("INBOX", SOMEONE_ELSES.as_bytes());
    let mut big = b"Subject: a huge attachment\r\n\r\n".to_vec();
    big.resize(300 * 1024, b'a');
    server.deliver("INBOX", &big);

    let poller = poller(&server, Processed::Move("Processed".into()), processor(&app));
    let (_stop, stopped) = watch::channel(false);
    let report = poller.poll(&stopped).await.unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(
        report,
        PollReport { found: 6, recognised: 4, unrecognised: 1, too_big: 1, left: 0 },
        "{}",
        server.log()
    );

    let c0 = contact(&app, &token, &to(0)).await;
    assert_eq!(state(&c0), (Some("hard_bounce"), "bounced"), "{c0}");
    let c1 = contact(&app, &token, &to(1)).await;
    assert_eq!(state(&c1), (Some("complaint"), "complained"), "{c1}");
    let c2 = contact(&app, &token, &to(2)).await;
    assert_eq!(state(&c2), (None, "confirmed"), "an out-of-office answer is no bounce: {c2}");
    let c3 = contact(&app, &token, &to(3)).await;
    assert_eq!(state(&c3), (Some("unsubscribed"), "unsubscribed"), "{c3}");
    let c4 = contact(&app, &token, &to(4)).await;
    assert_eq!(state(&c4), (None, "confirmed"), "{c4}");

    // Ours (and the unreadable one) moved; someone else's left, unread, marked.
    assert_eq!(server.messages("Processed").len(), 5);
    let inbox = server.messages("INBOX");
    assert_eq!(inbox.len(), 1);
    assert!(String::from_utf8_lossy(&inbox[0]).contains("lunch?"));
    let mut c = client(&server, ImapTls::Implicit).await;
    c.select("INBOX").await.expect("select");
    assert_eq!(c.uid_search(&format!("UNSEEN KEYWORD {KEYWORD_PROCESSED}")).await.expect("search").len(), 1);
    c.logout().await;

    // The same DSN again, and a second poll: nothing counts twice.
    server.deliver("INBOX", dsn(p(0), "5.1.1", "550 5.1.1 <person0@example.org>: User unknown").as_bytes());
    let report = poller.poll(&stopped).await.expect("second poll");
    assert_eq!(report, PollReport { found: 1, recognised: 1, ..PollReport::default() });
    let report = poller.poll(&stopped).await.expect("third poll");
    assert_eq!(report, PollReport::default(), "nothing is read twice");
    let c0 = contact(&app, &token, &to(0)).await;
    assert_eq!(events(&c0, "bounced"), 1, "{c0}");
    assert_eq!(server.messages("Processed").len(), 6);
}

/// Fails the first message as a database outage would.
struct FailsOnce {
    inner: Arc<InboundProcessor>,
    failed: AtomicBool,
}

#[async_trait::async_trait]
impl MailboxHandler for FailsOnce {
    async fn handle(&self, message: &[u8]) -> Result<Recognition, InboundError> {
        if !self.failed.swap(true, Ordering::SeqCst) {
            return Err(InboundError::Store(StoreError::BadUrl("the database is down (test)".into())));
        }
        self.inner.handle(message).await
    }
}

#[tokio::test]
async fn flag_mode_keeps_messages_and_a_store_error_loses_nothing() {
    let Some(server) = imap_server::start() else { return };
    let (app, token, sent) = campaign(2).await;
    let p0 = find(&sent, "person0@example.org");
    server.deliver("INBOX", dsn(p0, "5.1.1", "550 5.1.1 <person0@example.org>: User unknown").as_bytes());
    server.deliver("INBOX", out_of_office(find(&sent, "person1@example.org")).as_bytes());

    let handler = Arc::new(FailsOnce { inner: processor(&app), failed: AtomicBool::new(false) });
    let poller = poller(&server, Processed::Flag, handler);
    let (_stop, stopped) = watch::channel(false);
    let report = poller.poll(&stopped).await.unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(report, PollReport { found: 2, left: 2, ..PollReport::default() }, "the poll stops at the failure");
    let c0 = contact(&app, &token, "person0@example.org").await;
    assert_eq!(state(&c0), (None, "confirmed"), "{c0}");

    let report = poller.poll(&stopped).await.expect("second poll");
    assert_eq!(report, PollReport { found: 2, recognised: 2, ..PollReport::default() });
    let c0 = contact(&app, &token, "person0@example.org").await;
    assert_eq!(state(&c0), (Some("hard_bounce"), "bounced"), "{c0}");

    // Flagged in place, not moved.
    assert_eq!(server.messages("INBOX").len(), 2);
    assert!(server.messages("Processed").is_empty());
    let mut c = client(&server, ImapTls::Implicit).await;
    c.select("INBOX").await.expect("select");
    assert_eq!(c.uid_search(&format!("SEEN KEYWORD {KEYWORD_PROCESSED}")).await.expect("search").len(), 2);
    c.logout().await;
    assert_eq!(poller.poll(&stopped).await.expect("third poll"), PollReport::default());

    // A stop before the poll leaves everything for later.
    server.deliver("INBOX", dsn(p0, "5.2.2", "552 5.2.2 mailbox full").as_bytes());
    let (stop, stopped) = watch::channel(false);
    stop.send(true).expect("stop");
    assert_eq!(
        poller.poll(&stopped).await.expect("stopped poll"),
        PollReport { found: 1, left: 1, ..PollReport::default() }
    );
}

#[tokio::test]
async fn work_polls_until_stopped() {
    let Some(server) = imap_server::start() else { return };
    let app = assent_test_support::spawn_app().await;
    let mut poller = poller(&server, Processed::Move("Processed".into()), processor(&app));
    poller.config.interval = std::time::Duration::from_millis(100);
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(poller.work(stopped));
    server.deliver("INBOX", SOMEONE_ELSES.as_bytes());
    let mut c = client(&server, ImapTls::Implicit).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        c.select("INBOX").await.expect("select");
        if c.uid_search(&format!("KEYWORD {KEYWORD_PROCESSED}")).await.expect("search").len() == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the poller never marked the message: {}", server.log());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    c.logout().await;
    stop.send(true).expect("stop");
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("the poller stops on shutdown")
        .expect("the poller does not panic");
}
