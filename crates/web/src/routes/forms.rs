//! Sign-up forms of the calling account. A form names its lists, the
//! consent wording (versioned: a changed wording is a new version, and
//! every consent record points to the version the person saw), extra
//! fields, redirect URLs and language.

use assent_domain::ListId;
use assent_store::{Form, FormUpdate, NewForm};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::account::rfc3339;
use super::required_text;
use crate::AppState;
use crate::auth::AccountAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp};
use crate::pages::form::valid_field_name;

pub fn form_json(state: &AppState, f: &Form) -> Value {
    let base = state.config.public_url.trim_end_matches('/');
    json!({
        "id": f.public_id,
        "name": f.name,
        "list_ids": f.list_ids,
        "consent_text": f.consent_text,
        "version": f.version,
        "fields": f.fields,
        "language": f.language,
        "success_url": f.success_url,
        "confirm_url": f.confirm_url,
        "url": format!("{base}/f/{}", f.public_id),
        "embed_url": format!("{base}/f/{}/embed", f.public_id),
        "created_at": rfc3339(f.created_at),
        "updated_at": rfc3339(f.updated_at),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateForm {
    name: String,
    list_ids: Vec<i64>,
    consent_text: String,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    success_url: Option<String>,
    #[serde(default)]
    confirm_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateForm {
    name: Option<String>,
    list_ids: Option<Vec<i64>>,
    consent_text: Option<String>,
    fields: Option<Vec<String>>,
    language: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    success_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    confirm_url: Option<Option<String>>,
}

/// `null` clears a URL; leaving the key out keeps it.
fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

async fn lists(state: &AppState, auth: &AccountAuth, ids: &[i64]) -> ApiResult<Vec<ListId>> {
    if ids.is_empty() || ids.len() > 20 {
        return Err(ApiError::unprocessable("invalid_field", "a form needs 1 to 20 lists").with_field("list_ids"));
    }
    let mut out = Vec::new();
    for id in ids {
        let list = state.store.get_list(auth.account(), ListId(*id)).await?.ok_or_else(|| {
            ApiError::unprocessable("unknown_list", format!("there is no list {id} in this account"))
                .with_field("list_ids")
        })?;
        if !out.contains(&list.id) {
            out.push(list.id);
        }
    }
    Ok(out)
}

fn fields(names: &[String]) -> ApiResult<Vec<String>> {
    if names.len() > 20 {
        return Err(ApiError::unprocessable("invalid_field", "at most 20 fields").with_field("fields"));
    }
    for n in names {
        if !valid_field_name(n) {
            return Err(ApiError::unprocessable(
                "invalid_field",
                format!("field name {n:?}: use lower-case letters, digits and _ (not email or consent)"),
            )
            .with_field("fields"));
        }
    }
    Ok(names.to_vec())
}

fn url(value: Option<String>, field: &'static str) -> ApiResult<Option<String>> {
    match value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v)
            if (v.starts_with("https://") || v.starts_with("http://"))
                && v.len() <= 2000
                && !v.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            Ok(Some(v))
        }
        Some(_) => {
            Err(ApiError::unprocessable("invalid_field", format!("{field} must be an http(s) URL")).with_field(field))
        }
    }
}

fn language(value: Option<String>) -> ApiResult<String> {
    match value.as_deref().map(str::trim) {
        None | Some("") | Some("en") => Ok("en".into()),
        Some("de") => Ok("de".into()),
        Some(other) => Err(ApiError::unprocessable("invalid_field", format!("language {other:?}: use en or de"))
            .with_field("language")),
    }
}

pub(crate) fn new_public_id() -> String {
    let mut bytes = [0u8; 12];
    // Without an OS random source no unguessable form id can be made.
    #[allow(clippy::expect_used)]
    getrandom::getrandom(&mut bytes).expect("the OS random number generator is unavailable");
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub async fn create(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateForm>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_write()?;
    let new = NewForm {
        public_id: new_public_id(),
        name: required_text(&body.name, "name", 200)?,
        list_ids: lists(&state, &auth, &body.list_ids).await?,
        fields: fields(&body.fields)?,
        language: language(body.language)?,
        success_url: url(body.success_url, "success_url")?,
        confirm_url: url(body.confirm_url, "confirm_url")?,
        consent_text: required_text(&body.consent_text, "consent_text", 5000)?,
    };
    let form = state.store.create_form(auth.account(), &new).await?;
    audit(&state, &auth, ip, "form.create", &form).await?;
    Ok((StatusCode::CREATED, Json(form_json(&state, &form))))
}

pub async fn list(State(state): State<AppState>, auth: AccountAuth) -> ApiResult<Json<Value>> {
    let forms = state.store.list_forms(auth.account()).await?;
    Ok(Json(json!({"forms": forms.iter().map(|f| form_json(&state, f)).collect::<Vec<_>>()})))
}

pub async fn show(State(state): State<AppState>, auth: AccountAuth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let form = state.store.get_form(auth.account(), &id).await?.ok_or_else(|| ApiError::not_found("form"))?;
    Ok(Json(form_json(&state, &form)))
}

pub async fn update(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateForm>,
) -> ApiResult<Json<Value>> {
    auth.require_write()?;
    state.store.get_form(auth.account(), &id).await?.ok_or_else(|| ApiError::not_found("form"))?;
    let update = FormUpdate {
        name: body.name.as_deref().map(|n| required_text(n, "name", 200)).transpose()?,
        list_ids: match body.list_ids {
            Some(ids) => Some(lists(&state, &auth, &ids).await?),
            None => None,
        },
        fields: body.fields.as_deref().map(fields).transpose()?,
        language: body.language.map(|l| language(Some(l))).transpose()?,
        success_url: body.success_url.map(|u| url(u, "success_url")).transpose()?,
        confirm_url: body.confirm_url.map(|u| url(u, "confirm_url")).transpose()?,
        consent_text: body.consent_text.as_deref().map(|t| required_text(t, "consent_text", 5000)).transpose()?,
    };
    let form =
        state.store.update_form(auth.account(), &id, &update).await?.ok_or_else(|| ApiError::not_found("form"))?;
    audit(&state, &auth, ip, "form.update", &form).await?;
    Ok(Json(form_json(&state, &form)))
}

async fn audit(state: &AppState, auth: &AccountAuth, ip: Option<String>, action: &str, form: &Form) -> ApiResult<()> {
    auth.record(state, ip, action, format!("form:{}", form.public_id), json!({"version": form.version})).await
}
