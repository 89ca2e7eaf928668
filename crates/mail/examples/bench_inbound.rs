//! Inbound report classification rate on one core.
//!
//! `cargo run --release -p assent-mail --example bench_inbound`
//!
//! Takes every bounce mail of the fixture corpus (RFC 3464 DSNs and the
//! non-standard texts of Postfix, Exim, qmail, Sendmail, Exchange, Gmail,
//! Yahoo, … in their real mix), grows each to a typical ~5 KB by lengthening
//! (or adding) the returned copy of the campaign message, and parses them
//! round-robin on the current thread. `BENCH_SECS` sets the duration
//! (default 3).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use assent_mail::inbound::{ReportKind, parse_report};

/// A campaign paragraph, as returned inside a bounce.
const FILLER: &str = "Our garden furniture collection is made from FSC-certified \
acacia and comes with a five-year warranty. Order before 31 March and we \
deliver free of charge to any address in Germany, Austria and Switzerland.\n";

fn grow(raw: &str, target: usize) -> String {
    if raw.len() >= target {
        return raw.to_owned();
    }
    let need = target - raw.len();
    let para: String = FILLER.repeat(need / FILLER.len() + 1);
    let para = &para[..need];
    // Inside the returned message's body when there is one, else as a longer
    // relay chain in its headers.
    if let Some(at) = raw.find("spring is here") {
        let mut s = raw.to_owned();
        s.insert_str(at, &format!("{para}\n"));
        return s;
    }
    if let Some(at) = raw.find("Received: from out1.assent.example") {
        let mut hops = String::new();
        let mut i = 0;
        while hops.len() < need {
            hops.push_str(&format!(
                "Received: from relay{i}.example.net (relay{i}.example.net [192.0.2.{i}])\n\tby relay{}.example.net with ESMTPS id 4Tv{i:04}; Tue, 12 Mar 2024 10:15:01 +0100\n",
                i + 1
            ));
            i += 1;
        }
        let mut s = raw.to_owned();
        s.insert_str(at, &hops);
        return s;
    }
    // No copy returned: attach one before the closing MIME boundary.
    let closing = raw.lines().rev().find(|l| l.len() > 4 && l.starts_with("--") && l.trim_end().ends_with("--"));
    if let Some(close) = closing {
        let boundary = &close.trim_end()[..close.trim_end().len() - 2];
        let at = raw.rfind(close).unwrap_or(raw.len());
        let part = format!(
            "{boundary}\nContent-Type: message/rfc822\n\nFrom: Shop News <news@news.shop.example>\nSubject: Our spring offers\nMessage-ID: <bench@news.shop.example>\nContent-Type: text/plain; charset=utf-8\n\n{para}\n"
        );
        let mut s = raw.to_owned();
        s.insert_str(at, &part);
        return s;
    }
    // A plain-text bounce: append the copy the way Exim does (not after an
    // encoded body, which the text would corrupt).
    let lower = raw.to_ascii_lowercase();
    if lower.contains("transfer-encoding: base64") || lower.contains("transfer-encoding: quoted-printable") {
        return raw.to_owned();
    }
    format!(
        "{raw}\n------ This is a copy of the message, including all the headers. ------\n\nFrom: Shop News <news@news.shop.example>\nSubject: Our spring offers\nMessage-ID: <bench@news.shop.example>\n\n{para}\n"
    )
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbound");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).expect("fixtures").flatten().map(|e| e.path()).collect();
    paths.sort();
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    for p in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "eml")) {
        let raw = std::fs::read(p).expect("read");
        // Mail only: JSON webhook bodies are not DSNs.
        let json = raw.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| matches!(b, b'{' | b'['));
        if json || parse_report(&raw).kind != ReportKind::Bounce {
            continue;
        }
        let text = String::from_utf8_lossy(&raw);
        let grown = grow(&text, 5 * 1024).into_bytes();
        // Growing must not change what the report says.
        assert_eq!(parse_report(&grown).recipients, parse_report(&raw).recipients, "{}", p.display());
        corpus.push(grown);
    }
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    println!("corpus: {} bounces, average {} bytes", corpus.len(), bytes / corpus.len().max(1));

    // Warm up caches and the parser's lazily built configuration.
    for raw in &corpus {
        black_box(parse_report(raw));
    }
    let deadline = Duration::from_secs(secs);
    let start = Instant::now();
    let mut n: u64 = 0;
    let mut classified: u64 = 0;
    while start.elapsed() < deadline {
        for raw in &corpus {
            let r = parse_report(black_box(raw));
            classified += r.recipients.len() as u64;
            n += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "one core: {:.0} messages/s ({:.1} µs each, {:.1} MB/s), {} recipients classified",
        n as f64 / elapsed,
        elapsed * 1e6 / n as f64,
        (n as f64 * (bytes as f64 / corpus.len() as f64)) / elapsed / 1e6,
        classified
    );
}
