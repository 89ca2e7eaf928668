//! Routes of the calling account: its status, its audit, its tokens.

use assent_domain::{AccountAction, Imprint, ImprintDraft, TokenId, UserRole};
use assent_store::{AuditSubmission, NewAuditEntry, NewToken, TokenOwner};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::accounts::account_json;
use super::{path_id, required_text};
use crate::AppState;
use crate::auth::{AccountAuth, new_token};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp};

/// Unix milliseconds as RFC 3339 (UTC), the time format of the API.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

pub async fn show(State(state): State<AppState>, auth: AccountAuth) -> ApiResult<Json<Value>> {
    let id = auth.account();
    let account = state.store.get_account(id).await?.ok_or_else(ApiError::unauthorized)?;
    let mut body = account_json(&account);
    body["imprint"] = serde_json::to_value(state.store.get_imprint(id).await?).unwrap_or(Value::Null);
    body["audit"] = serde_json::to_value(state.store.latest_audit(id).await?).unwrap_or(Value::Null);
    Ok(Json(body))
}

/// The most characters of each free-text answer of the audit.
const MAX_AUDIT_TEXT: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditBody {
    imprint: ImprintDraft,
    website: Option<String>,
    list_origins: Option<String>,
    consent_collection: Option<String>,
    expected_monthly_volume: Option<i64>,
}

/// The customer's audit: imprint plus how the lists came about. All
/// problems are reported at once so the form can be fixed in one go.
pub async fn submit_audit(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<AuditBody>,
) -> ApiResult<Json<Value>> {
    auth.require_owner()?;
    let id = auth.account();
    let account = state.store.get_account(id).await?.ok_or_else(ApiError::unauthorized)?;
    let next =
        account.status.apply(AccountAction::SubmitAudit).map_err(|e| ApiError::conflict(e.code(), e.to_string()))?;

    // Refused rather than cut: the operator audits what the customer wrote.
    for (field, v) in [
        ("website", &body.website),
        ("list_origins", &body.list_origins),
        ("consent_collection", &body.consent_collection),
    ] {
        if v.as_deref().is_some_and(|v| v.chars().count() > MAX_AUDIT_TEXT) {
            return Err(ApiError::unprocessable(
                "too_long",
                format!("{field} is longer than {MAX_AUDIT_TEXT} characters; shorten it"),
            )
            .with_field(field));
        }
    }
    let mut missing: Vec<String> = Vec::new();
    let mut text = |v: &Option<String>, field: &str| -> String {
        let v = v.as_deref().map(str::trim).unwrap_or_default();
        if v.is_empty() {
            missing.push(field.to_string());
        }
        v.to_string()
    };
    let website = text(&body.website, "website");
    let list_origins = text(&body.list_origins, "list_origins");
    let consent_collection = text(&body.consent_collection, "consent_collection");
    let volume = match body.expected_monthly_volume {
        Some(v) if v >= 0 => v,
        Some(_) => {
            return Err(ApiError::unprocessable("invalid_field", "expected_monthly_volume must not be negative")
                .with_field("expected_monthly_volume"));
        }
        None => {
            missing.push("expected_monthly_volume".into());
            0
        }
    };
    let imprint = Imprint::parse(body.imprint);
    if let Err(e) = &imprint {
        missing.extend(e.fields().into_iter().map(|f| format!("imprint.{f}")));
    }
    if !missing.is_empty() {
        let detail = match &imprint {
            Err(e) => format!("{e}"),
            Ok(_) => String::new(),
        };
        return Err(ApiError::unprocessable(
            "audit_incomplete",
            format!("the audit is incomplete: fix {}. {detail}", missing.join(", ")).trim().to_string(),
        )
        .with_field(missing.join(",")));
    }
    let imprint = imprint.map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    state
        .store
        .submit_audit(
            id,
            &AuditSubmission { imprint, website, list_origins, consent_collection, expected_monthly_volume: volume },
        )
        .await?;
    auth.record(&state, ip, "account.submit_audit", format!("account:{id}"), json!({})).await?;
    if next != account.status {
        // A rejected account that resubmits goes back to the operator.
        let audit = NewAuditEntry {
            account: Some(id),
            actor: auth.caller.actor(),
            action: "account.resubmit".into(),
            target: format!("account:{id}"),
            detail: json!({"from": account.status.as_str(), "to": next.as_str()}),
            ip: None,
        };
        state.store.transition_account(id, account.status, next, None, &audit).await?;
    }
    let account = state.store.get_account(id).await?.ok_or_else(ApiError::unauthorized)?;
    let mut body = account_json(&account);
    body["imprint"] = serde_json::to_value(state.store.get_imprint(id).await?).unwrap_or(Value::Null);
    Ok(Json(body))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<UserRole>,
}

pub async fn create_token(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    body: Option<ApiJson<CreateToken>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_owner()?;
    let body = body.map(|ApiJson(b)| b).unwrap_or_default();
    let name = match body.name {
        Some(n) => required_text(&n, "name", 100)?,
        None => "api".into(),
    };
    let role = body.role.unwrap_or(auth.who.role);
    let (secret, hash) = new_token();
    let id = state
        .store
        .create_token(&NewToken {
            owner: TokenOwner::Account { account: auth.account(), user: auth.who.user },
            role,
            name: name.clone(),
            token_hash: hash,
        })
        .await?;
    auth.record(&state, ip, "token.create", format!("token:{id}"), json!({"name": name, "role": role.as_str()}))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "token": secret, "name": name, "role": role.as_str()}))))
}

pub async fn list_tokens(State(state): State<AppState>, auth: AccountAuth) -> ApiResult<Json<Value>> {
    let tokens = state.store.list_tokens(auth.account()).await?;
    let tokens: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "name": t.name,
                "role": t.role.as_str(),
                "created_at": rfc3339(t.created_at),
                "revoked_at": t.revoked_at.map(rfc3339),
            })
        })
        .collect();
    Ok(Json(json!({"tokens": tokens})))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    auth.require_owner()?;
    let id = TokenId(path_id(&id, "token")?);
    if !state.store.revoke_token(auth.account(), id).await? {
        return Err(ApiError::not_found("token"));
    }
    auth.record(&state, ip, "token.revoke", format!("token:{id}"), json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}
