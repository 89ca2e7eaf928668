//! The hosted sign-up form, its embeddable snippet, and submissions.

use assent_domain::{AccountStatus, AddressError, EmailAddress};
use assent_mail::html::{escape, escape_lines};
use assent_store::Form;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::body::{BodyError, Fields, wants_json};
use super::{Page, Texts, texts};
use crate::AppState;
use crate::extract::{ClientIp, UserAgent};
use crate::signup::{Signup, blocking_suppression, request};

/// The honeypot: invisible to people, irresistible to form-filling bots.
pub const HONEYPOT: &str = "hp_website";

/// Field names a form may ask for besides the address.
pub fn valid_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !matches!(name, "email" | "consent" | HONEYPOT)
}

fn label(field: &str) -> String {
    let spaced = field.replace('_', " ");
    let mut c = spaced.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// The `<form>` element, used by the hosted page and the embed snippet.
fn form_html(state: &AppState, form: &Form, t: &Texts, values: Option<&Fields>) -> String {
    let action = format!("{}/f/{}", state.config.public_url.trim_end_matches('/'), escape(&form.public_id));
    let value = |name: &str| values.and_then(|v| v.get(name)).map(escape).unwrap_or_default();
    let mut html = format!(
        "<form method=\"post\" action=\"{action}\" accept-charset=\"utf-8\">\n\
         <label>{email} <input type=\"email\" name=\"email\" required maxlength=\"254\" autocomplete=\"email\" value=\"{v}\"></label>\n",
        email = escape(t.email),
        v = value("email"),
    );
    for field in &form.fields {
        html.push_str(&format!(
            "<label>{} <input type=\"text\" name=\"{}\" maxlength=\"200\" value=\"{}\"></label>\n",
            escape(&label(field)),
            escape(field),
            value(field)
        ));
    }
    html.push_str(&format!(
        "<label><input type=\"checkbox\" name=\"consent\" value=\"yes\" required> {}</label>\n\
         <div class=\"hp\" style=\"position:absolute;left:-10000px\" aria-hidden=\"true\"><label>Leave this empty \
         <input type=\"text\" name=\"{HONEYPOT}\" tabindex=\"-1\" autocomplete=\"off\"></label></div>\n\
         <button type=\"submit\">{}</button>\n</form>",
        escape_lines(&form.consent_text),
        escape(t.subscribe)
    ));
    html
}

async fn load(state: &AppState, id: &str) -> Option<Form> {
    if id.len() > 64 {
        return None;
    }
    state.store.find_public_form(id).await.ok().flatten()
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(form) = load(&state, &id).await else {
        return Page::message(StatusCode::NOT_FOUND, &super::EN, "Not found", super::EN.not_found).into_response();
    };
    let t = texts(&form.language);
    let mut page = Page::new(StatusCode::OK, t, &form.name, form_html(&state, &form, t, None));
    page.framable = true;
    page.into_response()
}

/// The snippet to paste into any web page: a plain HTML form that posts
/// here and works without JavaScript.
pub async fn embed(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(form) = load(&state, &id).await else {
        return (StatusCode::NOT_FOUND, "no such form").into_response();
    };
    let t = texts(&form.language);
    let snippet =
        format!("<!-- Assent sign-up form: {} -->\n{}\n", escape(&form.name), form_html(&state, &form, t, None));
    let mut response = snippet.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// The outcome of a submission, as a page or as JSON.
struct Answer {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    field: Option<&'static str>,
}

impl Answer {
    fn error(status: StatusCode, code: &'static str, message: &'static str, field: Option<&'static str>) -> Answer {
        Answer { status, code, message, field }
    }
}

pub async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let Some(form) = load(&state, &id).await else {
        return Page::message(StatusCode::NOT_FOUND, &super::EN, "Not found", super::EN.not_found).into_response();
    };
    let t = texts(&form.language);
    let fields = match Fields::read(req, state.config.max_form_bytes).await {
        Ok(f) => f,
        Err(BodyError::TooLarge) => {
            return respond(
                &state,
                &form,
                t,
                &headers,
                None,
                Answer::error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", t.too_large, None),
            );
        }
        Err(BodyError::Malformed) => {
            return respond(
                &state,
                &form,
                t,
                &headers,
                None,
                Answer::error(StatusCode::BAD_REQUEST, "malformed", t.invalid_email, None),
            );
        }
    };
    let answer = handle(&state, &form, t, &fields, ip, ua).await;
    if answer.status == StatusCode::OK
        && !wants_json(&headers, &fields)
        && let Some(url) = &form.success_url
    {
        return redirect(url);
    }
    respond(&state, &form, t, &headers, Some(&fields), answer)
}

fn redirect(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::OK.into_response(),
    }
}

