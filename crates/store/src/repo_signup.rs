//! Queries of the double opt-in flow, written once for both backends
//! (see `repo.rs` for the conventions).

use assent_domain::ListId;

use crate::{Result, StoreError};

pub(crate) fn list_ids_json(ids: &[ListId]) -> String {
    serde_json::Value::from(ids.iter().map(|l| l.get()).collect::<Vec<_>>()).to_string()
}

pub(crate) fn parse_list_ids(column: &'static str, s: &str) -> Result<Vec<ListId>> {
    serde_json::from_str::<Vec<i64>>(s)
        .map(|v| v.into_iter().map(ListId).collect())
        .map_err(|e| StoreError::Corrupt { column, detail: e.to_string() })
}

pub(crate) fn parse_strings(column: &'static str, s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt { column, detail: e.to_string() })
}

macro_rules! impl_signups {
    ($ty:ident) => {
        mod signups_impl {
            use assent_domain::{
                AccountId, ContactId, EmailAddress, ListId, SubscriptionStatus, SuppressionHash, SuppressionReason,
            };
            use async_trait::async_trait;
            use serde_json::json;
            use sqlx::Row;

            use super::$ty;
            use crate::repo::{json_object, subscription_status};
            use crate::repo_signup::{list_ids_json, parse_list_ids, parse_strings};
            use crate::signup::{RequestStep, on_request};
            use crate::*;

            const FORM_SELECT: &str = "SELECT f.id, f.public_id, f.account_id, f.name, f.list_ids, f.fields, f.language,
                    f.success_url, f.confirm_url, f.current_version, v.consent_text, f.created_at, f.updated_at
                FROM forms f JOIN form_versions v ON v.form_id = f.id AND v.version = f.current_version";

            fn form_from<R: Row>(r: &R) -> Result<Form>
            where
                for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'a> &'a str: sqlx::ColumnIndex<R>,
            {
                Ok(Form {
                    id: r.try_get("id")?,
                    public_id: r.try_get("public_id")?,
                    account_id: AccountId(r.try_get("account_id")?),
                    name: r.try_get("name")?,
                    list_ids: parse_list_ids("forms.list_ids", &r.try_get::<String, _>("list_ids")?)?,
                    fields: parse_strings("forms.fields", &r.try_get::<String, _>("fields")?)?,
                    language: r.try_get("language")?,
                    success_url: r.try_get("success_url")?,
                    confirm_url: r.try_get("confirm_url")?,
                    version: r.try_get("current_version")?,
                    consent_text: r.try_get("consent_text")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            const CONFIRMATION_SELECT: &str = "SELECT id, account_id, contact_id, form_id, form_version, consent_text,
                    source, language, list_ids, nonce, requested_at, request_ip, user_agent, sent_at, expires_at, used_at
                FROM confirmations";

            fn confirmation_from<R: Row>(r: &R) -> Result<Confirmation>
            where
                for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'a> &'a str: sqlx::ColumnIndex<R>,
            {
                Ok(Confirmation {
                    id: r.try_get("id")?,
                    account_id: AccountId(r.try_get("account_id")?),
                    contact_id: ContactId(r.try_get("contact_id")?),
                    form_id: r.try_get("form_id")?,
                    form_version: r.try_get("form_version")?,
                    consent_text: r.try_get("consent_text")?,
                    source: r.try_get("source")?,
                    language: r.try_get("language")?,
                    list_ids: parse_list_ids("confirmations.list_ids", &r.try_get::<String, _>("list_ids")?)?,
                    nonce: r.try_get("nonce")?,
                    requested_at: r.try_get("requested_at")?,
                    request_ip: r.try_get("request_ip")?,
                    user_agent: r.try_get("user_agent")?,
                    sent_at: r.try_get("sent_at")?,
                    expires_at: r.try_get("expires_at")?,
                    used_at: r.try_get("used_at")?,
                })
            }

            type Tx = sqlx::Transaction<'static, <$ty as crate::repo::HasDb>::Db>;

            // One parameter per column of the event row.
            #[allow(clippy::too_many_arguments)]
            async fn event(
                tx: &mut Tx,
                account: AccountId,
                contact: ContactId,
                list: Option<ListId>,
                kind: &str,
                source: &str,
                ip: Option<&str>,
                user_agent: Option<&str>,
                evidence: &serde_json::Value,
                at: i64,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO consent_events (account_id, contact_id, list_id, kind, at, source, ip, user_agent, evidence)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(account.get())
                .bind(contact.get())
                .bind(list.map(ListId::get))
                .bind(kind)
                .bind(at)
                .bind(source)
                .bind(ip)
                .bind(user_agent)
                .bind(evidence.to_string())
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn subscription_statuses(
                tx: &mut Tx,
                account: AccountId,
                contact: ContactId,
            ) -> Result<Vec<(ListId, SubscriptionStatus)>> {
                let rows = sqlx::query("SELECT list_id, status FROM subscriptions WHERE account_id = $1 AND contact_id = $2")
                    .bind(account.get())
                    .bind(contact.get())
                    .fetch_all(&mut **tx)
                    .await?;
                rows.iter()
                    .map(|r| Ok((ListId(r.try_get("list_id")?), subscription_status(&r.try_get::<String, _>("status")?)?)))
                    .collect()
            }

            #[allow(clippy::too_many_arguments)]
            async fn set_status(
                tx: &mut Tx,
                account: AccountId,
                contact: ContactId,
                list: ListId,
                from: SubscriptionStatus,
                to: SubscriptionStatus,
                evidence: Option<&serde_json::Value>,
                now: i64,
            ) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE subscriptions SET status = $1, updated_at = $2, evidence = COALESCE($3, evidence)
                     WHERE account_id = $4 AND contact_id = $5 AND list_id = $6 AND status = $7",
                )
                .bind(to.as_str())
                .bind(now)
                .bind(evidence.map(|e| e.to_string()))
                .bind(account.get())
                .bind(contact.get())
                .bind(list.get())
                .bind(from.as_str())
                .execute(&mut **tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// Replaces the address and attributes of a contact by a hashed
            /// placeholder, so the row (and the proof pointing at it) stays
            /// while the person's data goes.
            /// The normalised address an erased contact keeps: no address
            /// normalises to it (it has no `@`), and it stays unique.
            fn erased_norm(contact: ContactId) -> String {
                format!("erased:{contact}")
            }

            async fn anonymize(tx: &mut Tx, account: AccountId, contact: ContactId, now: i64) -> Result<()> {
                sqlx::query(
                    "UPDATE contacts SET email = $1, email_norm = $2, attributes = '{}', updated_at = $3, address_hash = NULL
                     WHERE account_id = $4 AND id = $5",
                )
                .bind(format!("erased-{contact}@erased.invalid"))
                .bind(erased_norm(contact))
                .bind(now)
                .bind(account.get())
                .bind(contact.get())
                .execute(&mut **tx)
                .await?;
                sqlx::query("DELETE FROM mail_queue WHERE account_id = $1 AND sent_at IS NULL AND kind = 'confirmation'
                             AND ref_id IN (SELECT id FROM confirmations WHERE account_id = $1 AND contact_id = $2)")
                    .bind(account.get())
                    .bind(contact.get())
                    .execute(&mut **tx)
                    .await?;
                sqlx::query("UPDATE confirmations SET request_ip = NULL, user_agent = NULL, used_at = COALESCE(used_at, $3)
                             WHERE account_id = $1 AND contact_id = $2")
                    .bind(account.get())
                    .bind(contact.get())
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            #[async_trait]
            impl Signups for $ty {
                async fn create_form(&self, account: AccountId, new: &NewForm) -> Result<Form> {
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO forms (public_id, account_id, name, list_ids, fields, language, success_url,
                             confirm_url, current_version, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) RETURNING id",
                    )
                    .bind(&new.public_id)
                    .bind(account.get())
                    .bind(&new.name)
                    .bind(list_ids_json(&new.list_ids))
                    .bind(serde_json::Value::from(new.fields.clone()).to_string())
                    .bind(&new.language)
                    .bind(&new.success_url)
                    .bind(&new.confirm_url)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query("INSERT INTO form_versions (form_id, version, consent_text, created_at) VALUES ($1, 1, $2, $3)")
                        .bind(id)
                        .bind(&new.consent_text)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let sql = sqlx::AssertSqlSafe(format!("{FORM_SELECT} WHERE f.id = $1"));
                    let row = sqlx::query(sql).bind(id).fetch_one(&mut *tx).await?;
                    tx.commit().await?;
                    form_from(&row)
                }

                async fn list_forms(&self, account: AccountId) -> Result<Vec<Form>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "{FORM_SELECT} WHERE f.account_id = $1 AND f.deleted_at IS NULL ORDER BY f.id"
                    ));
                    let rows = sqlx::query(sql).bind(account.get()).fetch_all(&self.pool).await?;
                    rows.iter().map(form_from).collect()
                }

                async fn get_form(&self, account: AccountId, public_id: &str) -> Result<Option<Form>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "{FORM_SELECT} WHERE f.account_id = $1 AND f.public_id = $2 AND f.deleted_at IS NULL"
                    ));
                    let row = sqlx::query(sql).bind(account.get()).bind(public_id).fetch_optional(&self.pool).await?;
                    row.as_ref().map(form_from).transpose()
                }

                async fn find_public_form(&self, public_id: &str) -> Result<Option<Form>> {
                    let sql =
                        sqlx::AssertSqlSafe(format!("{FORM_SELECT} WHERE f.public_id = $1 AND f.deleted_at IS NULL"));
                    let row = sqlx::query(sql).bind(public_id).fetch_optional(&self.pool).await?;
                    row.as_ref().map(form_from).transpose()
                }

                async fn update_form(&self, account: AccountId, public_id: &str, u: &FormUpdate) -> Result<Option<Form>> {
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    let sql = sqlx::AssertSqlSafe(format!(
                        "{FORM_SELECT} WHERE f.account_id = $1 AND f.public_id = $2 AND f.deleted_at IS NULL"
                    ));
                    let Some(row) = sqlx::query(sql).bind(account.get()).bind(public_id).fetch_optional(&mut *tx).await?
                    else {
                        return Ok(None);
                    };
                    let form = form_from(&row)?;
                    let mut version = form.version;
                    if let Some(text) = &u.consent_text
                        && *text != form.consent_text
                    {
                        version += 1;
                        sqlx::query(
                            "INSERT INTO form_versions (form_id, version, consent_text, created_at) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(form.id)
                        .bind(version)
                        .bind(text)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(
                        "UPDATE forms SET name = $1, list_ids = $2, fields = $3, language = $4, success_url = $5,
                             confirm_url = $6, current_version = $7, updated_at = $8
                         WHERE id = $9",
                    )
                    .bind(u.name.as_ref().unwrap_or(&form.name))
                    .bind(list_ids_json(u.list_ids.as_ref().unwrap_or(&form.list_ids)))
                    .bind(serde_json::Value::from(u.fields.clone().unwrap_or(form.fields.clone())).to_string())
                    .bind(u.language.as_ref().unwrap_or(&form.language))
                    .bind(u.success_url.clone().unwrap_or(form.success_url.clone()))
                    .bind(u.confirm_url.clone().unwrap_or(form.confirm_url.clone()))
                    .bind(version)
                    .bind(now)
                    .bind(form.id)
                    .execute(&mut *tx)
                    .await?;
                    let sql = sqlx::AssertSqlSafe(format!("{FORM_SELECT} WHERE f.id = $1"));
                    let row = sqlx::query(sql).bind(form.id).fetch_one(&mut *tx).await?;
                    tx.commit().await?;
                    form_from(&row).map(Some)
                }

                async fn request_double_opt_in(&self, account: AccountId, req: &DoiRequest) -> Result<DoiOutcome> {
                    let now = now_ms();
                    let norm = req.email.normalized();
                    let mut tx = self.begin_write().await?;
                    let existing = sqlx::query("SELECT id, attributes FROM contacts WHERE account_id = $1 AND email_norm = $2")
                        .bind(account.get())
                        .bind(&norm)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let contact = match existing {
                        Some(row) => {
                            let id = ContactId(row.try_get("id")?);
                            if !req.attributes.is_empty() {
                                let mut attrs = json_object("contacts.attributes", &row.try_get::<String, _>("attributes")?)?;
                                // Fill in what is missing; a form must not
                                // overwrite what the account already knows.
                                for (k, v) in &req.attributes {
                                    attrs.entry(k.clone()).or_insert_with(|| v.clone());
                                }
                                sqlx::query("UPDATE contacts SET attributes = $1, updated_at = $2 WHERE id = $3")
                                    .bind(serde_json::Value::Object(attrs).to_string())
                                    .bind(now)
                                    .bind(id.get())
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            id
                        }
                        None => ContactId(
                            sqlx::query_scalar(
                                "INSERT INTO contacts (account_id, email, email_norm, attributes, created_at, updated_at, address_hash)
                                 VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id",
                            )
                            .bind(account.get())
                            .bind(req.email.as_str())
                            .bind(&norm)
                            .bind(serde_json::Value::Object(req.attributes.clone()).to_string())
                            .bind(now)
                            .bind(SuppressionHash::of(&req.email).as_str())
                            .fetch_one(&mut *tx)
                            .await?,
                        ),
                    };
                    let current = subscription_statuses(&mut tx, account, contact).await?;
                    let mut pending = Vec::new();
                    let mut already_confirmed = Vec::new();
                    for &list in &req.lists {
                        let status = current.iter().find(|(l, _)| *l == list).map(|(_, s)| *s);
                        match on_request(status) {
                            RequestStep::Insert => {
                                let inserted = sqlx::query(
                                    "INSERT INTO subscriptions (account_id, contact_id, list_id, status, origin, evidence, created_at, updated_at)
                                     SELECT $1, $2, l.id, 'pending', 'double_opt_in', '{}', $4, $4 FROM lists l
                                     WHERE l.account_id = $1 AND l.id = $3 AND l.deleted_at IS NULL",
                                )
                                .bind(account.get())
                                .bind(contact.get())
                                .bind(list.get())
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                                if inserted.rows_affected() == 1 {
                                    pending.push(list);
                                }
                            }
                            RequestStep::Update(from, to) => {
                                if set_status(&mut tx, account, contact, list, from, to, None, now).await? {
                                    pending.push(list);
                                }
                            }
                            RequestStep::StillPending => pending.push(list),
                            RequestStep::Keep => {
                                if status == Some(SubscriptionStatus::Confirmed) {
                                    already_confirmed.push(list);
                                }
                            }
                        }
                    }
                    let mut queued = None;
                    if !pending.is_empty() {
                        event(
                            &mut tx,
                            account,
                            contact,
                            None,
                            "requested",
                            &req.source,
                            req.ip.as_deref(),
                            req.user_agent.as_deref(),
                            &json!({
                                "form_id": req.form.map(|f| f.0),
                                "form_version": req.form.map(|f| f.1),
                                "consent_text": req.consent_text,
                                "lists": pending.iter().map(|l| l.get()).collect::<Vec<_>>(),
                            }),
                            now,
                        )
                        .await?;
                        let recent: Option<i64> = sqlx::query_scalar(
                            "SELECT MAX(requested_at) FROM confirmations
                             WHERE account_id = $1 AND contact_id = $2 AND used_at IS NULL AND requested_at > $3",
                        )
                        .bind(account.get())
                        .bind(contact.get())
                        .bind(now - req.resend_interval_ms)
                        .fetch_one(&mut *tx)
                        .await?;
                        if recent.is_none() {
                            let id: i64 = sqlx::query_scalar(
                                "INSERT INTO confirmations (account_id, contact_id, form_id, form_version, consent_text, source,
                                     list_ids, nonce, requested_at, request_ip, user_agent, expires_at, language)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
                            )
                            .bind(account.get())
                            .bind(contact.get())
                            .bind(req.form.map(|f| f.0))
                            .bind(req.form.map(|f| f.1))
                            .bind(&req.consent_text)
                            .bind(&req.source)
                            .bind(list_ids_json(&pending))
                            .bind(req.nonce)
                            .bind(now)
                            .bind(&req.ip)
                            .bind(&req.user_agent)
                            .bind(req.expires_at_ms)
                            .bind(&req.language)
                            .fetch_one(&mut *tx)
                            .await?;
                            sqlx::query(
                                "INSERT INTO mail_queue (account_id, kind, ref_id, recipient, created_at, next_attempt_at)
                                 VALUES ($1, 'confirmation', $2, $3, $4, $4)",
                            )
                            .bind(account.get())
                            .bind(id)
                            .bind(req.email.as_str())
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                            queued = Some((id, req.nonce));
                        }
                    }
                    tx.commit().await?;
                    Ok(DoiOutcome { contact, pending, already_confirmed, queued })
                }

                async fn get_confirmation(&self, account: AccountId, id: i64) -> Result<Option<Confirmation>> {
                    let sql = sqlx::AssertSqlSafe(format!("{CONFIRMATION_SELECT} WHERE account_id = $1 AND id = $2"));
                    let row = sqlx::query(sql).bind(account.get()).bind(id).fetch_optional(&self.pool).await?;
                    row.as_ref().map(confirmation_from).transpose()
                }

                async fn confirm(
                    &self,
                    account: AccountId,
                    id: i64,
                    nonce: i64,
                    ip: Option<&str>,
                    user_agent: Option<&str>,
                    now: i64,
                ) -> Result<ConfirmOutcome> {
                    let mut tx = self.begin_write().await?;
                    let sql = sqlx::AssertSqlSafe(format!("{CONFIRMATION_SELECT} WHERE account_id = $1 AND id = $2"));
                    let Some(row) = sqlx::query(sql).bind(account.get()).bind(id).fetch_optional(&mut *tx).await? else {
                        return Ok(ConfirmOutcome::NotFound);
                    };
                    let c = confirmation_from(&row)?;
                    if c.nonce != nonce {
                        return Ok(ConfirmOutcome::NotFound);
                    }
                    if c.used_at.is_some() {
                        return Ok(ConfirmOutcome::AlreadyUsed);
                    }
                    if now > c.expires_at {
                        return Ok(ConfirmOutcome::Expired);
                    }
                    let used = sqlx::query("UPDATE confirmations SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    if used.rows_affected() != 1 {
                        return Ok(ConfirmOutcome::AlreadyUsed);
                    }
                    // The complete double opt-in proof (BGH I ZR 164/09).
                    let proof = json!({
                        "form_id": c.form_id,
                        "form_version": c.form_version,
                        "consent_text": c.consent_text,
                        "source": c.source,
                        "requested_at": c.requested_at,
                        "request_ip": c.request_ip,
                        "request_user_agent": c.user_agent,
                        "confirmation_sent_at": c.sent_at,
                        "confirmed_at": now,
                        "confirm_ip": ip,
                        "confirm_user_agent": user_agent,
                    });
                    let current = subscription_statuses(&mut tx, account, c.contact_id).await?;
                    let mut confirmed_any = false;
                    for list in &c.list_ids {
                        let Some((_, status)) = current.iter().find(|(l, _)| l == list) else { continue };
                        if *status != SubscriptionStatus::Pending {
                            continue;
                        }
                        if set_status(&mut tx, account, c.contact_id, *list, SubscriptionStatus::Pending, SubscriptionStatus::Confirmed, Some(&proof), now).await? {
                            confirmed_any = true;
                            event(&mut tx, account, c.contact_id, Some(*list), "confirmed", &c.source, ip, user_agent, &proof, now)
                                .await?;
                        }
                    }
                    if confirmed_any {
                        // A fresh, proven consent overrides an earlier
                        // unsubscribe or erasure of the same address.
                        let email: String = sqlx::query_scalar("SELECT email FROM contacts WHERE id = $1")
                            .bind(c.contact_id.get())
                            .fetch_one(&mut *tx)
                            .await?;
                        if let Ok(addr) = EmailAddress::parse(&email) {
                            sqlx::query("DELETE FROM suppressions WHERE account_id = $1 AND address_hash = $2 AND reason IN ($3, $4)")
                                .bind(account.get())
                                .bind(SuppressionHash::of(&addr).as_str())
                                .bind(SuppressionReason::Unsubscribed.as_str())
                                .bind(SuppressionReason::Erased.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    tx.commit().await?;
                    Ok(ConfirmOutcome::Confirmed)
                }

                async fn unsubscribe(
                    &self,
                    account: AccountId,
                    contact: ContactId,
                    list: Option<ListId>,
                    source: &str,
                    ip: Option<&str>,
                    user_agent: Option<&str>,
                ) -> Result<UnsubscribeOutcome> {
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    let email: Option<String> = sqlx::query_scalar("SELECT email FROM contacts WHERE account_id = $1 AND id = $2")
                        .bind(account.get())
                        .bind(contact.get())
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some(email) = email else { return Ok(UnsubscribeOutcome::NotFound) };
                    let current = subscription_statuses(&mut tx, account, contact).await?;
                    let mut changed = false;
                    for (l, status) in &current {
                        if list.is_some_and(|want| want != *l) {
                            continue;
                        }
                        if matches!(status, SubscriptionStatus::Pending | SubscriptionStatus::Confirmed)
                            && set_status(&mut tx, account, contact, *l, *status, SubscriptionStatus::Unsubscribed, None, now).await?
                        {
                            changed = true;
                            event(&mut tx, account, contact, Some(*l), "unsubscribed", source, ip, user_agent, &json!({"from": status.as_str()}), now).await?;
                        }
                    }
                    let remaining = subscription_statuses(&mut tx, account, contact)
                        .await?
                        .iter()
                        .any(|(_, s)| matches!(s, SubscriptionStatus::Pending | SubscriptionStatus::Confirmed));
                    if changed && !remaining && let Ok(addr) = EmailAddress::parse(&email) {
                        sqlx::query(
                            "INSERT INTO suppressions (account_id, address_hash, reason, created_at) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (account_id, address_hash) DO NOTHING",
                        )
                        .bind(account.get())
                        .bind(SuppressionHash::of(&addr).as_str())
                        .bind(SuppressionReason::Unsubscribed.as_str())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(if changed { UnsubscribeOutcome::Unsubscribed } else { UnsubscribeOutcome::AlreadyUnsubscribed })
                }

                async fn erase_contact(&self, account: AccountId, contact: ContactId, source: &str, ip: Option<&str>) -> Result<bool> {
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    let row: Option<(String, String)> =
                        sqlx::query_as("SELECT email, email_norm FROM contacts WHERE account_id = $1 AND id = $2")
                            .bind(account.get())
                            .bind(contact.get())
                            .fetch_optional(&mut *tx)
                            .await?;
                    let Some((email, norm)) = row else { return Ok(false) };
                    // Erasing again changes nothing: the proof gets no
                    // second `erased` event.
                    if norm == erased_norm(contact) {
                        return Ok(true);
                    }
                    if let Ok(addr) = EmailAddress::parse(&email) {
                        sqlx::query(
                            "INSERT INTO suppressions (account_id, address_hash, reason, created_at) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (account_id, address_hash) DO NOTHING",
                        )
                        .bind(account.get())
                        .bind(SuppressionHash::of(&addr).as_str())
                        .bind(SuppressionReason::Erased.as_str())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query("UPDATE subscriptions SET status = 'erased', evidence = '{}', updated_at = $1 WHERE account_id = $2 AND contact_id = $3")
                        .bind(now)
                        .bind(account.get())
                        .bind(contact.get())
                        .execute(&mut *tx)
                        .await?;
                    anonymize(&mut tx, account, contact, now).await?;
                    event(&mut tx, account, contact, None, "erased", source, ip, None, &json!({}), now).await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn purge_unconfirmed(&self, cutoff_ms: i64) -> Result<u64> {
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    let rows = sqlx::query(
                        "SELECT account_id, contact_id, list_id FROM subscriptions WHERE status = 'pending' AND updated_at < $1 LIMIT 10000",
                    )
                    .bind(cutoff_ms)
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut contacts: Vec<(AccountId, ContactId)> = Vec::new();
                    for r in &rows {
                        let account = AccountId(r.try_get("account_id")?);
                        let contact = ContactId(r.try_get("contact_id")?);
                        let list = ListId(r.try_get("list_id")?);
                        sqlx::query("DELETE FROM subscriptions WHERE account_id = $1 AND contact_id = $2 AND list_id = $3 AND status = 'pending'")
                            .bind(account.get())
                            .bind(contact.get())
                            .bind(list.get())
                            .execute(&mut *tx)
                            .await?;
                        event(&mut tx, account, contact, Some(list), "expired", "system", None, None, &json!({"reason": "not confirmed in time"}), now).await?;
                        if !contacts.contains(&(account, contact)) {
                            contacts.push((account, contact));
                        }
                    }
                    for (account, contact) in contacts {
                        // Someone who never confirmed anything leaves no
                        // personal data behind.
                        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscriptions WHERE account_id = $1 AND contact_id = $2")
                            .bind(account.get())
                            .bind(contact.get())
                            .fetch_one(&mut *tx)
                            .await?;
                        if left == 0 {
                            anonymize(&mut tx, account, contact, now).await?;
                        }
                    }
                    sqlx::query("UPDATE confirmations SET request_ip = NULL, user_agent = NULL WHERE used_at IS NULL AND expires_at < $1")
                        .bind(cutoff_ms)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(rows.len() as u64)
                }

                async fn claim_mail(&self, now: i64, limit: i64, lease_ms: i64) -> Result<Vec<QueuedMail>> {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "UPDATE mail_queue SET locked_until = $1, attempts = attempts + 1
                         WHERE id IN (SELECT id FROM mail_queue WHERE sent_at IS NULL AND next_attempt_at <= $2
                                      AND locked_until < $2 ORDER BY id LIMIT $3{})
                         RETURNING id, account_id, kind, ref_id, recipient, attempts",
                        <$ty>::SKIP_LOCKED
                    ));
                    let mut tx = self.begin_write().await?;
                    let rows = sqlx::query(sql).bind(now + lease_ms).bind(now).bind(limit).fetch_all(&mut *tx).await?;
                    tx.commit().await?;
                    let mut out = rows
                        .iter()
                        .map(|r| {
                            Ok(QueuedMail {
                                id: r.try_get("id")?,
                                account_id: AccountId(r.try_get("account_id")?),
                                kind: r.try_get("kind")?,
                                ref_id: r.try_get("ref_id")?,
                                recipient: r.try_get("recipient")?,
                                attempts: r.try_get("attempts")?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    out.sort_by_key(|m| m.id);
                    Ok(out)
                }

                async fn mark_mail_sent(&self, mail: &QueuedMail) -> Result<()> {
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    sqlx::query("UPDATE mail_queue SET sent_at = $1, last_error = NULL WHERE id = $2")
                        .bind(now)
                        .bind(mail.id)
                        .execute(&mut *tx)
                        .await?;
                    if mail.kind == "confirmation" {
                        let contact: Option<i64> = sqlx::query_scalar(
                            "UPDATE confirmations SET sent_at = $1 WHERE account_id = $2 AND id = $3 RETURNING contact_id",
                        )
                        .bind(now)
                        .bind(mail.account_id.get())
                        .bind(mail.ref_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if let Some(contact) = contact {
                            event(&mut tx, mail.account_id, ContactId(contact), None, "confirmation_sent", "mail", None, None, &json!({"confirmation": mail.ref_id}), now).await?;
                        }
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn mark_mail_failed(&self, mail: &QueuedMail, error: &str, retry_at: Option<i64>) -> Result<()> {
                    let error: String = error.chars().take(1000).collect();
                    match retry_at {
                        Some(at) => {
                            sqlx::query("UPDATE mail_queue SET last_error = $1, next_attempt_at = $2, locked_until = 0 WHERE id = $3")
                                .bind(&error)
                                .bind(at)
                                .bind(mail.id)
                                .execute(self.writer())
                                .await?
                        }
                        // Given up: marked as done with its error kept.
                        None => {
                            sqlx::query("UPDATE mail_queue SET last_error = $1, sent_at = -1 WHERE id = $2")
                                .bind(&error)
                                .bind(mail.id)
                                .execute(self.writer())
                                .await?
                        }
                    };
                    Ok(())
                }

                async fn queued_mail_count(&self) -> Result<i64> {
                    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM mail_queue WHERE sent_at IS NULL").fetch_one(&self.pool).await?)
                }
            }
        }
    };
}

pub(crate) use impl_signups;
