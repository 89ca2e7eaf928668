//! `/u/{token}`: one-click unsubscribe (RFC 8058). A GET shows a page with
//! one button and never unsubscribes (link scanners prefetch GETs); a POST
//! — the mail client's `List-Unsubscribe=One-Click` or the button —
//! unsubscribes at once, needs no cookie or login, answers 200 and never
//! redirects. Repeating it changes nothing.

use assent_domain::{AccountId, ContactId, ListId};
use assent_mail::html::escape;
use assent_mail::token::{Purpose, TokenError};
use assent_store::UnsubscribeOutcome;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{EN, Page, now_secs};
use crate::AppState;
use crate::extract::{ClientIp, UserAgent};

fn bad_link(e: TokenError) -> Response {
    let status = if e == TokenError::Expired { StatusCode::GONE } else { StatusCode::NOT_FOUND };
    Page::message(status, &EN, EN.unsubscribe_title, EN.bad_link).into_response()
}

pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if let Err(e) = state.tokens.verify(Purpose::Unsubscribe, &token, now_secs()) {
        return bad_link(e);
    }
    let t = &EN;
    let body = format!(
        "<p>{q}</p>\n<form method=\"post\" action=\"\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
         <button type=\"submit\">{b}</button></form>",
        q = escape(t.unsubscribe_question),
        b = escape(t.unsubscribe_button)
    );
    Page::new(StatusCode::OK, t, t.unsubscribe_title, body).into_response()
}

/// The body is not needed to act (the POST is the intent), so it is not
/// read beyond what the body limit allows.
pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
) -> Response {
    let claims = match state.tokens.verify(Purpose::Unsubscribe, &token, now_secs()) {
        Ok(c) => c,
        Err(e) => return bad_link(e),
    };
    let list = (claims.nonce > 0).then_some(ListId(claims.nonce));
    let outcome = state
        .store
        .unsubscribe(
            AccountId(claims.account),
            ContactId(claims.subject),
            list,
            "unsubscribe_link",
            ip.as_deref(),
            ua.as_deref(),
        )
        .await;
    match outcome {
        // Unknown contact (erased meanwhile): the person is not subscribed,
        // which is what they asked for.
        Ok(
            UnsubscribeOutcome::Unsubscribed | UnsubscribeOutcome::AlreadyUnsubscribed | UnsubscribeOutcome::NotFound,
        ) => Page::message(StatusCode::OK, &EN, EN.unsubscribe_title, EN.unsubscribed).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe failed");
            Page::message(StatusCode::SERVICE_UNAVAILABLE, &EN, EN.unsubscribe_title, EN.unavailable).into_response()
        }
    }
}