fn respond(
    state: &AppState,
    form: &Form,
    t: &Texts,
    headers: &HeaderMap,
    fields: Option<&Fields>,
    a: Answer,
) -> Response {
    let json = fields.is_some_and(|f| wants_json(headers, f))
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json") && !v.contains("text/html"));
    let mut response = if json {
        let body = if a.status == StatusCode::OK {
            json!({"status": "check_inbox", "message": a.message})
        } else {
            json!({"error": {"code": a.code, "message": a.message, "field": a.field}})
        };
        (a.status, axum::Json(body)).into_response()
    } else if a.status == StatusCode::OK {
        Page::message(StatusCode::OK, t, t.check_inbox_title, a.message).into_response()
    } else {
        // Show the form again with the message, keeping what was typed.
        let body = format!(
            "<p class=\"error\" role=\"alert\">{}</p>\n{}",
            escape(a.message),
            form_html(state, form, t, fields)
        );
        let mut page = Page::new(a.status, t, &form.name, body);
        page.framable = true;
        page.into_response()
    };
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

async fn handle(
    state: &AppState,
    form: &Form,
    t: &'static Texts,
    fields: &Fields,
    ip: Option<String>,
    ua: Option<String>,
) -> Answer {
    let ok = Answer { status: StatusCode::OK, code: "check_inbox", message: t.check_inbox, field: None };
    if let Some(ip) = &ip
        && !state.limits.per_ip.allow(ip)
    {
        return Answer::error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", t.too_many, None);
    }
    // A bot filled the invisible field: it gets the normal answer and
    // nothing happens.
    if fields.get(HONEYPOT).is_some_and(|v| !v.is_empty()) {
        return ok;
    }
    let email = match EmailAddress::parse(fields.get("email").unwrap_or_default()) {
        Ok(e) => e,
        Err(_) => {
            return Answer::error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_email", t.invalid_email, Some("email"));
        }
    };
    if let Err(e) = state.addresses.check(&email) {
        let (code, message) = match e {
            AddressError::RoleAddress { .. } => ("role_address", t.role_address),
            _ => ("disposable_domain", t.disposable),
        };
        return Answer::error(StatusCode::UNPROCESSABLE_ENTITY, code, message, Some("email"));
    }
    let consent = fields.get("consent").is_some_and(|v| matches!(v.trim(), "yes" | "on" | "true" | "1"));
    if !consent {
        return Answer::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "consent_required",
            t.consent_required,
            Some("consent"),
        );
    }
    if !state.limits.per_address.allow(&email.normalized()) {
        return Answer::error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", t.too_many, None);
    }
    match state.store.get_account(form.account_id).await {
        Ok(Some(a)) if a.status == AccountStatus::Active => {}
        Ok(_) => return Answer::error(StatusCode::SERVICE_UNAVAILABLE, "form_unavailable", t.unavailable, None),
        Err(e) => {
            tracing::error!(error = %e, "form submission: cannot load account");
            return Answer::error(StatusCode::SERVICE_UNAVAILABLE, "form_unavailable", t.unavailable, None);
        }
    }
    // Suppressed addresses get the normal answer: the page must never tell
    // whether an address is known.
    match blocking_suppression(state, form.account_id, &email).await {
        Ok(None) => {}
        Ok(Some(_)) => return ok,
        Err(_) => return Answer::error(StatusCode::SERVICE_UNAVAILABLE, "form_unavailable", t.unavailable, None),
    }
    let mut attributes = serde_json::Map::new();
    for field in &form.fields {
        if let Some(v) = fields.get(field) {
            let v: String = v.trim().chars().filter(|c| !c.is_control()).take(200).collect();
            if !v.is_empty() {
                attributes.insert(field.clone(), serde_json::Value::String(v));
            }
        }
    }
    let signup = Signup {
        account: form.account_id,
        email: &email,
        attributes,
        lists: form.list_ids.clone(),
        form: Some((form.id, form.version)),
        consent_text: form.consent_text.clone(),
        source: format!("form:{}", form.public_id),
        language: form.language.clone(),
        ip,
        user_agent: ua,
    };
    match request(state, signup).await {
        Ok(_) => ok,
        Err(e) => {
            tracing::error!(error = ?e, "form submission failed");
            Answer::error(StatusCode::SERVICE_UNAVAILABLE, "form_unavailable", t.unavailable, None)
        }
    }
}
