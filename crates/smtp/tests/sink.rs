//! The client, the pools and the relay set against the test SMTP sink over
//! real TCP on loopback: the fault matrix of issue 6 and the pool limits.

#[path = "../../test-support/src/smtp_sink.rs"]
#[allow(dead_code)]
mod smtp_sink;

use std::sync::Arc;
use std::time::Duration;

use assent_smtp::{
    Backoff, Pool, RecipientOutcome, Relay, RelaySet, SendOutcome, SmtpConnection, SmtpError, Stage, TlsMode,
};
use smtp_sink::{Rule, SinkConfig, SmtpSink};

const FROM: &str = "bounces+t1@assent.test";

fn relay(sink: &SmtpSink) -> Relay {
    Relay::parse(&sink.url()).expect("sink relay URL")
}

fn relay_with(sink: &SmtpSink, params: &str) -> Relay {
    Relay::parse(&format!("smtp://{}?{params}", sink.addr())).expect("relay URL")
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: News <news@assent.test>\r\nTo: you@example.test\r\nSubject: {subject}\r\nMessage-ID: <{subject}@assent.test>\r\n\r\nHello.\r\n"
    )
    .into_bytes()
}

async fn connect(relay: &Relay) -> SmtpConnection {
    SmtpConnection::connect(relay).await.expect("connect to the sink")
}

fn outcome<'a>(o: &'a SendOutcome, address: &str) -> &'a RecipientOutcome {
    o.get(address).unwrap_or_else(|| panic!("no outcome for {address} in {o:?}"))
}

fn enhanced(o: &RecipientOutcome) -> String {
    o.enhanced().map(|e| e.to_string()).unwrap_or_default()
}

#[tokio::test]
async fn plain_send_is_pipelined_and_arrives_intact() {
    let sink = SmtpSink::start_default().await;
    let mut conn = connect(&relay(&sink)).await;
    let caps = conn.capabilities().clone();
    assert!(caps.esmtp && caps.pipelining && caps.eight_bit_mime && caps.smtputf8 && caps.size.is_some());
    assert!(!conn.is_tls());

    let body = message("hello");
    let out = conn.send(FROM, &["a@example.test", "b@example.test"], &body).await.expect("send");
    assert!(out.all_accepted(), "{out:?}");
    let RecipientOutcome::Accepted { reply } = outcome(&out, "a@example.test") else { unreachable!() };
    assert_eq!(reply.code, 250);
    assert!(reply.text.contains("queued as"), "{reply}");

    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, FROM);
    assert_eq!(got[0].recipients, ["a@example.test", "b@example.test"]);
    assert_eq!(got[0].data, body);
    // RCPT, RCPT and DATA arrived while the reply to MAIL was still unsent.
    assert!(sink.pipelined_commands() >= 3, "pipelined {}", sink.pipelined_commands());
    assert_eq!(conn.transactions(), 1);
    conn.quit().await;
}

#[tokio::test]
async fn without_pipelining_commands_go_one_at_a_time() {
    let sink = SmtpSink::start(SinkConfig { pipelining: false, ..SinkConfig::default() }).await;
    let mut conn = connect(&relay(&sink)).await;
    assert!(!conn.capabilities().pipelining);
    for i in 0..3 {
        let out = conn.send(FROM, &["a@example.test", "b@example.test"], &message(&format!("m{i}"))).await;
        assert!(out.expect("send").all_accepted());
    }
    assert_eq!(sink.count(), 3);
    assert_eq!(sink.pipelined_commands(), 0);
}

#[tokio::test]
async fn falls_back_to_helo() {
    let sink = SmtpSink::start(SinkConfig { ehlo: false, ..SinkConfig::default() }).await;
    let mut conn = connect(&relay(&sink)).await;
    assert!(!conn.capabilities().esmtp && !conn.capabilities().pipelining);
    assert!(conn.send(FROM, &["a@example.test"], &message("helo")).await.expect("send").all_accepted());
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn one_recipient_rejected_others_accepted() {
    let sink = SmtpSink::start_default().await;
    sink.add_rule(Rule::RcptReply { address: "gone@example.test".into(), reply: "550 5.1.1 User unknown".into() });
    let mut conn = connect(&relay(&sink)).await;
    let rcpts = ["a@example.test", "gone@example.test", "c@example.test"];
    let out = conn.send(FROM, &rcpts, &message("partial")).await.expect("send");
    assert_eq!(out.recipients.len(), 3);
    assert!(outcome(&out, "a@example.test").is_accepted());
    assert!(outcome(&out, "c@example.test").is_accepted());
    assert_eq!(
        outcome(&out, "gone@example.test"),
        &RecipientOutcome::PermFail {
            code: 550,
            enhanced: Some(assent_smtp::EnhancedCode { class: 5, subject: 1, detail: 1 }),
            text: "User unknown".into(),
            stage: Stage::Rcpt,
        }
    );
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients, ["a@example.test", "c@example.test"]);
}

