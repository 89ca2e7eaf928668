//! The account's suppression list: hashed addresses that are never mailed.
//! Entries made by unsubscribes, complaints, bounces and erasure cannot be
//! lifted here — an objection is absolute; only manual entries can.

use assent_domain::{EmailAddress, SuppressionHash, SuppressionReason};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::account::rfc3339;
use crate::AppState;
use crate::auth::AccountAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    email: Option<String>,
    limit: Option<i64>,
}

fn entry_json(s: &assent_store::Suppression) -> Value {
    json!({"address_hash": s.address_hash, "reason": s.reason.as_str(), "created_at": rfc3339(s.created_at)})
}

pub async fn list(
    State(state): State<AppState>,
    auth: AccountAuth,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let entries = match q.email {
        Some(email) => {
            let email = EmailAddress::parse(&email).map_err(|e| ApiError::from(e).with_field("email"))?;
            state.store.suppression(auth.account(), &SuppressionHash::of(&email)).await?.into_iter().collect()
        }
        None => state.store.list_suppressions(auth.account(), q.limit.unwrap_or(1000).clamp(1, 10_000)).await?,
    };
    Ok(Json(json!({"suppressions": entries.iter().map(entry_json).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    email: String,
    #[serde(default)]
    reason: Option<String>,
}

impl Body {
    /// The address; a reason, if given, can only be `manual` (the others
    /// are Assent's own and neither added nor named by hand).
    fn address(&self) -> ApiResult<EmailAddress> {
        let email = EmailAddress::parse(&self.email).map_err(|e| ApiError::from(e).with_field("email"))?;
        if self.reason.as_deref().is_some_and(|r| r != "manual") {
            return Err(ApiError::unprocessable(
                "invalid_field",
                "only manual suppressions can be added or lifted here",
            )
            .with_field("reason"));
        }
        Ok(email)
    }
}

pub async fn add(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Body>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_write()?;
    let email = body.address()?;
    let hash = SuppressionHash::of(&email);
    let created = state.store.suppress(auth.account(), &hash, SuppressionReason::Manual).await?;
    record(&state, &auth, ip, "suppression.add", &hash).await?;
    let entry = state.store.suppression(auth.account(), &hash).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(entry.as_ref().map(entry_json).unwrap_or(Value::Null))))
}

pub async fn remove(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Body>,
) -> ApiResult<StatusCode> {
    auth.require_write()?;
    let email = body.address()?;
    let hash = SuppressionHash::of(&email);
    let entry =
        state.store.suppression(auth.account(), &hash).await?.ok_or_else(|| ApiError::not_found("suppression"))?;
    if !matches!(entry.reason, SuppressionReason::Manual | SuppressionReason::SoftBounce) {
        return Err(ApiError::conflict(
            "suppression_permanent",
            format!(
                "this address is suppressed because of {}; that cannot be lifted by the sender — \
                 only the person can sign up again through a double opt-in form",
                entry.reason.as_str()
            ),
        ));
    }
    state.store.unsuppress(auth.account(), &hash).await?;
    record(&state, &auth, ip, "suppression.remove", &hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn record(
    state: &AppState,
    auth: &AccountAuth,
    ip: Option<String>,
    action: &str,
    hash: &SuppressionHash,
) -> ApiResult<()> {
    auth.record(state, ip, action, format!("suppression:{}", hash.as_str()), json!({})).await
}
