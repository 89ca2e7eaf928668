//! The repository of what comes back after sending (issue 7): report
//! events — asynchronous bounces (RFC 3464), complaints (RFC 5965 ARF),
//! `mailto:` unsubscribes and synchronous rejections — with their effect on
//! the contact applied in the same transaction, the counts the reputation
//! monitor turns into rates, and the monitor's flags.
//!
//! What a report *means* (hard, soft or policy; after how many soft bounces
//! an address is suppressed) is decided by the domain and engine crates; the
//! store applies a [`ReportEffect`] it is given and keeps the counts.

use assent_domain::{AccountId, ContactId, SubscriptionEvent, SuppressionReason};
use async_trait::async_trait;
use serde::Serialize;

use crate::Result;

/// What kind of report an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportEventKind {
    /// Hard bounce: the address will never work.
    Hard,
    /// Soft bounce: counted; suppresses after several within a window.
    Soft,
    /// Policy bounce: the sender's problem, not the recipient's.
    Policy,
    /// A recipient's spam complaint.
    Complaint,
    /// An unsubscribe through the `mailto:` address of `List-Unsubscribe`.
    Unsubscribe,
}

impl ReportEventKind {
    pub const ALL: &'static [ReportEventKind] = &[
        ReportEventKind::Hard,
        ReportEventKind::Soft,
        ReportEventKind::Policy,
        ReportEventKind::Complaint,
        ReportEventKind::Unsubscribe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportEventKind::Hard => "hard",
            ReportEventKind::Soft => "soft",
            ReportEventKind::Policy => "policy",
            ReportEventKind::Complaint => "complaint",
            ReportEventKind::Unsubscribe => "unsubscribe",
        }
    }

    pub fn parse(s: &str) -> Option<ReportEventKind> {
        ReportEventKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// One report to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReportEvent {
    /// The campaign the reported message belonged to, when known.
    pub campaign: Option<i64>,
    /// The contact it was sent to, when known; effects need one.
    pub contact: Option<ContactId>,
    pub kind: ReportEventKind,
    /// Where the report came from: `dsn`, `arf`, `mailto`, `smtp`, …
    pub source: String,
    /// RFC 3463 status code, e.g. `5.1.1`.
    pub status: Option<String>,
    /// Bounce reason (`user_unknown`, …) or ARF feedback type.
    pub reason: Option<String>,
    /// Anything else worth keeping (diagnostic, reporting MTA, …); it is
    /// also the evidence of the consent event the effect appends.
    pub detail: serde_json::Value,
    pub at: i64,
}

/// What a report does to its contact, applied in the transaction that
/// records it and only when the report is new (a repeated report changes
/// nothing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportEffect {
    /// Kind of the consent event appended to the contact's history
    /// (`bounced`, `complained`); its evidence is the report's detail.
    pub consent_event: Option<String>,
    /// Source of that consent event (`bounce`, `complaint`, `mailto`, …).
    pub consent_source: String,
    /// Moves every subscription of the contact that the subscription state
    /// machine lets this event move.
    pub subscriptions: Option<SubscriptionEvent>,
    /// Suppresses the contact's address.
    pub suppress: Option<SuppressionReason>,
    /// For soft bounces: suppress once enough have come within a window.
    pub escalate: Option<SoftEscalation>,
}

/// When soft bounces of one contact at or after `since` (this one
/// included) reach `max`, the address is suppressed (`SoftBounce`), its
/// subscriptions move as after a hard bounce, and the consent event says so
/// (`"suppressed": "soft_bounce", "soft_bounces": n`); without a consent
/// event of its own, the effect appends a `bounced` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftEscalation {
    pub max: i64,
    pub since: i64,
}

/// What recording a report did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportApplied {
    /// False when the same campaign, contact and kind was recorded before.
    pub recorded: bool,
    /// Subscriptions whose status changed.
    pub subscriptions_changed: u64,
    /// The address was added to the suppression list now.
    pub suppressed: bool,
    /// Soft bounces of the contact within the escalation window, this one
    /// included (soft reports with an escalation only).
    pub soft_bounces: Option<i64>,
}

/// A recorded report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportEvent {
    pub id: i64,
    pub account_id: AccountId,
    pub campaign_id: Option<i64>,
    pub contact_id: Option<ContactId>,
    pub kind: ReportEventKind,
    pub source: String,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub detail: serde_json::Value,
    pub at: i64,
}

/// Report events by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReportCounts {
    pub hard: i64,
    pub soft: i64,
    pub policy: i64,
    pub complaint: i64,
    pub unsubscribe: i64,
}

impl ReportCounts {
    pub fn get(&self, kind: ReportEventKind) -> i64 {
        match kind {
            ReportEventKind::Hard => self.hard,
            ReportEventKind::Soft => self.soft,
            ReportEventKind::Policy => self.policy,
            ReportEventKind::Complaint => self.complaint,
            ReportEventKind::Unsubscribe => self.unsubscribe,
        }
    }

