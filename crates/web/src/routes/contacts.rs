//! Contacts of the calling account: adding one with declared consent, and
//! reading one with its full consent history (the printable proof).

use assent_domain::{
    Consent, ContactId, EmailAddress, ListId, SubscriptionEvent, SubscriptionStatus, SuppressionHash, Transition,
};
use assent_store::{Contact, NewConsentEvent, PutSubscription};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::account::rfc3339;
use super::path_id;
use crate::AppState;
use crate::auth::AccountAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp, UserAgent};

/// Attribute limits: contact data is for personalisation, not storage.
const MAX_ATTRIBUTES: usize = 100;
const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;
const MAX_LISTS: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    origin: String,
    #[serde(default)]
    evidence: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateContact {
    email: String,
    list_ids: Vec<i64>,
    #[serde(default)]
    attributes: Map<String, Value>,
    consent: ConsentBody,
}

/// Adds a contact with declared consent to lists. The consent is checked by
/// the domain layer; a forbidden origin stores nothing.
pub async fn create(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    ApiJson(body): ApiJson<CreateContact>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_write()?;
    let account = auth.require_active(&state).await?;
    let id = account.id;

    let email = EmailAddress::parse(&body.email).map_err(|e| ApiError::from(e).with_field("email"))?;
    state.addresses.check(&email).map_err(|e| ApiError::from(e).with_field("email"))?;
    check_attributes(&body.attributes)?;
    if body.list_ids.is_empty() || body.list_ids.len() > MAX_LISTS {
        return Err(ApiError::unprocessable("invalid_field", format!("list_ids needs 1 to {MAX_LISTS} list ids"))
            .with_field("list_ids"));
    }
    let mut lists = Vec::with_capacity(body.list_ids.len());
    for raw in &body.list_ids {
        let list = state.store.get_list(id, ListId(*raw)).await?.ok_or_else(|| {
            ApiError::unprocessable("unknown_list", format!("there is no list {raw} in this account"))
                .with_field("list_ids")
        })?;
        if !lists.contains(&list.id) {
            lists.push(list.id);
        }
    }

    let imprint_name = state.store.get_imprint(id).await?.map(|i| i.name);
    let mut names = vec![account.name.as_str()];
    if let Some(n) = imprint_name.as_deref() {
        names.push(n);
    }
    let consent = Consent::parse(&body.consent.origin, &body.consent.evidence, &names)?;

    // The API may never re-add a suppressed address, whatever the reason:
    // after an unsubscribe or erasure only the person can come back, by
    // signing up through a form themselves.
    let hash = SuppressionHash::of(&email);
    if let Some(s) = state.store.suppression(id, &hash).await? {
        return Err(ApiError::unprocessable(
            "suppressed",
            format!(
                "this address is on the account's suppression list ({}); it cannot be added again \
                 except by the person signing up through a double opt-in form",
                s.reason.as_str()
            ),
        )
        .with_field("email"));
    }

    if matches!(consent, Consent::DoubleOptIn) {
        return double_opt_in(
            &state,
            &auth,
            &account.name,
            &email,
            body.attributes,
            lists,
            &body.consent.evidence,
            ip,
            ua,
        )
        .await;
    }

    let (contact, created) = state.store.upsert_contact(id, &email, &body.attributes).await?;
    let origin = consent.origin().as_str().to_string();
    let evidence = consent.evidence_json();
    let existing = state.store.subscriptions(id, contact.id).await?;
    let mut outcome = Vec::new();
    for list in lists {
        let current = existing.iter().find(|s| s.list_id == list).map(|s| s.status);
        let next = match current {
            None => Some(SubscriptionStatus::Confirmed),
            Some(status) => match status.apply(SubscriptionEvent::Confirmed) {
                Ok(Transition::To(next)) => Some(next),
                Ok(Transition::Unchanged) => None,
                Err(_) => {
                    // Unsubscribed, bounced, complained or erased: an objection
                    // is absolute (GDPR 21(3)); declared evidence cannot undo it.
                    outcome.push(json!({"list_id": list, "status": status.as_str(), "changed": false,
                        "reason": "the person left this list; only a new double opt-in can bring them back"}));
                    continue;
                }
            },
        };
        let Some(next) = next else {
            outcome.push(json!({"list_id": list, "status": current.map(|s| s.as_str()), "changed": false}));
            continue;
        };
        let put = PutSubscription {
            contact: contact.id,
            list,
            expected: current,
            status: next,
            origin: origin.clone(),
            evidence: evidence.clone(),
        };
        if !state.store.put_subscription(id, &put).await? {
            return Err(ApiError::conflict("concurrent_change", "the contact changed meanwhile; retry"));
        }
        state
            .store
            .append_consent_event(
                id,
                &NewConsentEvent {
                    contact: contact.id,
                    list: Some(list),
                    kind: "consent_recorded".into(),
                    source: format!("api:{}", auth.caller.actor()),
                    ip: ip.clone(),
                    user_agent: None,
                    evidence: json!({"origin": origin, "evidence": evidence}),
                },
            )
            .await?;
        outcome.push(json!({"list_id": list, "status": next.as_str(), "changed": true}));
    }
    auth.record(
        &state,
        ip,
        "contact.add",
        format!("contact:{}", contact.id),
        json!({"origin": origin, "lists": outcome}),
    )
    .await?;
    let body = contact_json(&state, &contact).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(body)))
}

