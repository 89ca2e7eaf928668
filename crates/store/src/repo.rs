//! The queries, written once for both backends. `impl_store!` expands to the
//! `Store` implementation for a backend type that has a `pool` field, a
//! `BACKEND` constant and a `run_migrations` method.

use assent_domain::{AccountStatus, SubscriptionStatus, SuppressionReason, UserRole};

use crate::{Result, StoreError};

pub(crate) fn account_status(s: &str) -> Result<AccountStatus> {
    AccountStatus::parse(s).ok_or_else(|| corrupt("accounts.status", s))
}

pub(crate) fn user_role(s: &str) -> Result<UserRole> {
    UserRole::parse(s).ok_or_else(|| corrupt("role", s))
}

pub(crate) fn subscription_status(s: &str) -> Result<SubscriptionStatus> {
    SubscriptionStatus::parse(s).ok_or_else(|| corrupt("subscriptions.status", s))
}

pub(crate) fn suppression_reason(s: &str) -> Result<SuppressionReason> {
    SuppressionReason::parse(s).ok_or_else(|| corrupt("suppressions.reason", s))
}

/// The product category a purchase-origin consent is limited to.
pub(crate) fn category_of(origin: &str, evidence: &serde_json::Value) -> Option<String> {
    (origin == "purchase")
        .then(|| evidence.get("product_category").and_then(serde_json::Value::as_str).map(|c| c.trim().to_lowercase()))
        .flatten()
}

pub(crate) fn json_value(column: &'static str, s: &str) -> Result<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| corrupt(column, &e.to_string()))
}

pub(crate) fn json_object(column: &'static str, s: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    serde_json::from_str(s).map_err(|e| corrupt(column, &e.to_string()))
}

fn corrupt(column: &'static str, detail: &str) -> StoreError {
    StoreError::Corrupt { column, detail: detail.to_string() }
}

