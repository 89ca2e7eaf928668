//! Operator routes: create accounts, decide audits, suspend, bootstrap tokens.

use assent_domain::{AccountAction, AccountId, AccountStatus, EmailAddress, UserRole};
use assent_store::{Account, NewAuditEntry, NewToken, Store, TokenOwner};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{path_id, required_text};
use crate::AppState;
use crate::auth::{OperatorAuth, new_token};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    name: String,
    owner_email: String,
}

pub fn account_json(a: &Account) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "owner_email": a.owner_email,
        "status": a.status.as_str(),
        "status_reason": a.status_reason,
        "created_at": crate::routes::account::rfc3339(a.created_at),
        "updated_at": crate::routes::account::rfc3339(a.updated_at),
    })
}

pub async fn create(
    State(state): State<AppState>,
    op: OperatorAuth,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateAccount>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = required_text(&body.name, "name", 200)?;
    let owner = EmailAddress::parse(&body.owner_email).map_err(|e| ApiError::from(e).with_field("owner_email"))?;
    let (account, owner_user) = state.store.create_account(&name, &owner).await?;
    state
        .store
        .record_action(&NewAuditEntry {
            account: Some(account.id),
            actor: op.caller.actor(),
            action: "account.create".into(),
            target: format!("account:{}", account.id),
            detail: json!({"name": name, "owner_user": owner_user}),
            ip,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(account_json(&account))))
}

pub async fn list(State(state): State<AppState>, _op: OperatorAuth) -> ApiResult<Json<Value>> {
    let accounts = state.store.list_accounts().await?;
    Ok(Json(json!({"accounts": accounts.iter().map(account_json).collect::<Vec<_>>()})))
}

pub async fn show(State(state): State<AppState>, _op: OperatorAuth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = AccountId(path_id(&id, "account")?);
    let account = state.store.get_account(id).await?.ok_or_else(|| ApiError::not_found("account"))?;
    let mut body = account_json(&account);
    body["imprint"] = serde_json::to_value(state.store.get_imprint(id).await?).unwrap_or(Value::Null);
    body["audit"] = serde_json::to_value(state.store.latest_audit(id).await?).unwrap_or(Value::Null);
    body["history"] = serde_json::to_value(state.store.audit_log(Some(id), 100).await?).unwrap_or(Value::Null);
    Ok(Json(body))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    #[serde(default)]
    reason: Option<String>,
}

pub async fn activate(
    state: State<AppState>,
    op: OperatorAuth,
    ip: ClientIp,
    id: Path<String>,
    body: Option<ApiJson<Decision>>,
) -> ApiResult<Json<Value>> {
    decide(state, op, ip, id, body, AccountAction::Activate).await
}

pub async fn reject(
    state: State<AppState>,
    op: OperatorAuth,
    ip: ClientIp,
    id: Path<String>,
    body: Option<ApiJson<Decision>>,
) -> ApiResult<Json<Value>> {
    decide(state, op, ip, id, body, AccountAction::Reject).await
}

pub async fn suspend(
    state: State<AppState>,
    op: OperatorAuth,
    ip: ClientIp,
    id: Path<String>,
    body: Option<ApiJson<Decision>>,
) -> ApiResult<Json<Value>> {
    decide(state, op, ip, id, body, AccountAction::Suspend).await
}

async fn decide(
    State(state): State<AppState>,
    op: OperatorAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    body: Option<ApiJson<Decision>>,
    action: AccountAction,
) -> ApiResult<Json<Value>> {
    let id = AccountId(path_id(&id, "account")?);
    let reason = body.and_then(|ApiJson(d)| d.reason);
    let account = decide_account(state.store.as_ref(), id, action, reason, &op.caller.actor(), ip).await?;
    Ok(Json(account_json(&account)))
}

/// The operator's decision on an account, shared by the API and the CLI:
/// checks the reason, the domain life cycle and the audit, then moves the
/// account and records who did it, atomically.
pub async fn decide_account(
    store: &dyn Store,
    id: AccountId,
    action: AccountAction,
    reason: Option<String>,
    actor: &str,
    ip: Option<String>,
) -> ApiResult<Account> {
    let reason = super::decision_reason(reason.as_deref())?;
    // A refusal or suspension must tell the customer why (it is recorded
    // and shown to them); an activation may go without words.
    if matches!(action, AccountAction::Reject | AccountAction::Suspend) && reason.is_none() {
        return Err(ApiError::unprocessable(
            "missing_field",
            format!(
                "give a reason: {{\"reason\": \"…\"}} explains to the customer why the account is {}",
                match action {
                    AccountAction::Reject => "rejected",
                    _ => "suspended",
                }
            ),
        )
        .with_field("reason"));
    }
    let account = store.get_account(id).await?.ok_or_else(|| ApiError::not_found("account"))?;
    // Suspended accounts come back with "activate" (the operator's word for
    // it); the domain calls that reinstating.
    let action = if action == AccountAction::Activate && account.status == AccountStatus::Suspended {
        AccountAction::Reinstate
    } else {
        action
    };
    let next = account.status.apply(action).map_err(|e| ApiError::conflict(e.code(), e.to_string()))?;
    if action == AccountAction::Activate && store.get_imprint(id).await?.is_none() {
        return Err(ApiError::conflict(
            "audit_missing",
            "the account has not submitted its audit and imprint yet (PUT /api/v1/account/audit)",
        ));
    }
    let audit = NewAuditEntry {
        account: Some(id),
        actor: actor.to_string(),
        action: format!("account.{}", action.as_str()),
        target: format!("account:{id}"),
        detail: json!({"from": account.status.as_str(), "to": next.as_str(), "reason": reason}),
        ip,
    };
    if !store.transition_account(id, account.status, next, reason.as_deref(), &audit).await? {
        return Err(ApiError::conflict("concurrent_change", "the account changed meanwhile; read it again and retry"));
    }
    store.get_account(id).await?.ok_or_else(|| ApiError::not_found("account"))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<UserRole>,
}

/// Bootstraps an account with a token (DESIGN.md); the secret is shown once.
pub async fn create_token(
    State(state): State<AppState>,
    op: OperatorAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    body: Option<ApiJson<CreateToken>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = AccountId(path_id(&id, "account")?);
    state.store.get_account(id).await?.ok_or_else(|| ApiError::not_found("account"))?;
    let body = body.map(|ApiJson(b)| b).unwrap_or_default();
    let name = match body.name {
        Some(n) => required_text(&n, "name", 100)?,
        None => "bootstrap".into(),
    };
    let role = body.role.unwrap_or(UserRole::Owner);
    let (secret, hash) = new_token();
    let token = state
        .store
        .create_token(&NewToken {
            owner: TokenOwner::Account { account: id, user: None },
            role,
            name: name.clone(),
            token_hash: hash,
        })
        .await?;
    state
        .store
        .record_action(&NewAuditEntry {
            account: Some(id),
            actor: op.caller.actor(),
            action: "token.create".into(),
            target: format!("token:{token}"),
            detail: json!({"name": name, "role": role.as_str()}),
            ip,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": token, "token": secret, "name": name, "role": role.as_str()}))))
}
