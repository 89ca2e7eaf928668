//! Route table. One file per route group.

mod account;
pub mod accounts;
mod campaigns;
pub mod contacts;
mod domains;
pub(crate) mod forms;
mod health;
mod imports;
mod lists;
mod reputation;
mod suppressions;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::AppState;
use crate::error::ApiError;

/// Recipients' pages. Anyone may post a sign-up form from any site (CORS);
/// bodies are small.
pub fn public_routes(max_form_bytes: usize) -> Router<AppState> {
    use crate::pages::{confirm, form, preferences, unsubscribe};
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([axum::http::header::CONTENT_TYPE, axum::http::header::ACCEPT]);
    let forms = Router::new()
        .route("/f/{form}", get(form::show).post(form::submit))
        .route("/f/{form}/embed", get(form::embed))
        .layer(cors);
    Router::new()
        .merge(forms)
        .route("/c/{token}", get(confirm::show).post(confirm::confirm))
        .route("/u/{token}", get(unsubscribe::show).post(unsubscribe::unsubscribe))
        .route("/p/{token}", get(preferences::show).post(preferences::act))
        .layer(axum::extract::DefaultBodyLimit::max(max_form_bytes))
}

pub fn routes(import_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/api/openapi.json", get(health::openapi))
        // operator
        .route("/api/v1/accounts", post(accounts::create).get(accounts::list))
        .route("/api/v1/accounts/{id}", get(accounts::show))
        .route("/api/v1/accounts/{id}/activate", post(accounts::activate))
        .route("/api/v1/accounts/{id}/reject", post(accounts::reject))
        .route("/api/v1/accounts/{id}/suspend", post(accounts::suspend))
        .route("/api/v1/accounts/{id}/tokens", post(accounts::create_token))
        // the calling account
        .route("/api/v1/account", get(account::show))
        .route("/api/v1/account/audit", put(account::submit_audit))
        .route("/api/v1/account/tokens", post(account::create_token).get(account::list_tokens))
        .route("/api/v1/account/tokens/{id}", delete(account::revoke_token))
        .route("/api/v1/lists", post(lists::create).get(lists::list))
        .route("/api/v1/lists/{id}", get(lists::show).patch(lists::update).delete(lists::remove))
        .route("/api/v1/contacts", post(contacts::create).get(contacts::list))
        .route("/api/v1/contacts/{id}", get(contacts::show).delete(contacts::erase))
        .route("/api/v1/contacts/{id}/export", get(contacts::export))
        .route(
            "/api/v1/imports",
            post(imports::create).get(imports::list).layer(axum::extract::DefaultBodyLimit::max(import_limit)),
        )
        .route("/api/v1/imports/{id}", get(imports::show))
        .route("/api/v1/imports/{id}/report", get(imports::report))
        .route("/api/v1/imports/{id}/approve", post(imports::approve))
        .route("/api/v1/imports/{id}/reject", post(imports::reject))
        .route("/api/v1/operator/imports", get(imports::review_queue))
        .route("/api/v1/guidelines", get(campaigns::guidelines))
        .route("/api/v1/sender-domains", post(domains::create).get(domains::list))
        .route("/api/v1/sender-domains/{id}", get(domains::show))
        .route("/api/v1/sender-domains/{id}/verify", post(domains::verify))
        .route("/api/v1/campaigns", post(campaigns::create).get(campaigns::list))
        .route("/api/v1/campaigns/{id}", get(campaigns::show).patch(campaigns::update))
        .route("/api/v1/campaigns/{id}/preflight", post(campaigns::preflight))
        .route("/api/v1/campaigns/{id}/test", post(campaigns::test_send))
        .route("/api/v1/campaigns/{id}/send", post(campaigns::send))
        .route("/api/v1/campaigns/{id}/pause", post(campaigns::pause))
        .route("/api/v1/campaigns/{id}/resume", post(campaigns::resume))
        .route("/api/v1/campaigns/{id}/cancel", post(campaigns::cancel))
        .route("/api/v1/forms", post(forms::create).get(forms::list))
        .route("/api/v1/forms/{id}", get(forms::show).patch(forms::update))
        .route("/api/v1/suppressions", get(suppressions::list).post(suppressions::add).delete(suppressions::remove))
        .route("/api/v1/reputation", get(reputation::show))
        .route("/api/v1/operator/reputation", get(reputation::operator_overview))
        .fallback(|| async { ApiError::not_found("route") })
}

/// Parses a numeric path id; anything else is simply not found.
pub(crate) fn path_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| ApiError::not_found(what))
}

/// The most characters of an operator's reason for a decision.
pub(crate) const MAX_REASON: usize = 2000;

/// An operator's reason for a decision: trimmed, `None` when blank, and
/// refused when longer than [`MAX_REASON`] (it is recorded and shown to the
/// customer whole, so it is never cut).
pub(crate) fn decision_reason(reason: Option<&str>) -> Result<Option<String>, ApiError> {
    reason.filter(|r| !r.trim().is_empty()).map(|r| required_text(r, "reason", MAX_REASON)).transpose()
}

/// Trims a required text field and bounds its length.
pub(crate) fn required_text(value: &str, field: &'static str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::unprocessable("missing_field", format!("{field} must not be empty")).with_field(field));
    }
    if value.chars().count() > max {
        return Err(
            ApiError::unprocessable("too_long", format!("{field} is longer than {max} characters")).with_field(field)
        );
    }
    Ok(value.to_string())
}
