//! Reputation (PRODUCT.md rule 9): the calling account's bounce, complaint
//! and unsubscribe rates with the thresholds that apply to them, and the
//! operator's overview of all accounts (flagged ones first) with the recent
//! alerts of the inbound processor and the reputation monitor. The rates are
//! computed on request by `assent_engine::reputation`; flags are the ones
//! the monitor raised.

use assent_engine::reputation::{AccountReputation, ReputationConfig, account_reputation, overview};
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::account::rfc3339;
use crate::AppState;
use crate::auth::{AccountAuth, OperatorAuth};
use crate::error::{ApiError, ApiResult};

/// The API shape: times as RFC 3339 like everywhere else.
fn reputation_json(r: &AccountReputation) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    v["evaluated_at"] = rfc3339(r.evaluated_at).into();
    if let Some(flags) = v["flags"].as_array_mut() {
        for (f, flag) in flags.iter_mut().zip(&r.flags) {
            f["at"] = rfc3339(flag.at).into();
        }
    }
    v
}

pub async fn show(State(state): State<AppState>, auth: AccountAuth) -> ApiResult<Json<Value>> {
    let account = state.store.get_account(auth.account()).await?.ok_or_else(ApiError::unauthorized)?;
    let config = ReputationConfig::default();
    let r = account_reputation(state.store.as_ref(), &account, &config, assent_engine::now_ms()).await?;
    Ok(Json(reputation_json(&r)))
}

pub async fn operator_overview(State(state): State<AppState>, _op: OperatorAuth) -> ApiResult<Json<Value>> {
    let config = ReputationConfig::default();
    let accounts = overview(state.store.as_ref(), &config, assent_engine::now_ms()).await?;
    let alerts: Vec<Value> = state
        .store
        .audit_log(None, 500)
        .await?
        .into_iter()
        .filter(|e| e.action.starts_with("alert."))
        .take(100)
        .map(|e| json!({"id": e.id, "action": e.action, "target": e.target, "detail": e.detail, "at": rfc3339(e.at)}))
        .collect();
    Ok(Json(json!({
        "accounts": accounts.iter().map(reputation_json).collect::<Vec<_>>(),
        "flagged": accounts.iter().filter(|a| a.flagged).count(),
        "alerts": alerts,
        "thresholds": config,
    })))
}