/// A double opt-in started through the API: the same confirmation mail as a
/// form sends. The wording is the named form's (`evidence.form_id`) or a
/// plain statement naming the sender and lists.
#[allow(clippy::too_many_arguments)]
async fn double_opt_in(
    state: &AppState,
    auth: &AccountAuth,
    account_name: &str,
    email: &EmailAddress,
    attributes: Map<String, Value>,
    lists: Vec<ListId>,
    evidence: &Value,
    ip: Option<String>,
    ua: Option<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let form = match evidence.get("form_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(f)) => Some(state.store.get_form(auth.account(), f).await?.ok_or_else(|| {
            ApiError::unprocessable("unknown_form", format!("there is no form {f:?} in this account"))
                .with_field("consent.evidence.form_id")
        })?),
        Some(_) => {
            return Err(ApiError::unprocessable("invalid_evidence", "form_id must be a form id string")
                .with_field("consent.evidence.form_id"));
        }
    };
    let (consent_text, language, form_ref) = match &form {
        Some(f) => (f.consent_text.clone(), f.language.clone(), Some((f.id, f.version))),
        None => {
            let mut names = Vec::new();
            for l in &lists {
                if let Some(list) = state.store.get_list(auth.account(), *l).await? {
                    names.push(list.name);
                }
            }
            (
                format!(
                    "I agree to receive emails from {account_name} ({}). I can unsubscribe at any time.",
                    names.join(", ")
                ),
                "en".to_string(),
                None,
            )
        }
    };
    let outcome = crate::signup::request(
        state,
        crate::signup::Signup {
            account: auth.account(),
            email,
            attributes,
            lists,
            form: form_ref,
            consent_text,
            source: format!("api:{}", auth.caller.actor()),
            language,
            ip,
            user_agent: ua,
        },
    )
    .await?;
    let contact = state.store.get_contact(auth.account(), outcome.contact).await?.ok_or_else(ApiError::internal)?;
    let mut body = contact_json(state, &contact).await?;
    body["confirmation_queued"] = Value::Bool(outcome.queued.is_some());
    Ok((StatusCode::ACCEPTED, Json(body)))
}

fn check_attributes(attributes: &Map<String, Value>) -> ApiResult<()> {
    let size = serde_json::to_vec(attributes).map(|v| v.len()).unwrap_or(usize::MAX);
    if attributes.len() > MAX_ATTRIBUTES || size > MAX_ATTRIBUTES_BYTES {
        return Err(ApiError::unprocessable(
            "too_large",
            format!("attributes allow at most {MAX_ATTRIBUTES} keys and {MAX_ATTRIBUTES_BYTES} bytes"),
        )
        .with_field("attributes"));
    }
    if let Some(key) = attributes.keys().find(|k| k.is_empty() || k.len() > 100 || k.chars().any(char::is_control)) {
        return Err(ApiError::unprocessable("invalid_field", format!("attribute name {key:?} is not usable"))
            .with_field("attributes"));
    }
    Ok(())
}

