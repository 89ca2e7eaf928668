//! HTTP for Assent. This crate owns the REST API under `/api/v1` (JSON,
//! bearer tokens), its OpenAPI document, the health and metrics endpoints,
//! and the mapping of every failure to the error contract of DESIGN.md. It is
//! the only crate that knows HTTP and JSON request shapes.

pub mod auth;
pub mod error;
pub mod extract;
mod metrics;
mod routes;

pub use routes::accounts::decide_account;

use std::sync::Arc;
use std::time::Duration;

use assent_domain::AddressPolicy;
use assent_store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;

pub use metrics::metrics_handle;

/// What the web layer needs to know about the installation.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Base URL for links in mail and pages, e.g. `https://news.example.com`.
    pub public_url: String,
    /// Upper bound for JSON request bodies.
    pub max_json_bytes: usize,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig { public_url: "http://127.0.0.1:8080".into(), max_json_bytes: 1024 * 1024 }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<WebConfig>,
    pub addresses: Arc<AddressPolicy>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: WebConfig, addresses: AddressPolicy) -> Self {
        AppState { store, config: Arc::new(config), addresses: Arc::new(addresses) }
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_json_bytes;
    routes::routes()
        .layer(DefaultBodyLimit::max(limit))
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