macro_rules! impl_store {
    ($ty:ident) => {
        mod store_impl {
            use assent_domain::{
                AccountId, AccountStatus, ContactId, EmailAddress, Imprint, ImprintDraft, ListId,
                OperatorId, SuppressionHash, SuppressionReason, TokenId, UserId, UserRole,
            };
            use async_trait::async_trait;
            use sqlx::Row;

            use super::$ty;
            use crate::repo::{
                account_status, category_of, json_object, json_value, subscription_status, suppression_reason, user_role,
            };
            use crate::*;

            const ACCOUNT_COLUMNS: &str = "id, name, owner_email, status, status_reason, created_at, updated_at";

            fn account_from<R: Row>(row: &R) -> Result<Account>
            where
                for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'a> &'a str: sqlx::ColumnIndex<R>,
            {
                Ok(Account {
                    id: AccountId(row.try_get("id")?),
                    name: row.try_get("name")?,
                    owner_email: row.try_get("owner_email")?,
                    status: account_status(&row.try_get::<String, _>("status")?)?,
                    status_reason: row.try_get("status_reason")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn list_from<R: Row>(row: &R) -> Result<List>
            where
                for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'a> &'a str: sqlx::ColumnIndex<R>,
            {
                Ok(List {
                    id: ListId(row.try_get("id")?),
                    account_id: AccountId(row.try_get("account_id")?),
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn contact_from<R: Row>(row: &R) -> Result<Contact>
            where
                for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'a> &'a str: sqlx::ColumnIndex<R>,
            {
                Ok(Contact {
                    id: ContactId(row.try_get("id")?),
                    account_id: AccountId(row.try_get("account_id")?),
                    email: row.try_get("email")?,
                    attributes: json_object("contacts.attributes", &row.try_get::<String, _>("attributes")?)?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn token_from<R: Row>(row: &R) -> Result<TokenRecord>
            where
                for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
                for<'a> &'a str: sqlx::ColumnIndex<R>,
            {
                let operator: Option<i64> = row.try_get("operator_id")?;
                let account: Option<i64> = row.try_get("account_id")?;
                let user: Option<i64> = row.try_get("user_id")?;
                let owner = match (operator, account) {
                    (Some(op), None) => TokenOwner::Operator(OperatorId(op)),
                    (None, Some(acc)) => TokenOwner::Account { account: AccountId(acc), user: user.map(UserId) },
                    _ => {
                        return Err(StoreError::Corrupt {
                            column: "api_tokens.owner",
                            detail: "token has neither or both of operator and account".into(),
                        });
                    }
                };
                Ok(TokenRecord {
                    id: TokenId(row.try_get("id")?),
                    owner,
                    role: user_role(&row.try_get::<String, _>("role")?)?,
                    name: row.try_get("name")?,
                    created_at: row.try_get("created_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            }

            fn draft_of(i: &Imprint) -> ImprintDraft {
                ImprintDraft {
                    name: Some(i.name.clone()),
                    legal_form: Some(i.legal_form.clone()),
                    representative: Some(i.representative.clone()),
                    street: Some(i.street.clone()),
                    postal_code: Some(i.postal_code.clone()),
                    city: Some(i.city.clone()),
                    country: Some(i.country.clone()),
                    email: Some(i.email.clone()),
                    phone: Some(i.phone.clone()),
                    register_court: Some(i.register_court.clone().unwrap_or_else(|| "none".into())),
                    register_number: Some(i.register_number.clone().unwrap_or_else(|| "none".into())),
                    vat_id: Some(i.vat_id.clone().unwrap_or_else(|| "none".into())),
                }
            }

            #[async_trait]
            impl Store for $ty {
                fn backend(&self) -> Backend {
                    <$ty>::BACKEND
                }

                async fn migrate(&self) -> Result<()> {
                    self.run_migrations().await
                }

                async fn ping(&self) -> Result<()> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }

                async fn setting_or_init(&self, key: &str, initial: &str) -> Result<String> {
                    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                        .bind(key)
                        .bind(initial)
                        .execute(self.writer())
                        .await?;
                    Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_one(&self.pool).await?)
                }

                async fn operator_count(&self) -> Result<i64> {
                    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM operators").fetch_one(&self.pool).await?)
                }

                async fn create_operator(&self, email: &str, password_hash: Option<&str>) -> Result<OperatorId> {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO operators (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
                    )
                    .bind(email)
                    .bind(password_hash)
                    .bind(now_ms())
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(OperatorId(id))
                }

                async fn find_operator(&self, email: &str) -> Result<Option<Operator>> {
                    let row = sqlx::query("SELECT id, email, password_hash, created_at FROM operators WHERE email = $1")
                        .bind(email)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(|r| {
                        Ok(Operator {
                            id: OperatorId(r.try_get("id")?),
                            email: r.try_get("email")?,
                            password_hash: r.try_get("password_hash")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .transpose()
                }

                async fn create_token(&self, new: &NewToken) -> Result<TokenId> {
                    let (operator, account, user) = match new.owner {
                        TokenOwner::Operator(op) => (Some(op.get()), None, None),
                        TokenOwner::Account { account, user } => (None, Some(account.get()), user.map(UserId::get)),
                    };
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO api_tokens (operator_id, account_id, user_id, role, name, token_hash, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    )
                    .bind(operator)
                    .bind(account)
                    .bind(user)
                    .bind(new.role.as_str())
                    .bind(&new.name)
                    .bind(&new.token_hash)
                    .bind(now_ms())
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(TokenId(id))
                }

                async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
                    let row = sqlx::query(
                        "SELECT id, operator_id, account_id, user_id, role, name, created_at, revoked_at
                         FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
                    )
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(token_from).transpose()
                }

                async fn list_tokens(&self, account: AccountId) -> Result<Vec<TokenRecord>> {
                    let rows = sqlx::query(
                        "SELECT id, operator_id, account_id, user_id, role, name, created_at, revoked_at
                         FROM api_tokens WHERE account_id = $1 ORDER BY id",
                    )
                    .bind(account.get())
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(token_from).collect()
                }

                async fn revoke_token(&self, account: AccountId, id: TokenId) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND id = $3 AND revoked_at IS NULL",
                    )
                    .bind(now_ms())
                    .bind(account.get())
                    .bind(id.get())
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn create_account(&self, name: &str, owner_email: &EmailAddress) -> Result<(Account, UserId)> {
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    let row = sqlx::query(
                        "INSERT INTO accounts (name, owner_email, status, created_at, updated_at)
                         VALUES ($1, $2, 'pending_audit', $3, $3) RETURNING id, name, owner_email, status, status_reason, created_at, updated_at",
                    )
                    .bind(name)
                    .bind(owner_email.as_str())
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    let account = account_from(&row)?;
                    let user: i64 = sqlx::query_scalar(
                        "INSERT INTO users (account_id, email, role, created_at) VALUES ($1, $2, 'owner', $3) RETURNING id",
                    )
                    .bind(account.id.get())
                    .bind(owner_email.normalized())
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok((account, UserId(user)))
                }

                async fn get_account(&self, id: AccountId) -> Result<Option<Account>> {
                    let sql = sqlx::AssertSqlSafe(format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"));
                    let row = sqlx::query(sql).bind(id.get()).fetch_optional(&self.pool).await?;
                    row.as_ref().map(account_from).transpose()
                }

                async fn list_accounts(&self) -> Result<Vec<Account>> {
                    let sql = sqlx::AssertSqlSafe(format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"));
                    let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
                    rows.iter().map(account_from).collect()
                }

                async fn transition_account(
                    &self,
                    id: AccountId,
                    from: AccountStatus,
                    to: AccountStatus,
                    reason: Option<&str>,
                    audit: &NewAuditEntry,
                ) -> Result<bool> {
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query(
                        "UPDATE accounts SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4 AND status = $5",
                    )
                    .bind(to.as_str())
                    .bind(reason)
                    .bind(now)
                    .bind(id.get())
                    .bind(from.as_str())
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                    insert_audit(&mut *tx, audit, now).await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn submit_audit(&self, id: AccountId, audit: &AuditSubmission) -> Result<()> {
                    let now = now_ms();
                    let i = &audit.imprint;
                    let draft = serde_json::to_string(&draft_of(i)).map_err(|e| StoreError::Corrupt {
                        column: "account_audits.imprint",
                        detail: e.to_string(),
                    })?;
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "INSERT INTO account_audits (account_id, website, list_origins, consent_collection,
                             expected_monthly_volume, imprint, submitted_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(id.get())
                    .bind(&audit.website)
                    .bind(&audit.list_origins)
                    .bind(&audit.consent_collection)
                    .bind(audit.expected_monthly_volume)
                    .bind(&draft)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO imprints (account_id, name, legal_form, representative, street, postal_code, city,
                             country, email, phone, register_court, register_number, vat_id, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                         ON CONFLICT (account_id) DO UPDATE SET name = excluded.name, legal_form = excluded.legal_form,
                             representative = excluded.representative, street = excluded.street,
                             postal_code = excluded.postal_code, city = excluded.city, country = excluded.country,
                             email = excluded.email, phone = excluded.phone, register_court = excluded.register_court,
                             register_number = excluded.register_number, vat_id = excluded.vat_id,
                             updated_at = excluded.updated_at",
                    )
                    .bind(id.get())
                    .bind(&i.name)
                    .bind(&i.legal_form)
                    .bind(&i.representative)
                    .bind(&i.street)
                    .bind(&i.postal_code)
                    .bind(&i.city)
                    .bind(&i.country)
                    .bind(&i.email)
                    .bind(&i.phone)
                    .bind(&i.register_court)
                    .bind(&i.register_number)
                    .bind(&i.vat_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn get_imprint(&self, id: AccountId) -> Result<Option<Imprint>> {
                    let row = sqlx::query(
                        "SELECT name, legal_form, representative, street, postal_code, city, country, email, phone,
                             register_court, register_number, vat_id
                         FROM imprints WHERE account_id = $1",
                    )
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(r) = row else { return Ok(None) };
                    Ok(Some(Imprint {
                        name: r.try_get("name")?,
                        legal_form: r.try_get("legal_form")?,
                        representative: r.try_get("representative")?,
                        street: r.try_get("street")?,
                        postal_code: r.try_get("postal_code")?,
                        city: r.try_get("city")?,
                        country: r.try_get("country")?,
                        email: r.try_get("email")?,
                        phone: r.try_get("phone")?,
                        register_court: r.try_get("register_court")?,
                        register_number: r.try_get("register_number")?,
                        vat_id: r.try_get("vat_id")?,
                    }))
                }

                async fn latest_audit(&self, id: AccountId) -> Result<Option<AuditRecord>> {
                    let row = sqlx::query(
                        "SELECT id, account_id, website, list_origins, consent_collection, expected_monthly_volume,
                             imprint, submitted_at
                         FROM account_audits WHERE account_id = $1 ORDER BY id DESC LIMIT 1",
                    )
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(r) = row else { return Ok(None) };
                    let imprint: String = r.try_get("imprint")?;
                    Ok(Some(AuditRecord {
                        id: r.try_get("id")?,
                        account_id: AccountId(r.try_get("account_id")?),
                        website: r.try_get("website")?,
                        list_origins: r.try_get("list_origins")?,
                        consent_collection: r.try_get("consent_collection")?,
                        expected_monthly_volume: r.try_get("expected_monthly_volume")?,
                        imprint: serde_json::from_str(&imprint).map_err(|e| StoreError::Corrupt {
                            column: "account_audits.imprint",
                            detail: e.to_string(),
                        })?,
                        submitted_at: r.try_get("submitted_at")?,
                    }))
                }

                async fn create_user(
                    &self,
                    account: AccountId,
                    email: &EmailAddress,
                    password_hash: Option<&str>,
                    role: UserRole,
                ) -> Result<UserId> {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO users (account_id, email, password_hash, role, created_at)
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    )
                    .bind(account.get())
                    .bind(email.normalized())
                    .bind(password_hash)
                    .bind(role.as_str())
                    .bind(now_ms())
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(UserId(id))
                }

                async fn list_users(&self, account: AccountId) -> Result<Vec<User>> {
                    let rows = sqlx::query(
                        "SELECT id, account_id, email, role, created_at FROM users WHERE account_id = $1 ORDER BY id",
                    )
                    .bind(account.get())
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(User {
                                id: UserId(r.try_get("id")?),
                                account_id: AccountId(r.try_get("account_id")?),
                                email: r.try_get("email")?,
                                role: user_role(&r.try_get::<String, _>("role")?)?,
                                created_at: r.try_get("created_at")?,
                            })
                        })
                        .collect()
                }

                async fn set_user_password(&self, account: AccountId, user: UserId, password_hash: &str) -> Result<bool> {
                    let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE account_id = $2 AND id = $3")
                        .bind(password_hash)
                        .bind(account.get())
                        .bind(user.get())
                        .execute(self.writer())
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn create_list(&self, account: AccountId, name: &str, description: &str) -> Result<List> {
                    let now = now_ms();
                    let row = sqlx::query(
                        "INSERT INTO lists (account_id, name, description, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $4)
                         RETURNING id, account_id, name, description, created_at, updated_at",
                    )
                    .bind(account.get())
                    .bind(name)
                    .bind(description)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await?;
                    list_from(&row)
                }

                async fn list_lists(&self, account: AccountId) -> Result<Vec<List>> {
                    let rows = sqlx::query(
                        "SELECT id, account_id, name, description, created_at, updated_at
                         FROM lists WHERE account_id = $1 AND deleted_at IS NULL ORDER BY id",
                    )
                    .bind(account.get())
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(list_from).collect()
                }

                async fn get_list(&self, account: AccountId, id: ListId) -> Result<Option<List>> {
                    let row = sqlx::query(
                        "SELECT id, account_id, name, description, created_at, updated_at
                         FROM lists WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
                    )
                    .bind(account.get())
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(list_from).transpose()
                }

                async fn update_list(
                    &self,
                    account: AccountId,
                    id: ListId,
                    name: Option<&str>,
                    description: Option<&str>,
                ) -> Result<Option<List>> {
                    let row = sqlx::query(
                        "UPDATE lists SET name = COALESCE($1, name), description = COALESCE($2, description), updated_at = $3
                         WHERE account_id = $4 AND id = $5 AND deleted_at IS NULL
                         RETURNING id, account_id, name, description, created_at, updated_at",
                    )
                    .bind(name)
                    .bind(description)
                    .bind(now_ms())
                    .bind(account.get())
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(list_from).transpose()
                }

                async fn delete_list(&self, account: AccountId, id: ListId) -> Result<bool> {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query(
                        "UPDATE lists SET deleted_at = $1 WHERE account_id = $2 AND id = $3 AND deleted_at IS NULL",
                    )
                    .bind(now_ms())
                    .bind(account.get())
                    .bind(id.get())
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                    sqlx::query("DELETE FROM subscriptions WHERE account_id = $1 AND list_id = $2")
                        .bind(account.get())
                        .bind(id.get())
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn upsert_contact(
                    &self,
                    account: AccountId,
                    email: &EmailAddress,
                    attributes: &serde_json::Map<String, serde_json::Value>,
                ) -> Result<(Contact, bool)> {
                    let now = now_ms();
                    let norm = email.normalized();
                    let mut tx = self.begin_write().await?;
                    let existing = sqlx::query(
                        "SELECT id, account_id, email, attributes, created_at, updated_at
                         FROM contacts WHERE account_id = $1 AND email_norm = $2",
                    )
                    .bind(account.get())
                    .bind(&norm)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let (contact, created) = match existing {
                        Some(row) => {
                            let mut contact = contact_from(&row)?;
                            if !attributes.is_empty() {
                                for (k, v) in attributes {
                                    contact.attributes.insert(k.clone(), v.clone());
                                }
                                contact.updated_at = now;
                                sqlx::query("UPDATE contacts SET attributes = $1, updated_at = $2 WHERE account_id = $3 AND id = $4")
                                    .bind(serde_json::Value::Object(contact.attributes.clone()).to_string())
                                    .bind(now)
                                    .bind(account.get())
                                    .bind(contact.id.get())
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            (contact, false)
                        }
                        None => {
                            let row = sqlx::query(
                                "INSERT INTO contacts (account_id, email, email_norm, attributes, created_at, updated_at, address_hash)
                                 VALUES ($1, $2, $3, $4, $5, $5, $6)
                                 RETURNING id, account_id, email, attributes, created_at, updated_at",
                            )
                            .bind(account.get())
                            .bind(email.as_str())
                            .bind(&norm)
                            .bind(serde_json::Value::Object(attributes.clone()).to_string())
                            .bind(now)
                            .bind(assent_domain::SuppressionHash::of(email).as_str())
                            .fetch_one(&mut *tx)
                            .await?;
                            (contact_from(&row)?, true)
                        }
                    };
                    tx.commit().await?;
                    Ok((contact, created))
                }

                async fn get_contact(&self, account: AccountId, id: ContactId) -> Result<Option<Contact>> {
                    let row = sqlx::query(
                        "SELECT id, account_id, email, attributes, created_at, updated_at
                         FROM contacts WHERE account_id = $1 AND id = $2",
                    )
                    .bind(account.get())
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(contact_from).transpose()
                }

                async fn find_contact(&self, account: AccountId, email: &EmailAddress) -> Result<Option<Contact>> {
                    let row = sqlx::query(
                        "SELECT id, account_id, email, attributes, created_at, updated_at
                         FROM contacts WHERE account_id = $1 AND email_norm = $2",
                    )
                    .bind(account.get())
                    .bind(email.normalized())
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(contact_from).transpose()
                }

                async fn list_contacts(&self, account: AccountId, after: Option<ContactId>, limit: i64) -> Result<Vec<Contact>> {
                    let rows = sqlx::query(
                        "SELECT id, account_id, email, attributes, created_at, updated_at
                         FROM contacts WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                    )
                    .bind(account.get())
                    .bind(after.map_or(0, ContactId::get))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(contact_from).collect()
                }

                async fn subscriptions(&self, account: AccountId, contact: ContactId) -> Result<Vec<Subscription>> {
                    let rows = sqlx::query(
                        "SELECT contact_id, list_id, status, origin, evidence, created_at, updated_at
                         FROM subscriptions WHERE account_id = $1 AND contact_id = $2 ORDER BY list_id",
                    )
                    .bind(account.get())
                    .bind(contact.get())
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(Subscription {
                                contact_id: ContactId(r.try_get("contact_id")?),
                                list_id: ListId(r.try_get("list_id")?),
                                status: subscription_status(&r.try_get::<String, _>("status")?)?,
                                origin: r.try_get("origin")?,
                                evidence: json_value("subscriptions.evidence", &r.try_get::<String, _>("evidence")?)?,
                                created_at: r.try_get("created_at")?,
                                updated_at: r.try_get("updated_at")?,
                            })
                        })
                        .collect()
                }

                async fn put_subscription(&self, account: AccountId, put: &PutSubscription) -> Result<bool> {
                    let now = now_ms();
                    let evidence = put.evidence.to_string();
                    let done = match put.expected {
                        None => {
                            // The list and contact must be this account's: the
                            // INSERT … SELECT finds nothing to insert otherwise.
                            sqlx::query(
                                "INSERT INTO subscriptions (account_id, contact_id, list_id, status, origin, evidence, created_at, updated_at, category)
                                 SELECT $1, c.id, l.id, $4, $5, $6, $7, $7, $8
                                 FROM contacts c, lists l
                                 WHERE c.account_id = $1 AND c.id = $2 AND l.account_id = $1 AND l.id = $3 AND l.deleted_at IS NULL
                                 ON CONFLICT (contact_id, list_id) DO NOTHING",
                            )
                            .bind(account.get())
                            .bind(put.contact.get())
                            .bind(put.list.get())
                            .bind(put.status.as_str())
                            .bind(&put.origin)
                            .bind(&evidence)
                            .bind(now)
                            .bind(category_of(&put.origin, &put.evidence))
                            .execute(self.writer())
                            .await?
                        }
                        Some(expected) => {
                            sqlx::query(
                                "UPDATE subscriptions SET status = $1, origin = $2, evidence = $3, updated_at = $4, category = $9
                                 WHERE account_id = $5 AND contact_id = $6 AND list_id = $7 AND status = $8",
                            )
                            .bind(put.status.as_str())
                            .bind(&put.origin)
                            .bind(&evidence)
                            .bind(now)
                            .bind(account.get())
                            .bind(put.contact.get())
                            .bind(put.list.get())
                            .bind(expected.as_str())
                            .bind(category_of(&put.origin, &put.evidence))
                            .execute(self.writer())
                            .await?
                        }
                    };
                    Ok(done.rows_affected() == 1)
                }

                async fn append_consent_event(&self, account: AccountId, event: &NewConsentEvent) -> Result<i64> {
                    // Insert through a SELECT on contacts so an event can only
                    // be attached to a contact of this account.
                    let id: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO consent_events (account_id, contact_id, list_id, kind, at, source, ip, user_agent, evidence)
                         SELECT $1, c.id, $3, $4, $5, $6, $7, $8, $9 FROM contacts c WHERE c.account_id = $1 AND c.id = $2
                         RETURNING id",
                    )
                    .bind(account.get())
                    .bind(event.contact.get())
                    .bind(event.list.map(ListId::get))
                    .bind(&event.kind)
                    .bind(now_ms())
                    .bind(&event.source)
                    .bind(&event.ip)
                    .bind(&event.user_agent)
                    .bind(event.evidence.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                    id.ok_or_else(|| StoreError::Conflict(format!("contact {} is not in account {}", event.contact, account)))
                }

                async fn consent_events(&self, account: AccountId, contact: ContactId) -> Result<Vec<ConsentEvent>> {
                    let rows = sqlx::query(
                        "SELECT id, contact_id, list_id, kind, at, source, ip, user_agent, evidence
                         FROM consent_events WHERE account_id = $1 AND contact_id = $2 ORDER BY id",
                    )
                    .bind(account.get())
                    .bind(contact.get())
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(ConsentEvent {
                                id: r.try_get("id")?,
                                contact_id: ContactId(r.try_get("contact_id")?),
                                list_id: r.try_get::<Option<i64>, _>("list_id")?.map(ListId),
                                kind: r.try_get("kind")?,
                                at: r.try_get("at")?,
                                source: r.try_get("source")?,
                                ip: r.try_get("ip")?,
                                user_agent: r.try_get("user_agent")?,
                                evidence: json_value("consent_events.evidence", &r.try_get::<String, _>("evidence")?)?,
                            })
                        })
                        .collect()
                }

                async fn suppress(&self, account: AccountId, hash: &SuppressionHash, reason: SuppressionReason) -> Result<bool> {
                    let done = sqlx::query(
                        "INSERT INTO suppressions (account_id, address_hash, reason, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (account_id, address_hash) DO NOTHING",
                    )
                    .bind(account.get())
                    .bind(hash.as_str())
                    .bind(reason.as_str())
                    .bind(now_ms())
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn suppression(&self, account: AccountId, hash: &SuppressionHash) -> Result<Option<Suppression>> {
                    let row = sqlx::query(
                        "SELECT address_hash, reason, created_at FROM suppressions WHERE account_id = $1 AND address_hash = $2",
                    )
                    .bind(account.get())
                    .bind(hash.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(|r| {
                        Ok(Suppression {
                            address_hash: r.try_get("address_hash")?,
                            reason: suppression_reason(&r.try_get::<String, _>("reason")?)?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .transpose()
                }

                async fn list_suppressions(&self, account: AccountId, limit: i64) -> Result<Vec<Suppression>> {
                    let rows = sqlx::query(
                        "SELECT address_hash, reason, created_at FROM suppressions WHERE account_id = $1
                         ORDER BY created_at DESC, address_hash LIMIT $2",
                    )
                    .bind(account.get())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(Suppression {
                                address_hash: r.try_get("address_hash")?,
                                reason: suppression_reason(&r.try_get::<String, _>("reason")?)?,
                                created_at: r.try_get("created_at")?,
                            })
                        })
                        .collect()
                }

                async fn unsuppress(&self, account: AccountId, hash: &SuppressionHash) -> Result<bool> {
                    let done = sqlx::query("DELETE FROM suppressions WHERE account_id = $1 AND address_hash = $2")
                        .bind(account.get())
                        .bind(hash.as_str())
                        .execute(self.writer())
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn record_action(&self, entry: &NewAuditEntry) -> Result<()> {
                    insert_audit(&self.pool, entry, now_ms()).await
                }

                async fn audit_log(&self, account: Option<AccountId>, limit: i64) -> Result<Vec<AuditEntry>> {
                    let rows = match account {
                        Some(a) => {
                            sqlx::query(
                                "SELECT id, account_id, actor, action, target, detail, ip, at FROM audit_log
                                 WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
                            )
                            .bind(a.get())
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await?
                        }
                        None => {
                            sqlx::query(
                                "SELECT id, account_id, actor, action, target, detail, ip, at FROM audit_log
                                 WHERE account_id IS NULL ORDER BY id DESC LIMIT $1",
                            )
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await?
                        }
                    };
                    rows.iter()
                        .map(|r| {
                            Ok(AuditEntry {
                                id: r.try_get("id")?,
                                account_id: r.try_get::<Option<i64>, _>("account_id")?.map(AccountId),
                                actor: r.try_get("actor")?,
                                action: r.try_get("action")?,
                                target: r.try_get("target")?,
                                detail: json_value("audit_log.detail", &r.try_get::<String, _>("detail")?)?,
                                ip: r.try_get("ip")?,
                                at: r.try_get("at")?,
                            })
                        })
                        .collect()
                }
            }

            async fn insert_audit<'e, E>(executor: E, entry: &NewAuditEntry, now: i64) -> Result<()>
            where
                E: sqlx::Executor<'e, Database = <$ty as crate::repo::HasDb>::Db>,
            {
                sqlx::query(
                    "INSERT INTO audit_log (account_id, actor, action, target, detail, ip, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(entry.account.map(AccountId::get))
                .bind(&entry.actor)
                .bind(&entry.action)
                .bind(&entry.target)
                .bind(entry.detail.to_string())
                .bind(&entry.ip)
                .bind(now)
                .execute(executor)
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_store;

/// Names the sqlx database type of a backend, for the few helpers that are
/// generic over executors (pool or transaction).
pub(crate) trait HasDb {
    type Db: sqlx::Database;
}

impl HasDb for crate::SqliteStore {
    type Db = sqlx::Sqlite;
}

impl HasDb for crate::PgStore {
    type Db = sqlx::Postgres;
}
