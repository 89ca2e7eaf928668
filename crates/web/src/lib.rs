//! HTTP for Assent. This crate owns the REST API under `/api/v1` (JSON,
//! bearer tokens), its OpenAPI document, the health and metrics endpoints,
//! and the mapping of every failure to the error contract of DESIGN.md. It is
//! the only crate that knows HTTP and JSON request shapes.

pub mod auth;
pub mod error;
pub mod extract;
mod metrics;
pub mod net;
mod pages;
mod progress;
pub mod ratelimit;
mod routes;
mod signup;

pub use routes::accounts::decide_account;

use std::sync::Arc;
use std::time::Duration;

use assent_domain::AddressPolicy;
use assent_mail::token::TokenKey;
use assent_store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use ratelimit::RateLimiter;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use metrics::metrics_handle;

/// What the web layer needs to know about the installation.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Base URL for links in mail and pages, e.g. `https://news.example.com`.
    pub public_url: String,
    /// Upper bound for JSON request bodies.
    pub max_json_bytes: usize,
    /// Upper bound for public form submissions.
    pub max_form_bytes: usize,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<net::IpNet>,
    /// A pending address gets at most one confirmation mail per interval.
    pub resend_interval: Duration,
    /// How long a confirmation link works (and an unconfirmed sign-up lives).
    pub confirmation_ttl: Duration,
    /// Form submissions per IP address per minute (0: unlimited).
    pub signups_per_ip_per_minute: u32,
    /// Form submissions per e-mail address per hour (0: unlimited).
    pub signups_per_address_per_hour: u32,
    /// Where uploaded import files are spooled.
    pub import_dir: std::path::PathBuf,
    /// Largest import file.
    pub max_import_bytes: u64,
    /// When imports need the operator's review.
    pub import: assent_engine::import::ImportConfig,
    /// SPF mechanism sender domains publish (e.g. `include:_spf.example.net`).
    pub spf_mechanism: String,
    /// Host that receives bounces (the MX of every `bounce.` sender subdomain).
    pub bounce_mx: String,
    /// Nameserver for DNS checks of sender domains; None: the system's.
    pub dns_resolver: Option<std::net::SocketAddr>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            public_url: "http://127.0.0.1:8080".into(),
            max_json_bytes: 1024 * 1024,
            max_form_bytes: 64 * 1024,
            trusted_proxies: Vec::new(),
            resend_interval: Duration::from_secs(10 * 60),
            confirmation_ttl: Duration::from_secs(7 * 24 * 3600),
            signups_per_ip_per_minute: 20,
            signups_per_address_per_hour: 5,
            import_dir: std::path::PathBuf::from("imports"),
            max_import_bytes: 1024 * 1024 * 1024,
            import: assent_engine::import::ImportConfig::default(),
            spf_mechanism: "a:mail.assent.invalid".into(),
            bounce_mx: "mail.assent.invalid".into(),
            dns_resolver: None,
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<WebConfig>,
    pub addresses: Arc<AddressPolicy>,
    pub tokens: Arc<TokenKey>,
    /// Wakes the transactional mail worker when mail is queued.
    pub outbox_wake: Arc<Notify>,
    /// Wakes the import worker when an import is uploaded.
    pub import_wake: Arc<Notify>,
    /// Wakes the campaign engine when a campaign is scheduled or resumed.
    pub campaign_wake: Arc<Notify>,
    /// Opens the sealed DKIM keys.
    pub secrets: Arc<assent_engine::keys::SecretBox>,
    /// Where test sends go (the same transport as all outgoing mail).
    pub transport: Option<Arc<dyn assent_engine::Transport>>,
    pub(crate) limits: Arc<Limits>,
    /// Progress counts of sending campaigns, shared between requests.
    pub(crate) progress: Arc<progress::ProgressCounts>,
}

pub(crate) struct Limits {
    pub per_ip: RateLimiter,
    pub per_address: RateLimiter,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        config: WebConfig,
        addresses: AddressPolicy,
        tokens: Arc<TokenKey>,
        secrets: Arc<assent_engine::keys::SecretBox>,
    ) -> Self {
        let limits = Limits {
            per_ip: RateLimiter::new(config.signups_per_ip_per_minute, Duration::from_secs(60)),
            per_address: RateLimiter::new(config.signups_per_address_per_hour, Duration::from_secs(3600)),
        };
        AppState {
            store,
            config: Arc::new(config),
            addresses: Arc::new(addresses),
            tokens,
            outbox_wake: Arc::new(Notify::new()),
            import_wake: Arc::new(Notify::new()),
            campaign_wake: Arc::new(Notify::new()),
            secrets,
            transport: None,
            limits: Arc::new(limits),
            progress: Arc::default(),
        }
    }
}

/// The secret that seals link tokens, shared by every process of the
/// installation through the database (created on first use).
pub async fn token_key(store: &dyn Store) -> Result<TokenKey, assent_store::StoreError> {
    let mut fresh = [0u8; 32];
    // Without an OS random source no secret can be made safely.
    #[allow(clippy::expect_used)]
    getrandom::getrandom(&mut fresh).expect("the OS random number generator is unavailable");
    let secret = store.setting_or_init("token_secret", &hex::encode(fresh)).await?;
    let bytes = hex::decode(secret.trim())
        .map_err(|e| assent_store::StoreError::Corrupt { column: "settings.token_secret", detail: e.to_string() })?;
    TokenKey::new(&bytes).ok_or(assent_store::StoreError::Corrupt {
        column: "settings.token_secret",
        detail: "shorter than 32 bytes".into(),
    })
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_json_bytes;
    // Multipart framing around the file takes a little more than the file.
    let import_limit = usize::try_from(state.config.max_import_bytes).unwrap_or(usize::MAX).saturating_add(64 * 1024);
    routes::routes(import_limit)
        .layer(DefaultBodyLimit::max(limit))
        .merge(routes::public_routes(state.config.max_form_bytes))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(error::ApiError::internal())
        }))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// How long a graceful shutdown waits for open requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
