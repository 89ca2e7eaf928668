//! Contact imports over the API: a multipart upload streamed to disk (never
//! held in memory), checked up front, then read by the import worker. The
//! operator approves or rejects imports that need review.

use std::path::PathBuf;

use assent_domain::ListId;
use assent_engine::import::{ImportOptions, Progress, Upload, UploadError, check};
use assent_store::{Import, NewAuditEntry};
use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::account::rfc3339;
use super::path_id;
use crate::AppState;
use crate::auth::{AccountAuth, OperatorAuth};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp};

pub fn import_json(i: &Import, rejections: Option<Vec<assent_store::RejectedRow>>) -> Value {
    let p = Progress::of(i, assent_engine::now_ms());
    let mut body = json!({
        "id": i.id,
        "status": i.status,
        "review": i.review,
        "review_reason": i.review_reason,
        "decision_reason": i.decision_reason,
        "list_id": i.list_id,
        "origin": i.origin,
        "evidence": i.evidence,
        "options": i.options,
        "file_name": i.file_name,
        "file_size": i.file_size,
        "counts": {
            "rows": i.rows_done,
            "imported": i.imported,
            "merged": i.merged,
            "rejected": i.rejected,
            "risky": i.risky,
        },
        "progress": {
            "done": i.processed,
            "fraction": (p.fraction * 1000.0).round() / 1000.0,
            "rows_per_sec": p.rows_per_sec.round(),
            "eta_secs": p.eta_secs.map(|e| e.round()),
        },
        "error": i.error,
        "created_by": i.created_by,
        "created_at": rfc3339(i.created_at),
        "started_at": i.started_at.map(rfc3339),
        "finished_at": i.finished_at.map(rfc3339),
    });
    if let Some(r) = rejections {
        body["rejections"] = serde_json::to_value(r).unwrap_or_default();
    }
    body
}

fn upload_error(e: UploadError) -> ApiError {
    let status =
        if e.code == "internal" { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::UNPROCESSABLE_ENTITY };
    ApiError::new(status, e.code, e.message).with_field(e.field)
}

/// Removes the spooled file when the request fails half-way.
struct Spool(Option<PathBuf>);

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_write()?;
    auth.require_active(&state).await?;
    // axum answers a missing or bad multipart header in plain text; the
    // API answers in JSON, and says what to send.
    let mut multipart = multipart.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "send the import as multipart/form-data with the fields file, list_id, origin and evidence ({})",
                e.body_text()
            ),
        )
    })?;
    let dir = state.config.import_dir.clone();
    tokio::fs::create_dir_all(&dir).await.map_err(|e| {
        tracing::error!(error = %e, dir = %dir.display(), "cannot create the import directory");
        ApiError::internal()
    })?;
    let mut spool = Spool(None);
    let mut file_name = String::new();
    let mut text: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let limit = state.config.max_import_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the file is larger than {limit} bytes"),
        )
        .with_field("file")
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(ApiError::bad_request("malformed_multipart", e.body_text())),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if spool.0.is_some() {
                return Err(ApiError::bad_request("invalid_field", "send one file").with_field("file"));
            }
            file_name =
                field.file_name().unwrap_or("upload.csv").chars().filter(|c| !c.is_control()).take(200).collect();
            let path = dir.join(format!("{}.csv", crate::routes::forms::new_public_id()));
            let mut out = tokio::fs::File::create(&path).await.map_err(|e| {
                tracing::error!(error = %e, "cannot spool upload");
                ApiError::internal()
            })?;
            spool.0 = Some(path);
            let mut field = field;
            let mut written: u64 = 0;
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        written += chunk.len() as u64;
                        if written > limit {
                            return Err(too_large());
                        }
                        out.write_all(&chunk).await.map_err(|e| {
                            tracing::error!(error = %e, "cannot spool upload");
                            ApiError::internal()
                        })?;
                    }
                    Ok(None) => break,
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
                    Err(e) => return Err(ApiError::bad_request("malformed_multipart", e.body_text())),
                }
            }
            out.flush().await.map_err(|_| ApiError::internal())?;
        } else {
            let value = field.text().await.map_err(|e| ApiError::bad_request("malformed_multipart", e.body_text()))?;
            if value.len() > 64 * 1024 {
                return Err(ApiError::unprocessable("too_long", format!("{name} is too long")).with_field(name));
            }
            text.insert(name, value);
        }
    }
    let Some(path) = spool.0.clone() else {
        return Err(ApiError::unprocessable("missing_field", "attach the CSV file as the multipart field `file`")
            .with_field("file"));
    };
    let list = text.get("list_id").and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
        ApiError::unprocessable("missing_field", "list_id (a number) is required").with_field("list_id")
    })?;
    let evidence = match text.get("evidence").map(|e| e.trim()).filter(|e| !e.is_empty()) {
        None => Value::Null,
        Some(e) => serde_json::from_str(e).map_err(|err| {
            ApiError::unprocessable("invalid_evidence", format!("evidence must be a JSON object: {err}"))
                .with_field("evidence")
        })?,
    };
    let json_field = |name: &'static str| -> ApiResult<Option<Value>> {
        match text.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => serde_json::from_str(v).map(Some).map_err(|e| {
                ApiError::unprocessable("invalid_field", format!("{name} must be JSON: {e}")).with_field(name)
            }),
        }
    };
    let mut options = ImportOptions {
        encoding: text.get("encoding").cloned(),
        delimiter: text.get("delimiter").cloned(),
        origin_column: text.get("origin_column").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
        ..ImportOptions::default()
    };
    if let Some(m) = json_field("mapping")? {
        options.mapping = serde_json::from_value(m)
            .map_err(|e| ApiError::unprocessable("invalid_field", format!("mapping: {e}")).with_field("mapping"))?;
    }
    if let Some(m) = json_field("evidence_columns")? {
        options.evidence_columns = serde_json::from_value(m).map_err(|e| {
            ApiError::unprocessable("invalid_field", format!("evidence_columns: {e}")).with_field("evidence_columns")
        })?;
    }
    let new = check(
        state.store.as_ref(),
        &state.config.import,
        Upload {
            account: auth.account(),
            list: ListId(list),
            origin: text.get("origin").map(String::as_str),
            evidence,
            options,
            path: &path,
            file_name,
            created_by: auth.caller.actor(),
            ip: ip.clone(),
        },
    )
    .await
    .map_err(upload_error)?;
    let import = state.store.create_import(auth.account(), &new).await?;
    spool.0 = None; // the import owns the file now
    let detail = json!({"origin": import.origin, "file_size": import.file_size, "review": import.review});
    auth.record(&state, ip, "import.create", format!("import:{}", import.id), detail).await?;
    state.import_wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(import_json(&import, None))))
}

