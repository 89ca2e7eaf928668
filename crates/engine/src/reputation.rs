//! The reputation monitor (PRODUCT.md rule 9, RULES.md "Reputation
//! thresholds"). This module owns the rates — bounces, complaints and
//! unsubscribes per campaign (over the whole campaign) and per account
//! (over a rolling window, 7 days by default) — the thresholds, and what
//! crossing them does:
//!
//! * a campaign whose complaint rate reaches 0.1 % is paused, and so is one
//!   whose hard-bounce rate is above 5 %; the operator is alerted;
//! * an account whose complaint rate over the window reaches 0.1 % is
//!   flagged (the operator is alerted, the flag is lifted when the rate
//!   falls back); at 0.3 % it is suspended (with an audit entry), which
//!   stops its sending at the next batch.
//!
//! **Minimum sample.** A rate is only acted on once its denominator reaches
//! [`ReputationConfig::min_sample`] (default 1,000 messages): at 0.1 %, a
//! single complaint about a 50-message campaign would otherwise pause it
//! and a single one in an account's first week would suspend it, though one
//! person's click says nothing about a list. Below the sample the rates are
//! still computed and shown, only not acted on. Mailbox providers judge
//! volume senders the same way (Gmail's postmaster rates need a minimum
//! daily volume).
//!
//! A campaign is paused once per reason: when its sender resumes it after
//! the pause, the monitor does not pause it again for the same reason (the
//! account-wide suspension remains the backstop). Rejections during the
//! SMTP dialogue are turned into report events here (source `smtp`, at
//! most one per delivery), so they count in the bounce rates and in the
//! soft-bounce rule like bounces that come back later.
//!
//! The unsubscribe rate of a campaign counts `mailto:` unsubscribes (the
//! only way whose message names the campaign); an account's counts every
//! unsubscribe within the window, whatever the way.

use std::sync::Arc;
use std::time::Duration;

use assent_domain::bounce::SoftBouncePolicy;
use assent_domain::{AccountId, AccountStatus};
use assent_store::{
    Account, AccountActivity, CampaignActivity, NewAuditEntry, ReportCounts, ReputationFlag, Store, StoreError,
};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use crate::inbound::{Bounce, ReportActions, Target};

/// The thresholds and the window.
#[derive(Clone, Debug, Serialize)]
pub struct ReputationConfig {
    /// The rolling window of account rates.
    #[serde(rename = "window_days", serialize_with = "as_days")]
    pub window: Duration,
    /// Messages a rate needs before it is acted on.
    pub min_sample: i64,
    /// Pause the campaign / flag the account at this complaint rate.
    pub complaint_flag_rate: f64,
    /// Suspend the account at this complaint rate over the window.
    pub complaint_suspend_rate: f64,
    /// Pause the campaign above this hard-bounce rate.
    pub hard_bounce_pause_rate: f64,
    /// How often the monitor runs.
    #[serde(skip)]
    pub interval: Duration,
    /// For soft bounces recorded from synchronous rejections.
    #[serde(skip)]
    pub soft_bounce: SoftBouncePolicy,
}

fn as_days<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs() / 86_400)
}

impl Default for ReputationConfig {
    /// RULES.md: complaints 0.1 % (flag, pause) and 0.3 % (suspend) over
    /// 7 days; hard bounces above 5 % per campaign.
    fn default() -> Self {
        ReputationConfig {
            window: Duration::from_secs(7 * 24 * 3600),
            min_sample: 1000,
            complaint_flag_rate: 0.001,
            complaint_suspend_rate: 0.003,
            hard_bounce_pause_rate: 0.05,
            interval: Duration::from_secs(60),
            soft_bounce: SoftBouncePolicy::default(),
        }
    }
}

/// Counts and rates of one campaign or one account window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Rates {
    /// Messages the receiving servers accepted.
    pub sent: i64,
    /// Messages handed over or refused during the dialogue: the
    /// denominator of bounce rates.
    pub attempted: i64,
    pub hard_bounces: i64,
    pub soft_bounces: i64,
    pub policy_bounces: i64,
    pub complaints: i64,
    pub unsubscribes: i64,
    /// Hard bounces per attempted message.
    pub hard_bounce_rate: f64,
    /// All bounces (hard, soft, policy) per attempted message.
    pub bounce_rate: f64,
    /// Complaints per accepted message.
    pub complaint_rate: f64,
    /// Unsubscribes per accepted message.
    pub unsubscribe_rate: f64,
    /// Whether the sample is large enough for thresholds to apply.
    pub enough_sample: bool,
}

