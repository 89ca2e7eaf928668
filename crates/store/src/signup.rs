//! The repository of the double opt-in flow: forms and their consent
//! wording versions, sign-up requests, confirmations, unsubscribes,
//! erasure, and the queue of transactional mail. Each operation that the
//! law needs proof of runs in one transaction together with its consent
//! event, so the proof can never lag behind the state.

use assent_domain::{AccountId, ContactId, EmailAddress, ListId, SubscriptionStatus};
use async_trait::async_trait;
use serde::Serialize;

use crate::Result;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Form {
    #[serde(skip)]
    pub id: i64,
    pub public_id: String,
    pub account_id: AccountId,
    pub name: String,
    pub list_ids: Vec<ListId>,
    pub fields: Vec<String>,
    pub language: String,
    pub success_url: Option<String>,
    pub confirm_url: Option<String>,
    pub version: i64,
    pub consent_text: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewForm {
    pub public_id: String,
    pub name: String,
    pub list_ids: Vec<ListId>,
    pub fields: Vec<String>,
    pub language: String,
    pub success_url: Option<String>,
    pub confirm_url: Option<String>,
    pub consent_text: String,
}

/// Changes to a form; `None` keeps a value. A new consent text creates a
/// new version; earlier versions stay, because consent records point at them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormUpdate {
    pub name: Option<String>,
    pub list_ids: Option<Vec<ListId>>,
    pub fields: Option<Vec<String>>,
    pub language: Option<String>,
    pub success_url: Option<Option<String>>,
    pub confirm_url: Option<Option<String>>,
    pub consent_text: Option<String>,
}

