//! Delivery through real SMTP to the test sink: the fault matrix ends in
//! the right states, and pause/resume continues without sending twice.

use std::sync::Arc;
use std::time::Duration;

use assent_engine::delivery::DeliveryConfig;
use assent_engine::transport::SmtpTransport;
use assent_test_support::smtp_sink::{Rule, SinkConfig, SmtpSink};
use assent_test_support::{Options, Sending, TestApp, spawn_app_opts};
use assent_web::WebConfig;
use serde_json::Value;

async fn app_with_sink(sink: &SmtpSink, delivery: DeliveryConfig) -> TestApp {
    let relay =
        assent_smtp::Relay::parse(&format!("{}&max_connections=4&command_timeout=2s&data_timeout=2s", sink.url()))
            .expect("relay url");
    let transport = Arc::new(SmtpTransport::new(vec![relay]).expect("transport"));
    spawn_app_opts(Options {
        config: WebConfig { public_url: "https://assent.test".into(), ..WebConfig::default() },
        transport: Some(transport),
        delivery,
        database_url: None,
        ..Options::default()
    })
    .await
}

async fn contact(app: &TestApp, token: &str, email: &str) -> Value {
    let (_, found) = app.call("GET", &format!("/api/v1/contacts?email={email}"), Some(token), None).await;
    found["contacts"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_ends_in_the_right_states() {
    let sink = SmtpSink::start(SinkConfig::default()).await;
    let fast_retries = DeliveryConfig {
        retry_base: Duration::from_millis(50),
        retry_max_delay: Duration::from_millis(200),
        // An idle worker looks for due retries every 2 s: "later" needs
        // three attempts (≈ 4 s) before the retry period ends.
        retry_max_age: Duration::from_secs(8),
        ..DeliveryConfig::default()
    };
    let app = app_with_sink(&sink, fast_retries).await;
    let emails: Vec<String> =
        ["later", "unknown", "policy", "reset", "slow", "fine"].iter().map(|n| format!("{n}@example.org")).collect();
    let s = app.sending(&emails).await;
    sink.set_rules(vec![
        Rule::RcptTempFail { address: "later@example.org".into(), reply: "451 4.3.2 try again later".into(), times: 2 },
        Rule::RcptReply {
            address: "unknown@example.org".into(),
            reply: "550 5.1.1 <unknown@example.org>: user unknown".into(),
        },
        Rule::DataReply { address: "policy@example.org".into(), reply: "554 5.7.1 message rejected as spam".into() },
        Rule::DropMidData { address: "reset@example.org".into() },
    ]);
    app.send_campaign(&s.token, s.campaign).await;
    let done = app.wait_campaign(&s.token, s.campaign, |c| c["status"] == "sent").await;
    let counts = &done["counts"];
    assert_eq!((counts["sent"].as_i64(), counts["bounced"].as_i64()), (Some(3), Some(3)), "{done}");
    // What the sink accepted, exactly once each.
    let per = sink.deliveries_per_recipient();
    for ok in ["later@example.org", "slow@example.org", "fine@example.org"] {
        assert_eq!(per.get(ok), Some(&1), "{ok}: {per:?}");
    }
    for never in ["unknown@example.org", "policy@example.org", "reset@example.org"] {
        assert_eq!(per.get(never), None, "{never} must not count as delivered");
    }
    // User unknown: hard bounce, suppressed at once. Policy: recipient untouched.
    let unknown = contact(&app, &s.token, "unknown@example.org").await;
    assert_eq!(unknown["suppressed"], "hard_bounce", "{unknown}");
    assert!(unknown["consent_events"].as_array().expect("events").iter().any(|e| e["kind"] == "bounced"));
    let policy = contact(&app, &s.token, "policy@example.org").await;
    assert_eq!(policy["suppressed"], Value::Null, "{policy}");
    // The reset connection was retried until the retry period ran out: soft, not suppressed.
    let reset = contact(&app, &s.token, "reset@example.org").await;
    assert_eq!(reset["suppressed"], Value::Null, "{reset}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_continue_without_duplicates() {
    let sink = SmtpSink::start(SinkConfig { delay: Duration::from_millis(2), ..SinkConfig::default() }).await;
    let app = app_with_sink(&sink, DeliveryConfig { batch: 20, concurrency: 4, ..DeliveryConfig::default() }).await;
    let s = send_then_pause(&app, 150, "p").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at_pause = sink.count();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.count(), at_pause, "nothing is sent while paused");
    assert!(at_pause < 150, "paused before the end ({at_pause})");
    resume_to_the_end(&app, &s, &sink, 150).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_within_the_claimed_batch() {
    // 100 messages/s in large batches: before, a pause let the rest of the
    // claimed batch (and the one chained after it) go out.
    let (sink, app) = large_slow_batches().await;
    let s = send_then_pause(&app, 400, "b").await;
    stops_soon(&sink).await;
    resume_to_the_end(&app, &s, &sink, 400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_and_counts_the_rest_as_cancelled() {
    let (sink, app) = large_slow_batches().await;
    let s = send_then(&app, 400, "c", "cancel", "cancelled").await;
    let after = stops_soon(&sink).await;
    let (_, c) = app.call("GET", &format!("/api/v1/campaigns/{}", s.campaign), Some(&s.token), None).await;
    let counts = &c["counts"];
    assert_eq!((counts["queued"].as_i64(), counts["deferred"].as_i64()), (Some(0), Some(0)), "{c}");
    let (sent, cancelled) = (counts["sent"].as_i64().unwrap_or(0), counts["cancelled"].as_i64().unwrap_or(0));
    assert_eq!(sent, after as i64, "{c}");
    assert_eq!(sent + cancelled, counts["total"].as_i64().unwrap_or(-1), "{c}");
    assert!(cancelled >= 300, "{c}");
    assert_eq!(c["progress"]["remaining"], 0, "{c}");
    // A cancelled campaign cannot be resumed.
    let (code, _) = app.call("POST", &format!("/api/v1/campaigns/{}/resume", s.campaign), Some(&s.token), None).await;
    assert_eq!(code, 409);
}

/// 100 messages/s in batches of 200: a stop that waited for the claimed
/// batch would let well over 100 more go out.
async fn large_slow_batches() -> (SmtpSink, TestApp) {
    let sink = SmtpSink::start(SinkConfig { delay: Duration::from_millis(20), ..SinkConfig::default() }).await;
    let app = app_with_sink(&sink, DeliveryConfig { batch: 200, concurrency: 2, ..DeliveryConfig::default() }).await;
    (sink, app)
}

/// Right after a pause or cancel: at most what goes out before the next
/// status check (every 0.5 s: about 50 at 100/s) plus what is in flight,
/// then nothing. Returns how many the sink has.
async fn stops_soon(sink: &SmtpSink) -> u64 {
    let at_stop = sink.count();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = sink.count();
    assert!(after - at_stop < 80, "{} sent after the stop ({at_stop} before)", after - at_stop);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.count(), after, "nothing is sent once stopped");
    after
}

/// Starts sending to `n` recipients and pauses once 20 went out.
async fn send_then_pause(app: &TestApp, n: usize, prefix: &str) -> Sending {
    send_then(app, n, prefix, "pause", "paused").await
}

/// Starts sending to `n` recipients and, once 20 went out, POSTs `action`
/// (pause, cancel), which must leave the campaign `status`.
async fn send_then(app: &TestApp, n: usize, prefix: &str, action: &str, status: &str) -> Sending {
    let emails: Vec<String> = (0..n).map(|i| format!("{prefix}{i}@example.org")).collect();
    let s = app.sending(&emails).await;
    app.send_campaign(&s.token, s.campaign).await;
    app.wait_campaign(&s.token, s.campaign, |c| c["counts"]["sent"].as_i64().unwrap_or(0) >= 20).await;
    let (code, after) =
        app.call("POST", &format!("/api/v1/campaigns/{}/{action}", s.campaign), Some(&s.token), None).await;
    assert_eq!((code, after["status"].as_str()), (200, Some(status)));
    s
}

/// Resumes the campaign and waits until all `n` went out, each once.
async fn resume_to_the_end(app: &TestApp, s: &Sending, sink: &SmtpSink, n: i64) {
    let (_, resumed) =
        app.call("POST", &format!("/api/v1/campaigns/{}/resume", s.campaign), Some(&s.token), None).await;
    assert_eq!(resumed["status"], "sending");
    let done = app.wait_campaign(&s.token, s.campaign, |c| c["status"] == "sent").await;
    assert_eq!(done["counts"]["sent"], n, "{done}");
    let per = sink.deliveries_per_recipient();
    assert_eq!(per.len() as i64, n);
    assert!(per.values().all(|n| *n == 1), "duplicates: {:?}", per.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>());
}
