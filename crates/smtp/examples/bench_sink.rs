//! Throughput of the SMTP client pool against the test sink on loopback.
//!
//! ```text
//! cargo run --release -p assent-smtp --example bench_sink [messages] [connections] [senders] [body bytes]
//! ```
//!
//! Sends small messages (one recipient each) through one [`Pool`] with
//! PIPELINING to a sink that counts and discards, and prints messages per
//! second. Client and sink share this process and its cores.

#[path = "../../test-support/src/smtp_sink.rs"]
#[allow(dead_code)]
mod smtp_sink;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use assent_smtp::{Pool, Relay};
use smtp_sink::{SinkConfig, SmtpSink};

fn arg(n: usize, default: u64) -> u64 {
    std::env::args().nth(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total = arg(1, 50_000);
    let connections = arg(2, 8);
    let senders = arg(3, 64);
    let padding: Arc<str> = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n"
        .repeat(arg(4, 0).div_ceil(76) as usize)
        .into();
    let sink = SmtpSink::start(SinkConfig { discard_data: true, count_only: true, ..SinkConfig::default() }).await;
    let relay =
        Relay::parse(&format!("smtp://{}?tls=none&max_connections={connections}&max_messages=100000", sink.addr()))?;
    let pool = Pool::new(relay);
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (pool, next, failed, padding) = (pool.clone(), next.clone(), failed.clone(), padding.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let rcpt = format!("user{i}@example.test");
                let message = format!(
                    "From: News <news@assent.test>\r\nTo: <{rcpt}>\r\nSubject: Bench {i}\r\nMessage-ID: <{i}@assent.test>\r\n\r\nHello user {i}.\r\n.\r\n{padding}Bye.\r\n"
                );
                match pool.send("bounces@assent.test", &[rcpt], message.as_bytes()).await {
                    Ok(out) if out.all_accepted() => {}
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed();
    let arrived = sink.wait_for(total - failed.load(Ordering::Relaxed), Duration::from_secs(5)).await;
    let stats = pool.stats();
    println!(
        "{total} messages over {} connections ({senders} senders): {:.2} s, {:.0} msgs/s; sink counted {} (complete: {arrived}), {} failed",
        stats.connections_opened,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        sink.count(),
        failed.load(Ordering::Relaxed),
    );
    pool.close().await;
    Ok(())
}
