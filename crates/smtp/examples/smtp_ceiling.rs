//! The SMTP hand-over on its own: the same message (default 20 KB, the size
//! of the delivery benchmark's campaign messages) sent over and over
//! through the relay pool to a server, `concurrency` sends at a time, for a
//! few seconds; no database, no rendering, no signing. What
//! `bench/delivery.sh` prints as the ceiling of the sink and the client.
//!   smtp_ceiling smtp://127.0.0.1:PORT?tls=none [concurrency] [seconds] [bytes]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use assent_smtp::{Relay, RelaySet};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| {
        eprintln!("usage: smtp_ceiling smtp://host:port?tls=none [concurrency] [seconds] [bytes]");
        std::process::exit(2)
    });
    let concurrency: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(32);
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let bytes: usize = args.next().and_then(|b| b.parse().ok()).unwrap_or(20 * 1024);
    let mut relay = Relay::parse(&url).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    relay.max_connections = concurrency;
    relay.max_messages = u32::MAX;
    let relays = Arc::new(RelaySet::new(vec![relay]).expect("one relay is a valid set"));
    let mut message = b"From: a@sender.example\r\nTo: b@example.com\r\nSubject: ceiling\r\n\r\n".to_vec();
    while message.len() < bytes {
        message
            .extend_from_slice(b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor=\r\n");
    }
    let message = Arc::new(message);
    let sent = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let (relays, message, sent) = (relays.clone(), message.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let to = [format!("r{i}@example.com")];
            while Instant::now() < deadline {
                match relays.send("bounce@sender.example", &to, &message).await {
                    Ok(_) => {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("send failed: {e}");
                        return;
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let n = sent.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "SMTP hand-over alone, {concurrency} connections: {n} messages in {secs:.1}s = {:.0} msgs/s",
        n as f64 / secs
    );
}
