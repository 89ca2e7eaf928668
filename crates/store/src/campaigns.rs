//! The repository of sending: sender domains with their (sealed) DKIM keys,
//! campaigns with their send acceptance, and audience resolution — which
//! contacts of the campaign's lists may be mailed, and why the others may
//! not.

use assent_domain::{AccountId, ListId};
use async_trait::async_trait;
use serde::Serialize;

use crate::Result;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SenderDomain {
    pub id: i64,
    pub account_id: AccountId,
    pub domain: String,
    pub selector: String,
    /// Sealed PKCS#8 keys; only the engine can open them.
    #[serde(skip)]
    pub rsa_key: String,
    #[serde(skip)]
    pub ed25519_key: String,
    /// The DNS records to publish.
    pub records: serde_json::Value,
    pub verified_at: Option<i64>,
    pub verified_by: Option<String>,
    pub last_check: Option<serde_json::Value>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewSenderDomain {
    pub domain: String,
    pub selector: String,
    pub rsa_key: String,
    pub ed25519_key: String,
    pub records: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    pub id: i64,
    pub account_id: AccountId,
    pub name: String,
    pub subject: String,
    pub from_email: String,
    pub from_name: String,
    pub reply_to: Option<String>,
    pub list_ids: Vec<ListId>,
    pub filter: serde_json::Value,
    pub html: String,
    pub text: Option<String>,
    /// The HTML with CSS inlined (done once, when saved).
    #[serde(skip)]
    pub html_inlined: String,
    /// Set when the campaign advertises a product category: purchase-origin
    /// contacts of that category may then receive it.
    pub product_category: Option<String>,
    pub status: String,
    pub scheduled_at: Option<i64>,
    pub accepted_by: Option<String>,
    pub accepted_at: Option<i64>,
    pub accepted_ip: Option<String>,
    pub guidelines_version: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub pause_reason: Option<String>,
    /// Contacts up to this id are queued.
    #[serde(skip)]
    pub fanout_after: i64,
    #[serde(skip)]
    pub fanout_done: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The editable part of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignDraft {
    pub name: String,
    pub subject: String,
    pub from_email: String,
    pub from_name: String,
    pub reply_to: Option<String>,
    pub list_ids: Vec<ListId>,
    pub filter: serde_json::Value,
    pub html: String,
    pub text: Option<String>,
    pub html_inlined: String,
    pub product_category: Option<String>,
}

/// The send acceptance (PRODUCT.md rule 6): who, when, from where, which
/// guidelines.
#[derive(Debug, Clone, PartialEq)]
pub struct Acceptance {
    pub by: String,
    pub ip: Option<String>,
    pub guidelines_version: String,
    /// When to start; now or later.
    pub start_at: i64,
}

/// One page of a campaign's audience (fan-out).
#[derive(Debug, Clone, Default)]
pub struct AudiencePage {
    pub members: Vec<AudienceEntry>,
    /// Where the next page starts (the last contact id looked at).
    pub next_after: i64,
    /// No contacts of the lists beyond this page.
    pub done: bool,
}

/// Audience counts before sending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AudienceCounts {
    /// Distinct contacts on the campaign's lists.
    pub total: i64,
    /// May be mailed (before the role and attribute checks done per contact).
    pub eligible: i64,
    pub not_confirmed: i64,
    pub suppressed: i64,
    pub import_not_approved: i64,
    pub purchase_category: i64,
}

/// One recipient of an audience page: what queuing a delivery needs (the
/// rest is read when it is claimed).
#[derive(Debug, Clone, PartialEq)]
pub struct AudienceEntry {
    pub contact: i64,
    /// The first of the campaign's lists the contact is confirmed on.
    pub list: ListId,
    pub email: String,
}

/// One contact that may be mailed.
#[derive(Debug, Clone, PartialEq)]
pub struct AudienceMember {
    pub contact: i64,
    pub list: ListId,
    pub email: String,
    pub attributes: String,
    pub origin: String,
}

/// Delivery counts of a campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    pub total: i64,
    pub queued: i64,
    pub sent: i64,
    pub deferred: i64,
    pub bounced: i64,
    pub failed: i64,
    pub skipped: i64,
}