fn ratio(n: i64, d: i64) -> f64 {
    if d <= 0 { 0.0 } else { n as f64 / d as f64 }
}

impl Rates {
    fn new(sent: i64, attempted: i64, r: &ReportCounts, unsubscribes: i64, min_sample: i64) -> Rates {
        let bounces = r.hard + r.soft + r.policy;
        Rates {
            sent,
            attempted,
            hard_bounces: r.hard,
            soft_bounces: r.soft,
            policy_bounces: r.policy,
            complaints: r.complaint,
            unsubscribes,
            hard_bounce_rate: ratio(r.hard, attempted),
            bounce_rate: ratio(bounces, attempted),
            complaint_rate: ratio(r.complaint, sent),
            unsubscribe_rate: ratio(unsubscribes, sent),
            enough_sample: sent >= min_sample.max(1),
        }
    }

    pub fn of_campaign(c: &CampaignActivity, min_sample: i64) -> Rates {
        Rates::new(c.sent, c.sent + c.bounced_sync, &c.reports, c.reports.unsubscribe, min_sample)
    }

    pub fn of_account(a: &AccountActivity, min_sample: i64) -> Rates {
        Rates::new(a.sent, a.sent + a.sync_bounces, &a.reports, a.unsubscribes, min_sample)
    }
}

/// One campaign in the reputation overview.
#[derive(Clone, Debug, Serialize)]
pub struct CampaignReputation {
    pub campaign_id: i64,
    pub name: String,
    pub status: String,
    pub rates: Rates,
    /// Flags the monitor raised for this campaign (it paused it).
    pub flags: Vec<String>,
}

/// An account's reputation: rolling rates, its campaigns, its flags.
#[derive(Clone, Debug, Serialize)]
pub struct AccountReputation {
    pub account_id: AccountId,
    pub name: String,
    pub status: String,
    pub window_days: u64,
    /// Over the rolling window.
    pub rates: Rates,
    pub campaigns: Vec<CampaignReputation>,
    pub flags: Vec<ReputationFlag>,
    /// A flag is raised for the account or one of its campaigns.
    pub flagged: bool,
    pub thresholds: ReputationConfig,
    pub evaluated_at: i64,
}

fn window_ms(c: &ReputationConfig) -> i64 {
    i64::try_from(c.window.as_millis()).unwrap_or(i64::MAX)
}

/// The reputation of one account now.
pub async fn account_reputation(
    store: &dyn Store,
    account: &Account,
    config: &ReputationConfig,
    now: i64,
) -> Result<AccountReputation, StoreError> {
    let since = now.saturating_sub(window_ms(config));
    let activity = store.account_activity(account.id, since).await?;
    let flags = store.reputation_flags(Some(account.id)).await?;
    let campaigns = store
        .campaign_activity(account.id, since)
        .await?
        .iter()
        .map(|c| CampaignReputation {
            campaign_id: c.campaign_id,
            name: c.name.clone(),
            status: c.status.clone(),
            rates: Rates::of_campaign(c, config.min_sample),
            flags: flags.iter().filter(|f| f.campaign_id == Some(c.campaign_id)).map(|f| f.kind.clone()).collect(),
        })
        .collect();
    Ok(AccountReputation {
        account_id: account.id,
        name: account.name.clone(),
        status: account.status.as_str().to_string(),
        window_days: config.window.as_secs() / 86_400,
        rates: Rates::of_account(&activity, config.min_sample),
        campaigns,
        flagged: !flags.is_empty(),
        flags,
        thresholds: config.clone(),
        evaluated_at: now,
    })
}

/// Every account that ever got past the audit, flagged ones first, then by
/// complaint rate.
pub async fn overview(
    store: &dyn Store,
    config: &ReputationConfig,
    now: i64,
) -> Result<Vec<AccountReputation>, StoreError> {
    let mut out = Vec::new();
    for account in store.list_accounts().await? {
        if matches!(account.status, AccountStatus::Active | AccountStatus::Suspended) {
            out.push(account_reputation(store, &account, config, now).await?);
        }
    }
    out.sort_by(|a, b| {
        b.flagged
            .cmp(&a.flagged)
            .then(b.rates.complaint_rate.total_cmp(&a.rates.complaint_rate))
            .then(a.account_id.cmp(&b.account_id))
    });
    Ok(out)
}

