//! Queries of report events and reputation flags, written once for both
//! backends (see `repo.rs` for the conventions).

use crate::{ReportEventKind, Result, StoreError};

pub(crate) fn report_kind(s: &str) -> Result<ReportEventKind> {
    ReportEventKind::parse(s).ok_or_else(|| StoreError::Corrupt { column: "report_events.kind", detail: s.to_string() })
}

/// The evidence of the consent event a report appends: the report's
/// detail, with the campaign and, after an escalation, the suppression.
pub(crate) fn consent_evidence(
    detail: &serde_json::Value,
    campaign: Option<i64>,
    kind: ReportEventKind,
    soft_escalated: Option<i64>,
) -> serde_json::Value {
    let mut map = match detail {
        serde_json::Value::Object(m) => m.clone(),
        serde_json::Value::Null => serde_json::Map::new(),
        other => {
            let mut m = serde_json::Map::new();
            m.insert("detail".into(), other.clone());
            m
        }
    };
    map.insert("report".into(), kind.as_str().into());
    if let Some(c) = campaign {
        map.insert("campaign_id".into(), c.into());
    }
    if let Some(n) = soft_escalated {
        map.insert("suppressed".into(), "soft_bounce".into());
        map.insert("soft_bounces".into(), n.into());
    }
    serde_json::Value::Object(map)
}

