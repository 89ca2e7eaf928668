//! Queries of imports, written once for both backends (see `repo.rs`).
//! Rows are written in multi-row statements of `CHUNK` rows; that is where
//! import speed comes from.

/// Rows per multi-row statement: × at most 9 parameters stays below both
/// backends' parameter limits (SQLite 32,766, PostgreSQL 65,535), and
/// fewer, larger statements cost less per row.
pub(crate) const CHUNK: usize = 500;

/// Parameter `n` of a bulk statement. SQLite gets plain `?` (bound in
/// order): its lookup of numbered parameter names is linear, which made
/// binding thousands of `$n` quadratic. Every parameter of such a statement
/// must then be written through this, in binding order.
pub(crate) fn param(positional: bool, n: usize) -> String {
    if positional { "?".to_string() } else { format!("${n}") }
}

/// `(p, p, …), (…)` for `rows` rows of `cols` parameters from `start`.
pub(crate) fn values(positional: bool, start: usize, rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    let mut n = start;
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push(',');
            }
            out.push_str(&param(positional, n));
            n += 1;
        }
        out.push(')');
    }
    out
}

/// `p, p, …` for an IN list.
pub(crate) fn list(positional: bool, start: usize, count: usize) -> String {
    (start..start + count).map(|n| param(positional, n)).collect::<Vec<_>>().join(",")
}

