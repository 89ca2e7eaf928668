//! Delivery with real processes: `assent serve` killed with SIGKILL in the
//! middle of a campaign and restarted, several times; and two worker
//! processes sharing one PostgreSQL database. Counted at a real SMTP sink.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assent_test_support::smtp_sink::{SinkConfig, SmtpSink};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_assent");
const POOL: u64 = 4;

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Starts `assent serve`; returns it and the operator token if it printed one.
fn start(
    dir: &std::path::Path,
    db: &str,
    port: u16,
    relay: &str,
    roles: &str,
    lease_secs: u32,
) -> (Server, Option<String>) {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--database-url",
            db,
            "--http",
            &format!("127.0.0.1:{port}"),
            "--roles",
            roles,
            "--relay",
            relay,
        ])
        .args(["--public-url", "https://assent.test"])
        .env("ASSENT_SEND_CONCURRENCY", POOL.to_string())
        .env("ASSENT_DELIVERY_LEASE_SECS", lease_secs.to_string())
        .env("ASSENT_LOG", "warn")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("assent.log"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .spawn()
        .expect("spawn assent");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(t) = line.split_whitespace().find(|w| w.starts_with("assent_")) {
                let _ = tx.send(t.to_string());
            }
        }
    });
    let token = rx.recv_timeout(Duration::from_secs(3)).ok();
    (Server { child, base: format!("http://127.0.0.1:{port}") }, token)
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
        assert!(Instant::now() < deadline, "assent did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn call(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let mut req = client.request(method.parse().expect("method"), format!("{base}{path}")).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

/// An active account with `n` imported contacts, a verified domain and a
/// campaign; returns (account token, campaign id).
async fn prepare(client: &reqwest::Client, base: &str, op: &str, n: usize) -> (String, i64) {
    let acc = call(
        client,
        base,
        "POST",
        "/api/v1/accounts",
        op,
        Some(json!({"name": "Beispiel GmbH", "owner_email": "owner@beispiel.de"})),
    )
    .await;
    let id = acc["id"].as_i64().expect("id");
    let token = call(client, base, "POST", &format!("/api/v1/accounts/{id}/tokens"), op, None).await["token"]
        .as_str()
        .expect("token")
        .to_string();
    let audit = json!({"imprint": {"name": "Beispiel GmbH", "legal_form": "GmbH", "representative": "E. M.", "street": "Musterstr. 1",
        "postal_code": "10115", "city": "Berlin", "country": "DE", "email": "impressum@beispiel.de", "phone": "+49 30 123456",
        "register_court": "AG Berlin", "register_number": "HRB 1", "vat_id": "DE123456789"},
        "website": "https://beispiel.de", "list_origins": "shop", "consent_collection": "checkout", "expected_monthly_volume": 10000});
    call(client, base, "PUT", "/api/v1/account/audit", &token, Some(audit)).await;
    call(client, base, "POST", &format!("/api/v1/accounts/{id}/activate"), op, None).await;
    let list = call(client, base, "POST", "/api/v1/lists", &token, Some(json!({"name": "Customers"}))).await["id"]
        .as_i64()
        .expect("list");
    let mut csv = String::from("email,first_name\n");
    for i in 0..n {
        csv.push_str(&format!("person{i}@example.org,P{i}\n"));
    }
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("c.csv"))
        .text("list_id", list.to_string())
        .text("origin", "contract")
        .text("evidence", r#"{"contract_ref": "K", "notice_text": "We may email you."}"#);
    let resp =
        client.post(format!("{base}/api/v1/imports")).bearer_auth(&token).multipart(form).send().await.expect("upload");
    let import: Value = resp.json().await.expect("json");
    let import_id = import["id"].as_i64().expect("import id");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let i = call(client, base, "GET", &format!("/api/v1/imports/{import_id}"), &token, None).await;
        if i["progress"]["done"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "import did not finish: {i}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A new account's import waits for the operator.
    call(client, base, "POST", &format!("/api/v1/imports/{import_id}/approve"), op, None).await;
    let domain =
        call(client, base, "POST", "/api/v1/sender-domains", &token, Some(json!({"domain": "news.beispiel.de"}))).await;
    call(
        client,
        base,
        "POST",
        &format!("/api/v1/sender-domains/{}/verify", domain["id"]),
        op,
        Some(json!({"force": true, "reason": "test"})),
    )
    .await;
    let campaign = call(
        client,
        base,
        "POST",
        "/api/v1/campaigns",
        &token,
        Some(json!({"name": "Offers", "subject": "Offers",
        "from_email": "hello@news.beispiel.de", "list_ids": [list],
        "html": assent_test_support::CAMPAIGN_HTML, "text": assent_test_support::CAMPAIGN_TEXT})),
    )
    .await;
    let id = campaign["id"].as_i64().expect("campaign");
    let g = call(client, base, "GET", "/api/v1/guidelines", &token, None).await;
    call(
        client,
        base,
        "POST",
        &format!("/api/v1/campaigns/{id}/send"),
        &token,
        Some(json!({"accept_guidelines": true, "guidelines_version": g["version"]})),
    )
    .await;
    (token, id)
}

async fn wait_sent(client: &reqwest::Client, base: &str, token: &str, campaign: i64, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let c = call(client, base, "GET", &format!("/api/v1/campaigns/{campaign}"), token, None).await;
        if c["status"] == "sent" {
            return c;
        }
        assert!(Instant::now() < deadline, "campaign not sent in time: {c}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn kill_9(server: &mut Server) {
    let ok = Command::new("kill").args(["-KILL", &server.child.id().to_string()]).status().expect("kill");
    assert!(ok.success());
    let _ = server.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_campaign_and_restarted_nothing_is_lost() {
    const N: usize = 2000;
    const KILLS: u64 = 3;
    let sink = SmtpSink::start(SinkConfig { delay: Duration::from_micros(300), ..SinkConfig::default() }).await;
    let dir = std::env::temp_dir().join(assent_test_support::unique_name("assent_crash"));
    std::fs::create_dir_all(&dir).expect("dir");
    let db = format!("sqlite://{}/crash.db", dir.display());
    let port = free_port();
    let relay = format!("{}&max_connections={POOL}", sink.url());
    let client = reqwest::Client::new();
    let (mut server, op) = start(&dir, &db, port, &relay, "web,worker", 2);
    let op = op.expect("operator token");
    wait_healthy(&client, &server.base).await;
    let (token, campaign) = prepare(&client, &server.base, &op, N).await;
    for round in 1..=KILLS {
        let target = sink.count() + 300;
        let deadline = Instant::now() + Duration::from_secs(60);
        while sink.count() < target && (sink.count() as usize) < N {
            assert!(Instant::now() < deadline, "no progress before kill {round}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        kill_9(&mut server);
        let (restarted, _) = start(&dir, &db, port, &relay, "web,worker", 2);
        server = restarted;
        wait_healthy(&client, &server.base).await;
    }
    let done = wait_sent(&client, &server.base, &token, campaign, Duration::from_secs(120)).await;
    kill_9(&mut server);
    let per = sink.deliveries_per_recipient();
    let missing = (0..N).filter(|i| !per.contains_key(&format!("person{i}@example.org"))).count();
    let duplicates: u64 = per.values().map(|n| (*n as u64).saturating_sub(1)).sum();
    println!(
        "crash test: {N} recipients, {KILLS} kills, missing {missing}, duplicates {duplicates} (bound {})",
        KILLS * POOL
    );
    assert_eq!(missing, 0, "{done}");
    assert!(duplicates <= KILLS * POOL, "{duplicates} duplicates after {KILLS} kills with a pool of {POOL}");
    assert_eq!(done["counts"]["sent"].as_u64(), Some(N as u64), "{done}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgres_share_a_campaign_without_double_sends() {
    let Some(url) = assent_test_support::postgres_url().await else { return };
    const N: usize = 10_000;
    let n: usize = std::env::var("ASSENT_TEST_TWO_WORKERS_N").ok().and_then(|v| v.parse().ok()).unwrap_or(N);
    let sink = SmtpSink::start(SinkConfig::default()).await;
    let dir = std::env::temp_dir().join(assent_test_support::unique_name("assent_two"));
    std::fs::create_dir_all(&dir).expect("dir");
    let relay = format!("{}&max_connections={POOL}", sink.url());
    let client = reqwest::Client::new();
    let port = free_port();
    let (mut web, op) = start(&dir, &url, port, &relay, "web,worker", 30);
    let op = op.expect("operator token");
    wait_healthy(&client, &web.base).await;
    // The second process: a worker only, same database, no HTTP.
    let (mut worker, _) = start(&dir, &url, free_port(), &relay, "worker", 30);
    let (token, campaign) = prepare(&client, &web.base, &op, n).await;
    let done = wait_sent(&client, &web.base, &token, campaign, Duration::from_secs(300)).await;
    kill_9(&mut web);
    kill_9(&mut worker);
    let per = sink.deliveries_per_recipient();
    let missing = (0..n).filter(|i| !per.contains_key(&format!("person{i}@example.org"))).count();
    let duplicates: usize = per.values().map(|n| n.saturating_sub(1)).sum();
    let connections = sink.connections();
    println!("two workers: {n} recipients, missing {missing}, duplicates {duplicates}, {connections} SMTP connections");
    assert_eq!((missing, duplicates), (0, 0), "{done}");
    assert_eq!(done["counts"]["sent"].as_u64(), Some(n as u64));
    let _ = std::fs::remove_dir_all(&dir);
}