#[tokio::test]
async fn all_recipients_rejected_sends_nothing_and_the_connection_goes_on() {
    for pipelining in [true, false] {
        let sink = SmtpSink::start(SinkConfig { pipelining, ..SinkConfig::default() }).await;
        for a in ["x@example.test", "y@example.test"] {
            sink.add_rule(Rule::RcptReply { address: a.into(), reply: "550 5.1.1 User unknown".into() });
        }
        let mut conn = connect(&relay(&sink)).await;
        let out = conn.send(FROM, &["x@example.test", "y@example.test"], &message("none")).await.expect("send");
        assert_eq!(out.accepted_count(), 0);
        assert!(
            out.recipients.iter().all(|r| matches!(r.outcome, RecipientOutcome::PermFail { stage: Stage::Rcpt, .. }))
        );
        assert!(!conn.is_broken());
        let out = conn.send(FROM, &["ok@example.test"], &message("next")).await.expect("send");
        assert!(out.all_accepted(), "pipelining={pipelining}: {out:?}");
        assert_eq!(sink.count(), 1);
        assert_eq!(sink.connections(), 1);
    }
}

#[tokio::test]
async fn fault_temp_fail_then_success_on_retry() {
    let sink = SmtpSink::start_default().await;
    sink.add_rule(Rule::RcptTempFail {
        address: "busy@example.test".into(),
        reply: "450 4.2.0 Mailbox busy, try later".into(),
        times: 2,
    });
    let pool = Pool::new(relay(&sink));
    for attempt in 1..=2 {
        let out = pool.send(FROM, &["busy@example.test"], &message("retry")).await.expect("send");
        let o = outcome(&out, "busy@example.test");
        assert!(matches!(o, RecipientOutcome::TempFail { code: 450, .. }), "attempt {attempt}: {o:?}");
        assert_eq!(enhanced(o), "4.2.0");
        assert!(o.is_retryable() && !o.is_accepted());
    }
    assert_eq!(sink.count(), 0);
    let out = pool.send(FROM, &["busy@example.test"], &message("retry")).await.expect("send");
    assert!(out.all_accepted(), "{out:?}");
    assert_eq!(sink.count(), 1);
    assert_eq!(sink.connections(), 1, "the connection survives temporary failures");
}