macro_rules! impl_imports {
    ($ty:ident) => {
        mod imports_impl {
            use std::collections::{HashMap, HashSet};

            use assent_domain::{AccountId, ListId, SubscriptionEvent, SubscriptionStatus, Transition};
            use async_trait::async_trait;
            use sqlx::Row;

            use super::$ty;
            use crate::repo::{category_of, json_object, json_value, subscription_status};
            use crate::repo_imports::{CHUNK, list, param, values};
            use crate::*;

            /// Whether bulk statements use positional `?` parameters.
            const P: bool = <$ty>::POSITIONAL_PARAMS;

            const IMPORT_COLUMNS: &str = "id, account_id, list_id, status, review, review_reason, decision_reason, origin,
                evidence, options, file_path, file_name, file_size, processed, byte_offset, line, rows_done, imported,
                merged, rejected, risky, created_by, ip, error, created_at, started_at, finished_at, updated_at";

            fn import_from<R: Row>(r: &R) -> Result<Import>
            where
                for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'a> &'a str: sqlx::ColumnIndex<R>,
            {
                Ok(Import {
                    id: r.try_get("id")?,
                    account_id: AccountId(r.try_get("account_id")?),
                    list_id: ListId(r.try_get("list_id")?),
                    status: r.try_get("status")?,
                    review: r.try_get("review")?,
                    review_reason: r.try_get("review_reason")?,
                    decision_reason: r.try_get("decision_reason")?,
                    origin: r.try_get("origin")?,
                    evidence: json_value("imports.evidence", &r.try_get::<String, _>("evidence")?)?,
                    options: json_value("imports.options", &r.try_get::<String, _>("options")?)?,
                    file_path: r.try_get("file_path")?,
                    file_name: r.try_get("file_name")?,
                    file_size: r.try_get("file_size")?,
                    processed: r.try_get::<i64, _>("processed")? != 0,
                    byte_offset: r.try_get("byte_offset")?,
                    line: r.try_get("line")?,
                    rows_done: r.try_get("rows_done")?,
                    imported: r.try_get("imported")?,
                    merged: r.try_get("merged")?,
                    rejected: r.try_get("rejected")?,
                    risky: r.try_get("risky")?,
                    created_by: r.try_get("created_by")?,
                    ip: r.try_get("ip")?,
                    error: r.try_get("error")?,
                    created_at: r.try_get("created_at")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            #[async_trait]
            impl Imports for $ty {
                async fn create_import(&self, account: AccountId, new: &NewImport) -> Result<Import> {
                    let now = now_ms();
                    let status = if new.review == "pending" { "pending_review" } else { "running" };
                    let sql = sqlx::AssertSqlSafe(format!(
                        "INSERT INTO imports (account_id, list_id, status, review, review_reason, origin, evidence, options,
                             file_path, file_name, file_size, created_by, ip, created_at, updated_at)
                         SELECT $1, l.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14 FROM lists l
                         WHERE l.account_id = $1 AND l.id = $2 AND l.deleted_at IS NULL
                         RETURNING {IMPORT_COLUMNS}"
                    ));
                    let row = sqlx::query(sql)
                        .bind(account.get())
                        .bind(new.list_id.get())
                        .bind(status)
                        .bind(new.review)
                        .bind(&new.review_reason)
                        .bind(&new.origin)
                        .bind(new.evidence.to_string())
                        .bind(new.options.to_string())
                        .bind(&new.file_path)
                        .bind(&new.file_name)
                        .bind(new.file_size)
                        .bind(&new.created_by)
                        .bind(&new.ip)
                        .bind(now)
                        .fetch_optional(&self.pool)
                        .await?;
                    let row = row.ok_or_else(|| StoreError::Conflict(format!("list {} is not in account {account}", new.list_id)))?;
                    import_from(&row)
                }

                async fn get_import(&self, account: AccountId, id: i64) -> Result<Option<Import>> {
                    let sql = sqlx::AssertSqlSafe(format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE account_id = $1 AND id = $2"));
                    let row = sqlx::query(sql).bind(account.get()).bind(id).fetch_optional(&self.pool).await?;
                    row.as_ref().map(import_from).transpose()
                }

                async fn find_import(&self, id: i64) -> Result<Option<Import>> {
                    let sql = sqlx::AssertSqlSafe(format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1"));
                    let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
                    row.as_ref().map(import_from).transpose()
                }

                async fn list_imports(&self, account: AccountId, limit: i64) -> Result<Vec<Import>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT {IMPORT_COLUMNS} FROM imports WHERE account_id = $1 ORDER BY id DESC LIMIT $2"
                    ));
                    let rows = sqlx::query(sql).bind(account.get()).bind(limit).fetch_all(&self.pool).await?;
                    rows.iter().map(import_from).collect()
                }

                async fn imports_in_review(&self, limit: i64) -> Result<Vec<Import>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT {IMPORT_COLUMNS} FROM imports WHERE review = 'pending' AND status <> 'failed' ORDER BY id LIMIT $1"
                    ));
                    let rows = sqlx::query(sql).bind(limit).fetch_all(&self.pool).await?;
                    rows.iter().map(import_from).collect()
                }

                async fn claim_import(&self, now: i64, lease_ms: i64) -> Result<Option<Import>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "UPDATE imports SET lease_until = $1, started_at = COALESCE(started_at, $2), updated_at = $2
                         WHERE id = (SELECT id FROM imports WHERE processed = 0 AND status IN ('running', 'pending_review')
                                     AND lease_until < $2 ORDER BY id LIMIT 1{})
                         RETURNING {IMPORT_COLUMNS}",
                        <$ty>::SKIP_LOCKED
                    ));
                    let mut tx = self.begin_write().await?;
                    let row = sqlx::query(sql).bind(now + lease_ms).bind(now).fetch_optional(&mut *tx).await?;
                    tx.commit().await?;
                    row.as_ref().map(import_from).transpose()
                }

                async fn renew_import_lease(&self, id: i64, until: i64) -> Result<()> {
                    sqlx::query("UPDATE imports SET lease_until = $1 WHERE id = $2").bind(until).bind(id).execute(self.writer()).await?;
                    Ok(())
                }

                async fn apply_import_batch(&self, import: &Import, batch: &ImportBatch) -> Result<BatchCounts> {
                    let now = now_ms();
                    let account = import.account_id.get();
                    let mut tx = self.begin_write().await?;
                    // Where this batch starts must be where the import stands,
                    // or another worker got here first.
                    let at: Option<i64> = sqlx::query_scalar("SELECT byte_offset FROM imports WHERE id = $1 AND processed = 0")
                        .bind(import.id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if at != Some(import.byte_offset) {
                        return Err(StoreError::Conflict(format!("import {} moved on meanwhile", import.id)));
                    }
                    let mut rejections: Vec<(i64, String, String)> =
                        batch.rejections.iter().map(|r| (r.line, r.address.clone(), r.reason.clone())).collect();
                    let risky = batch.rejections.iter().filter(|r| r.risky).count() as i64;

                    // 1. Suppressed addresses are skipped, never re-added. Most
                    // accounts importing have none: one look saves a lookup per row.
                    let any_suppressed = sqlx::query_scalar::<_, i64>("SELECT account_id FROM suppressions WHERE account_id = $1 LIMIT 1")
                        .bind(account)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                    let mut suppressed = HashSet::new();
                    for chunk in batch.rows.chunks(CHUNK).filter(|_| any_suppressed) {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "SELECT address_hash FROM suppressions WHERE account_id = {} AND address_hash IN ({})",
                            param(P, 1),
                            list(P, 2, chunk.len())
                        ));
                        let mut q = sqlx::query_scalar::<_, String>(sql).bind(account);
                        for r in chunk {
                            q = q.bind(&r.hash);
                        }
                        suppressed.extend(q.fetch_all(&mut *tx).await?);
                    }
                    let rows: Vec<&ImportRow> = batch
                        .rows
                        .iter()
                        .filter(|r| {
                            let skip = suppressed.contains(&r.hash);
                            if skip {
                                rejections.push((r.line, r.email.clone(), "suppressed".into()));
                            }
                            !skip
                        })
                        .collect();

                    let mut counts = BatchCounts::default();
                    // 2. New contacts; existing ones are found and merged.
                    //
                    // A batch of distinct addresses that share their consent
                    // takes a shorter way: new contacts and their subscriptions
                    // are written together (see `insert_new_contacts`). Only rows
                    // that met an existing contact continue below, which then
                    // skips contacts created here.
                    let (rows, created_above) = if shares_consent(&rows) {
                        let (before, imported, rest) = insert_new_contacts(&mut tx, import, &rows, now).await?;
                        counts.imported += imported;
                        (rest, Some(before))
                    } else {
                        (rows, None)
                    };
                    let created_here = |id: i64| created_above.is_some_and(|before| id > before);
                    let mut ids: HashMap<String, i64> = HashMap::with_capacity(rows.len());
                    for chunk in rows.chunks(CHUNK).filter(|_| created_above.is_none()) {
                        let sql = format!("{} RETURNING id, email_norm", insert_contacts_sql(chunk.len()));
                        let q = bind_contacts(sqlx::query(sqlx::AssertSqlSafe(sql)), chunk, import, now);
                        for row in q.fetch_all(&mut *tx).await? {
                            ids.insert(row.try_get("email_norm")?, row.try_get("id")?);
                        }
                    }
                    let existing: Vec<&&ImportRow> = rows.iter().filter(|r| !ids.contains_key(&r.email_norm)).collect();
                    for chunk in existing.chunks(CHUNK) {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "SELECT id, email_norm, attributes FROM contacts WHERE account_id = {} AND email_norm IN ({})",
                            param(P, 1),
                            list(P, 2, chunk.len())
                        ));
                        let mut q = sqlx::query(sql).bind(account);
                        for r in chunk {
                            q = q.bind(&r.email_norm);
                        }
                        let found = q.fetch_all(&mut *tx).await?;
                        let by_norm: HashMap<&str, &ImportRow> = chunk.iter().map(|r| (r.email_norm.as_str(), **r as &ImportRow)).collect();
                        for row in found {
                            let id: i64 = row.try_get("id")?;
                            let norm: String = row.try_get("email_norm")?;
                            if let Some(r) = by_norm.get(norm.as_str())
                                && r.attributes != "{}"
                            {
                                let mut attrs = json_object("contacts.attributes", &row.try_get::<String, _>("attributes")?)?;
                                let before = attrs.clone();
                                for (k, v) in json_object("import row attributes", &r.attributes)? {
                                    attrs.insert(k, v);
                                }
                                if attrs != before {
                                    sqlx::query("UPDATE contacts SET attributes = $1, updated_at = $2 WHERE id = $3")
                                        .bind(serde_json::Value::Object(attrs).to_string())
                                        .bind(now)
                                        .bind(id)
                                        .execute(&mut *tx)
                                        .await?;
                                }
                            }
                            ids.insert(norm, id);
                        }
                    }

                    // 3. Subscriptions: new ones are created confirmed with the
                    // declared consent; nothing is ever downgraded.
                    let mut status: HashMap<i64, SubscriptionStatus> = HashMap::new();
                    // Contacts created just now have no subscriptions: only the
                    // others need a look.
                    let existing_ids: Vec<i64> =
                        existing.iter().filter_map(|r| ids.get(&r.email_norm).copied()).filter(|id| !created_here(*id)).collect();
                    for chunk in existing_ids.chunks(CHUNK) {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "SELECT contact_id, status FROM subscriptions WHERE contact_id IN ({}) AND list_id = {} AND account_id = {}",
                            list(P, 1, chunk.len()),
                            param(P, chunk.len() + 1),
                            param(P, chunk.len() + 2),
                        ));
                        let mut q = sqlx::query(sql);
                        for id in chunk {
                            q = q.bind(id);
                        }
                        q = q.bind(import.list_id.get()).bind(account);
                        for row in q.fetch_all(&mut *tx).await? {
                            status.insert(row.try_get("contact_id")?, subscription_status(&row.try_get::<String, _>("status")?)?);
                        }
                    }
                    let mut inserts: Vec<(i64, &ImportRow)> = Vec::new();
                    for r in &rows {
                        let Some(&contact) = ids.get(&r.email_norm) else {
                            rejections.push((r.line, r.email.clone(), "conflict".into()));
                            continue;
                        };
                        if created_here(contact) {
                            // Counted with its subscription above.
                            continue;
                        }
                        match status.get(&contact).copied() {
                            None => {
                                // A later row with the same contact (same
                                // address spelled differently) counts once.
                                status.insert(contact, SubscriptionStatus::Confirmed);
                                inserts.push((contact, r));
                            }
                            Some(current) => match current.apply(SubscriptionEvent::Confirmed) {
                                Ok(Transition::To(next)) => {
                                    let evidence = evidence_of(import.id, r);
                                    sqlx::query(
                                        "UPDATE subscriptions SET status = $1, origin = $2, evidence = $3, import_id = $4, updated_at = $5, category = $10
                                         WHERE account_id = $6 AND contact_id = $7 AND list_id = $8 AND status = $9",
                                    )
                                    .bind(next.as_str())
                                    .bind(&r.origin)
                                    .bind(evidence.to_string())
                                    .bind(import.id)
                                    .bind(now)
                                    .bind(account)
                                    .bind(contact)
                                    .bind(import.list_id.get())
                                    .bind(current.as_str())
                                    .bind(import.origin.as_deref().and_then(|o| category_of(o, &import.evidence)).or_else(|| category_of(&r.origin, &r.evidence)))
                                    .execute(&mut *tx)
                                    .await?;
                                    status.insert(contact, next);
                                    counts.imported += 1;
                                }
                                Ok(Transition::Unchanged) => counts.merged += 1,
                                Err(_) => rejections.push((r.line, r.email.clone(), current.as_str().into())),
                            },
                        }
                    }
                    // Rows without evidence of their own (file-level consent)
                    // share one evidence text.
                    let shared_evidence = serde_json::json!({"import": import.id}).to_string();
                    // A file-level purchase declaration names the category once.
                    let category = import.origin.as_deref().and_then(|o| category_of(o, &import.evidence));
                    for chunk in inserts.chunks(CHUNK) {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "INSERT INTO subscriptions (account_id, contact_id, list_id, status, origin, evidence, created_at, updated_at, import_id, category)
                             VALUES {} ON CONFLICT (contact_id, list_id) DO NOTHING",
                            values(P, 1, chunk.len(), 10)
                        ));
                        let mut q = sqlx::query(sql);
                        for (contact, r) in chunk {
                            q = q
                                .bind(account)
                                .bind(*contact)
                                .bind(import.list_id.get())
                                .bind("confirmed")
                                .bind(&r.origin)
                                .bind(if r.evidence.as_object().is_none_or(|m| m.is_empty()) {
                                    shared_evidence.clone()
                                } else {
                                    evidence_of(import.id, r).to_string()
                                })
                                .bind(now)
                                .bind(now)
                                .bind(import.id)
                                .bind(category.clone().or_else(|| category_of(&r.origin, &r.evidence)));
                        }
                        counts.imported += q.execute(&mut *tx).await?.rows_affected() as i64;
                    }

                    // 4. The report.
                    for chunk in rejections.chunks(CHUNK) {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "INSERT INTO import_rejections (import_id, line, address, reason) VALUES {} ON CONFLICT (import_id, line) DO NOTHING",
                            values(P, 1, chunk.len(), 4)
                        ));
                        let mut q = sqlx::query(sql);
                        for (line, address, reason) in chunk {
                            q = q.bind(import.id).bind(*line).bind(address.chars().take(320).collect::<String>()).bind(reason);
                        }
                        q.execute(&mut *tx).await?;
                    }
                    counts.rejected = rejections.len() as i64;

                    // 5. Progress, in the same transaction as the rows.
                    sqlx::query(
                        "UPDATE imports SET byte_offset = $1, line = $2, rows_done = rows_done + $3, imported = imported + $4,
                             merged = merged + $5, rejected = rejected + $6, risky = risky + $7, updated_at = $8
                         WHERE id = $9",
                    )
                    .bind(batch.byte_offset)
                    .bind(batch.line)
                    .bind((batch.rows.len() + batch.rejections.len()) as i64)
                    .bind(counts.imported)
                    .bind(counts.merged)
                    .bind(counts.rejected)
                    .bind(risky)
                    .bind(now)
                    .bind(import.id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(counts)
                }

                async fn finish_import(&self, id: i64, status: &str, review: &str, review_reason: Option<&str>) -> Result<()> {
                    self.after_bulk_write().await?;
                    let now = now_ms();
                    sqlx::query(
                        "UPDATE imports SET processed = 1, status = $1, review = $2, review_reason = COALESCE($3, review_reason),
                             finished_at = $4, updated_at = $4, lease_until = 0
                         WHERE id = $5 AND status <> 'rejected'",
                    )
                    .bind(status)
                    .bind(review)
                    .bind(review_reason)
                    .bind(now)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn fail_import(&self, id: i64, error: &str) -> Result<()> {
                    let now = now_ms();
                    sqlx::query(
                        "UPDATE imports SET processed = 1, status = 'failed', error = $1, finished_at = $2, updated_at = $2, lease_until = 0
                         WHERE id = $3 AND status <> 'rejected'",
                    )
                    .bind(error.chars().take(2000).collect::<String>())
                    .bind(now)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn decide_import(&self, id: i64, approve: bool, reason: &str) -> Result<bool> {
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    let row = sqlx::query("SELECT processed, status FROM imports WHERE id = $1 AND review = 'pending'")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some(row) = row else { return Ok(false) };
                    let processed = row.try_get::<i64, _>("processed")? != 0;
                    let (review, status) = match (approve, processed) {
                        (true, true) => ("approved", "completed".to_string()),
                        (true, false) => ("approved", "running".to_string()),
                        (false, _) => ("rejected", "rejected".to_string()),
                    };
                    if !approve {
                        // Remove what the import brought: its subscriptions, and
                        // the contacts it created (unless they have consent
                        // events of their own by now — those stay as proof,
                        // without personal data).
                        sqlx::query("DELETE FROM subscriptions WHERE import_id = $1").bind(id).execute(&mut *tx).await?;
                        sqlx::query(
                            "DELETE FROM contacts WHERE import_id = $1
                               AND NOT EXISTS (SELECT 1 FROM consent_events e WHERE e.contact_id = contacts.id)
                               AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = contacts.id)
                               AND NOT EXISTS (SELECT 1 FROM confirmations c WHERE c.contact_id = contacts.id)",
                        )
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "UPDATE contacts SET email = 'erased-' || id || '@erased.invalid', email_norm = 'erased:' || id,
                                 attributes = '{}', updated_at = $2, address_hash = NULL
                             WHERE import_id = $1 AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = contacts.id)",
                        )
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(
                        "UPDATE imports SET review = $1, status = $2, decision_reason = $3, updated_at = $4,
                             processed = CASE WHEN $5 = 1 THEN 1 ELSE processed END
                         WHERE id = $6",
                    )
                    .bind(review)
                    .bind(&status)
                    .bind(reason)
                    .bind(now)
                    .bind(i64::from(!approve))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn import_rejections(&self, account: AccountId, id: i64, after_line: i64, limit: i64) -> Result<Vec<RejectedRow>> {
                    let rows = sqlx::query(
                        "SELECT r.line, r.address, r.reason FROM import_rejections r JOIN imports i ON i.id = r.import_id
                         WHERE i.account_id = $1 AND r.import_id = $2 AND r.line > $3 ORDER BY r.line LIMIT $4",
                    )
                    .bind(account.get())
                    .bind(id)
                    .bind(after_line)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| Ok(RejectedRow { line: r.try_get("line")?, address: r.try_get("address")?, reason: r.try_get("reason")? }))
                        .collect()
                }
            }

            /// Whether all rows have the same origin and no evidence of
            /// their own (a file-level declaration), and no two the same
            /// address.
            fn shares_consent(rows: &[&ImportRow]) -> bool {
                let Some(first) = rows.first() else { return false };
                let mut norms = HashSet::with_capacity(rows.len());
                rows.iter().all(|r| {
                    r.origin == first.origin
                        && r.evidence.as_object().is_none_or(|m| m.is_empty())
                        && norms.insert(r.email_norm.as_str())
                })
            }

            /// Parameters per row of [`insert_contacts_sql`].
            const CONTACT_COLUMNS: usize = 8;

            /// Inserts `rows` contacts (parameters from 1, bound by
            /// [`bind_contacts`]); addresses the account has are left alone.
            fn insert_contacts_sql(rows: usize) -> String {
                format!(
                    "INSERT INTO contacts (account_id, email, email_norm, attributes, created_at, updated_at, import_id, address_hash)
                     VALUES {} ON CONFLICT (account_id, email_norm) DO NOTHING",
                    values(P, 1, rows, CONTACT_COLUMNS)
                )
            }

            fn bind_contacts<'q>(
                mut q: sqlx::query::Query<'q, <$ty as crate::repo::HasDb>::Db, <<$ty as crate::repo::HasDb>::Db as sqlx::Database>::Arguments>,
                chunk: &[&'q ImportRow],
                import: &Import,
                now: i64,
            ) -> sqlx::query::Query<'q, <$ty as crate::repo::HasDb>::Db, <<$ty as crate::repo::HasDb>::Db as sqlx::Database>::Arguments> {
                for r in chunk {
                    q = q
                        .bind(import.account_id.get())
                        .bind(&r.email)
                        .bind(&r.email_norm)
                        .bind(&r.attributes)
                        .bind(now)
                        .bind(now)
                        .bind(import.id)
                        .bind(&r.hash);
                }
                q
            }

            /// The shorter way of step 2 (see there): inserts the contacts
            /// that are new with confirmed subscriptions for them. Returns
            /// the contact id above which every contact was created here, the
            /// subscriptions made and the rows whose address already existed
            /// (or, on SQLite, all rows of statements where one did).
            async fn insert_new_contacts<'r>(
                tx: &mut sqlx::Transaction<'static, <$ty as crate::repo::HasDb>::Db>,
                import: &Import,
                rows: &[&'r ImportRow],
                now: i64,
            ) -> Result<(i64, i64, Vec<&'r ImportRow>)> {
                let account = import.account_id.get();
                let Some(first) = rows.first() else { return Ok((i64::MAX, 0, Vec::new())) };
                let category = import
                    .origin
                    .as_deref()
                    .and_then(|o| category_of(o, &import.evidence))
                    .or_else(|| category_of(&first.origin, &first.evidence));
                let evidence = serde_json::json!({"import": import.id}).to_string();
                // With one writer, ids tell what was created: the write lock
                // is held, nobody else adds contacts meanwhile, and ids only
                // grow. Otherwise each statement returns what it created.
                let before: i64 = if <$ty>::SINGLE_WRITER {
                    sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM contacts").fetch_one(&mut **tx).await?
                } else {
                    i64::MAX
                };
                let mut rest = Vec::new();
                let mut made = 0;
                for chunk in rows.chunks(CHUNK) {
                    let contacts = insert_contacts_sql(chunk.len());
                    let n = chunk.len() * CONTACT_COLUMNS;
                    let sql = if <$ty>::SINGLE_WRITER {
                        contacts
                    } else {
                        format!(
                            "WITH new AS ({contacts} RETURNING id, account_id, email_norm),
                                  subs AS (INSERT INTO subscriptions (account_id, contact_id, list_id, status, origin, evidence,
                                               created_at, updated_at, import_id, category)
                                           SELECT account_id, id, {}, 'confirmed', {}, {}, {}, {}, {}, {} FROM new
                                           ON CONFLICT (contact_id, list_id) DO NOTHING)
                             SELECT email_norm FROM new",
                            param(P, n + 1),
                            param(P, n + 2),
                            param(P, n + 3),
                            param(P, n + 4),
                            param(P, n + 5),
                            param(P, n + 6),
                            param(P, n + 7),
                        )
                    };
                    let mut q = bind_contacts(sqlx::query(sqlx::AssertSqlSafe(sql)), chunk, import, now);
                    if <$ty>::SINGLE_WRITER {
                        if (q.execute(&mut **tx).await?.rows_affected() as usize) < chunk.len() {
                            rest.extend_from_slice(chunk);
                        }
                    } else {
                        q = q.bind(import.list_id.get()).bind(&first.origin).bind(&evidence).bind(now).bind(now).bind(import.id).bind(&category);
                        let created: HashSet<String> =
                            q.fetch_all(&mut **tx).await?.iter().map(|row| row.try_get("email_norm")).collect::<Result<_, _>>()?;
                        made += created.len() as i64;
                        rest.extend(chunk.iter().filter(|r| !created.contains(&r.email_norm)));
                    }
                }
                if <$ty>::SINGLE_WRITER {
                    // `+account_id`: a range of ids, not a walk through the
                    // account's address index (which SQLite would pick otherwise).
                    made = sqlx::query(
                        "INSERT INTO subscriptions (account_id, contact_id, list_id, status, origin, evidence, created_at, updated_at, import_id, category)
                         SELECT account_id, id, $1, 'confirmed', $2, $3, $4, $4, $5, $6 FROM contacts WHERE id > $7 AND +account_id = $8
                         ON CONFLICT (contact_id, list_id) DO NOTHING",
                    )
                    .bind(import.list_id.get())
                    .bind(&first.origin)
                    .bind(&evidence)
                    .bind(now)
                    .bind(import.id)
                    .bind(&category)
                    .bind(before)
                    .bind(account)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected() as i64;
                }
                Ok((before, made, rest))
            }

            /// Row evidence plus a pointer to the import that holds the
            /// file-level declaration.
            fn evidence_of(import: i64, r: &ImportRow) -> serde_json::Value {
                let mut e = match &r.evidence {
                    serde_json::Value::Object(m) => m.clone(),
                    _ => serde_json::Map::new(),
                };
                e.insert("import".into(), serde_json::Value::from(import));
                serde_json::Value::Object(e)
            }
        }
    };
}

pub(crate) use impl_imports;
