//! Test helpers: `spawn_app` starts the real HTTP application on a real
//! port with a database of its own, bootstrapped with an operator token.
//! `postgres_url` finds the test PostgreSQL server and makes an isolated schema.
//! `imap_server` runs a private dovecot for IMAP tests.

pub mod dns_server;
pub mod imap_server;
pub mod smtp_sink;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use assent_domain::{AddressPolicy, UserRole};
use assent_engine::import::Importer;
use assent_engine::{ConfirmationMailer, Maildir, Outbox, Transport, TransportError};
use assent_mail::token::TokenKey;
use assent_store::{NewToken, Store, TokenOwner};
use assent_web::{AppState, WebConfig, auth};
use serde_json::Value;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique name for a per-test database or schema.
pub fn unique_name(prefix: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A SQLite database file that is removed when dropped.
pub struct TempDb {
    pub path: PathBuf,
}

impl TempDb {
    pub fn new() -> TempDb {
        TempDb { path: std::env::temp_dir().join(format!("{}.db", unique_name("assent_test"))) }
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }
}

impl Default for TempDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// The URL of the test PostgreSQL server with a fresh schema of its own
/// selected through `search_path`, or `None` (with a loud message) when
/// the server is unreachable. Under `CI=true` an unreachable server is a
/// failure, not a skip.
pub async fn postgres_url() -> Option<String> {
    let base = std::env::var("ASSENT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let schema = unique_name("t");
    let admin = match assent_store::PgStore::connect(&base).await {
        Ok(s) => s,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL at {base} is unreachable under CI=true: {e}");
            }
            eprintln!("\n!!!! SKIPPING PostgreSQL run: {base} unreachable ({e}); set ASSENT_TEST_POSTGRES_URL !!!!\n");
            return None;
        }
    };
    let create = format!("CREATE SCHEMA {schema}");
    if let Err(e) = admin.execute_raw(&create).await {
        panic!("cannot create test schema {schema}: {e}");
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// The application, running on 127.0.0.1 on a port of its own, with its
/// transactional mail worker delivering into a maildir of its own.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub operator_token: String,
    pub store: Arc<dyn Store>,
    pub outbox: Arc<Maildir>,
    pub tokens: Arc<TokenKey>,
    _db: Option<TempDb>,
    _stop: tokio::sync::watch::Sender<bool>,
}

/// A maildir that forwards to a shared one, so the test keeps a handle.
struct SharedMaildir(Arc<Maildir>);

#[async_trait::async_trait]
impl Transport for SharedMaildir {
    async fn send(&self, from: &str, to: &str, message: &[u8]) -> Result<(), TransportError> {
        self.0.send(from, to, message).await
    }
}

/// Starts the app on SQLite.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(WebConfig::default()).await
}

/// Starts the app on SQLite with the given web configuration
/// (`public_url` is replaced by the test server's address).
pub async fn spawn_app_with(config: WebConfig) -> TestApp {
    spawn_app_opts(Options { config, ..Options::default() }).await
}

/// How to start a test app.
#[derive(Default)]
pub struct Options {
    pub config: WebConfig,
    /// Where campaign and transactional mail goes (default: a maildir).
    pub transport: Option<Arc<dyn Transport>>,
    pub delivery: assent_engine::delivery::DeliveryConfig,
    pub throttle: assent_engine::throttle::ThrottleConfig,
    /// A database URL (default: a fresh SQLite file).
    pub database_url: Option<String>,
}

pub async fn spawn_app_opts(o: Options) -> TestApp {
    match o.database_url.clone() {
        Some(url) => spawn_inner(&url, None, o).await,
        None => {
            let db = TempDb::new();
            let url = db.url();
            spawn_inner(&url, Some(db), o).await
        }
    }
}

/// Starts the app on the given database URL.
pub async fn spawn_app_on(url: &str, db: Option<TempDb>, config: WebConfig) -> TestApp {
    spawn_inner(url, db, Options { config, ..Options::default() }).await
}

