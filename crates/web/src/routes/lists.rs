//! Mailing lists of the calling account.

use assent_domain::ListId;
use assent_store::List;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::account::rfc3339;
use super::{path_id, required_text};
use crate::AppState;
use crate::auth::AccountAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp};

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 2000;

fn list_json(l: &List) -> Value {
    json!({
        "id": l.id,
        "name": l.name,
        "description": l.description,
        "created_at": rfc3339(l.created_at),
        "updated_at": rfc3339(l.updated_at),
    })
}

fn description(d: Option<&str>) -> Result<String, ApiError> {
    let d = d.unwrap_or_default().trim();
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::unprocessable(
            "too_long",
            format!("description is longer than {MAX_DESCRIPTION} characters"),
        )
        .with_field("description"));
    }
    Ok(d.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateList {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateList>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_write()?;
    let name = required_text(&body.name, "name", MAX_NAME)?;
    let description = description(body.description.as_deref())?;
    let list = state.store.create_list(auth.account(), &name, &description).await?;
    audit(&state, &auth, ip, "list.create", list.id).await?;
    Ok((StatusCode::CREATED, Json(list_json(&list))))
}

pub async fn list(State(state): State<AppState>, auth: AccountAuth) -> ApiResult<Json<Value>> {
    let lists = state.store.list_lists(auth.account()).await?;
    Ok(Json(json!({"lists": lists.iter().map(list_json).collect::<Vec<_>>()})))
}

pub async fn show(State(state): State<AppState>, auth: AccountAuth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = ListId(path_id(&id, "list")?);
    let list = state.store.get_list(auth.account(), id).await?.ok_or_else(|| ApiError::not_found("list"))?;
    Ok(Json(list_json(&list)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateList {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateList>,
) -> ApiResult<Json<Value>> {
    auth.require_write()?;
    let id = ListId(path_id(&id, "list")?);
    let name = body.name.as_deref().map(|n| required_text(n, "name", MAX_NAME)).transpose()?;
    let description = body.description.as_deref().map(|d| description(Some(d))).transpose()?;
    let list = state
        .store
        .update_list(auth.account(), id, name.as_deref(), description.as_deref())
        .await?
        .ok_or_else(|| ApiError::not_found("list"))?;
    audit(&state, &auth, ip, "list.update", id).await?;
    Ok(Json(list_json(&list)))
}

pub async fn remove(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    auth.require_write()?;
    let id = ListId(path_id(&id, "list")?);
    if !state.store.delete_list(auth.account(), id).await? {
        return Err(ApiError::not_found("list"));
    }
    audit(&state, &auth, ip, "list.delete", id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(state: &AppState, auth: &AccountAuth, ip: Option<String>, action: &str, id: ListId) -> ApiResult<()> {
    auth.record(state, ip, action, format!("list:{id}"), json!({})).await
}