/// What one run of the monitor did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonitorRun {
    /// Campaigns paused.
    pub paused: Vec<i64>,
    /// Accounts newly flagged.
    pub flagged: Vec<AccountId>,
    /// Accounts suspended.
    pub suspended: Vec<AccountId>,
    /// Synchronous rejections turned into report events.
    pub sync_bounces: u64,
}

/// Watches the rates and acts on the thresholds.
pub struct Monitor {
    pub store: Arc<dyn Store>,
    pub config: ReputationConfig,
}

const ACTOR: &str = "system:reputation";

impl Monitor {
    /// Runs every [`ReputationConfig::interval`] until `shutdown`.
    pub async fn work(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.run_once(crate::now_ms()).await {
                Ok(run) if run != MonitorRun::default() => tracing::info!(?run, "reputation monitor acted"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reputation monitor failed; will retry"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.interval) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// One look at every active account.
    pub async fn run_once(&self, now: i64) -> Result<MonitorRun, StoreError> {
        let mut run = MonitorRun::default();
        for account in self.store.list_accounts().await? {
            if account.status == AccountStatus::Active {
                self.check_account(&account, now, &mut run).await?;
            }
        }
        Ok(run)
    }

    async fn check_account(&self, account: &Account, now: i64, run: &mut MonitorRun) -> Result<(), StoreError> {
        let cfg = &self.config;
        let since = now.saturating_sub(window_ms(cfg));
        let mut campaigns = self.store.campaign_activity(account.id, since).await?;
        let mut imported = 0;
        for c in campaigns.iter().filter(|c| c.bounced_sync > 0) {
            imported += self.record_sync_bounces(account.id, c.campaign_id).await?;
        }
        if imported > 0 {
            run.sync_bounces += imported;
            campaigns = self.store.campaign_activity(account.id, since).await?;
        }

        for c in campaigns.iter().filter(|c| matches!(c.status.as_str(), "sending" | "scheduled")) {
            let r = Rates::of_campaign(c, cfg.min_sample);
            let min = cfg.min_sample.max(1);
            let cause = if c.sent >= min && r.complaint_rate >= cfg.complaint_flag_rate {
                Some(("campaign_complaint_rate", "complaint", r.complaint_rate, cfg.complaint_flag_rate, c.sent))
            } else if r.attempted >= min && r.hard_bounce_rate > cfg.hard_bounce_pause_rate {
                Some((
                    "campaign_hard_bounce_rate",
                    "hard-bounce",
                    r.hard_bounce_rate,
                    cfg.hard_bounce_pause_rate,
                    r.attempted,
                ))
            } else {
                None
            };
            let Some((kind, what, rate, threshold, sample)) = cause else { continue };
            let detail = json!({"campaign_id": c.campaign_id, "rate": rate, "threshold": threshold, "messages": sample,
                "complaints": r.complaints, "hard_bounces": r.hard_bounces});
            if !self.store.set_reputation_flag(account.id, Some(c.campaign_id), kind, &detail).await? {
                continue; // paused for this before; the sender resumed it
            }
            let reason = format!(
                "paused by the reputation monitor: {what} rate {} after {sample} messages reached the limit of {}; \
                 check how the list's addresses were collected before resuming",
                percent(rate),
                percent(threshold)
            );
            let paused = self
                .store
                .set_campaign_status(account.id, c.campaign_id, &["sending", "scheduled"], "paused", Some(&reason))
                .await?;
            if paused {
                run.paused.push(c.campaign_id);
                self.store
                    .record_action(&NewAuditEntry {
                        account: Some(account.id),
                        actor: ACTOR.into(),
                        action: "campaign.pause".into(),
                        target: format!("campaign:{}", c.campaign_id),
                        detail: json!({"reason": reason, "flag": kind, "rate": rate, "threshold": threshold}),
                        ip: None,
                    })
                    .await?;
                self.alert(
                    account.id,
                    "alert.campaign_paused",
                    &format!("campaign:{}", c.campaign_id),
                    &reason,
                    &detail,
                )
                .await?;
            }
        }

        let activity = self.store.account_activity(account.id, since).await?;
        let r = Rates::of_account(&activity, cfg.min_sample);
        let days = cfg.window.as_secs() / 86_400;
        if activity.sent < cfg.min_sample.max(1) {
            return Ok(());
        }
        let detail =
            json!({"rate": r.complaint_rate, "complaints": r.complaints, "messages": r.sent, "window_days": days});
        if r.complaint_rate >= cfg.complaint_suspend_rate {
            let reason = format!(
                "suspended by the reputation monitor: complaint rate {} over {days} days ({} complaints, {} messages) \
                 reached the limit of {}; the operator reviews the account before it may send again",
                percent(r.complaint_rate),
                r.complaints,
                r.sent,
                percent(cfg.complaint_suspend_rate)
            );
            let audit = NewAuditEntry {
                account: Some(account.id),
                actor: ACTOR.into(),
                action: "account.suspend".into(),
                target: format!("account:{}", account.id),
                detail: json!({"from": "active", "to": "suspended", "reason": reason, "rate": r.complaint_rate,
                    "threshold": cfg.complaint_suspend_rate}),
                ip: None,
            };
            let moved = self
                .store
                .transition_account(account.id, AccountStatus::Active, AccountStatus::Suspended, Some(&reason), &audit)
                .await?;
            if moved {
                run.suspended.push(account.id);
                self.store.set_reputation_flag(account.id, None, "complaint_rate_suspended", &detail).await?;
                self.alert(account.id, "alert.account_suspended", &format!("account:{}", account.id), &reason, &detail)
                    .await?;
            }
        } else if r.complaint_rate >= cfg.complaint_flag_rate {
            if self.store.set_reputation_flag(account.id, None, "complaint_rate", &detail).await? {
                run.flagged.push(account.id);
                let reason = format!(
                    "complaint rate {} over {days} days reached {}",
                    percent(r.complaint_rate),
                    percent(cfg.complaint_flag_rate)
                );
                self.alert(account.id, "alert.account_flagged", &format!("account:{}", account.id), &reason, &detail)
                    .await?;
            }
        } else if self.store.clear_reputation_flag(account.id, None, "complaint_rate").await? {
            tracing::info!(account = %account.id, "complaint rate back under the flag threshold");
        }
        Ok(())
    }

    /// Records rejections during sending as bounces (hard ones were already
    /// suppressed by the delivery engine; this counts them and applies the
    /// soft-bounce rule).
    async fn record_sync_bounces(&self, account: AccountId, campaign: i64) -> Result<u64, StoreError> {
        let actions = ReportActions { store: self.store.clone(), soft_bounce: self.config.soft_bounce };
        let mut n = 0;
        // Bounded per run; the rest waits for the next one.
        for _ in 0..20 {
            let batch = self.store.unrecorded_sync_bounces(account, campaign, 500).await?;
            if batch.is_empty() {
                break;
            }
            for b in &batch {
                let t = Target { account, campaign, contact: b.contact };
                let bounce = Bounce::from_smtp_reply(&b.last_reply).unwrap_or(Bounce {
                    class: assent_domain::bounce::BounceClass::Soft,
                    status: None,
                    reason: Some("other".into()),
                    source: "smtp".into(),
                    detail: json!({"reply": b.last_reply}),
                    history: false,
                });
                if actions.bounce(t, &bounce).await?.recorded {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    async fn alert(
        &self,
        account: AccountId,
        action: &str,
        target: &str,
        reason: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.store
            .record_action(&NewAuditEntry {
                account: None,
                actor: ACTOR.into(),
                action: action.into(),
                target: target.into(),
                detail: json!({"account_id": account, "reason": reason, "detail": detail}),
                ip: None,
            })
            .await
    }
}

/// `0.0012` → `0.12 %`.
fn percent(rate: f64) -> String {
    format!("{:.2} %", rate * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_need_a_denominator() {
        let r = Rates::new(0, 0, &ReportCounts { complaint: 1, ..ReportCounts::default() }, 0, 1000);
        assert_eq!((r.complaint_rate, r.enough_sample), (0.0, false));
        let counts = ReportCounts { hard: 60, soft: 20, policy: 20, complaint: 2, unsubscribe: 5 };
        let r = Rates::new(1000, 1000, &counts, 10, 1000);
        assert!(r.enough_sample);
        assert!((r.hard_bounce_rate - 0.06).abs() < 1e-9);
        assert!((r.bounce_rate - 0.1).abs() < 1e-9);
        assert!((r.complaint_rate - 0.002).abs() < 1e-9);
        assert!((r.unsubscribe_rate - 0.01).abs() < 1e-9);
        assert_eq!(percent(0.0012), "0.12 %");
    }
}