async fn spawn_inner(url: &str, db: Option<TempDb>, o: Options) -> TestApp {
    let config = o.config;
    let store = assent_store::connect(url).await.expect("connect test database");
    store.migrate().await.expect("migrate test database");
    let operator = store.create_operator("operator@example.test", None).await.expect("create operator");
    let (operator_token, hash) = auth::new_token();
    store
        .create_token(&NewToken {
            owner: TokenOwner::Operator(operator),
            role: UserRole::Owner,
            name: "test".into(),
            token_hash: hash,
        })
        .await
        .expect("create operator token");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind test port");
    let address = format!("http://{}", listener.local_addr().expect("local addr"));
    let import_dir = std::env::temp_dir().join(unique_name("assent_imports"));
    // Links in campaign mail must be https (RFC 8058): a test may give an
    // https public URL; otherwise links point at the test server itself.
    let public_url =
        if config.public_url.starts_with("https://") { config.public_url.clone() } else { address.clone() };
    let mut config = WebConfig { public_url: public_url.clone(), import_dir: import_dir.clone(), ..config };
    config.import.spool_dir = Some(import_dir);
    let tokens = Arc::new(assent_web::token_key(store.as_ref()).await.expect("token key"));
    let secrets = Arc::new(assent_engine::keys::SecretBox::new(&[42u8; 32]).expect("test master key"));
    let mut state = AppState::new(store.clone(), config, AddressPolicy::default(), tokens.clone(), secrets);
    let outbox_dir = std::env::temp_dir().join(unique_name("assent_outbox"));
    let outbox = Arc::new(Maildir::new(&outbox_dir).expect("outbox maildir"));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let transport: Arc<dyn Transport> = o.transport.unwrap_or_else(|| Arc::new(SharedMaildir(outbox.clone())));
    state.transport = Some(transport.clone());
    let deliverer = assent_engine::delivery::Deliverer {
        store: store.clone(),
        throttles: Arc::new(assent_engine::throttle::Throttles::new(o.throttle)),
        transport: transport.clone(),
        secrets: state.secrets.clone(),
        tokens: tokens.clone(),
        public_url: public_url.clone(),
        policy: state.addresses.clone(),
        config: o.delivery,
    };
    tokio::spawn(deliverer.work(state.campaign_wake.clone(), stopped.clone()));
    let worker = Outbox {
        store: store.clone(),
        transport,
        mailer: ConfirmationMailer { store: store.clone(), tokens: tokens.clone(), public_url: address.clone() },
        from: "Assent <assent@example.test>".into(),
        wake: state.outbox_wake.clone(),
    };
    tokio::spawn(worker.run(stopped.clone()));
    let importer =
        Importer { store: store.clone(), policy: state.addresses.clone(), config: state.config.import.clone() };
    tokio::spawn(importer.work(state.import_wake.clone(), stopped));
    tokio::spawn(assent_web::serve(listener, state, std::future::pending()));
    TestApp { address, client: reqwest::Client::new(), operator_token, store, outbox, tokens, _db: db, _stop: stop }
}

impl TestApp {
    /// Waits (up to 10 s) until the outbox holds at least `n` messages and
    /// returns them all.
    pub async fn wait_for_mail(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mails = self.outbox.messages().expect("read outbox");
            if mails.len() >= n {
                return mails.into_iter().map(|m| String::from_utf8_lossy(&m).into_owned()).collect();
            }
            assert!(std::time::Instant::now() < deadline, "expected {n} mails, outbox has {}", mails.len());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends a request with an optional bearer token and JSON body and
    /// returns the status and the parsed JSON answer (Null when empty).
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request failed");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    /// Creates an account as the operator and a token for it; returns (id, token).
    pub async fn create_account(&self, name: &str, owner: &str) -> (i64, String) {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/accounts",
                Some(&self.operator_token),
                Some(serde_json::json!({"name": name, "owner_email": owner})),
            )
            .await;
        assert_eq!(status, 201, "create account: {body}");
        let id = body["id"].as_i64().expect("account id");
        let (status, body) =
            self.call("POST", &format!("/api/v1/accounts/{id}/tokens"), Some(&self.operator_token), None).await;
        assert_eq!(status, 201, "create token: {body}");
        (id, body["token"].as_str().expect("token").to_string())
    }

    /// A complete DDG §5 imprint.
    pub fn complete_audit() -> Value {
        serde_json::json!({
            "imprint": {
                "name": "Beispiel GmbH", "legal_form": "GmbH", "representative": "Erika Mustermann",
                "street": "Musterstraße 1", "postal_code": "10115", "city": "Berlin", "country": "DE",
                "email": "impressum@beispiel.de", "phone": "+49 30 1234567",
                "register_court": "Amtsgericht Charlottenburg", "register_number": "HRB 12345",
                "vat_id": "DE123456789"
            },
            "website": "https://beispiel.de",
            "list_origins": "newsletter sign-up form on our website",
            "consent_collection": "double opt-in form",
            "expected_monthly_volume": 20000
        })
    }