/// A double opt-in request: someone (through a form or the API) asked that
/// this address receive these lists.
#[derive(Debug, Clone, PartialEq)]
pub struct DoiRequest {
    pub email: EmailAddress,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub lists: Vec<ListId>,
    /// The form and wording version shown, when it came through a form.
    pub form: Option<(i64, i64)>,
    pub consent_text: String,
    /// `form:PUBLIC_ID` or `api:…`.
    pub source: String,
    /// Language of the confirmation mail (`en`, `de`).
    pub language: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A pending address gets at most one confirmation mail per interval.
    pub resend_interval_ms: i64,
    /// When the confirmation link stops working.
    pub expires_at_ms: i64,
    /// Random value stored with the confirmation and sealed into its token.
    pub nonce: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DoiOutcome {
    pub contact: ContactId,
    /// Lists now waiting for confirmation.
    pub pending: Vec<ListId>,
    /// Lists the address was already confirmed on (nothing changed).
    pub already_confirmed: Vec<ListId>,
    /// A new confirmation mail was queued: (confirmation id, nonce).
    pub queued: Option<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confirmation {
    pub id: i64,
    pub account_id: AccountId,
    pub contact_id: ContactId,
    pub form_id: Option<i64>,
    pub form_version: Option<i64>,
    pub consent_text: String,
    pub source: String,
    pub language: String,
    pub list_ids: Vec<ListId>,
    #[serde(skip)]
    pub nonce: i64,
    pub requested_at: i64,
    pub request_ip: Option<String>,
    pub user_agent: Option<String>,
    pub sent_at: Option<i64>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Confirmed,
    /// The link was used before; nothing changes.
    AlreadyUsed,
    Expired,
    /// No such confirmation in this account, or the nonce does not match.
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsubscribeOutcome {
    Unsubscribed,
    /// Nothing was subscribed any more: the same answer, no new event.
    AlreadyUnsubscribed,
    NotFound,
}

/// One row of the transactional mail queue, leased to one worker.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMail {
    pub id: i64,
    pub account_id: AccountId,
    pub kind: String,
    pub ref_id: i64,
    pub recipient: String,
    pub attempts: i64,
}

#[async_trait]
pub trait Signups: Send + Sync {
    async fn create_form(&self, account: AccountId, new: &NewForm) -> Result<Form>;
    async fn list_forms(&self, account: AccountId) -> Result<Vec<Form>>;
    async fn get_form(&self, account: AccountId, public_id: &str) -> Result<Option<Form>>;
    /// Forms are public pages: this looks one up by its unguessable public id.
    async fn find_public_form(&self, public_id: &str) -> Result<Option<Form>>;
    async fn update_form(&self, account: AccountId, public_id: &str, update: &FormUpdate) -> Result<Option<Form>>;

    /// Records a sign-up request and queues the confirmation mail, in one
    /// transaction. Never downgrades: a confirmed address stays confirmed.
    async fn request_double_opt_in(&self, account: AccountId, req: &DoiRequest) -> Result<DoiOutcome>;
    async fn get_confirmation(&self, account: AccountId, id: i64) -> Result<Option<Confirmation>>;
    /// Uses a confirmation (once): its pending subscriptions become
    /// confirmed with the complete proof, and an unsubscribe/erase
    /// suppression of the address is lifted by this new consent.
    async fn confirm(
        &self,
        account: AccountId,
        id: i64,
        nonce: i64,
        ip: Option<&str>,
        user_agent: Option<&str>,
        now_ms: i64,
    ) -> Result<ConfirmOutcome>;
    /// Unsubscribes from one list or (None) from all; suppresses the
    /// address once nothing remains subscribed.
    async fn unsubscribe(
        &self,
        account: AccountId,
        contact: ContactId,
        list: Option<ListId>,
        source: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<UnsubscribeOutcome>;
    /// Erases personal data: the address becomes a hashed suppression
    /// entry, attributes and pending requests go, subscriptions end as
    /// `erased`. The consent events stay as the legally required proof.
    /// `false` when the account has no such contact; erasing an erased
    /// contact again changes nothing.
    async fn erase_contact(
        &self,
        account: AccountId,
        contact: ContactId,
        source: &str,
        ip: Option<&str>,
    ) -> Result<bool>;
    /// Deletes sign-ups never confirmed before `cutoff_ms` (all accounts).
    /// Returns how many pending subscriptions were removed.
    async fn purge_unconfirmed(&self, cutoff_ms: i64) -> Result<u64>;

    /// Leases due queue rows for `lease_ms`; another worker will not get
    /// them until the lease runs out.
    async fn claim_mail(&self, now_ms: i64, limit: i64, lease_ms: i64) -> Result<Vec<QueuedMail>>;
    /// The mail was handed over: records it (and, for a confirmation, the
    /// `confirmation_sent` proof event).
    async fn mark_mail_sent(&self, mail: &QueuedMail) -> Result<()>;
    /// Delivery failed; try again at `retry_at_ms`, or never (`None`).
    async fn mark_mail_failed(&self, mail: &QueuedMail, error: &str, retry_at_ms: Option<i64>) -> Result<()>;
    /// Unsent queue rows (for monitoring and tests).
    async fn queued_mail_count(&self) -> Result<i64>;
}

/// What happens to a subscription when someone asks for it again.
pub(crate) fn on_request(current: Option<SubscriptionStatus>) -> RequestStep {
    use assent_domain::{SubscriptionEvent, Transition};
    match current {
        None => RequestStep::Insert,
        Some(status) => match status.apply(SubscriptionEvent::Requested) {
            Ok(Transition::To(next)) => RequestStep::Update(status, next),
            Ok(Transition::Unchanged) if status == SubscriptionStatus::Pending => RequestStep::StillPending,
            Ok(Transition::Unchanged) => RequestStep::Keep,
            // Bounced or complained: the address is suppressed; a form never
            // reopens it.
            Err(_) => RequestStep::Keep,
        },
    }
}

pub(crate) enum RequestStep {
    Insert,
    Update(SubscriptionStatus, SubscriptionStatus),
    StillPending,
    Keep,
}