pub async fn show(State(state): State<AppState>, auth: AccountAuth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = path_id(&id, "import")?;
    let import = state.store.get_import(auth.account(), id).await?.ok_or_else(|| ApiError::not_found("import"))?;
    let rejections = state.store.import_rejections(auth.account(), id, 0, 1000).await?;
    let mut body = import_json(&import, Some(rejections));
    body["report_url"] = Value::String(format!("/api/v1/imports/{id}/report"));
    Ok(Json(body))
}

pub async fn list(State(state): State<AppState>, auth: AccountAuth) -> ApiResult<Json<Value>> {
    let imports = state.store.list_imports(auth.account(), 100).await?;
    Ok(Json(json!({"imports": imports.iter().map(|i| import_json(i, None)).collect::<Vec<_>>()})))
}

/// Every rejected row as CSV: line, address, reason.
pub async fn report(State(state): State<AppState>, auth: AccountAuth, Path(id): Path<String>) -> ApiResult<Response> {
    let id = path_id(&id, "import")?;
    state.store.get_import(auth.account(), id).await?.ok_or_else(|| ApiError::not_found("import"))?;
    let mut csv = String::from("line,address,reason\r\n");
    let mut after = 0;
    loop {
        let page = state.store.import_rejections(auth.account(), id, after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.line;
        for r in &page {
            csv.push_str(&format!("{},{},{}\r\n", r.line, csv_field(&r.address), csv_field(&r.reason)));
        }
    }
    let mut response = csv.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"import-{id}-rejections.csv\"")) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// Quotes a CSV field, and defuses spreadsheet formulas (`=`, `+`, `-`, `@`).
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) { format!("'{v}") } else { v.to_string() };
    if v.contains([',', '"', '\n', '\r']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    #[serde(default)]
    reason: Option<String>,
}

pub async fn approve(
    state: State<AppState>,
    op: OperatorAuth,
    ip: ClientIp,
    id: Path<String>,
    body: Option<ApiJson<Decision>>,
) -> ApiResult<Json<Value>> {
    decide(state, op, ip, id, body, true).await
}

pub async fn reject(
    state: State<AppState>,
    op: OperatorAuth,
    ip: ClientIp,
    id: Path<String>,
    body: Option<ApiJson<Decision>>,
) -> ApiResult<Json<Value>> {
    decide(state, op, ip, id, body, false).await
}

async fn decide(
    State(state): State<AppState>,
    op: OperatorAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    body: Option<ApiJson<Decision>>,
    approve: bool,
) -> ApiResult<Json<Value>> {
    let id = path_id(&id, "import")?;
    let reason = super::decision_reason(body.and_then(|ApiJson(d)| d.reason).as_deref())?.unwrap_or_default();
    if !approve && reason.is_empty() {
        return Err(ApiError::unprocessable("missing_field", "give the customer a reason for the rejection")
            .with_field("reason"));
    }
    let import = state.store.find_import(id).await?.ok_or_else(|| ApiError::not_found("import"))?;
    if !state.store.decide_import(id, approve, &reason).await? {
        return Err(ApiError::conflict(
            "not_in_review",
            format!("import {id} is not waiting for review (review: {})", import.review),
        ));
    }
    if !approve && import.file_path.starts_with(&*state.config.import_dir.to_string_lossy()) {
        let _ = std::fs::remove_file(&import.file_path);
    }
    state
        .store
        .record_action(&NewAuditEntry {
            account: Some(import.account_id),
            actor: op.caller.actor(),
            action: if approve { "import.approve".into() } else { "import.reject".into() },
            target: format!("import:{id}"),
            detail: json!({"reason": reason}),
            ip,
        })
        .await?;
    let import = state.store.find_import(id).await?.ok_or_else(|| ApiError::not_found("import"))?;
    Ok(Json(import_json(&import, None)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    limit: Option<i64>,
}

/// The operator's queue of imports waiting for review.
pub async fn review_queue(
    State(state): State<AppState>,
    _op: OperatorAuth,
    query: Result<Query<ReviewQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let imports = state.store.imports_in_review(q.limit.unwrap_or(100).clamp(1, 1000)).await?;
    let list: Vec<Value> = imports
        .iter()
        .map(|i| {
            let mut v = import_json(i, None);
            v["account_id"] = json!(i.account_id);
            v
        })
        .collect();
    Ok(Json(json!({"imports": list})))
}
