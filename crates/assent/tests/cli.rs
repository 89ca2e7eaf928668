//! The binary as a user runs it: first start prints an operator token, the
//! API answers on the configured port, SIGTERM stops it cleanly, and the
//! administration commands work on the same database.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assent_test_support::TempDb;

const BIN: &str = env!("CARGO_BIN_EXE_assent");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn run(args: &[&str], db: &TempDb) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).env("ASSENT_DATABASE_URL", db.url()).output().expect("run assent");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn serve_prints_a_token_on_first_start_and_stops_on_sigterm() {
    let db = TempDb::new();
    let port = free_port();
    let http = format!("127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(assent_test_support::unique_name("assent_serve"));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut child = Command::new(BIN)
        .args(["serve", "--database-url", &db.url(), "--http", &http, "--log-format", "json"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn assent serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining stdout so the server never writes into a closed pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(t) = line.split_whitespace().find(|w| w.starts_with("assent_")) {
                let _ = tx.send(t.to_string());
            }
        }
    });
    let token = rx.recv_timeout(Duration::from_secs(30)).expect("first start prints an operator token");

    let client = reqwest::Client::new();
    let base = format!("http://{http}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "assent did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resp = client
        .post(format!("{base}/api/v1/accounts"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Alpha", "owner_email": "owner@alpha.example"}))
        .send()
        .await
        .expect("create account");
    assert_eq!(resp.status(), 201);

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "graceful shutdown exits 0, got {status}");

    // A second start on the same database creates no second operator token.
    let (ok, out, err) = run(&["account", "list"], &db);
    assert!(ok, "{err}");
    assert!(out.contains("\"pending_audit\""), "{out}");
    // First start created the master key (owner-only) and the outbox.
    let key = dir.join("assent.key");
    assert_eq!(std::fs::read_to_string(&key).expect("master key").trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777, 0o600);
    }
    assert!(dir.join("outbox/new").is_dir());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn admin_commands_work_on_the_database() {
    let db = TempDb::new();
    let (ok, out, err) = run(&["migrate"], &db);
    assert!(ok && out.starts_with("migrated"), "{out}{err}");
    let (ok, out, err) = run(&["account", "create", "--name", "Beta", "--owner-email", "owner@beta.example"], &db);
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(created["status"], "pending_audit");
    let id = created["id"].as_i64().expect("id").to_string();
    // The domain's life cycle applies on the command line too.
    let (ok, _, err) = run(&["account", "suspend", &id, "--reason", "test"], &db);
    assert!(!ok && err.contains("cannot"), "{err}");
    let (ok, out, err) = run(&["account", "reject", &id, "--reason", "bought lists"], &db);
    assert!(ok && out.contains("rejected"), "{out}{err}");
    let (ok, out, _) = run(&["account", "token", &id], &db);
    assert!(ok && out.trim().starts_with("assent_"), "{out}");
    let (ok, out, _) = run(&["operator", "create-token"], &db);
    assert!(ok && out.trim().starts_with("assent_"), "{out}");
    let (ok, _, err) = run(&["account", "create", "--name", "X", "--owner-email", "not-an-address"], &db);
    assert!(!ok && !err.is_empty());
}

#[test]
fn configuration_comes_from_file_env_and_flags() {
    let db = TempDb::new();
    let dir = std::env::temp_dir().join(assent_test_support::unique_name("assent_cfg"));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("assent.toml");
    std::fs::write(&file, format!("database_url = \"{}\"\n", db.url())).expect("write config");
    let out = Command::new(BIN).args(["migrate"]).current_dir(&dir).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(db.path.exists(), "the file's database_url was used");
    // Unknown keys in the file are an error, not silently ignored.
    std::fs::write(&file, "databse_url = \"sqlite://x.db\"\n").expect("write config");
    let out = Command::new(BIN).args(["migrate"]).current_dir(&dir).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("databse_url"));
    // Unknown roles are refused with the list of roles.
    let out = Command::new(BIN)
        .args(["serve", "--roles", "web,mailer"])
        .env("ASSENT_DATABASE_URL", db.url())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("mailer"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bounce_classify_prints_one_json_object_per_recipient() {
    let dir = std::env::temp_dir().join(assent_test_support::unique_name("classify"));
    std::fs::create_dir_all(&dir).expect("dir");
    let dsn = dir.join("dsn.eml");
    std::fs::write(
        &dsn,
        "From: MAILER-DAEMON@mx.example.org\r\nTo: bounces+1-2-3-abc@bounce.example.com\r\nSubject: Undelivered Mail\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
         Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown\r\n\r\n--b--\r\n",
    )
    .expect("write");
    let junk = dir.join("junk.bin");
    std::fs::write(&junk, [0u8, 159, 146, 150, 255]).expect("write");
    let out = Command::new(BIN).args(["bounce", "classify"]).arg(&dsn).arg(&junk).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["kind"], "bounce");
    assert_eq!(lines[0]["recipient"], "gone@example.org");
    assert_eq!(
        (lines[0]["class"].as_str(), lines[0]["status"].as_str(), lines[0]["reason"].as_str()),
        (Some("hard"), Some("5.1.1"), Some("user_unknown"))
    );
    assert_eq!(lines[1]["kind"], "other");
    // An unreadable file: exit non-zero.
    let out = Command::new(BIN).args(["bounce", "classify"]).arg(dir.join("missing.eml")).output().expect("run");
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
