//! Campaigns: drafts with templates (checked and CSS-inlined when saved),
//! the audience with counts per exclusion reason, the compliance gate
//! (preflight), test sends to the account's own addresses, and the send
//! itself — which requires accepting the current anti-spam guidelines,
//! recorded with who, when, from where and which version.

use assent_domain::{EmailAddress, ListId};
use assent_engine::campaign::{GUIDELINES, GUIDELINES_VERSION, Prepared};
use assent_mail::outbound::CampaignTemplate;
use assent_store::{Acceptance, AudienceMember, Campaign, CampaignDraft};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::account::rfc3339;
use super::{path_id, required_text};
use crate::AppState;
use crate::auth::AccountAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp};

pub async fn guidelines() -> Json<Value> {
    Json(json!({"version": GUIDELINES_VERSION, "text": GUIDELINES}))
}

pub async fn campaign_json(state: &AppState, c: &Campaign) -> ApiResult<Value> {
    let counts = state.progress.get(state.store.as_ref(), c.account_id, c.id, c.status == "sending").await?;
    // Once started, the audience is the snapshot being queued; recounting
    // the lists (a scan of every subscription) on each progress poll would
    // cost seconds at a million contacts and compete with the sending.
    let (audience, audience_eligible) = if c.started_at.is_some() || c.fanout_done {
        (json!({"eligible": counts.total, "snapshot": true, "complete": c.fanout_done}), counts.total)
    } else {
        let a = state.store.audience_counts(c.account_id, &c.list_ids, c.product_category.as_deref()).await?;
        (json!(a), a.eligible)
    };
    // Rate since the start, and what it means for the rest.
    let end = c.finished_at.unwrap_or_else(assent_engine::now_ms);
    let elapsed = c.started_at.map(|s| (end - s).max(1) as f64 / 1000.0);
    let done = counts.sent + counts.bounced + counts.failed + counts.skipped;
    let rate = elapsed.map(|e| done as f64 / e);
    // A cancelled campaign sends nothing more: what was still queued or
    // waiting for a retry is cancelled, not "queued", and nothing remains.
    let cancelled = c.status == "cancelled";
    let unsent = counts.queued + counts.deferred;
    let remaining = if cancelled { 0 } else { unsent.max(audience_eligible - counts.total).max(0) };
    let eta = rate.filter(|r| *r > 0.0 && c.status == "sending").map(|r| (remaining as f64 / r).round());
    let mut counts_json = json!(counts);
    counts_json["cancelled"] = json!(if cancelled { unsent } else { 0 });
    if cancelled {
        counts_json["queued"] = json!(0);
        counts_json["deferred"] = json!(0);
    }
    Ok(json!({
        "id": c.id,
        "name": c.name,
        "subject": c.subject,
        "from_email": c.from_email,
        "from_name": c.from_name,
        "reply_to": c.reply_to,
        "list_ids": c.list_ids,
        "html": c.html,
        "text": c.text,
        "product_category": c.product_category,
        "status": c.status,
        "pause_reason": c.pause_reason,
        "scheduled_at": c.scheduled_at.map(rfc3339),
        "started_at": c.started_at.map(rfc3339),
        "finished_at": c.finished_at.map(rfc3339),
        "acceptance": c.accepted_at.map(|at| json!({
            "by": c.accepted_by, "at": rfc3339(at), "ip": c.accepted_ip, "guidelines_version": c.guidelines_version,
        })),
        "audience": audience,
        "counts": counts_json,
        // What came back: bounces from the SMTP dialogue and from DSNs,
        // complaints and unsubscribes, each recipient once per kind.
        "reports": state.store.campaign_reports(c.account_id, c.id).await?,
        "progress": {
            "done": done,
            "remaining": remaining,
            "rate_per_sec": rate.map(|r| (r * 10.0).round() / 10.0),
            "eta_secs": eta,
        },
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    name: String,
    subject: String,
    from_email: String,
    #[serde(default)]
    from_name: Option<String>,
    #[serde(default)]
    reply_to: Option<String>,
    list_ids: Vec<i64>,
    html: String,
    #[serde(default)]
    text: Option<String>,
    /// Set when the campaign advertises products of this category, so
    /// customers who bought such products (purchase consent) receive it.
    #[serde(default)]
    product_category: Option<String>,
}

async fn draft(state: &AppState, auth: &AccountAuth, b: Body) -> ApiResult<CampaignDraft> {
    let name = required_text(&b.name, "name", 200)?;
    let from = EmailAddress::parse(&b.from_email).map_err(|e| ApiError::from(e).with_field("from_email"))?;
    let reply_to = match b.reply_to.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => {
            Some(EmailAddress::parse(r).map_err(|e| ApiError::from(e).with_field("reply_to"))?.as_str().to_string())
        }
        None => None,
    };
    if b.list_ids.is_empty() || b.list_ids.len() > 50 {
        return Err(ApiError::unprocessable("invalid_field", "a campaign needs 1 to 50 lists").with_field("list_ids"));
    }
    let mut lists = Vec::new();
    for id in &b.list_ids {
        let list = state.store.get_list(auth.account(), ListId(*id)).await?.ok_or_else(|| {
            ApiError::unprocessable("unknown_list", format!("there is no list {id} in this account"))
                .with_field("list_ids")
        })?;
        if !lists.contains(&list.id) {
            lists.push(list.id);
        }
    }
    let text = b.text.filter(|t| !t.trim().is_empty());
    let html_inlined = assent_mail::outbound::css::inline_css(&b.html);
    // Compile now: a template that does not compile is refused at once,
    // with the part and line.
    CampaignTemplate::compile(&b.subject, &html_inlined, text.as_deref()).map_err(|e| {
        ApiError::unprocessable("template_error", e.to_string()).with_field(match e.part() {
            assent_mail::outbound::TemplatePart::Subject => "subject",
            assent_mail::outbound::TemplatePart::Html => "html",
            assent_mail::outbound::TemplatePart::Text => "text",
        })
    })?;
    Ok(CampaignDraft {
        name,
        subject: b.subject,
        from_email: from.as_str().to_string(),
        from_name: b.from_name.unwrap_or_default().trim().chars().take(200).collect(),
        reply_to,
        list_ids: lists,
        filter: json!({}),
        html: b.html,
        text,
        html_inlined,
        product_category: b.product_category.map(|c| c.trim().to_string()).filter(|c| !c.is_empty()),
    })
}

pub async fn create(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Body>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_write()?;
    let d = draft(&state, &auth, body).await?;
    let c = state.store.create_campaign(auth.account(), &d).await?;
    record(&state, &auth, ip, "campaign.create", c.id, json!({})).await?;
    Ok((StatusCode::CREATED, Json(campaign_json(&state, &c).await?)))
}

pub async fn list(State(state): State<AppState>, auth: AccountAuth) -> ApiResult<Json<Value>> {
    let campaigns = state.store.list_campaigns(auth.account(), 200).await?;
    let mut out = Vec::new();
    for c in &campaigns {
        out.push(campaign_json(&state, c).await?);
    }
    Ok(Json(json!({"campaigns": out})))
}

async fn load(state: &AppState, auth: &AccountAuth, id: &str) -> ApiResult<Campaign> {
    let id = path_id(id, "campaign")?;
    state.store.get_campaign(auth.account(), id).await?.ok_or_else(|| ApiError::not_found("campaign"))
}

pub async fn show(State(state): State<AppState>, auth: AccountAuth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let c = load(&state, &auth, &id).await?;
    let mut body = campaign_json(&state, &c).await?;
    body["history"] = serde_json::to_value(
        state
            .store
            .audit_log(Some(auth.account()), 500)
            .await?
            .into_iter()
            .filter(|e| e.target == format!("campaign:{}", c.id))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    Ok(Json(body))
}

pub async fn update(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Body>,
) -> ApiResult<Json<Value>> {
    auth.require_write()?;
    let c = load(&state, &auth, &id).await?;
    let d = draft(&state, &auth, body).await?;
    if !state.store.update_campaign(auth.account(), c.id, &d).await? {
        return Err(ApiError::conflict(
            "campaign_not_editable",
            format!("the campaign is {}; only drafts and scheduled campaigns can be changed", c.status),
        ));
    }
    record(&state, &auth, ip, "campaign.update", c.id, json!({})).await?;
    let c = load(&state, &auth, &id).await?;
    Ok(Json(campaign_json(&state, &c).await?))
}

async fn prepare(state: &AppState, c: Campaign) -> ApiResult<Prepared> {
    Prepared::load(state.store.as_ref(), c, &state.secrets, state.tokens.clone(), &state.config.public_url)
        .await
        .map_err(|e| ApiError::unprocessable("campaign_invalid", e.to_string()))
}

async fn run_preflight(state: &AppState, c: &Campaign) -> ApiResult<Vec<assent_domain::compliance::Failure>> {
    let audience = state.store.audience_counts(c.account_id, &c.list_ids, c.product_category.as_deref()).await?;
    let prepared = prepare(state, c.clone()).await?;
    Ok(prepared.preflight(audience.eligible))
}

pub async fn preflight(
    State(state): State<AppState>,
    auth: AccountAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let c = load(&state, &auth, &id).await?;
    let failures = run_preflight(&state, &c).await?;
    Ok(Json(json!({"ok": failures.is_empty(), "failures": failures})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Send {
    #[serde(default)]
    accept_guidelines: bool,
    #[serde(default)]
    guidelines_version: Option<String>,
    /// RFC 3339; absent means now.
    #[serde(default)]
    send_at: Option<String>,
}

pub async fn send(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    body: Option<ApiJson<Send>>,
) -> ApiResult<Response> {
    auth.require_write()?;
    let c = load(&state, &auth, &id).await?;
    let Some(ApiJson(body)) = body else { return Err(not_accepted()) };
    if !body.accept_guidelines {
        return Err(not_accepted());
    }
    if body.guidelines_version.as_deref() != Some(GUIDELINES_VERSION) {
        return Err(ApiError::unprocessable(
            "guidelines_outdated",
            format!("the current guidelines are version {GUIDELINES_VERSION}; read them (GET /api/v1/guidelines) and accept that version"),
        )
        .with_field("guidelines_version"));
    }
    let now = assent_engine::now_ms();
    let start_at = match body.send_at.as_deref() {
        None => now,
        Some(t) => {
            let at = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).map_err(|_| {
                ApiError::unprocessable("invalid_field", "send_at must be an RFC 3339 time").with_field("send_at")
            })?;
            ((at.unix_timestamp_nanos() / 1_000_000) as i64).max(now)
        }
    };
    if c.status != "draft" {
        return Err(ApiError::conflict(
            "campaign_not_draft",
            format!("the campaign is {}; only a draft can be sent", c.status),
        ));
    }
    let failures = run_preflight(&state, &c).await?;
    if !failures.is_empty() {
        let body = json!({
            "error": {"code": "preflight_failed", "message": "the campaign does not pass the compliance checks", "field": null},
            "failures": failures,
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    let acceptance =
        Acceptance { by: auth.caller.actor(), ip: ip.clone(), guidelines_version: GUIDELINES_VERSION.into(), start_at };
    if !state.store.accept_campaign(auth.account(), c.id, &acceptance).await? {
        return Err(ApiError::conflict("concurrent_change", "the campaign changed meanwhile; read it again"));
    }
    record(
        &state,
        &auth,
        ip,
        "campaign.send",
        c.id,
        json!({"guidelines_version": GUIDELINES_VERSION, "start_at": rfc3339(start_at)}),
    )
    .await?;
    state.campaign_wake.notify_one();
    let c = load(&state, &auth, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(campaign_json(&state, &c).await?)).into_response())
}

fn not_accepted() -> ApiError {
    ApiError::unprocessable(
        "guidelines_not_accepted",
        "every send needs {\"accept_guidelines\": true, \"guidelines_version\": \"…\"} for the current guidelines (GET /api/v1/guidelines)",
    )
    .with_field("accept_guidelines")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSend {
    emails: Vec<String>,
}

/// A test send goes only to the account's own addresses: its users, or
/// addresses on its verified sender domains.
pub async fn test_send(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TestSend>,
) -> ApiResult<Json<Value>> {
    auth.require_write()?;
    let account = auth.require_active(&state).await?;
    let c = load(&state, &auth, &id).await?;
    if body.emails.is_empty() || body.emails.len() > 10 {
        return Err(ApiError::unprocessable("invalid_field", "give 1 to 10 addresses").with_field("emails"));
    }
    let users: Vec<String> = state.store.list_users(auth.account()).await?.into_iter().map(|u| u.email).collect();
    let domains: Vec<String> = state
        .store
        .list_sender_domains(auth.account())
        .await?
        .into_iter()
        .filter(|d| d.verified_at.is_some())
        .map(|d| d.domain)
        .collect();
    let mut targets = Vec::new();
    for e in &body.emails {
        let addr = EmailAddress::parse(e).map_err(|err| ApiError::from(err).with_field("emails"))?;
        let own = users.contains(&addr.normalized())
            || account.owner_email.eq_ignore_ascii_case(addr.as_str())
            || domains.iter().any(|d| d == addr.domain());
        if !own {
            return Err(ApiError::unprocessable(
                "not_own_address",
                format!(
                    "{} is not one of the account's own addresses (its users, or its verified sender domains)",
                    addr
                ),
            )
            .with_field("emails"));
        }
        targets.push(addr);
    }
    let prepared = prepare(&state, c.clone()).await?;
    if prepared.domain.is_none() {
        return Err(ApiError::unprocessable(
            "from_domain_unverified",
            "the From address is not on a verified sender domain of this account",
        )
        .with_field("from_email"));
    }
    let transport = state.transport.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_transport",
            "this process does not send mail (no worker role)",
        )
    })?;
    let mut sent = Vec::new();
    let mut buf = Vec::new();
    for addr in targets {
        let member = AudienceMember {
            contact: 0,
            list: c.list_ids.first().copied().unwrap_or(ListId(0)),
            email: addr.as_str().to_string(),
            attributes: "{}".into(),
            origin: "test".into(),
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let (envelope, message) = prepared
            .message(&member, now, &mut buf)
            .map_err(|e| ApiError::unprocessable("campaign_invalid", e.to_string()))?;
        transport.send(&envelope, addr.as_str(), &message).await.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "send_failed",
                format!("the test mail to {addr} was not accepted: {e}"),
            )
        })?;
        sent.push(addr.as_str().to_string());
    }
    record(&state, &auth, ip, "campaign.test", c.id, json!({"to": sent})).await?;
    Ok(Json(json!({"sent": sent})))
}

pub async fn pause(
    state: State<AppState>,
    auth: AccountAuth,
    ip: ClientIp,
    id: Path<String>,
) -> ApiResult<Json<Value>> {
    control(state, auth, ip, id, &["sending", "scheduled"], "paused", "campaign.pause").await
}

pub async fn resume(
    State(state): State<AppState>,
    auth: AccountAuth,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let c = load(&state, &auth, &id).await?;
    // Back to where it was: sending if it had started, scheduled if not.
    let to = if c.started_at.is_some() { "sending" } else { "scheduled" };
    control(State(state), auth, ip, Path(id), &["paused"], to, "campaign.resume").await
}

pub async fn cancel(
    state: State<AppState>,
    auth: AccountAuth,
    ip: ClientIp,
    id: Path<String>,
) -> ApiResult<Json<Value>> {
    control(state, auth, ip, id, &["draft", "scheduled", "sending", "paused"], "cancelled", "campaign.cancel").await
}

async fn control(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    from: &[&str],
    to: &str,
    action: &str,
) -> ApiResult<Json<Value>> {
    auth.require_write()?;
    let c = load(&state, &auth, &id).await?;
    if !state.store.set_campaign_status(auth.account(), c.id, from, to, None).await? {
        return Err(ApiError::conflict(
            "illegal_transition",
            format!("a campaign that is {} cannot become {to}", c.status),
        ));
    }
    record(&state, &auth, ip, action, c.id, json!({"from": c.status, "to": to})).await?;
    state.campaign_wake.notify_one();
    let c = load(&state, &auth, &id).await?;
    Ok(Json(campaign_json(&state, &c).await?))
}

async fn record(
    state: &AppState,
    auth: &AccountAuth,
    ip: Option<String>,
    action: &str,
    id: i64,
    detail: Value,
) -> ApiResult<()> {
    auth.record(state, ip, action, format!("campaign:{id}"), detail).await
}
