//! Route table. One file per route group.

mod account;
pub mod accounts;
mod contacts;
mod health;
mod lists;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::AppState;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
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
        .route("/api/v1/contacts/{id}", get(contacts::show))
        .fallback(|| async { ApiError::not_found("route") })
}

/// Parses a numeric path id; anything else is simply not found.
pub(crate) fn path_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| ApiError::not_found(what))
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
