//! A fast SMTP sink for benchmarks: accepts everything, keeps only counts.
//!   cargo run --release -p assent-test-support --example smtp_sink [port]
//! Prints `listening HOST:PORT`, then the number of accepted messages once
//! a second.

use std::time::Duration;

use assent_test_support::smtp_sink::{SinkConfig, SmtpSink};

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let sink =
        SmtpSink::start(SinkConfig { discard_data: true, count_only: true, port, ..SinkConfig::default() }).await;
    println!("listening {}", sink.addr());
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!("accepted {}", sink.count());
    }
}