    /// Creates an account, submits a complete audit and activates it.
    pub async fn active_account(&self, name: &str, owner: &str) -> (i64, String) {
        let (id, token) = self.create_account(name, owner).await;
        let (status, body) =
            self.call("PUT", "/api/v1/account/audit", Some(&token), Some(Self::complete_audit())).await;
        assert_eq!(status, 200, "audit: {body}");
        let (status, body) =
            self.call("POST", &format!("/api/v1/accounts/{id}/activate"), Some(&self.operator_token), None).await;
        assert_eq!(status, 200, "activate: {body}");
        (id, token)
    }
}

/// A campaign template that passes every preflight rule.
pub const CAMPAIGN_HTML: &str = "<html><body><p>Hello {{ first_name | default('there') }},</p><p>Our offers.</p>\
    <p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p><p>{{ imprint }}</p></body></html>";
pub const CAMPAIGN_TEXT: &str = "Hello {{ first_name | default('there') }},\n\nOur offers.\n\nUnsubscribe: {{ unsubscribe_url }}\n\n{{ imprint }}\n";

/// An account ready to send: active, a list with contacts, a verified
/// sender domain and a draft campaign.
pub struct Sending {
    pub token: String,
    pub list: i64,
    pub campaign: i64,
}

impl TestApp {
    /// Sets up [`Sending`] for `emails` (contract consent).
    pub async fn sending(&self, emails: &[String]) -> Sending {
        let (_, token) = self.active_account("Beispiel GmbH", "owner@beispiel.de").await;
        let (_, list) =
            self.call("POST", "/api/v1/lists", Some(&token), Some(serde_json::json!({"name": "Customers"}))).await;
        let list = list["id"].as_i64().expect("list");
        for email in emails {
            let (status, c) = self
                .call(
                    "POST",
                    "/api/v1/contacts",
                    Some(&token),
                    Some(serde_json::json!({"email": email, "list_ids": [list],
                        "consent": {"origin": "contract", "evidence": {"contract_ref": "K", "notice_text": "We may email you."}}})),
                )
                .await;
            assert_eq!(status, 201, "{c}");
        }
        let (status, d) = self
            .call(
                "POST",
                "/api/v1/sender-domains",
                Some(&token),
                Some(serde_json::json!({"domain": "news.beispiel.de"})),
            )
            .await;
        assert_eq!(status, 201, "{d}");
        let (status, d) = self
            .call(
                "POST",
                &format!("/api/v1/sender-domains/{}/verify", d["id"]),
                Some(&self.operator_token),
                Some(serde_json::json!({"force": true, "reason": "test"})),
            )
            .await;
        assert_eq!(status, 200, "{d}");
        let (status, c) = self
            .call(
                "POST",
                "/api/v1/campaigns",
                Some(&token),
                Some(serde_json::json!({"name": "Offers", "subject": "Offers", "from_email": "hello@news.beispiel.de",
                    "list_ids": [list], "html": CAMPAIGN_HTML, "text": CAMPAIGN_TEXT})),
            )
            .await;
        assert_eq!(status, 201, "{c}");
        Sending { token, list, campaign: c["id"].as_i64().expect("campaign") }
    }

    /// Accepts the guidelines and sends the campaign now.
    pub async fn send_campaign(&self, token: &str, campaign: i64) {
        let (_, g) = self.call("GET", "/api/v1/guidelines", None, None).await;
        let (status, c) = self
            .call(
                "POST",
                &format!("/api/v1/campaigns/{campaign}/send"),
                Some(token),
                Some(serde_json::json!({"accept_guidelines": true, "guidelines_version": g["version"]})),
            )
            .await;
        assert_eq!(status, 202, "{c}");
    }

    /// Polls the campaign until `done` says so (30 s at most).
    pub async fn wait_campaign(&self, token: &str, campaign: i64, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let (_, c) = self.call("GET", &format!("/api/v1/campaigns/{campaign}"), Some(token), None).await;
            if done(&c) {
                return c;
            }
            assert!(std::time::Instant::now() < deadline, "campaign never got there: {c}");
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
}