macro_rules! impl_reputation {
    ($ty:ident) => {
        mod reputation_impl {
            use assent_domain::{
                AccountId, ContactId, EmailAddress, SubscriptionEvent, SuppressionHash, SuppressionReason, Transition,
            };
            use async_trait::async_trait;
            use sqlx::Row;

            use super::$ty;
            use crate::repo::{json_value, subscription_status};
            use crate::repo_reputation::{consent_evidence, report_kind};
            use crate::*;

            type Tx = sqlx::Transaction<'static, <$ty as crate::repo::HasDb>::Db>;

            /// Campaigns that count for rates at or after `$2`: sending
            /// started, and not finished before the window.
            const ACTIVE_CAMPAIGN: &str =
                "c.account_id = $1 AND c.started_at IS NOT NULL AND (c.finished_at IS NULL OR c.finished_at >= $2)";

            fn event_from<R: Row>(r: &R) -> Result<ReportEvent>
            where
                for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'a> &'a str: sqlx::ColumnIndex<R>,
            {
                Ok(ReportEvent {
                    id: r.try_get("id")?,
                    account_id: AccountId(r.try_get("account_id")?),
                    campaign_id: r.try_get("campaign_id")?,
                    contact_id: r.try_get::<Option<i64>, _>("contact_id")?.map(ContactId),
                    kind: report_kind(&r.try_get::<String, _>("kind")?)?,
                    source: r.try_get("source")?,
                    status: r.try_get("status")?,
                    reason: r.try_get("reason")?,
                    detail: json_value("report_events.detail", &r.try_get::<String, _>("detail")?)?,
                    at: r.try_get("at")?,
                })
            }

            /// Moves every subscription of the contact the state machine lets
            /// `event` move (compare-and-set on the status read).
            async fn move_subscriptions(
                tx: &mut Tx,
                account: AccountId,
                contact: ContactId,
                event: SubscriptionEvent,
                now: i64,
            ) -> Result<u64> {
                let rows = sqlx::query("SELECT list_id, status FROM subscriptions WHERE account_id = $1 AND contact_id = $2")
                    .bind(account.get())
                    .bind(contact.get())
                    .fetch_all(&mut **tx)
                    .await?;
                let mut changed = 0;
                for r in &rows {
                    let list: i64 = r.try_get("list_id")?;
                    let from = subscription_status(&r.try_get::<String, _>("status")?)?;
                    // Illegal moves (a complaint about a bounced address) and
                    // no-ops leave the row as it is.
                    let Ok(Transition::To(to)) = from.apply(event) else { continue };
                    let done = sqlx::query(
                        "UPDATE subscriptions SET status = $1, updated_at = $2
                         WHERE account_id = $3 AND contact_id = $4 AND list_id = $5 AND status = $6",
                    )
                    .bind(to.as_str())
                    .bind(now)
                    .bind(account.get())
                    .bind(contact.get())
                    .bind(list)
                    .bind(from.as_str())
                    .execute(&mut **tx)
                    .await?;
                    changed += done.rows_affected();
                }
                Ok(changed)
            }

            async fn count_soft(tx: &mut Tx, account: AccountId, contact: ContactId, since: i64) -> Result<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM report_events WHERE account_id = $1 AND contact_id = $2 AND kind = 'soft' AND at >= $3",
                )
                .bind(account.get())
                .bind(contact.get())
                .bind(since)
                .fetch_one(&mut **tx)
                .await?)
            }

            #[async_trait]
            impl Reputation for $ty {
                async fn record_report(
                    &self,
                    account: AccountId,
                    event: &NewReportEvent,
                    effect: &ReportEffect,
                ) -> Result<ReportApplied> {
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    // Linked rows are looked up within the account: a foreign
                    // id links nothing.
                    let campaign = match event.campaign {
                        Some(id) => sqlx::query_scalar::<_, i64>("SELECT id FROM campaigns WHERE account_id = $1 AND id = $2")
                            .bind(account.get())
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?,
                        None => None,
                    };
                    let contact = match event.contact {
                        Some(id) => sqlx::query("SELECT id, email FROM contacts WHERE account_id = $1 AND id = $2")
                            .bind(account.get())
                            .bind(id.get())
                            .fetch_optional(&mut *tx)
                            .await?
                            .map(|r| -> Result<(ContactId, String)> { Ok((ContactId(r.try_get("id")?), r.try_get("email")?)) })
                            .transpose()?,
                        None => None,
                    };
                    let inserted = sqlx::query(
                        "INSERT INTO report_events (account_id, campaign_id, contact_id, kind, source, status, reason, detail, at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                    )
                    .bind(account.get())
                    .bind(campaign)
                    .bind(contact.as_ref().map(|(c, _)| c.get()))
                    .bind(event.kind.as_str())
                    .bind(&event.source)
                    .bind(&event.status)
                    .bind(&event.reason)
                    .bind(event.detail.to_string())
                    .bind(event.at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    let mut applied = ReportApplied { recorded: inserted == 1, ..ReportApplied::default() };
                    let Some((contact, email)) = contact.filter(|_| applied.recorded) else {
                        tx.commit().await?;
                        return Ok(applied);
                    };

                    let mut escalated = None;
                    if let Some(esc) = effect.escalate {
                        let n = count_soft(&mut tx, account, contact, esc.since).await?;
                        applied.soft_bounces = Some(n);
                        if n >= esc.max.max(1) {
                            escalated = Some(n);
                        }
                    }
                    let subscriptions = effect.subscriptions.or(escalated.map(|_| SubscriptionEvent::HardBounced));
                    if let Some(ev) = subscriptions {
                        applied.subscriptions_changed = move_subscriptions(&mut tx, account, contact, ev, now).await?;
                    }
                    let suppress = effect.suppress.or(escalated.map(|_| SuppressionReason::SoftBounce));
                    if let Some(reason) = suppress
                        && let Ok(addr) = EmailAddress::parse(&email)
                    {
                        let done = sqlx::query(
                            "INSERT INTO suppressions (account_id, address_hash, reason, created_at) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (account_id, address_hash) DO NOTHING",
                        )
                        .bind(account.get())
                        .bind(SuppressionHash::of(&addr).as_str())
                        .bind(reason.as_str())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        applied.suppressed = done.rows_affected() == 1;
                    }
                    let consent_kind = effect.consent_event.clone().or(escalated.map(|_| "bounced".to_string()));
                    if let Some(kind) = consent_kind {
                        let evidence = consent_evidence(&event.detail, campaign, event.kind, escalated);
                        let source = if effect.consent_source.is_empty() { event.source.as_str() } else { effect.consent_source.as_str() };
                        sqlx::query(
                            "INSERT INTO consent_events (account_id, contact_id, list_id, kind, at, source, ip, user_agent, evidence)
                             VALUES ($1, $2, NULL, $3, $4, $5, NULL, NULL, $6)",
                        )
                        .bind(account.get())
                        .bind(contact.get())
                        .bind(kind)
                        .bind(now)
                        .bind(source)
                        .bind(evidence.to_string())
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(applied)
                }

                async fn soft_bounces_since(&self, account: AccountId, contact: ContactId, since: i64) -> Result<i64> {
                    Ok(sqlx::query_scalar(
                        "SELECT COUNT(*) FROM report_events WHERE account_id = $1 AND contact_id = $2 AND kind = 'soft' AND at >= $3",
                    )
                    .bind(account.get())
                    .bind(contact.get())
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?)
                }

                async fn count_reports(
                    &self,
                    account: AccountId,
                    campaign: Option<i64>,
                    kind: ReportEventKind,
                    reason: Option<&str>,
                    since: i64,
                ) -> Result<i64> {
                    Ok(sqlx::query_scalar(
                        "SELECT COUNT(*) FROM report_events WHERE account_id = $1 AND ($2 IS NULL OR campaign_id = $2)
                           AND kind = $3 AND ($4 IS NULL OR reason = $4) AND at >= $5",
                    )
                    .bind(account.get())
                    .bind(campaign)
                    .bind(kind.as_str())
                    .bind(reason)
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?)
                }

                async fn report_events(&self, account: AccountId, campaign: Option<i64>, limit: i64) -> Result<Vec<ReportEvent>> {
                    let rows = sqlx::query(
                        "SELECT id, account_id, campaign_id, contact_id, kind, source, status, reason, detail, at FROM report_events
                         WHERE account_id = $1 AND ($2 IS NULL OR campaign_id = $2) ORDER BY id DESC LIMIT $3",
                    )
                    .bind(account.get())
                    .bind(campaign)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(event_from).collect()
                }

                async fn campaign_reports(&self, account: AccountId, campaign: i64) -> Result<ReportCounts> {
                    // The campaign leads the unique (campaign, contact, kind) index.
                    let rows = sqlx::query(
                        "SELECT kind, COUNT(*) AS n FROM report_events WHERE campaign_id = $1 AND account_id = $2 GROUP BY kind",
                    )
                    .bind(campaign)
                    .bind(account.get())
                    .fetch_all(&self.pool)
                    .await?;
                    let mut counts = ReportCounts::default();
                    for r in &rows {
                        counts.add(report_kind(&r.try_get::<String, _>("kind")?)?, r.try_get("n")?);
                    }
                    Ok(counts)
                }

                async fn campaign_activity(&self, account: AccountId, since: i64) -> Result<Vec<CampaignActivity>> {
                    // Sent deliveries are not indexed by status: sent is the
                    // total minus the rest. (SQLite uses a partial index only
                    // when the query repeats its condition.)
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT c.id, c.name, c.status, c.started_at,
                           (SELECT COUNT(*) FROM deliveries d WHERE d.campaign_id = c.id)
                             - (SELECT COUNT(*) FROM deliveries d WHERE d.campaign_id = c.id AND d.status <> 'sent') AS sent,
                           (SELECT COUNT(*) FROM deliveries d WHERE d.campaign_id = c.id AND d.status <> 'sent'
                              AND d.status = 'bounced') AS bounced_sync
                         FROM campaigns c WHERE {ACTIVE_CAMPAIGN} ORDER BY c.id"
                    ));
                    let rows = sqlx::query(sql).bind(account.get()).bind(since).fetch_all(&self.pool).await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        out.push(CampaignActivity {
                            campaign_id: r.try_get("id")?,
                            name: r.try_get("name")?,
                            status: r.try_get("status")?,
                            started_at: r.try_get("started_at")?,
                            sent: r.try_get("sent")?,
                            bounced_sync: r.try_get("bounced_sync")?,
                            reports: ReportCounts::default(),
                        });
                    }
                    if out.is_empty() {
                        return Ok(out);
                    }
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT r.campaign_id, r.kind, COUNT(*) AS n FROM report_events r JOIN campaigns c ON c.id = r.campaign_id
                         WHERE r.account_id = $1 AND {ACTIVE_CAMPAIGN} GROUP BY r.campaign_id, r.kind"
                    ));
                    let counts = sqlx::query(sql).bind(account.get()).bind(since).fetch_all(&self.pool).await?;
                    for r in &counts {
                        let id: i64 = r.try_get("campaign_id")?;
                        let kind = report_kind(&r.try_get::<String, _>("kind")?)?;
                        if let Some(a) = out.iter_mut().find(|a| a.campaign_id == id) {
                            a.reports.add(kind, r.try_get("n")?);
                        }
                    }
                    Ok(out)
                }

                async fn account_activity(&self, account: AccountId, since: i64) -> Result<AccountActivity> {
                    // From the active campaigns to their deliveries (CROSS JOIN
                    // fixes SQLite's join order), never a walk over all of them.
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM campaigns c CROSS JOIN deliveries d
                         WHERE d.campaign_id = c.id AND {ACTIVE_CAMPAIGN} AND d.account_id = $1 AND d.status = 'sent' AND d.sent_at >= $2"
                    ));
                    let sent: i64 = sqlx::query_scalar(sql).bind(account.get()).bind(since).fetch_one(&self.pool).await?;
                    let rows = sqlx::query(
                        "SELECT kind, source, COUNT(*) AS n FROM report_events WHERE account_id = $1 AND at >= $2
                         GROUP BY kind, source",
                    )
                    .bind(account.get())
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?;
                    let mut reports = ReportCounts::default();
                    let mut sync_bounces = 0;
                    for r in &rows {
                        let kind = report_kind(&r.try_get::<String, _>("kind")?)?;
                        let n: i64 = r.try_get("n")?;
                        reports.add(kind, n);
                        if r.try_get::<String, _>("source")? == "smtp"
                            && matches!(kind, ReportEventKind::Hard | ReportEventKind::Soft | ReportEventKind::Policy)
                        {
                            sync_bounces += n;
                        }
                    }
                    let unsubscribes: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM consent_events WHERE account_id = $1 AND kind = 'unsubscribed' AND at >= $2",
                    )
                    .bind(account.get())
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(AccountActivity { sent, reports, sync_bounces, unsubscribes })
                }

                async fn unrecorded_sync_bounces(&self, account: AccountId, campaign: i64, limit: i64) -> Result<Vec<SyncBounce>> {
                    // The first status condition is that of `deliveries_unsent`,
                    // so SQLite uses that index.
                    let rows = sqlx::query(
                        "SELECT d.contact_id, COALESCE(d.last_reply, '') AS last_reply FROM deliveries d
                         WHERE d.campaign_id = $1 AND d.account_id = $2 AND d.status <> 'sent' AND d.status = 'bounced'
                           AND NOT EXISTS (SELECT 1 FROM report_events r WHERE r.campaign_id = d.campaign_id
                                           AND r.contact_id = d.contact_id AND r.kind IN ('hard', 'soft', 'policy'))
                         ORDER BY d.contact_id LIMIT $3",
                    )
                    .bind(campaign)
                    .bind(account.get())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| Ok(SyncBounce { contact: ContactId(r.try_get("contact_id")?), last_reply: r.try_get("last_reply")? }))
                        .collect()
                }

                async fn find_delivery(&self, campaign: i64, contact: ContactId) -> Result<Option<DeliveryRef>> {
                    let row = sqlx::query(
                        "SELECT account_id, campaign_id, contact_id, status FROM deliveries WHERE campaign_id = $1 AND contact_id = $2",
                    )
                    .bind(campaign)
                    .bind(contact.get())
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(|r| {
                        Ok(DeliveryRef {
                            account: AccountId(r.try_get("account_id")?),
                            campaign: r.try_get("campaign_id")?,
                            contact: ContactId(r.try_get("contact_id")?),
                            status: r.try_get("status")?,
                        })
                    })
                    .transpose()
                }

                async fn set_reputation_flag(
                    &self,
                    account: AccountId,
                    campaign: Option<i64>,
                    kind: &str,
                    detail: &serde_json::Value,
                ) -> Result<bool> {
                    let done = sqlx::query(
                        "INSERT INTO reputation_flags (account_id, campaign_id, kind, detail, at) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (account_id, campaign_id, kind) DO NOTHING",
                    )
                    .bind(account.get())
                    .bind(campaign.unwrap_or(0))
                    .bind(kind)
                    .bind(detail.to_string())
                    .bind(now_ms())
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn clear_reputation_flag(&self, account: AccountId, campaign: Option<i64>, kind: &str) -> Result<bool> {
                    let done = sqlx::query("DELETE FROM reputation_flags WHERE account_id = $1 AND campaign_id = $2 AND kind = $3")
                        .bind(account.get())
                        .bind(campaign.unwrap_or(0))
                        .bind(kind)
                        .execute(self.writer())
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn reputation_flags(&self, account: Option<AccountId>) -> Result<Vec<ReputationFlag>> {
                    let rows = sqlx::query(
                        "SELECT account_id, campaign_id, kind, detail, at FROM reputation_flags
                         WHERE ($1 IS NULL OR account_id = $1) ORDER BY at DESC, account_id, campaign_id, kind",
                    )
                    .bind(account.map(AccountId::get))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let campaign: i64 = r.try_get("campaign_id")?;
                            Ok(ReputationFlag {
                                account_id: AccountId(r.try_get("account_id")?),
                                campaign_id: (campaign != 0).then_some(campaign),
                                kind: r.try_get("kind")?,
                                detail: json_value("reputation_flags.detail", &r.try_get::<String, _>("detail")?)?,
                                at: r.try_get("at")?,
                            })
                        })
                        .collect()
                }
            }
        }
    };
}

pub(crate) use impl_reputation;
