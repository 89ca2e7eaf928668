//! Sender domains: Assent generates the DKIM keys (RSA-2048 and Ed25519,
//! sealed at rest) and lists the DNS records to publish; `verify` looks
//! them up and marks the domain verified only when they match. The
//! operator may verify by hand, with a reason that is recorded.

use assent_domain::EmailAddress;
use assent_store::{NewAuditEntry, SenderDomain};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::account::rfc3339;
use super::path_id;
use crate::AppState;
use crate::auth::{AccountAuth, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp};

pub fn domain_json(d: &SenderDomain) -> Value {
    json!({
        "id": d.id,
        "domain": d.domain,
        "verified": d.verified_at.is_some(),
        "verified_at": d.verified_at.map(rfc3339),
        "verified_by": d.verified_by,
        "records": d.records,
        "last_check": d.last_check,
        "created_at": rfc3339(d.created_at),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDomain {
    domain: String,
}

pub async fn create(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateDomain>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_write()?;
    // The address parser owns the rules for domains (IDNA, lengths, labels).
    let probe =
        EmailAddress::parse(&format!("postmaster@{}", body.domain.trim().trim_end_matches('.'))).map_err(|e| {
            ApiError::unprocessable("invalid_domain", format!("{:?} is not a usable domain: {e}", body.domain))
                .with_field("domain")
        })?;
    let domain = probe.domain().to_string();
    if state.store.list_sender_domains(auth.account()).await?.iter().any(|d| d.domain == domain) {
        return Err(ApiError::conflict(
            "domain_exists",
            format!("{domain} is already a sender domain of this account"),
        ));
    }
    let secrets = state.secrets.clone();
    let (spf, mx) = (state.config.spf_mechanism.clone(), state.config.bounce_mx.clone());
    let d = domain.clone();
    // RSA key generation takes a moment of CPU: not on the async threads.
    let new = tokio::task::spawn_blocking(move || assent_engine::campaign::new_sender_domain(&d, &secrets, &spf, &mx))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot create DKIM keys");
            ApiError::internal()
        })?;
    let created = state.store.create_sender_domain(auth.account(), &new).await?;
    auth.record(&state, ip, "sender_domain.create", format!("sender_domain:{}", created.id), json!({"domain": domain}))
        .await?;
    Ok((StatusCode::CREATED, Json(domain_json(&created))))
}

pub async fn list(State(state): State<AppState>, auth: AccountAuth) -> ApiResult<Json<Value>> {
    let domains = state.store.list_sender_domains(auth.account()).await?;
    Ok(Json(json!({"sender_domains": domains.iter().map(domain_json).collect::<Vec<_>>()})))
}

pub async fn show(State(state): State<AppState>, auth: AccountAuth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = path_id(&id, "sender domain")?;
    let d =
        state.store.get_sender_domain(auth.account(), id).await?.ok_or_else(|| ApiError::not_found("sender domain"))?;
    Ok(Json(domain_json(&d)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    #[serde(default)]
    force: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// Checks the DNS records; an operator may instead verify by hand
/// (`{"force": true, "reason": "…"}`), which the audit log records.
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    body: Option<ApiJson<Verify>>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&id, "sender domain")?;
    let body = body.map(|ApiJson(b)| b).unwrap_or_default();
    let domain = match &caller {
        Caller::Account(a) => state.store.get_sender_domain(a.account, id).await?,
        Caller::Operator { .. } => state.store.find_sender_domain(id).await?,
    }
    .ok_or_else(|| ApiError::not_found("sender domain"))?;
    let account = domain.account_id;
    // A reason is checked even when it is not needed: it is never cut.
    let reason = super::decision_reason(body.reason.as_deref())?;
    if body.force {
        if !matches!(caller, Caller::Operator { .. }) {
            return Err(ApiError::forbidden("operator_only", "only the operator may verify a domain by hand"));
        }
        let reason = reason.ok_or_else(|| {
            ApiError::unprocessable("missing_field", "say why the domain is verified by hand").with_field("reason")
        })?;
        let check = json!({"forced": true, "reason": reason, "at": rfc3339(assent_engine::now_ms())});
        state.store.record_domain_check(account, id, &check, Some(&format!("{} (by hand)", caller.actor()))).await?;
        state
            .store
            .record_action(&NewAuditEntry {
                account: Some(account),
                actor: caller.actor(),
                action: "sender_domain.force_verify".into(),
                target: format!("sender_domain:{id}"),
                detail: json!({"domain": domain.domain, "reason": reason}),
                ip,
            })
            .await?;
    } else {
        let expected = expected_records(&domain.records);
        let checker = assent_engine::dns::DnsChecker::new(state.config.dns_resolver).map_err(|e| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "dns_unavailable", format!("cannot query DNS: {e}"))
        })?;
        let results = checker.check(&expected).await;
        let ok = results.iter().all(|r| r.ok);
        let check = json!({"ok": ok, "records": results, "at": rfc3339(assent_engine::now_ms())});
        state.store.record_domain_check(account, id, &check, ok.then_some("dns")).await?;
    }
    let d = state.store.get_sender_domain(account, id).await?.ok_or_else(|| ApiError::not_found("sender domain"))?;
    Ok(Json(domain_json(&d)))
}

/// The stored records as the DNS checker wants them (SPF is checked for
/// its mechanism, not the whole text).
fn expected_records(records: &Value) -> Vec<assent_engine::dns::ExpectedRecord> {
    use assent_engine::dns::{ExpectedRecord, RecordKind};
    let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    records
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let purpose: &'static str = match r.get("purpose").and_then(Value::as_str)? {
                        "dkim_rsa" => "dkim_rsa",
                        "dkim_ed25519" => "dkim_ed25519",
                        "spf" => "spf",
                        "dmarc" => "dmarc",
                        "bounce_mx" => "bounce_mx",
                        _ => return None,
                    };
                    let kind = match r.get("type").and_then(Value::as_str)? {
                        "MX" => RecordKind::Mx,
                        "CNAME" => RecordKind::Cname,
                        _ => RecordKind::Txt,
                    };
                    let value = if purpose == "spf" { text(r, "mechanism") } else { text(r, "value") };
                    Some(ExpectedRecord { kind, name: text(r, "name"), value, purpose })
                })
                .collect()
        })
        .unwrap_or_default()
}