/// One recipient leased for sending, re-checked at claim time.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub member: AudienceMember,
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// The server accepted it (2xx after DATA).
    Sent { reply: String },
    /// Try again at `next_at` (4xx, connection lost).
    Deferred { next_at: i64, reply: String },
    /// Rejected for good (5xx) or given up after the retry period.
    Bounced { reply: String },
    /// Could not be built (template error for this contact's data).
    Failed { reply: String },
    /// No longer eligible (unsubscribed, suppressed, role address …).
    Skipped { reason: String },
}

#[async_trait]
pub trait Campaigns: Send + Sync {
    async fn create_sender_domain(&self, account: AccountId, new: &NewSenderDomain) -> Result<SenderDomain>;
    async fn list_sender_domains(&self, account: AccountId) -> Result<Vec<SenderDomain>>;
    async fn get_sender_domain(&self, account: AccountId, id: i64) -> Result<Option<SenderDomain>>;
    /// For the operator's manual verification (any account).
    async fn find_sender_domain(&self, id: i64) -> Result<Option<SenderDomain>>;
    /// The account's verified sender domain with this name, if any.
    async fn verified_domain(&self, account: AccountId, domain: &str) -> Result<Option<SenderDomain>>;
    /// Records a DNS check; `verified_by` marks the domain verified.
    async fn record_domain_check(
        &self,
        account: AccountId,
        id: i64,
        check: &serde_json::Value,
        verified_by: Option<&str>,
    ) -> Result<()>;

    async fn create_campaign(&self, account: AccountId, draft: &CampaignDraft) -> Result<Campaign>;
    async fn get_campaign(&self, account: AccountId, id: i64) -> Result<Option<Campaign>>;
    async fn list_campaigns(&self, account: AccountId, limit: i64) -> Result<Vec<Campaign>>;
    /// Replaces the draft; only while the campaign is a draft or scheduled
    /// (a scheduled campaign goes back to draft: its acceptance was for the
    /// old content). `false` otherwise.
    async fn update_campaign(&self, account: AccountId, id: i64, draft: &CampaignDraft) -> Result<bool>;
    /// Records the acceptance and schedules the campaign (draft → scheduled).
    async fn accept_campaign(&self, account: AccountId, id: i64, acceptance: &Acceptance) -> Result<bool>;
    /// Compare-and-set of the status; `reason` is kept for pauses.
    async fn set_campaign_status(
        &self,
        account: AccountId,
        id: i64,
        from: &[&str],
        to: &str,
        reason: Option<&str>,
    ) -> Result<bool>;
    /// Scheduled campaigns whose time has come, any account.
    async fn due_campaigns(&self, now_ms: i64, limit: i64) -> Result<Vec<Campaign>>;

    /// Campaigns being sent, any account.
    async fn sending_campaigns(&self, limit: i64) -> Result<Vec<Campaign>>;
    /// Queues recipients (each campaign × contact at most once) and moves
    /// the fan-out position, in one transaction.
    async fn enqueue_deliveries(
        &self,
        campaign: &Campaign,
        members: &[(i64, ListId, String)],
        fanout_after: i64,
        done: bool,
    ) -> Result<u64>;
    /// Leases due recipients of a sending campaign and re-checks each
    /// against the audience rules; those no longer eligible are skipped.
    async fn claim_deliveries(
        &self,
        campaign: &Campaign,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
        owner: &str,
    ) -> Result<Vec<Delivery>>;
    /// Extends the owner's leases on these recipients; returns those still
    /// held (a lease that ran out may have gone to another worker).
    async fn renew_deliveries(&self, campaign: i64, contacts: &[i64], until_ms: i64, owner: &str) -> Result<Vec<i64>>;
    /// Records outcomes of rows the owner still holds, in one transaction.
    async fn finish_deliveries(&self, campaign: i64, outcomes: &[(i64, DeliveryOutcome)], owner: &str) -> Result<()>;
    /// Gives leased recipients back (graceful shutdown).
    async fn release_deliveries(&self, campaign: i64, owner: &str) -> Result<u64>;
    async fn delivery_counts(&self, account: AccountId, campaign: i64) -> Result<DeliveryCounts>;

    async fn audience_counts(
        &self,
        account: AccountId,
        lists: &[ListId],
        product_category: Option<&str>,
    ) -> Result<AudienceCounts>;
    /// The next page of eligible contacts after contact id `after`, in id
    /// order: about `limit` contacts of the lists are looked at (fewer are
    /// eligible when some are excluded), so a page costs the same at the
    /// end of a million as at the start.
    async fn audience_page(
        &self,
        account: AccountId,
        lists: &[ListId],
        product_category: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<AudiencePage>;
}