#[tokio::test]
async fn fault_user_unknown_is_a_permanent_rcpt_failure() {
    let sink = SmtpSink::start_default().await;
    sink.add_rule(Rule::RcptReply {
        address: "nobody@example.test".into(),
        reply: "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown".into(),
    });
    let pool = Pool::new(relay(&sink));
    let out = pool.send(FROM, &["nobody@example.test"], &message("unknown")).await.expect("send");
    let o = outcome(&out, "nobody@example.test");
    assert!(matches!(o, RecipientOutcome::PermFail { code: 550, stage: Stage::Rcpt, .. }), "{o:?}");
    assert_eq!(enhanced(o), "5.1.1");
    assert!(!o.is_retryable());
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn fault_policy_rejection_at_data() {
    let sink = SmtpSink::start_default().await;
    sink.add_rule(Rule::DataReply {
        address: "strict@example.test".into(),
        reply: "554 5.7.1 Message rejected due to content policy".into(),
    });
    let pool = Pool::new(relay(&sink));
    let out = pool.send(FROM, &["strict@example.test"], &message("policy")).await.expect("send");
    let o = outcome(&out, "strict@example.test");
    assert!(matches!(o, RecipientOutcome::PermFail { code: 554, stage: Stage::Data, .. }), "{o:?}");
    assert_eq!(enhanced(o), "5.7.1");
    assert_eq!(sink.count(), 0);
    // The connection is still good for the next message.
    assert!(pool.send(FROM, &["ok@example.test"], &message("ok")).await.expect("send").all_accepted());
    assert_eq!(sink.connections(), 1);
}

#[tokio::test]
async fn fault_connection_reset_mid_data_is_lost_never_accepted() {
    let sink = SmtpSink::start_default().await;
    sink.add_rule(Rule::DropMidData { address: "flaky@example.test".into() });
    let mut conn = connect(&relay(&sink)).await;
    let out = conn.send(FROM, &["flaky@example.test", "a@example.test"], &message("drop")).await.expect("send");
    for r in &out.recipients {
        assert!(matches!(r.outcome, RecipientOutcome::ConnectionLost { stage: Stage::Data, .. }), "{out:?}");
        assert!(!r.outcome.is_accepted() && r.outcome.is_retryable());
    }
    assert!(conn.is_broken());
    assert!(matches!(conn.send(FROM, &["a@example.test"], &message("again")).await, Err(SmtpError::Broken)));
    assert_eq!(sink.count(), 0);

    // Through a pool the broken connection is discarded and the next
    // message goes over a new one.
    let pool = Pool::new(relay(&sink));
    let out = pool.send(FROM, &["flaky@example.test"], &message("drop")).await.expect("send");
    assert!(out.connection_lost() && out.accepted_count() == 0);
    assert_eq!(pool.stats().idle, 0);
    assert!(pool.send(FROM, &["a@example.test"], &message("next")).await.expect("send").all_accepted());
    assert_eq!(pool.stats().connections_opened, 2);
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn fault_drop_of_the_nth_message() {
    let sink = SmtpSink::start_default().await;
    sink.add_rule(Rule::DropNthMessage { n: 3 });
    let pool = Pool::new(relay(&sink));
    let mut lost = Vec::new();
    for i in 1..=5 {
        let out = pool.send(FROM, &[format!("r{i}@example.test")], &message(&format!("n{i}"))).await.expect("send");
        if !out.all_accepted() {
            assert!(out.connection_lost());
            lost.push(i);
        }
    }
    assert_eq!(lost, [3]);
    assert_eq!(sink.count(), 4);
    assert_eq!(sink.connections(), 2);
}

#[tokio::test]
async fn fault_slow_server_within_timeout_is_fine() {
    let sink = SmtpSink::start(SinkConfig { delay: Duration::from_millis(50), ..SinkConfig::default() }).await;
    let mut relay = relay(&sink);
    relay.timeouts.command = Duration::from_secs(5);
    let mut conn = connect(&relay).await;
    let out = conn.send(FROM, &["a@example.test", "b@example.test"], &message("slow")).await.expect("send");
    assert!(out.all_accepted(), "{out:?}");
}

#[tokio::test]
async fn fault_slow_server_beyond_timeout_is_connection_lost() {
    let sink = SmtpSink::start_default().await;
    let mut relay = relay(&sink);
    relay.timeouts.command = Duration::from_millis(300);
    let mut conn = connect(&relay).await;
    sink.set_delay(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let out = conn.send(FROM, &["a@example.test"], &message("too slow")).await.expect("send");
    let o = outcome(&out, "a@example.test");
    assert!(matches!(o, RecipientOutcome::ConnectionLost { stage: Stage::Mail, .. }), "{o:?}");
    assert!(!o.is_accepted());
    assert!(started.elapsed() < Duration::from_millis(1200), "gave up after {:?}", started.elapsed());
    assert!(conn.is_broken());

    // Too slow to greet: the pool cannot set up a session at all.
    let pool = Pool::new(relay);
    let err = pool.send(FROM, &["a@example.test"], &message("x")).await.expect_err("greeting timeout");
    assert!(matches!(err, SmtpError::Timeout { stage: Stage::Greeting, .. }), "{err}");
    assert!(err.to_string().contains("did not answer within"), "{err}");
}

#[tokio::test]
async fn fault_slow_final_reply_beyond_data_timeout_is_connection_lost() {
    let sink = SmtpSink::start_default().await;
    sink.add_rule(Rule::SlowDataEnd { delay: Duration::from_millis(1500) });
    let mut relay = relay(&sink);
    relay.timeouts.data = Duration::from_millis(300);
    let mut conn = connect(&relay).await;
    let out = conn.send(FROM, &["a@example.test"], &message("slow end")).await.expect("send");
    let o = outcome(&out, "a@example.test");
    // The sink kept the message but never said so in time: not accepted,
    // retried later (a possible duplicate, bounded by the pool size).
    assert!(matches!(o, RecipientOutcome::ConnectionLost { stage: Stage::Data, .. }), "{o:?}");
    assert!(sink.wait_for(1, Duration::from_secs(2)).await);
}

fn tls_sink_config() -> SinkConfig {
    SinkConfig { starttls: true, require_tls: true, ..SinkConfig::default() }
}

#[tokio::test]
async fn fault_tls_required_uses_starttls() {
    let sink = SmtpSink::start(tls_sink_config()).await;
    let relay = relay_with(&sink, "tls=required&tls_insecure=true");
    assert_eq!(relay.tls, TlsMode::Required);
    let pool = Pool::new(relay);
    let out = pool.send(FROM, &["a@example.test"], &message("tls")).await.expect("send");
    assert!(out.all_accepted(), "{out:?}");
    let got = sink.messages();
    assert!(got[0].tls, "the message came over TLS");

    // The default (tls=starttls) upgrades too when offered.
    let mut conn = connect(&relay_with(&sink, "tls_insecure=true")).await;
    assert!(conn.is_tls() && !conn.capabilities().starttls);
    assert!(conn.send(FROM, &["b@example.test"], &message("tls2")).await.expect("send").all_accepted());
    assert!(sink.messages().iter().all(|m| m.tls));
}

#[tokio::test]
async fn tls_required_by_the_server_but_disabled_by_us_is_refused_at_mail() {
    let sink = SmtpSink::start(tls_sink_config()).await;
    let mut conn = connect(&relay(&sink)).await;
    let out = conn.send(FROM, &["a@example.test"], &message("clear")).await.expect("send");
    let o = outcome(&out, "a@example.test");
    assert!(matches!(o, RecipientOutcome::PermFail { code: 530, stage: Stage::Mail, .. }), "{o:?}");
    assert_eq!(enhanced(o), "5.7.0");
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn tls_required_but_not_offered_is_an_error() {
    let sink = SmtpSink::start_default().await;
    let err = SmtpConnection::connect(&relay_with(&sink, "tls=required")).await.expect_err("no STARTTLS");
    assert!(matches!(err, SmtpError::StartTlsUnavailable { .. }), "{err}");
    assert!(err.to_string().contains("tls=required"), "{err}");
    // Opportunistic STARTTLS goes on in plain text.
    let conn = connect(&relay_with(&sink, "tls=starttls")).await;
    assert!(!conn.is_tls());
}

#[tokio::test]
async fn self_signed_certificate_is_refused_unless_insecure_is_set() {
    let sink = SmtpSink::start(tls_sink_config()).await;
    let err = SmtpConnection::connect(&relay_with(&sink, "tls=required")).await.expect_err("untrusted certificate");
    assert!(matches!(err, SmtpError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("tls_insecure=true"), "{err}");
    assert_eq!(sink.count(), 0);
}

fn auth_sink_config(mechanisms: &str) -> SinkConfig {
    SinkConfig {
        auth: Some(("sender".into(), "s3cret".into())),
        auth_mechanisms: mechanisms.into(),
        ..tls_sink_config()
    }
}

#[tokio::test]
async fn auth_plain_and_login() {
    for mechanism in ["PLAIN", "LOGIN"] {
        let sink = SmtpSink::start(auth_sink_config(mechanism)).await;
        let relay = relay_with(&sink, "tls=required&tls_insecure=true&user=sender&password=s3cret");
        let mut conn = connect(&relay).await;
        let out = conn.send(FROM, &["a@example.test"], &message("auth")).await.expect("send");
        assert!(out.all_accepted(), "{mechanism}: {out:?}");
        let got = sink.messages();
        assert_eq!(got[0].auth_user.as_deref(), Some("sender"));
        assert_eq!(got[0].auth_mechanism.as_deref(), Some(mechanism));
        assert!(got[0].tls);
    }
}

#[tokio::test]
async fn auth_with_a_wrong_password_is_a_clear_error() {
    for mechanism in ["PLAIN", "LOGIN"] {
        let sink = SmtpSink::start(auth_sink_config(mechanism)).await;
        let relay = relay_with(&sink, "tls=required&tls_insecure=true&user=sender&password=wrong");
        let err = SmtpConnection::connect(&relay).await.expect_err("wrong password");
        let SmtpError::AuthFailed { ref user, ref reply, .. } = err else { panic!("{mechanism}: {err}") };
        assert_eq!((user.as_str(), reply.code), ("sender", 535));
        let text = err.to_string();
        assert!(text.contains("check user and password") && text.contains("535 5.7.8"), "{text}");
        assert!(!text.contains("wrong"), "the password must not leak: {text}");
        // A pool reports the same error and sends nothing.
        let pool = Pool::new(relay);
        assert!(matches!(pool.send(FROM, &["a@x.test"], b"x").await, Err(SmtpError::AuthFailed { .. })));
        assert_eq!(sink.count(), 0);
    }
}

#[tokio::test]
async fn credentials_are_not_sent_in_clear_text() {
    let sink =
        SmtpSink::start(SinkConfig { auth: Some(("sender".into(), "s3cret".into())), ..SinkConfig::default() }).await;
    let err = SmtpConnection::connect(&relay_with(&sink, "user=sender&password=s3cret")).await.expect_err("clear");
    assert!(matches!(err, SmtpError::CleartextAuth { .. }), "{err}");
    // tls=none says clear text is fine (a relay on localhost, say).
    let mut conn = connect(&relay_with(&sink, "tls=none&user=sender&password=s3cret")).await;
    assert!(conn.send(FROM, &["a@example.test"], &message("clear")).await.expect("send").all_accepted());
    // Credentials for a relay that offers no AUTH.
    let plain = SmtpSink::start_default().await;
    let err = SmtpConnection::connect(&relay_with(&plain, "tls=none&user=u&password=p")).await.expect_err("no AUTH");
    assert!(matches!(err, SmtpError::AuthUnavailable { .. }), "{err}");
}

#[tokio::test]
async fn dot_stuffing_survives_the_round_trip() {
    let sink = SmtpSink::start_default().await;
    let mut conn = connect(&relay(&sink)).await;
    let body = b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmiddle . dot\r\n...\r\nbare lf\nend".to_vec();
    let out = conn.send(FROM, &["a@example.test"], &body).await.expect("send");
    assert!(out.all_accepted());
    let got = &sink.messages()[0].data;
    assert_eq!(
        String::from_utf8_lossy(got),
        "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmiddle . dot\r\n...\r\nbare lf\r\nend\r\n"
    );
}

#[tokio::test]
async fn envelope_checks_before_anything_is_sent() {
    let sink = SmtpSink::start_default().await;
    let mut conn = connect(&relay(&sink)).await;
    let none: [&str; 0] = [];
    assert!(matches!(conn.send(FROM, &none, b"x").await, Err(SmtpError::NoRecipients)));
    let err = conn.send(FROM, &["a@x.test>\r\nRCPT TO:<evil@x.test"], b"x").await.expect_err("injection");
    assert!(matches!(err, SmtpError::BadAddress { .. }));
    assert!(!conn.is_broken());
    // Non-ASCII addresses go with SMTPUTF8 where the relay offers it.
    let out = conn.send(FROM, &["jörg@exämple.test"], &message("utf8")).await.expect("send");
    assert!(out.all_accepted(), "{out:?}");
    // The null sender (for DSNs).
    assert!(conn.send("", &["a@example.test"], &message("null")).await.expect("send").all_accepted());
    assert_eq!(sink.messages()[1].from, "");
}

#[tokio::test]
async fn server_closing_with_421_is_a_temporary_failure() {
    let sink = SmtpSink::start(SinkConfig { max_messages_per_connection: Some(2), ..SinkConfig::default() }).await;
    let pool = Pool::new(relay(&sink));
    let mut outcomes = Vec::new();
    for i in 0..4 {
        outcomes.push(pool.send(FROM, &["a@example.test"], &message(&format!("m{i}"))).await.expect("send"));
    }
    assert!(outcomes[0].all_accepted() && outcomes[1].all_accepted());
    let o = outcome(&outcomes[2], "a@example.test");
    assert!(matches!(o, RecipientOutcome::TempFail { code: 421, .. }), "{o:?}");
    assert!(outcomes[3].all_accepted(), "a new connection after 421");
    assert_eq!(sink.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_reuses_at_most_max_connections() {
    let sink = SmtpSink::start_default().await;
    let pool = Pool::new(relay_with(&sink, "tls=none&max_connections=3&max_messages=1000"));
    let mut tasks = Vec::new();
    for t in 0..20 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                let rcpt = format!("t{t}-{i}@example.test");
                let out = pool.send(FROM, &[rcpt], &message(&format!("t{t}m{i}"))).await.expect("send");
                assert!(out.all_accepted(), "{out:?}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(sink.count(), 100);
    assert!(sink.connections() <= 3, "opened {} connections", sink.connections());
    assert!(sink.peak_connections() <= 3);
    let stats = pool.stats();
    assert_eq!(stats.connections_opened, sink.connections());
    assert_eq!((stats.messages, stats.in_use), (100, 0));
    assert_eq!(stats.idle as u64, sink.connections());
    assert_eq!(sink.deliveries_per_recipient().len(), 100);
    pool.close().await;
    assert_eq!(pool.stats().idle, 0);
    assert!(matches!(pool.send(FROM, &["a@x.test"], b"x").await, Err(SmtpError::PoolClosed { .. })));
}

#[tokio::test]
async fn pool_respects_max_messages_per_connection() {
    // The sink would answer 421 to a sixth message on one connection.
    let sink = SmtpSink::start(SinkConfig { max_messages_per_connection: Some(5), ..SinkConfig::default() }).await;
    let pool = Pool::new(relay_with(&sink, "tls=none&max_connections=1&max_messages=5"));
    for i in 0..23 {
        let out = pool.send(FROM, &["a@example.test"], &message(&format!("m{i}"))).await.expect("send");
        assert!(out.all_accepted(), "message {i}: {out:?}");
    }
    assert_eq!(sink.count(), 23);
    assert_eq!(sink.connections(), 5);
    assert_eq!(sink.most_messages_on_one_connection(), 5);
}

#[tokio::test]
async fn idle_connections_expire() {
    let sink = SmtpSink::start_default().await;
    let mut relay = relay(&sink);
    relay.timeouts.idle = Duration::from_millis(100);
    let pool = Pool::new(relay);
    assert!(pool.send(FROM, &["a@example.test"], &message("1")).await.expect("send").all_accepted());
    assert_eq!(pool.stats().idle, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(pool.send(FROM, &["a@example.test"], &message("2")).await.expect("send").all_accepted());
    assert_eq!(sink.connections(), 2);
    assert_eq!(pool.stats().idle, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    pool.prune_idle().await;
    assert_eq!(pool.stats().idle, 0);
}

#[tokio::test]
async fn relay_set_shares_by_weight() {
    let a = SmtpSink::start_default().await;
    let b = SmtpSink::start_default().await;
    let set = RelaySet::new(vec![relay_with(&a, "tls=none&weight=3"), relay_with(&b, "tls=none&weight=1")])
        .expect("relay set");
    let mut used = [0; 2];
    for i in 0..40 {
        let routed = set.send(FROM, &["a@example.test"], &message(&format!("w{i}"))).await.expect("send");
        assert!(routed.outcome.all_accepted());
        used[routed.relay] += 1;
    }
    assert_eq!(used, [30, 10]);
    assert_eq!((a.count(), b.count()), (30, 10));
    assert!(set.status().iter().all(|s| s.consecutive_failures == 0 && s.backing_off_for.is_none()));
    set.close().await;
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

#[tokio::test]
async fn relay_set_backs_off_a_dead_relay_and_routes_around_it() {
    let live = SmtpSink::start_default().await;
    let dead = Relay::parse(&format!("smtp://127.0.0.1:{}?tls=none&weight=5", closed_port().await)).expect("url");
    let backoff = Backoff { threshold: 1, base: Duration::from_secs(60), max: Duration::from_secs(600) };
    let set = RelaySet::with_backoff(vec![dead, relay(&live)], backoff).expect("relay set");
    for i in 0..20 {
        let routed = set.send(FROM, &["a@example.test"], &message(&format!("b{i}"))).await.expect("send");
        assert_eq!(routed.relay, 1);
        assert!(routed.outcome.all_accepted());
    }
    assert_eq!(live.count(), 20);
    let status = set.status();
    assert_eq!(status[0].consecutive_failures, 1, "tried once, then skipped while backing off");
    assert!(status[0].backing_off_for.is_some_and(|d| d > Duration::from_secs(50)));
    assert_eq!(status[1].consecutive_failures, 0);
    assert!(!status[0].relay.contains("password"));
}

#[tokio::test]
async fn relay_set_with_every_relay_down() {
    let dead = Relay::parse(&format!("smtp://127.0.0.1:{}?tls=none", closed_port().await)).expect("url");
    let set = RelaySet::new(vec![dead]).expect("relay set");
    // The default back-off starts at the second consecutive failure.
    for _ in 0..2 {
        let err = set.send(FROM, &["a@example.test"], b"x").await.expect_err("down");
        assert!(matches!(err, SmtpError::Connect { .. }), "{err}");
        assert!(err.to_string().contains("check the host and port"), "{err}");
    }
    let err = set.send(FROM, &["a@example.test"], b"x").await.expect_err("backing off");
    let SmtpError::NoRelayAvailable { retry_in } = err else { panic!("{err}") };
    assert!(retry_in <= Duration::from_secs(1));
    // Once the back-off is over the relay is tried again (and fails again,
    // doubling the back-off).
    tokio::time::sleep(retry_in + Duration::from_millis(20)).await;
    assert!(matches!(set.send(FROM, &["a@example.test"], b"x").await, Err(SmtpError::Connect { .. })));
    let status = set.status();
    assert_eq!(status[0].consecutive_failures, 3);
    assert!(status[0].backing_off_for.is_some_and(|d| d > Duration::from_millis(1500)));
    assert!(RelaySet::new(Vec::new()).is_err());
}

#[tokio::test]
async fn relay_set_recovers_when_the_relay_comes_back() {
    let sink = SmtpSink::start_default().await;
    let backoff = Backoff { threshold: 1, base: Duration::from_millis(200), max: Duration::from_secs(1) };
    let set = RelaySet::with_backoff(vec![relay(&sink)], backoff).expect("relay set");
    sink.add_rule(Rule::DropNthMessage { n: 1 });
    let routed = set.send(FROM, &["a@example.test"], &message("lost")).await.expect("send");
    assert!(routed.outcome.connection_lost());
    assert!(matches!(
        set.send(FROM, &["a@example.test"], &message("wait")).await,
        Err(SmtpError::NoRelayAvailable { .. })
    ));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let routed = set.send(FROM, &["a@example.test"], &message("back")).await.expect("send");
    assert!(routed.outcome.all_accepted());
    assert_eq!(set.status()[0].consecutive_failures, 0);
}

#[tokio::test]
async fn a_pooled_connection_the_server_dropped_is_replaced_without_losing_the_message() {
    let sink = SmtpSink::start_default().await;
    let pool = Pool::new(relay_with(&sink, "tls=none&max_connections=2"));
    let (m1, m2) = (message("1"), message("2"));
    let (one, two) = tokio::join!(pool.send(FROM, &["a@example.test"], &m1), pool.send(FROM, &["b@example.test"], &m2));
    assert!(one.expect("send").all_accepted() && two.expect("send").all_accepted());
    assert_eq!(pool.stats().idle, 2);
    // The server hangs up on both idle connections (as after its idle
    // timeout); the next message tries both, then a fresh connection.
    sink.drop_idle_connections();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = pool.send(FROM, &["c@example.test"], &message("3")).await.expect("send");
    assert!(out.all_accepted(), "{out:?}");
    assert_eq!(sink.connections(), 3);
    assert_eq!(sink.count(), 3);
    assert_eq!(pool.stats().connections_opened, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_senders_through_a_relay_set() {
    let a = SmtpSink::start(SinkConfig { discard_data: true, ..SinkConfig::default() }).await;
    let b = SmtpSink::start(SinkConfig { discard_data: true, ..SinkConfig::default() }).await;
    let set = Arc::new(
        RelaySet::new(vec![
            relay_with(&a, "tls=none&max_connections=4&max_messages=50"),
            relay_with(&b, "tls=none&max_connections=4&max_messages=50"),
        ])
        .expect("relay set"),
    );
    let mut tasks = Vec::new();
    for t in 0..16 {
        let set = set.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let rcpt = format!("t{t}-{i}@example.test");
                let routed = set.send(FROM, &[rcpt], b"Subject: x\r\n\r\nbody\r\n").await.expect("send");
                assert!(routed.outcome.all_accepted());
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(a.count() + b.count(), 800);
    assert_eq!(a.count(), 400);
    assert!(a.peak_connections() <= 4 && b.peak_connections() <= 4);
    let mut seen = a.deliveries_per_recipient();
    for (k, v) in b.deliveries_per_recipient() {
        *seen.entry(k).or_insert(0) += v;
    }
    assert_eq!(seen.len(), 800);
    assert!(seen.values().all(|&n| n == 1), "no duplicates");
}
