//! `/c/{token}`: a GET shows a page that confirms through a POST it makes
//! itself (with a button when scripts are off), so link scanners that only
//! fetch never confirm; the POST confirms.

use assent_domain::AccountId;
use assent_mail::html::escape;
use assent_mail::token::{Purpose, TokenError};
use assent_store::ConfirmOutcome;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AUTO_SUBMIT, EN, Page, now_secs, texts};
use crate::AppState;
use crate::extract::{ClientIp, UserAgent};

fn bad_link(e: TokenError) -> Response {
    let (status, message) = match e {
        TokenError::Expired => (StatusCode::GONE, EN.expired_link),
        TokenError::Invalid => (StatusCode::NOT_FOUND, EN.bad_link),
    };
    Page::message(status, &EN, "Link", message).into_response()
}

pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if let Err(e) = state.tokens.verify(Purpose::Confirm, &token, now_secs()) {
        return bad_link(e);
    }
    let t = &EN;
    let body = format!(
        "<p>{confirming}</p>\n<form id=\"go\" method=\"post\" action=\"\"><button type=\"submit\">{button}</button></form>\n\
         <script>{AUTO_SUBMIT}</script>",
        confirming = escape(t.confirming),
        button = escape(t.confirm_button),
    );
    Page::new(StatusCode::OK, t, t.confirm_title, body).into_response()
}

pub async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
) -> Response {
    let claims = match state.tokens.verify(Purpose::Confirm, &token, now_secs()) {
        Ok(c) => c,
        Err(e) => return bad_link(e),
    };
    let account = AccountId(claims.account);
    let outcome = state
        .store
        .confirm(account, claims.subject, claims.nonce, ip.as_deref(), ua.as_deref(), assent_engine::now_ms())
        .await;
    let language = match state.store.get_confirmation(account, claims.subject).await {
        Ok(Some(c)) => c.language,
        _ => "en".into(),
    };
    let t = texts(&language);
    match outcome {
        Ok(ConfirmOutcome::Confirmed) => {
            if let Some(url) = confirm_url(&state, account, claims.subject).await
                && let Ok(v) = HeaderValue::from_str(&url)
            {
                return (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response();
            }
            Page::message(StatusCode::OK, t, t.confirmed_title, t.confirmed).into_response()
        }
        Ok(ConfirmOutcome::AlreadyUsed) => {
            Page::message(StatusCode::OK, t, t.confirmed_title, t.already_confirmed).into_response()
        }
        Ok(ConfirmOutcome::Expired) => bad_link(TokenError::Expired),
        // A valid seal over a request that is gone (erased, purged) looks
        // exactly like a bad link.
        Ok(ConfirmOutcome::NotFound) => bad_link(TokenError::Invalid),
        Err(e) => {
            tracing::error!(error = %e, "confirmation failed");
            Page::message(StatusCode::SERVICE_UNAVAILABLE, t, t.confirm_title, t.unavailable).into_response()
        }
    }
}

/// The form's own thank-you page, if it has one.
async fn confirm_url(state: &AppState, account: AccountId, confirmation: i64) -> Option<String> {
    let c = state.store.get_confirmation(account, confirmation).await.ok()??;
    let form_id = c.form_id?;
    let forms = state.store.list_forms(account).await.ok()?;
    forms.into_iter().find(|f| f.id == form_id)?.confirm_url
}
