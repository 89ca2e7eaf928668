//! `/p/{token}`: the recipient's own page — lists on and off, a download
//! of everything stored about them with the consent proof (GDPR Art. 20),
//! and erasure (Art. 17). Switching a list back on needs a new double
//! opt-in; switching off takes effect at once.

use assent_domain::{AccountId, ContactId, EmailAddress, ListId, SubscriptionStatus};
use assent_mail::html::escape;
use assent_mail::token::{Purpose, TokenError};
use assent_store::Contact;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::body::{BodyError, Fields};
use super::{EN, Page, Texts, now_secs};
use crate::AppState;
use crate::extract::{ClientIp, UserAgent};
use crate::signup::{Signup, blocking_suppression, request};

fn bad_link(e: TokenError) -> Response {
    let status = if e == TokenError::Expired { StatusCode::GONE } else { StatusCode::NOT_FOUND };
    Page::message(status, &EN, EN.preferences_title, EN.bad_link).into_response()
}

async fn load(state: &AppState, token: &str) -> Result<(AccountId, Contact), Response> {
    let claims = state.tokens.verify(Purpose::Preferences, token, now_secs()).map_err(bad_link)?;
    let account = AccountId(claims.account);
    match state.store.get_contact(account, ContactId(claims.subject)).await {
        Ok(Some(c)) if !c.email.ends_with("@erased.invalid") => Ok((account, c)),
        Ok(_) => Err(Page::message(StatusCode::OK, &EN, EN.preferences_title, EN.erased).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "preferences: cannot load contact");
            Err(Page::message(StatusCode::SERVICE_UNAVAILABLE, &EN, EN.preferences_title, EN.unavailable)
                .into_response())
        }
    }
}

async fn page(state: &AppState, account: AccountId, contact: &Contact, t: &Texts, notice: Option<&str>) -> Response {
    let subs = state.store.subscriptions(account, contact.id).await.unwrap_or_default();
    let mut rows = String::new();
    for s in &subs {
        let Ok(Some(list)) = state.store.get_list(account, s.list_id).await else { continue };
        let on = matches!(s.status, SubscriptionStatus::Confirmed | SubscriptionStatus::Pending);
        let pending = if s.status == SubscriptionStatus::Pending { " (…)" } else { "" };
        rows.push_str(&format!(
            "<label><input type=\"checkbox\" name=\"list\" value=\"{}\"{}> {}{pending}</label>\n",
            s.list_id,
            if on { " checked" } else { "" },
            escape(&list.name)
        ));
    }
    let notice = notice.map(|n| format!("<p role=\"status\"><strong>{}</strong></p>\n", escape(n))).unwrap_or_default();
    let body = format!(
        "{notice}<p>{email}</p>\n<form method=\"post\" action=\"\"><input type=\"hidden\" name=\"action\" value=\"save\">\n{rows}\
         <button type=\"submit\">{save}</button></form>\n<hr>\n\
         <form method=\"post\" action=\"\"><input type=\"hidden\" name=\"action\" value=\"export\"><button type=\"submit\">{export}</button></form>\n<hr>\n\
         <form method=\"post\" action=\"\"><input type=\"hidden\" name=\"action\" value=\"erase\">\
         <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\"> {erase_confirm}</label><button type=\"submit\">{erase}</button></form>",
        email = escape(&contact.email),
        save = escape(t.save),
        export = escape(t.export),
        erase_confirm = escape(t.erase_confirm),
        erase = escape(t.erase),
    );
    Page::new(StatusCode::OK, t, t.preferences_title, body).into_response()
}

pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match load(&state, &token).await {
        Ok((account, contact)) => page(&state, account, &contact, &EN, None).await,
        Err(r) => r,
    }
}

pub async fn act(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    req: Request,
) -> Response {
    let (account, contact) = match load(&state, &token).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let t = &EN;
    let fields = match Fields::read(req, state.config.max_form_bytes).await {
        Ok(f) => f,
        Err(BodyError::TooLarge) => {
            return Page::message(StatusCode::PAYLOAD_TOO_LARGE, t, t.preferences_title, t.too_large).into_response();
        }
        Err(BodyError::Malformed) => {
            return Page::message(StatusCode::BAD_REQUEST, t, t.preferences_title, t.bad_link).into_response();
        }
    };
    match fields.get("action").unwrap_or("save") {
        "export" => export(&state, &contact).await,
        "erase" => {
            if fields.get("confirm") != Some("yes") {
                return page(&state, account, &contact, t, Some(t.erase_needs_tick)).await;
            }
            match state.store.erase_contact(account, contact.id, "preferences", ip.as_deref()).await {
                Ok(_) => Page::message(StatusCode::OK, t, t.preferences_title, t.erased).into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "erase failed");
                    Page::message(StatusCode::SERVICE_UNAVAILABLE, t, t.preferences_title, t.unavailable)
                        .into_response()
                }
            }
        }
        _ => save(&state, account, &contact, &fields, ip, ua).await,
    }
}

async fn save(
    state: &AppState,
    account: AccountId,
    contact: &Contact,
    fields: &Fields,
    ip: Option<String>,
    ua: Option<String>,
) -> Response {
    let t = &EN;
    let wanted: Vec<i64> = fields.all("list").filter_map(|v| v.parse().ok()).collect();
    let subs = state.store.subscriptions(account, contact.id).await.unwrap_or_default();
    let mut resubscribe = Vec::new();
    for s in &subs {
        let on = matches!(s.status, SubscriptionStatus::Confirmed | SubscriptionStatus::Pending);
        let want = wanted.contains(&s.list_id.get());
        if on && !want {
            if let Err(e) = state
                .store
                .unsubscribe(account, contact.id, Some(s.list_id), "preferences", ip.as_deref(), ua.as_deref())
                .await
            {
                tracing::error!(error = %e, "preferences: unsubscribe failed");
            }
        } else if !on && want && s.status == SubscriptionStatus::Unsubscribed {
            resubscribe.push(s.list_id);
        }
    }
    let mut notice = t.saved;
    if !resubscribe.is_empty()
        && let Ok(email) = EmailAddress::parse(&contact.email)
        && matches!(blocking_suppression(state, account, &email).await, Ok(None))
    {
        let names = list_names(state, account, &resubscribe).await;
        let signup = Signup {
            account,
            email: &email,
            attributes: serde_json::Map::new(),
            lists: resubscribe,
            form: None,
            consent_text: format!("Switched back on at the preference page: {names}"),
            source: "preferences:page".into(),
            language: "en".into(),
            ip,
            user_agent: ua,
        };
        if request(state, signup).await.is_ok() {
            notice = t.resubscribe_pending;
        }
    }
    page(state, account, contact, t, Some(notice)).await
}

async fn list_names(state: &AppState, account: AccountId, lists: &[ListId]) -> String {
    let mut names = Vec::new();
    for l in lists {
        if let Ok(Some(list)) = state.store.get_list(account, *l).await {
            names.push(list.name);
        }
    }
    names.join(", ")
}

/// Everything stored about the person, with the consent proof.
async fn export(state: &AppState, contact: &Contact) -> Response {
    match crate::routes::contacts::contact_json(state, contact).await {
        Ok(body) => {
            let mut response = axum::Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"my-data.json\""));
            response
        }
        Err(_) => {
            Page::message(StatusCode::SERVICE_UNAVAILABLE, &EN, EN.preferences_title, EN.unavailable).into_response()
        }
    }
}
