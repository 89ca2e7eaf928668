//! The one place where failures become HTTP answers: a status and a JSON
//! body `{"error": {"code", "message", "field"}}`. Internal errors are logged
//! with detail and answered without it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), field: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// The same answer whether the resource does not exist or belongs to
    /// another account, so ids reveal nothing about other tenants.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "send a valid API token as `Authorization: Bearer <token>`")
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it has been logged — try again later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message, "field": self.field}});
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<assent_store::StoreError> for ApiError {
    fn from(e: assent_store::StoreError) -> Self {
        match e {
            assent_store::StoreError::Conflict(detail) => {
                tracing::info!(%detail, "conflict");
                ApiError::conflict("conflict", "this already exists")
            }
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

impl From<assent_domain::AddressError> for ApiError {
    fn from(e: assent_domain::AddressError) -> Self {
        ApiError::unprocessable(e.code(), e.to_string())
    }
}

impl From<assent_domain::ConsentRefusal> for ApiError {
    fn from(e: assent_domain::ConsentRefusal) -> Self {
        let field = match e.field() {
            None | Some("origin") => "consent.origin".to_string(),
            Some("evidence") => "consent.evidence".to_string(),
            Some(f) => format!("consent.evidence.{f}"),
        };
        ApiError::unprocessable(e.code(), e.to_string()).with_field(field)
    }
}