/// A contact with its subscriptions and full consent history.
pub async fn contact_json(state: &AppState, contact: &Contact) -> ApiResult<Value> {
    let id = contact.account_id;
    let subs = state.store.subscriptions(id, contact.id).await?;
    let events = state.store.consent_events(id, contact.id).await?;
    let suppressed = match EmailAddress::parse(&contact.email) {
        Ok(email) => state.store.suppression(id, &SuppressionHash::of(&email)).await?,
        Err(_) => None,
    };
    let mut history: Vec<(i64, i64, Value)> = events
        .iter()
        .map(|e| {
            (
                e.at,
                e.id,
                json!({
                    "id": e.id,
                    "kind": e.kind,
                    "at": rfc3339(e.at),
                    "list_id": e.list_id,
                    "source": e.source,
                    "ip": e.ip,
                    "user_agent": e.user_agent,
                    "evidence": e.evidence,
                }),
            )
        })
        .collect();
    // Imported consent is recorded on the import (who uploaded what, when,
    // declaring which origin and evidence); show it in the history too.
    for s in &subs {
        let Some(import_id) = s.evidence.get("import").and_then(Value::as_i64) else { continue };
        let Some(import) = state.store.get_import(id, import_id).await? else { continue };
        let mut row_evidence = s.evidence.clone();
        if let Some(m) = row_evidence.as_object_mut() {
            m.remove("import");
        }
        history.push((
            s.created_at,
            0,
            json!({
                "id": null,
                "kind": "imported",
                "at": rfc3339(s.created_at),
                "list_id": s.list_id,
                "source": format!("import:{import_id}"),
                "ip": import.ip,
                "user_agent": null,
                "evidence": {
                    "origin": s.origin,
                    "declared_evidence": import.evidence,
                    "row_evidence": row_evidence,
                    "uploaded_by": import.created_by,
                    "uploaded_at": rfc3339(import.created_at),
                    "file_name": import.file_name,
                    "review": import.review,
                },
            }),
        ));
    }
    history.sort_by_key(|(at, id, _)| (*at, *id));
    let history: Vec<Value> = history.into_iter().map(|(_, _, v)| v).collect();
    // One status for the contact as a whole: mailable on some list wins.
    let status = if subs.iter().any(|s| s.status == SubscriptionStatus::Confirmed) {
        "confirmed"
    } else if subs.iter().any(|s| s.status == SubscriptionStatus::Pending) {
        "pending"
    } else if let Some(s) = &suppressed {
        s.reason.as_str()
    } else {
        subs.first().map_or("none", |s| s.status.as_str())
    };
    Ok(json!({
        "id": contact.id,
        "email": contact.email,
        "status": status,
        "attributes": contact.attributes,
        "suppressed": suppressed.map(|s| s.reason.as_str()),
        "created_at": rfc3339(contact.created_at),
        "updated_at": rfc3339(contact.updated_at),
        "subscriptions": subs.iter().map(|s| json!({
            "list_id": s.list_id,
            "status": s.status.as_str(),
            "origin": s.origin,
            "evidence": s.evidence,
            "created_at": rfc3339(s.created_at),
            "updated_at": rfc3339(s.updated_at),
        })).collect::<Vec<_>>(),
        "consent_events": history,
    }))
}

pub async fn show(State(state): State<AppState>, auth: AccountAuth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = ContactId(path_id(&id, "contact")?);
    let contact = state.store.get_contact(auth.account(), id).await?.ok_or_else(|| ApiError::not_found("contact"))?;
    Ok(Json(contact_json(&state, &contact).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    email: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

/// `?email=` finds one contact; otherwise pages through them by id.
pub async fn list(
    State(state): State<AppState>,
    auth: AccountAuth,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let contacts = match &query.email {
        Some(email) => {
            let email = EmailAddress::parse(email).map_err(|e| ApiError::from(e).with_field("email"))?;
            state.store.find_contact(auth.account(), &email).await?.into_iter().collect()
        }
        None => {
            let limit = query.limit.unwrap_or(100).clamp(1, 1000);
            state.store.list_contacts(auth.account(), query.after.map(ContactId), limit).await?
        }
    };
    let next = contacts.last().map(|c| c.id);
    let mut out = Vec::with_capacity(contacts.len());
    for c in &contacts {
        out.push(contact_json(&state, c).await?);
    }
    Ok(Json(json!({"contacts": out, "next_after": next})))
}

/// Erases the contact (GDPR Art. 17): personal data goes, a hashed
/// suppression entry and the consent proof stay.
pub async fn erase(
    State(state): State<AppState>,
    auth: AccountAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    auth.require_write()?;
    let id = ContactId(path_id(&id, "contact")?);
    if !state.store.erase_contact(auth.account(), id, &format!("api:{}", auth.caller.actor()), ip.as_deref()).await? {
        return Err(ApiError::not_found("contact"));
    }
    auth.record(&state, ip, "contact.erase", format!("contact:{id}"), json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything stored about the contact, with the consent proof (Art. 20).
pub async fn export(
    State(state): State<AppState>,
    auth: AccountAuth,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let id = ContactId(path_id(&id, "contact")?);
    let contact = state.store.get_contact(auth.account(), id).await?.ok_or_else(|| ApiError::not_found("contact"))?;
    let body = contact_json(&state, &contact).await?;
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"contact.json\""),
    );
    Ok(response)
}
