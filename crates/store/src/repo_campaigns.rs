//! Queries of sender domains, campaigns and audiences, written once for
//! both backends (see `repo.rs`).

use assent_domain::ListId;

/// The conditions under which one subscription row makes its contact
/// mailable, as SQL over `s` (subscriptions), `i` (imports, left-joined)
/// and the product category parameter `cat`.
pub(crate) fn approved_sql() -> &'static str {
    "(s.import_id IS NULL OR i.review IN ('not_required', 'approved'))"
}

pub(crate) fn category_sql(cat: &str) -> String {
    format!("(s.origin <> 'purchase' OR s.category = {cat})")
}

pub(crate) fn in_list(start: usize, lists: &[ListId]) -> String {
    (start..start + lists.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(",")
}

macro_rules! impl_campaigns {
    ($ty:ident) => {
        mod campaigns_impl {
            use assent_domain::{AccountId, ListId};
            use async_trait::async_trait;
            use sqlx::Row;

            use super::$ty;
            use crate::repo::json_value;
            use crate::repo_campaigns::{approved_sql, category_sql, in_list};
            use crate::repo_signup::{list_ids_json, parse_list_ids};
            use crate::*;

            const DOMAIN_COLUMNS: &str =
                "id, account_id, domain, selector, rsa_key, ed25519_key, records, verified_at, verified_by, last_check, created_at";
            const CAMPAIGN_COLUMNS: &str = "id, account_id, name, subject, from_email, from_name, reply_to, list_ids, filter, html,
                text, html_inlined, product_category, status, scheduled_at, accepted_by, accepted_at, accepted_ip,
                guidelines_version, started_at, finished_at, pause_reason, fanout_after, fanout_done, created_at, updated_at";

            fn domain_from<R: Row>(r: &R) -> Result<SenderDomain>
            where
                for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'a> &'a str: sqlx::ColumnIndex<R>,
            {
                let last: Option<String> = r.try_get("last_check")?;
                Ok(SenderDomain {
                    id: r.try_get("id")?,
                    account_id: AccountId(r.try_get("account_id")?),
                    domain: r.try_get("domain")?,
                    selector: r.try_get("selector")?,
                    rsa_key: r.try_get("rsa_key")?,
                    ed25519_key: r.try_get("ed25519_key")?,
                    records: json_value("sender_domains.records", &r.try_get::<String, _>("records")?)?,
                    verified_at: r.try_get("verified_at")?,
                    verified_by: r.try_get("verified_by")?,
                    last_check: last.map(|l| json_value("sender_domains.last_check", &l)).transpose()?,
                    created_at: r.try_get("created_at")?,
                })
            }

            fn campaign_from<R: Row>(r: &R) -> Result<Campaign>
            where
                for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'a> &'a str: sqlx::ColumnIndex<R>,
            {
                Ok(Campaign {
                    id: r.try_get("id")?,
                    account_id: AccountId(r.try_get("account_id")?),
                    name: r.try_get("name")?,
                    subject: r.try_get("subject")?,
                    from_email: r.try_get("from_email")?,
                    from_name: r.try_get("from_name")?,
                    reply_to: r.try_get("reply_to")?,
                    list_ids: parse_list_ids("campaigns.list_ids", &r.try_get::<String, _>("list_ids")?)?,
                    filter: json_value("campaigns.filter", &r.try_get::<String, _>("filter")?)?,
                    html: r.try_get("html")?,
                    text: r.try_get("text")?,
                    html_inlined: r.try_get("html_inlined")?,
                    product_category: r.try_get("product_category")?,
                    status: r.try_get("status")?,
                    scheduled_at: r.try_get("scheduled_at")?,
                    accepted_by: r.try_get("accepted_by")?,
                    accepted_at: r.try_get("accepted_at")?,
                    accepted_ip: r.try_get("accepted_ip")?,
                    guidelines_version: r.try_get("guidelines_version")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    pause_reason: r.try_get("pause_reason")?,
                    fanout_after: r.try_get("fanout_after")?,
                    fanout_done: r.try_get::<i64, _>("fanout_done")? != 0,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            fn category(c: Option<&str>) -> Option<String> {
                c.map(|c| c.trim().to_lowercase()).filter(|c| !c.is_empty())
            }

            #[async_trait]
            impl Campaigns for $ty {
                async fn create_sender_domain(&self, account: AccountId, new: &NewSenderDomain) -> Result<SenderDomain> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "INSERT INTO sender_domains (account_id, domain, selector, rsa_key, ed25519_key, records, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {DOMAIN_COLUMNS}"
                    ));
                    let row = sqlx::query(sql)
                        .bind(account.get())
                        .bind(&new.domain)
                        .bind(&new.selector)
                        .bind(&new.rsa_key)
                        .bind(&new.ed25519_key)
                        .bind(new.records.to_string())
                        .bind(now_ms())
                        .fetch_one(&self.pool)
                        .await?;
                    domain_from(&row)
                }

                async fn list_sender_domains(&self, account: AccountId) -> Result<Vec<SenderDomain>> {
                    let sql = sqlx::AssertSqlSafe(format!("SELECT {DOMAIN_COLUMNS} FROM sender_domains WHERE account_id = $1 ORDER BY id"));
                    let rows = sqlx::query(sql).bind(account.get()).fetch_all(&self.pool).await?;
                    rows.iter().map(domain_from).collect()
                }

                async fn get_sender_domain(&self, account: AccountId, id: i64) -> Result<Option<SenderDomain>> {
                    let sql = sqlx::AssertSqlSafe(format!("SELECT {DOMAIN_COLUMNS} FROM sender_domains WHERE account_id = $1 AND id = $2"));
                    let row = sqlx::query(sql).bind(account.get()).bind(id).fetch_optional(&self.pool).await?;
                    row.as_ref().map(domain_from).transpose()
                }

                async fn find_sender_domain(&self, id: i64) -> Result<Option<SenderDomain>> {
                    let sql = sqlx::AssertSqlSafe(format!("SELECT {DOMAIN_COLUMNS} FROM sender_domains WHERE id = $1"));
                    let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
                    row.as_ref().map(domain_from).transpose()
                }

                async fn verified_domain(&self, account: AccountId, domain: &str) -> Result<Option<SenderDomain>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT {DOMAIN_COLUMNS} FROM sender_domains WHERE account_id = $1 AND domain = $2 AND verified_at IS NOT NULL"
                    ));
                    let row = sqlx::query(sql).bind(account.get()).bind(domain.to_ascii_lowercase()).fetch_optional(&self.pool).await?;
                    row.as_ref().map(domain_from).transpose()
                }

                async fn record_domain_check(&self, account: AccountId, id: i64, check: &serde_json::Value, verified_by: Option<&str>) -> Result<()> {
                    let now = now_ms();
                    sqlx::query(
                        "UPDATE sender_domains SET last_check = $1,
                             verified_at = CASE WHEN $2 IS NULL THEN verified_at ELSE $3 END,
                             verified_by = COALESCE($2, verified_by)
                         WHERE account_id = $4 AND id = $5",
                    )
                    .bind(check.to_string())
                    .bind(verified_by)
                    .bind(now)
                    .bind(account.get())
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn create_campaign(&self, account: AccountId, d: &CampaignDraft) -> Result<Campaign> {
                    let now = now_ms();
                    let sql = sqlx::AssertSqlSafe(format!(
                        "INSERT INTO campaigns (account_id, name, subject, from_email, from_name, reply_to, list_ids, filter, html,
                             text, html_inlined, product_category, status, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'draft', $13, $13) RETURNING {CAMPAIGN_COLUMNS}"
                    ));
                    let row = sqlx::query(sql)
                        .bind(account.get())
                        .bind(&d.name)
                        .bind(&d.subject)
                        .bind(&d.from_email)
                        .bind(&d.from_name)
                        .bind(&d.reply_to)
                        .bind(list_ids_json(&d.list_ids))
                        .bind(d.filter.to_string())
                        .bind(&d.html)
                        .bind(&d.text)
                        .bind(&d.html_inlined)
                        .bind(category(d.product_category.as_deref()))
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await?;
                    campaign_from(&row)
                }

                async fn get_campaign(&self, account: AccountId, id: i64) -> Result<Option<Campaign>> {
                    let sql = sqlx::AssertSqlSafe(format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE account_id = $1 AND id = $2"));
                    let row = sqlx::query(sql).bind(account.get()).bind(id).fetch_optional(&self.pool).await?;
                    row.as_ref().map(campaign_from).transpose()
                }

                async fn list_campaigns(&self, account: AccountId, limit: i64) -> Result<Vec<Campaign>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE account_id = $1 ORDER BY id DESC LIMIT $2"
                    ));
                    let rows = sqlx::query(sql).bind(account.get()).bind(limit).fetch_all(&self.pool).await?;
                    rows.iter().map(campaign_from).collect()
                }

                async fn update_campaign(&self, account: AccountId, id: i64, d: &CampaignDraft) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE campaigns SET name = $1, subject = $2, from_email = $3, from_name = $4, reply_to = $5, list_ids = $6,
                             filter = $7, html = $8, text = $9, html_inlined = $10, product_category = $11, updated_at = $12,
                             status = 'draft', scheduled_at = NULL, accepted_by = NULL, accepted_at = NULL, accepted_ip = NULL,
                             guidelines_version = NULL
                         WHERE account_id = $13 AND id = $14 AND status IN ('draft', 'scheduled')",
                    )
                    .bind(&d.name)
                    .bind(&d.subject)
                    .bind(&d.from_email)
                    .bind(&d.from_name)
                    .bind(&d.reply_to)
                    .bind(list_ids_json(&d.list_ids))
                    .bind(d.filter.to_string())
                    .bind(&d.html)
                    .bind(&d.text)
                    .bind(&d.html_inlined)
                    .bind(category(d.product_category.as_deref()))
                    .bind(now_ms())
                    .bind(account.get())
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn accept_campaign(&self, account: AccountId, id: i64, a: &Acceptance) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE campaigns SET status = 'scheduled', scheduled_at = $1, accepted_by = $2, accepted_at = $3,
                             accepted_ip = $4, guidelines_version = $5, updated_at = $3
                         WHERE account_id = $6 AND id = $7 AND status = 'draft'",
                    )
                    .bind(a.start_at)
                    .bind(&a.by)
                    .bind(now_ms())
                    .bind(&a.ip)
                    .bind(&a.guidelines_version)
                    .bind(account.get())
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn set_campaign_status(&self, account: AccountId, id: i64, from: &[&str], to: &str, reason: Option<&str>) -> Result<bool> {
                    let now = now_ms();
                    let placeholders = (0..from.len()).map(|i| format!("${}", i + 7)).collect::<Vec<_>>().join(",");
                    let sql = sqlx::AssertSqlSafe(format!(
                        "UPDATE campaigns SET status = $1, pause_reason = $2, updated_at = $3,
                             started_at = CASE WHEN $1 = 'sending' THEN COALESCE(started_at, $3) ELSE started_at END,
                             finished_at = CASE WHEN $1 IN ('sent', 'cancelled') THEN $3 ELSE finished_at END
                         WHERE account_id = $4 AND id = $5 AND status <> $6 AND status IN ({placeholders})"
                    ));
                    let mut q = sqlx::query(sql).bind(to).bind(reason).bind(now).bind(account.get()).bind(id).bind(to);
                    for f in from {
                        q = q.bind(*f);
                    }
                    Ok(q.execute(self.writer()).await?.rows_affected() == 1)
                }

                async fn due_campaigns(&self, now: i64, limit: i64) -> Result<Vec<Campaign>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= $1 ORDER BY scheduled_at LIMIT $2"
                    ));
                    let rows = sqlx::query(sql).bind(now).bind(limit).fetch_all(&self.pool).await?;
                    rows.iter().map(campaign_from).collect()
                }

                async fn sending_campaigns(&self, limit: i64) -> Result<Vec<Campaign>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE status = 'sending' ORDER BY id LIMIT $1"
                    ));
                    let rows = sqlx::query(sql).bind(limit).fetch_all(&self.pool).await?;
                    rows.iter().map(campaign_from).collect()
                }

                async fn enqueue_deliveries(&self, c: &Campaign, members: &[(i64, ListId, String)], after: i64, done: bool) -> Result<u64> {
                    // Each chunk is a statement of its own and only the last one
                    // moves the cursor: the write lock is never held for a whole
                    // page (outcome writes of the sending loop queue behind it),
                    // and a page cut short by a crash is queued again from its
                    // start, the rows already there skipped by the primary key.
                    let insert = |chunk: &[(i64, ListId, String)]| {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "INSERT INTO deliveries (campaign_id, contact_id, account_id, list_id, status, domain)
                             VALUES {} ON CONFLICT (campaign_id, contact_id) DO NOTHING",
                            crate::repo_imports::values(<$ty>::POSITIONAL_PARAMS, 1, chunk.len(), 6)
                        ));
                        let mut q = sqlx::query(sql);
                        for (contact, list, domain) in chunk {
                            q = q.bind(c.id).bind(*contact).bind(c.account_id.get()).bind(list.get()).bind("queued").bind(domain);
                        }
                        q
                    };
                    let mut chunks: Vec<&[(i64, ListId, String)]> = members.chunks(crate::repo_imports::CHUNK).collect();
                    let last = chunks.pop();
                    let mut inserted = 0;
                    for chunk in chunks {
                        inserted += insert(chunk).execute(self.writer()).await?.rows_affected();
                    }
                    let mut tx = self.begin_write().await?;
                    if let Some(chunk) = last {
                        inserted += insert(chunk).execute(&mut *tx).await?.rows_affected();
                    }
                    sqlx::query("UPDATE campaigns SET fanout_after = $1, fanout_done = $2 WHERE id = $3")
                        .bind(after)
                        .bind(i64::from(done))
                        .bind(c.id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    if done {
                        self.after_bulk_write().await?;
                    }
                    Ok(inserted)
                }

                async fn claim_deliveries(&self, c: &Campaign, now: i64, limit: i64, lease_ms: i64, owner: &str) -> Result<Vec<Delivery>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "UPDATE deliveries SET lease_until = $1, attempts = attempts + 1, lease_owner = $5
                         WHERE campaign_id = $2 AND contact_id IN (
                             SELECT contact_id FROM deliveries WHERE campaign_id = $2 AND status IN ('queued', 'deferred')
                               AND next_attempt_at <= $3 AND lease_until < $3 ORDER BY contact_id LIMIT $4{})
                         RETURNING contact_id, list_id, attempts",
                        <$ty>::SKIP_LOCKED
                    ));
                    // One statement, so the write lock is held only for the
                    // claim itself: the re-check below reads, and writers
                    // queue behind a claim (recorded outcomes hold pool
                    // slots while they wait).
                    let claimed =
                        sqlx::query(sql).bind(now + lease_ms).bind(c.id).bind(now).bind(limit).bind(owner).fetch_all(self.writer()).await?;
                    if claimed.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut wanted: std::collections::HashMap<i64, (ListId, i64)> = std::collections::HashMap::new();
                    for r in &claimed {
                        wanted.insert(r.try_get("contact_id")?, (ListId(r.try_get("list_id")?), r.try_get("attempts")?));
                    }
                    let ids: Vec<i64> = wanted.keys().copied().collect();
                    let positional = <$ty>::POSITIONAL_PARAMS;
                    // Re-check at send time: confirmed on the list, not
                    // suppressed, import approved, category matches.
                    let sql = sqlx::AssertSqlSafe(format!(
                        // From the claimed ids out (CROSS JOIN fixes SQLite's join
                        // order; `+` keeps it off the account index): otherwise
                        // SQLite walked every confirmed subscription per claim.
                        "SELECT c.id, c.email, c.attributes, s.origin, s.list_id FROM contacts c
                         CROSS JOIN subscriptions s
                         LEFT JOIN imports i ON i.id = s.import_id
                         WHERE s.contact_id = c.id AND s.account_id = c.account_id AND +c.account_id = {acc} AND s.status = 'confirmed' AND {approved} AND {category}
                           AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.account_id = c.account_id AND x.address_hash = c.address_hash)
                           AND c.id IN ({ids})",
                        acc = crate::repo_imports::param(positional, 1),
                        approved = approved_sql(),
                        category = category_sql(&crate::repo_imports::param(positional, 2)),
                        ids = crate::repo_imports::list(positional, 3, ids.len()),
                    ));
                    let mut q = sqlx::query(sql).bind(c.account_id.get()).bind(category(c.product_category.as_deref()));
                    for id in &ids {
                        q = q.bind(id);
                    }
                    let mut out = Vec::with_capacity(ids.len());
                    let mut found = std::collections::HashSet::with_capacity(ids.len());
                    for r in q.fetch_all(&self.pool).await? {
                        let id: i64 = r.try_get("id")?;
                        let list = ListId(r.try_get("list_id")?);
                        let Some((want_list, attempts)) = wanted.get(&id).copied() else { continue };
                        // Any of the campaign's lists will do; the queued one first.
                        if list != want_list && !c.list_ids.contains(&list) {
                            continue;
                        }
                        if !found.insert(id) {
                            continue;
                        }
                        out.push(Delivery {
                            member: AudienceMember {
                                contact: id,
                                list: want_list,
                                email: r.try_get("email")?,
                                attributes: r.try_get("attributes")?,
                                origin: r.try_get("origin")?,
                            },
                            attempts,
                        });
                    }
                    let mut skipped: Vec<i64> = ids.iter().copied().filter(|id| !found.contains(id)).collect();
                    if !skipped.is_empty() {
                        skipped.sort_unstable();
                        let mut tx = self.begin_write().await?;
                        for id in skipped {
                            sqlx::query("UPDATE deliveries SET status = 'skipped', last_reply = 'no longer eligible', lease_until = 0 WHERE campaign_id = $1 AND contact_id = $2 AND lease_owner = $3")
                                .bind(c.id)
                                .bind(id)
                                .bind(owner)
                                .execute(&mut *tx)
                                .await?;
                        }
                        tx.commit().await?;
                    }
                    out.sort_by_key(|d| d.member.contact);
                    Ok(out)
                }

                async fn renew_deliveries(&self, campaign: i64, contacts: &[i64], until: i64, owner: &str) -> Result<Vec<i64>> {
                    if contacts.is_empty() {
                        return Ok(Vec::new());
                    }
                    let positional = <$ty>::POSITIONAL_PARAMS;
                    let mut held = Vec::with_capacity(contacts.len());
                    let mut tx = self.begin_write().await?;
                    for chunk in contacts.chunks(crate::repo_imports::CHUNK) {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "UPDATE deliveries SET lease_until = {} WHERE campaign_id = {} AND lease_owner = {}
                               AND status IN ('queued', 'deferred') AND contact_id IN ({}) RETURNING contact_id",
                            crate::repo_imports::param(positional, 1),
                            crate::repo_imports::param(positional, 2),
                            crate::repo_imports::param(positional, 3),
                            crate::repo_imports::list(positional, 4, chunk.len()),
                        ));
                        let mut q = sqlx::query_scalar::<_, i64>(sql).bind(until).bind(campaign).bind(owner);
                        for id in chunk {
                            q = q.bind(id);
                        }
                        held.extend(q.fetch_all(&mut *tx).await?);
                    }
                    tx.commit().await?;
                    Ok(held)
                }

                async fn finish_deliveries(&self, campaign: i64, outcomes: &[(i64, DeliveryOutcome)], owner: &str) -> Result<()> {
                    if outcomes.is_empty() {
                        return Ok(());
                    }
                    let now = now_ms();
                    // Outcomes mostly repeat (`sent`/`accepted`): one UPDATE per
                    // distinct outcome, not one per recipient. (An UPDATE … FROM
                    // (VALUES …) with each row's own values was tried: SQLite
                    // then planned a walk over the campaign's deliveries per
                    // statement once the list had a few dozen rows.)
                    let mut groups: Vec<((&'static str, String, i64, Option<i64>), Vec<i64>)> = Vec::new();
                    for (contact, outcome) in outcomes {
                        let (status, reply, next_at, sent_at): (&'static str, &str, i64, Option<i64>) = match outcome {
                            DeliveryOutcome::Sent { reply } => ("sent", reply, 0, Some(now)),
                            DeliveryOutcome::Deferred { next_at, reply } => ("deferred", reply, *next_at, None),
                            DeliveryOutcome::Bounced { reply } => ("bounced", reply, 0, None),
                            DeliveryOutcome::Failed { reply } => ("failed", reply, 0, None),
                            DeliveryOutcome::Skipped { reason } => ("skipped", reason, 0, None),
                        };
                        let key = (status, reply.chars().take(500).collect::<String>(), next_at, sent_at);
                        match groups.iter_mut().find(|(k, _)| *k == key) {
                            Some((_, ids)) => ids.push(*contact),
                            None => groups.push((key, vec![*contact])),
                        }
                    }
                    let positional = <$ty>::POSITIONAL_PARAMS;
                    let statement = |(status, reply, next_at, sent_at): &(&'static str, String, i64, Option<i64>), chunk: &[i64]| {
                        let p = |n| crate::repo_imports::param(positional, n);
                        let sql = sqlx::AssertSqlSafe(format!(
                            "UPDATE deliveries SET status = {}, last_reply = {}, next_attempt_at = {}, sent_at = {}, lease_until = 0
                             WHERE campaign_id = {} AND lease_owner = {} AND contact_id IN ({})",
                            p(1), p(2), p(3), p(4), p(5), p(6),
                            crate::repo_imports::list(positional, 7, chunk.len()),
                        ));
                        let mut q = sqlx::query(sql).bind(*status).bind(reply.clone()).bind(*next_at).bind(*sent_at).bind(campaign).bind(owner.to_string());
                        for id in chunk {
                            q = q.bind(*id);
                        }
                        q
                    };
                    // The usual case, every recipient accepted alike, is one
                    // statement: atomic without a transaction around it, and
                    // two round trips to the database fewer (this write is
                    // on the sending path: its latency holds pool slots).
                    if let [(key, ids)] = groups.as_slice()
                        && ids.len() <= crate::repo_imports::CHUNK
                    {
                        statement(key, ids).execute(self.writer()).await?;
                        return Ok(());
                    }
                    let mut tx = self.begin_write().await?;
                    for (key, ids) in &groups {
                        for chunk in ids.chunks(crate::repo_imports::CHUNK) {
                            statement(key, chunk).execute(&mut *tx).await?;
                        }
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn release_deliveries(&self, campaign: i64, owner: &str) -> Result<u64> {
                    let done = sqlx::query(
                        "UPDATE deliveries SET lease_until = 0 WHERE campaign_id = $1 AND lease_owner = $2 AND lease_until > 0
                           AND status IN ('queued', 'deferred')",
                    )
                    .bind(campaign)
                    .bind(owner)
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected())
                }

                async fn delivery_counts(&self, account: AccountId, campaign: i64) -> Result<DeliveryCounts> {
                    // Sent deliveries are not indexed by status (every outcome
                    // would move an entry): sent is the total, from the primary
                    // key, minus the rest, from `deliveries_unsent`. One
                    // statement, so both read the same snapshot. The account is
                    // checked on the campaign.
                    let rows = sqlx::query(
                        "SELECT '' AS status, COUNT(*) AS n FROM deliveries d
                           WHERE d.campaign_id = $2 AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = $2 AND c.account_id = $1)
                         UNION ALL
                         SELECT d.status, COUNT(*) FROM deliveries d
                           WHERE d.campaign_id = $2 AND d.status <> 'sent' GROUP BY d.status",
                    )
                    .bind(account.get())
                    .bind(campaign)
                    .fetch_all(&self.pool)
                    .await?;
                    let mut c = DeliveryCounts::default();
                    for r in rows {
                        let n: i64 = r.try_get("n")?;
                        match r.try_get::<String, _>("status")?.as_str() {
                            "" => c.total = n,
                            "queued" => c.queued = n,
                            "deferred" => c.deferred = n,
                            "bounced" => c.bounced = n,
                            "failed" => c.failed = n,
                            _ => c.skipped = n,
                        }
                    }
                    // Another account's campaign: nothing at all.
                    if c.total == 0 {
                        return Ok(DeliveryCounts::default());
                    }
                    c.sent = c.total - c.queued - c.deferred - c.bounced - c.failed - c.skipped;
                    Ok(c)
                }

                async fn audience_counts(&self, account: AccountId, lists: &[ListId], cat: Option<&str>) -> Result<AudienceCounts> {
                    if lists.is_empty() {
                        return Ok(AudienceCounts::default());
                    }
                    let sql = sqlx::AssertSqlSafe(format!(
                        "WITH per AS (
                           SELECT s.contact_id AS id,
                             MAX(CASE WHEN s.status = 'confirmed' THEN 1 ELSE 0 END) AS confirmed,
                             MAX(CASE WHEN s.status = 'confirmed' AND {approved} THEN 1 ELSE 0 END) AS approved,
                             MAX(CASE WHEN s.status = 'confirmed' AND {approved} AND {category} THEN 1 ELSE 0 END) AS ok
                           FROM subscriptions s LEFT JOIN imports i ON i.id = s.import_id
                           WHERE s.account_id = $1 AND s.list_id IN ({lists})
                           GROUP BY s.contact_id)
                         SELECT COUNT(*) AS total,
                           COALESCE(SUM(CASE WHEN p.ok = 1 AND x.address_hash IS NULL THEN 1 ELSE 0 END), 0) AS eligible,
                           COALESCE(SUM(CASE WHEN p.confirmed = 0 THEN 1 ELSE 0 END), 0) AS not_confirmed,
                           COALESCE(SUM(CASE WHEN p.confirmed = 1 AND x.address_hash IS NOT NULL THEN 1 ELSE 0 END), 0) AS suppressed,
                           COALESCE(SUM(CASE WHEN p.confirmed = 1 AND x.address_hash IS NULL AND p.approved = 0 THEN 1 ELSE 0 END), 0) AS import_not_approved,
                           COALESCE(SUM(CASE WHEN p.approved = 1 AND x.address_hash IS NULL AND p.ok = 0 THEN 1 ELSE 0 END), 0) AS purchase_category
                         FROM per p JOIN contacts c ON c.id = p.id
                         LEFT JOIN suppressions x ON x.account_id = c.account_id AND x.address_hash = c.address_hash",
                        approved = approved_sql(),
                        category = category_sql("$2"),
                        lists = in_list(3, lists),
                    ));
                    let mut q = sqlx::query(sql).bind(account.get()).bind(category(cat));
                    for l in lists {
                        q = q.bind(l.get());
                    }
                    let r = q.fetch_one(&self.pool).await?;
                    Ok(AudienceCounts {
                        total: r.try_get("total")?,
                        eligible: r.try_get("eligible")?,
                        not_confirmed: r.try_get("not_confirmed")?,
                        suppressed: r.try_get("suppressed")?,
                        import_not_approved: r.try_get("import_not_approved")?,
                        purchase_category: r.try_get("purchase_category")?,
                    })
                }

                async fn audience_page(
                    &self,
                    account: AccountId,
                    lists: &[ListId],
                    cat: Option<&str>,
                    after: i64,
                    limit: i64,
                ) -> Result<AudiencePage> {
                    if lists.is_empty() {
                        return Ok(AudiencePage { members: Vec::new(), next_after: after, done: true });
                    }
                    // Bound the page by contact id first: per list, the
                    // `limit`-th confirmed member after `after` (an index range
                    // scan); the smallest of those ends the page. Without the
                    // bound every page grouped and sorted all the rest of the
                    // audience — quadratic over a whole fan-out.
                    let mut upper: Option<i64> = None;
                    for l in lists {
                        let bound: Option<i64> = sqlx::query_scalar(
                            "SELECT contact_id FROM subscriptions WHERE account_id = $1 AND list_id = $2 AND status = 'confirmed'
                               AND contact_id > $3 ORDER BY contact_id LIMIT 1 OFFSET $4",
                        )
                        .bind(account.get())
                        .bind(l.get())
                        .bind(after)
                        .bind((limit - 1).max(0))
                        .fetch_optional(&self.pool)
                        .await?;
                        if let Some(b) = bound {
                            upper = Some(upper.map_or(b, |u: i64| u.min(b)));
                        }
                    }
                    // Only what queuing needs: the attributes are read when a
                    // recipient is claimed. One list (the usual case) has one
                    // subscription per contact and is read in contact order
                    // from its index, with nothing to group or sort; several
                    // are grouped per contact.
                    let (grouped, list) = if lists.len() > 1 {
                        ("GROUP BY s.contact_id, c.email", "MIN(s.list_id)")
                    } else {
                        ("", "s.list_id")
                    };
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT s.contact_id AS id, {list} AS list_id, c.email
                         FROM subscriptions s JOIN contacts c ON c.id = s.contact_id LEFT JOIN imports i ON i.id = s.import_id
                         WHERE s.account_id = $1 AND s.list_id IN ({lists}) AND s.contact_id > $3 AND s.contact_id <= $4
                           AND s.status = 'confirmed' AND {approved} AND {category}
                           AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.account_id = $1 AND x.address_hash = c.address_hash)
                         {grouped} ORDER BY s.contact_id",
                        approved = approved_sql(),
                        category = category_sql("$2"),
                        lists = in_list(5, lists),
                    ));
                    let mut q = sqlx::query(sql).bind(account.get()).bind(category(cat)).bind(after).bind(upper.unwrap_or(i64::MAX));
                    for l in lists {
                        q = q.bind(l.get());
                    }
                    let rows = q.fetch_all(&self.pool).await?;
                    let members = rows
                        .iter()
                        .map(|r| {
                            Ok(AudienceEntry {
                                contact: r.try_get("id")?,
                                list: ListId(r.try_get("list_id")?),
                                email: r.try_get("email")?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let next_after = match upper {
                        Some(u) => u,
                        None => members.last().map_or(after, |m| m.contact),
                    };
                    Ok(AudiencePage { members, next_after, done: upper.is_none() })
                }
            }
        }
    };
}

pub(crate) use impl_campaigns;
