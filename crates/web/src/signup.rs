//! Starting a double opt-in, shared by the hosted form, the API and the
//! preference page: one store transaction records the request and queues
//! the confirmation mail, then the mail worker is woken.

use assent_domain::{AccountId, EmailAddress, ListId, SuppressionHash, SuppressionReason};
use assent_store::{DoiOutcome, DoiRequest};

use crate::AppState;
use crate::error::ApiError;

pub struct Signup<'a> {
    pub account: AccountId,
    pub email: &'a EmailAddress,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub lists: Vec<ListId>,
    pub form: Option<(i64, i64)>,
    pub consent_text: String,
    pub source: String,
    pub language: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Why an address may not be offered a new double opt-in: it bounced,
/// complained, or the account blocked it. (Unsubscribed and erased
/// addresses may sign up again: the confirmation proves it is them.)
pub async fn blocking_suppression(
    state: &AppState,
    account: AccountId,
    email: &EmailAddress,
) -> Result<Option<SuppressionReason>, ApiError> {
    let entry = state.store.suppression(account, &SuppressionHash::of(email)).await?;
    Ok(entry.map(|s| s.reason).filter(|r| !matches!(r, SuppressionReason::Unsubscribed | SuppressionReason::Erased)))
}

pub async fn request(state: &AppState, s: Signup<'_>) -> Result<DoiOutcome, ApiError> {
    let mut nonce = [0u8; 8];
    // Without an OS random source no unguessable link can be made.
    #[allow(clippy::expect_used)]
    getrandom::getrandom(&mut nonce).expect("the OS random number generator is unavailable");
    let now = assent_engine::now_ms();
    let ttl = i64::try_from(state.config.confirmation_ttl.as_millis()).unwrap_or(i64::MAX / 2);
    let resend = i64::try_from(state.config.resend_interval.as_millis()).unwrap_or(i64::MAX / 2);
    let outcome = state
        .store
        .request_double_opt_in(
            s.account,
            &DoiRequest {
                email: s.email.clone(),
                attributes: s.attributes,
                lists: s.lists,
                form: s.form,
                consent_text: s.consent_text,
                source: s.source,
                language: s.language,
                ip: s.ip,
                user_agent: s.user_agent,
                resend_interval_ms: resend,
                expires_at_ms: now.saturating_add(ttl),
                nonce: i64::from_be_bytes(nonce),
            },
        )
        .await?;
    if outcome.queued.is_some() {
        state.outbox_wake.notify_one();
    }
    Ok(outcome)
}
