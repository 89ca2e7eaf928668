//! Throughput of the outbound hot path on all cores.
//!
//! `cargo run --release -p assent-mail --example bench_outbound`
//!
//! Prints the raw signing rates (the ring sign call alone on a
//! digest-sized input) and the full per-recipient pipeline — render a ~10 KB
//! personalised HTML campaign (text derived from it), assemble the MIME
//! message, DKIM-sign — with RSA+Ed25519 and with Ed25519 only, and the
//! ratio of the full RSA+Ed25519 rate to the raw RSA rate (target ≥ 90 %:
//! RSA signing should be the only real cost). `BENCH_SECS` sets the seconds
//! per measurement (default 3), `BENCH_THREADS` the thread count (default:
//! available cores). For profiling, `BENCH_WORKLOAD=ed|both|rsa` measures only
//! the Ed25519-only pipeline, the RSA+Ed25519 one or raw RSA signing.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use assent_domain::EmailAddress;
use assent_mail::outbound::{
    CampaignMessage, CampaignTemplate, DkimKey, DkimSigner, ListId, Mailbox, MessageId, RenderContext, sign_all,
};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

/// The allocator the assent binary sends with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A ~10 KB newsletter personalised the way real ones are: greeting, a
/// line with the contact's city, a customer-specific link, a conditional
/// block, imprint and the two per-contact links.
fn newsletter() -> String {
    let mut html = String::from(
        "<html><head><style>p { margin: 0 0 12px } .cta { color: #fff; background: #0a6 }</style></head><body>\
         <h1>Hello {{ first_name|default('there') }}!</h1>\
         <p>This month's offers for {{ city|default('your area') }}.</p>\
         {% if vip %}<p>As a VIP you get free shipping, {{ first_name }}.</p>{% endif %}",
    );
    for i in 0..48 {
        html.push_str(&format!(
            "<p>Article {i}: Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
             incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud.</p>\n"
        ));
    }
    html.push_str(
        "<p><a class=\"cta\" href=\"https://shop.example.com/?c={{ customer_id }}\">Shop now</a></p>\
         <p>{{ imprint }}</p><p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a> · \
         <a href=\"{{ preferences_url }}\">Preferences</a></p></body></html>",
    );
    html
}

/// The plain-text version of [`newsletter`], as a campaign with its own
/// text template would have it.
fn text_version() -> String {
    let mut text = String::from(
        "Hello {{ first_name|default('there') }}!\n\nThis month's offers for {{ city|default('your area') }}.\n\n\
         {% if vip %}As a VIP you get free shipping, {{ first_name }}.\n\n{% endif %}",
    );
    for i in 0..48 {
        text.push_str(&format!(
            "Article {i}: Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
             incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud.\n\n"
        ));
    }
    text.push_str(
        "Shop now: https://shop.example.com/?c={{ customer_id }}\n\n{{ imprint }}\n\n\
         Unsubscribe: {{ unsubscribe_url }}\nPreferences: {{ preferences_url }}\n",
    );
    text
}

/// CPU time this thread has run, from Linux's `/proc/thread-self/schedstat`
/// (nanoseconds); `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// One measurement: operations, wall seconds, and CPU seconds our threads
/// actually ran (equal to threads × wall on an idle machine).
#[derive(Clone, Copy, Default)]
struct Sample {
    ops: u64,
    wall: f64,
    cpu: f64,
}