    pub(crate) fn add(&mut self, kind: ReportEventKind, n: i64) {
        match kind {
            ReportEventKind::Hard => self.hard += n,
            ReportEventKind::Soft => self.soft += n,
            ReportEventKind::Policy => self.policy += n,
            ReportEventKind::Complaint => self.complaint += n,
            ReportEventKind::Unsubscribe => self.unsubscribe += n,
        }
    }
}

/// A campaign's sending and reports, for per-campaign rates (whole
/// campaign: a campaign is a finite send).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignActivity {
    pub campaign_id: i64,
    pub name: String,
    pub status: String,
    pub started_at: Option<i64>,
    /// Deliveries the receiving server accepted.
    pub sent: i64,
    /// Deliveries rejected during the SMTP dialogue (any class).
    pub bounced_sync: i64,
    pub reports: ReportCounts,
}

/// An account's sending and reports within a window, for rolling rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AccountActivity {
    /// Deliveries accepted within the window.
    pub sent: i64,
    /// Report events within the window.
    pub reports: ReportCounts,
    /// Of those, bounces recorded from rejections during the SMTP dialogue
    /// (source `smtp`): messages that were never accepted.
    pub sync_bounces: i64,
    /// `unsubscribed` consent events within the window, whatever the way
    /// (link, one-click, preference page, `mailto:`).
    pub unsubscribes: i64,
}

/// A synchronous rejection that has no report event yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncBounce {
    pub contact: ContactId,
    pub last_reply: String,
}

/// A delivery found by campaign and contact (mapping a report that only
/// quotes the original Message-ID back to its sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRef {
    pub account: AccountId,
    pub campaign: i64,
    pub contact: ContactId,
    pub status: String,
}

/// A flag the reputation monitor raised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReputationFlag {
    pub account_id: AccountId,
    /// `None` for an account-wide flag.
    pub campaign_id: Option<i64>,
    /// `complaint_rate`, `campaign_complaint_rate`, `campaign_hard_bounce_rate`, …
    pub kind: String,
    pub detail: serde_json::Value,
    pub at: i64,
}

#[async_trait]
pub trait Reputation: Send + Sync {
    /// Records a report and, when it is new, applies `effect` to its
    /// contact (in the account), all in one transaction. A report with the
    /// same campaign, contact and kind as a recorded one changes nothing.
    async fn record_report(
        &self,
        account: AccountId,
        event: &NewReportEvent,
        effect: &ReportEffect,
    ) -> Result<ReportApplied>;
    /// Soft bounces of a contact at or after `since`.
    async fn soft_bounces_since(&self, account: AccountId, contact: ContactId, since: i64) -> Result<i64>;
    /// Report events of one kind (and reason) at or after `since`, of the
    /// account or of one of its campaigns.
    async fn count_reports(
        &self,
        account: AccountId,
        campaign: Option<i64>,
        kind: ReportEventKind,
        reason: Option<&str>,
        since: i64,
    ) -> Result<i64>;
    /// Newest first, of the account or of one of its campaigns.
    async fn report_events(&self, account: AccountId, campaign: Option<i64>, limit: i64) -> Result<Vec<ReportEvent>>;
    /// Report events per kind of one campaign of the account, all time:
    /// bounces (from DSNs and from the SMTP dialogue), complaints and
    /// unsubscribes it caused.
    async fn campaign_reports(&self, account: AccountId, campaign: i64) -> Result<ReportCounts>;
    /// Campaigns of the account that sent at some time and were not
    /// finished before `since`, with their counts.
    async fn campaign_activity(&self, account: AccountId, since: i64) -> Result<Vec<CampaignActivity>>;
    /// The account's sending and reports at or after `since`.
    async fn account_activity(&self, account: AccountId, since: i64) -> Result<AccountActivity>;
    /// Rejected deliveries of the account's campaign without a report event
    /// from source `smtp` yet, at most `limit`.
    async fn unrecorded_sync_bounces(&self, account: AccountId, campaign: i64, limit: i64) -> Result<Vec<SyncBounce>>;
    /// The delivery of `campaign` to `contact`, in any account. Only for
    /// mapping a report back to its sender; callers check what it names.
    async fn find_delivery(&self, campaign: i64, contact: ContactId) -> Result<Option<DeliveryRef>>;

    /// Raises a flag; `false` when it was raised already (then nothing changes).
    async fn set_reputation_flag(
        &self,
        account: AccountId,
        campaign: Option<i64>,
        kind: &str,
        detail: &serde_json::Value,
    ) -> Result<bool>;
    /// Lowers a flag; `false` when it was not raised.
    async fn clear_reputation_flag(&self, account: AccountId, campaign: Option<i64>, kind: &str) -> Result<bool>;
    /// The flags of one account, or (`None`) of all accounts, newest first.
    async fn reputation_flags(&self, account: Option<AccountId>) -> Result<Vec<ReputationFlag>>;
}