/// Runs `work(thread, iteration)` on `threads` threads for `secs`.
fn measure(threads: usize, secs: f64, work: &(dyn Fn(usize, u64) + Sync)) -> Sample {
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let cpu_ns = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (stop, total, cpu_ns) = (&stop, &total, &cpu_ns);
            s.spawn(move || {
                let cpu_start = thread_cpu_ns();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    work(t, n);
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
                if let (Some(a), Some(b)) = (cpu_start, thread_cpu_ns()) {
                    cpu_ns.fetch_add(b.saturating_sub(a), Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
    });
    let wall = start.elapsed().as_secs_f64();
    let cpu = match cpu_ns.load(Ordering::Relaxed) {
        0 => wall * threads as f64,
        ns => ns as f64 / 1e9,
    };
    Sample { ops: total.load(Ordering::Relaxed), wall, cpu }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: f64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let threads: usize = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let rsa = DkimKey::generate_rsa2048()?;
    let ed = DkimKey::generate_ed25519()?;
    let raw_rsa = RsaKeyPair::from_pkcs8(rsa.to_pkcs8_der()).map_err(|e| e.to_string())?;
    let raw_ed = Ed25519KeyPair::from_pkcs8_maybe_unchecked(ed.to_pkcs8_der()).map_err(|e| e.to_string())?;
    let rng = SystemRandom::new();
    let domain = "news.example.com";
    let rsa_signer = DkimSigner::new(rsa, domain, "rsa1")?;
    let ed_signer = DkimSigner::new(ed, domain, "ed1")?;

    let html = newsletter();
    let template = CampaignTemplate::compile("News for {{ first_name|default('you') }}", &html, None)?;
    // The same campaign with its own text template: no HTML → text per
    // message.
    let with_text =
        CampaignTemplate::compile("News for {{ first_name|default('you') }}", &html, Some(&text_version()))?;
    let from = EmailAddress::parse("hello@news.example.com")?;
    let imprint = "Example Shop GmbH\nRepresented by: Erika Muster\nMain St 1, 10115 Berlin, Germany\n\
                   Email: info@example.com · Phone: +49 30 123456\nRegister: Amtsgericht Berlin HRB 12345\nVAT ID: DE123456789";
    let contacts: Vec<(EmailAddress, serde_json::Map<String, serde_json::Value>)> = (0..64)
        .map(|i| {
            let email = EmailAddress::parse(&format!("person{i}@example.org")).expect("valid address");
            let attrs = serde_json::json!({
                "first_name": format!("Person {i}"), "city": "Köln", "customer_id": i, "vip": i % 4 == 0,
            });
            (email, attrs.as_object().cloned().unwrap_or_default())
        })
        .collect();

    // One recipient's whole path: render, assemble into a reused buffer,
    // sign, prepend the signatures into the outgoing buffer.
    let pipeline =
        |template: &CampaignTemplate, signers: &[&DkimSigner], n: u64, buf: &mut Vec<u8>, out: &mut Vec<u8>| {
            let (to, attrs) = &contacts[(n % 64) as usize];
            let token = format!("tok{n:012}");
            let unsubscribe_url = format!("https://app.example.com/u/{token}");
            let preferences_url = format!("https://app.example.com/p/{token}");
            let ctx = RenderContext {
                email: to.as_str(),
                attributes: attrs,
                unsubscribe_url: &unsubscribe_url,
                preferences_url: &preferences_url,
                imprint,
                objection_notice: "",
            };
            let rendered = template.render(&ctx).expect("renders");
            let id = MessageId::new(&format!("d{n}"), 1_751_371_200, domain).expect("id");
            let mailto = format!("unsubscribe+{token}@{domain}");
            let message = CampaignMessage {
                from: Mailbox::new(Some("Example Shop"), &from),
                to: Mailbox::new(None, to),
                reply_to: None,
                subject: &rendered.subject,
                date: 1_751_371_200,
                message_id: &id,
                list_id: ListId { name: "Example Shop News", id: "c7.lists.news.example.com" },
                unsubscribe_url: &unsubscribe_url,
                unsubscribe_mailto: &mailto,
                feedback_id: "c7:a3:newsletter:assent",
                csa_complaints: true,
                text: &rendered.text,
                html: &rendered.html,
            };
            buf.clear();
            message.write_to(buf).expect("assembles");
            let sigs = sign_all(signers.iter().copied(), buf, 1_751_371_200).expect("signs");
            out.clear();
            out.extend_from_slice(sigs.as_bytes());
            out.extend_from_slice(buf);
            black_box(&out);
        };

    // Per-stage costs on one thread, for orientation.
    {
        let (to, attrs) = &contacts[0];
        let ctx = RenderContext {
            email: to.as_str(),
            attributes: attrs,
            unsubscribe_url: "https://app.example.com/u/tok",
            preferences_url: "https://app.example.com/p/tok",
            imprint,
            objection_notice: "",
        };
        let rendered = template.render(&ctx)?;
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            black_box(template.render(&ctx)?);
        }
        let render_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        let html_only = CampaignTemplate::compile("News for {{ first_name|default('you') }}", &html, Some("-"))?;
        let t = Instant::now();
        for _ in 0..n {
            black_box(html_only.render(&ctx)?);
        }
        let render_html_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        let t = Instant::now();
        for _ in 0..n {
            black_box(assent_mail::outbound::text::html_to_text(&rendered.html));
        }
        let to_text_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        println!(
            "one thread: render subject+HTML {render_html_us:.1} µs, html_to_text {to_text_us:.1} µs \
             (text template derived once from the HTML: {})",
            if template.text_is_derived_once() { "yes, no per-message conversion" } else { "no" }
        );
        let mut buf = Vec::new();
        let mut out = Vec::new();
        pipeline(&template, &[&ed_signer], 0, &mut buf, &mut out);
        let t = Instant::now();
        for _ in 0..n {
            buf.clear();
            let id = MessageId::new("d1", 1, domain)?;
            CampaignMessage {
                from: Mailbox::new(Some("Example Shop"), &from),
                to: Mailbox::new(None, to),
                reply_to: None,
                subject: &rendered.subject,
                date: 1_751_371_200,
                message_id: &id,
                list_id: ListId { name: "Example Shop News", id: "c7.lists.news.example.com" },
                unsubscribe_url: "https://app.example.com/u/tok",
                unsubscribe_mailto: "unsubscribe+tok@news.example.com",
                feedback_id: "c7:a3:newsletter:assent",
                csa_complaints: true,
                text: &rendered.text,
                html: &rendered.html,
            }
            .write_to(&mut buf)?;
            black_box(&buf);
        }
        let assemble_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        let mut qp = Vec::new();
        let t = Instant::now();
        for _ in 0..n {
            qp.clear();
            assent_mail::outbound::encode::quoted_printable(rendered.html.as_bytes(), &mut qp);
            assent_mail::outbound::encode::quoted_printable(rendered.text.as_bytes(), &mut qp);
            black_box(&qp);
        }
        let qp_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        let t = Instant::now();
        for _ in 0..n {
            black_box(ed_signer.sign(&buf, 1)?);
        }
        let ed_sign_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        println!(
            "one thread: render {render_us:.1} µs (HTML {} B, text {} B), assemble {assemble_us:.1} µs (message {} B; quoted-printable of both parts {qp_us:.1} µs), \
             hash+Ed25519 sign {ed_sign_us:.1} µs",
            rendered.html.len(),
            rendered.text.len(),
            buf.len()
        );
    }

    let digest = [7u8; 32];
    let modulus = raw_rsa.public().modulus_len();
    let raw_rsa_work = |_: usize, _: u64| {
        let mut sig = [0u8; 512];
        raw_rsa.sign(&RSA_PKCS1_SHA256, &rng, black_box(&digest), &mut sig[..modulus]).expect("rsa sign");
        black_box(&sig);
    };
    let raw_ed_work = |_: usize, _: u64| {
        black_box(raw_ed.sign(black_box(&digest)));
    };
    thread_local! {
        static BUFS: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    }
    let full_both_work = |_: usize, n: u64| {
        BUFS.with_borrow_mut(|(buf, out)| pipeline(&template, &[&rsa_signer, &ed_signer], n, buf, out))
    };
    let full_ed_work =
        |_: usize, n: u64| BUFS.with_borrow_mut(|(buf, out)| pipeline(&template, &[&ed_signer], n, buf, out));
    let full_text_work = |_: usize, n: u64| {
        BUFS.with_borrow_mut(|(buf, out)| pipeline(&with_text, &[&rsa_signer, &ed_signer], n, buf, out))
    };
    let workloads: [&(dyn Fn(usize, u64) + Sync); 5] =
        [&raw_rsa_work, &full_both_work, &raw_ed_work, &full_ed_work, &full_text_work];
    // `BENCH_WORKLOAD=ed|both|rsa` runs only that workload, to profile it
    // (`ed`: what besides RSA a message costs).
    if let Ok(only) = std::env::var("BENCH_WORKLOAD") {
        let (label, work): (&str, &(dyn Fn(usize, u64) + Sync)) = match only.as_str() {
            "ed" => ("full pipeline, Ed25519 only", &full_ed_work),
            "both" => ("full pipeline, RSA-2048 + Ed25519", &full_both_work),
            _ => ("raw RSA-2048 sign", &raw_rsa_work),
        };
        let m = measure(threads, secs, work);
        println!("{label}: {:.0} per second on {threads} threads", m.ops as f64 / m.wall);
        return Ok(());
    }

    // The workloads take turns in short slices, so that load from other
    // processes on a shared machine hits all of them alike and the ratio
    // stays meaningful.
    const SLICE: f64 = 0.25;
    let rounds = (secs / SLICE).ceil().max(1.0) as usize;
    println!("measuring on {threads} threads, {rounds} interleaved slices of {SLICE} s per workload …");
    let mut totals = [Sample::default(); 5];
    for _ in 0..rounds {
        for (total, work) in totals.iter_mut().zip(workloads) {
            let m = measure(threads, SLICE, work);
            total.ops += m.ops;
            total.wall += m.wall;
            total.cpu += m.cpu;
        }
    }
    // Wall-clock rates, and rates per CPU-second of our own threads scaled
    // to all threads: the latter are what the machine does when nothing
    // else runs, and they stay comparable when other processes compete.
    let wall = totals.map(|t| t.ops as f64 / t.wall);
    let cpu = totals.map(|t| t.ops as f64 / t.cpu * threads as f64);
    let share = totals.iter().map(|t| t.cpu / (t.wall * threads as f64)).fold(f64::INFINITY, f64::min);
    println!(
        "(our threads got at least {:.0} % of {threads} cores; \"CPU\" columns are per CPU-second × {threads})",
        share * 100.0
    );
    println!("{:<44}{:>12}{:>12}", "", "wall", "CPU");
    let rows = [
        ("raw RSA-2048 sign (ring, 32-byte input)", "signatures/s", 0),
        ("raw Ed25519 sign (ring, 32-byte input)", "signatures/s", 2),
        ("full pipeline, RSA-2048 + Ed25519", "messages/s", 1),
        ("full pipeline, Ed25519 only", "messages/s", 3),
        ("full RSA+Ed25519, campaign has a text template", "messages/s", 4),
    ];
    for (label, unit, i) in rows {
        println!("{label:<44}{:>12.0}{:>12.0}  {unit}", wall[i], cpu[i]);
    }
    println!(
        "{:<44}{:>11.1}%{:>11.1}%  (target ≥ 90 %)",
        "full(RSA+Ed25519) / raw RSA",
        100.0 * wall[1] / wall[0],
        100.0 * cpu[1] / cpu[0]
    );
    println!(
        "{:<44}{:>11.1}%{:>11.1}%",
        "  … with a text template",
        100.0 * wall[4] / wall[0],
        100.0 * cpu[4] / cpu[0]
    );
    Ok(())
}
