//! Persistence for Assent. This crate owns the repository trait [`Store`],
//! its two implementations (embedded SQLite, the default, and PostgreSQL,
//! the scale-out store), the per-backend migrations and the queries.
//!
//! Both backends run the same SQL text: parameters are written `$1`, `$2`, …
//! which PostgreSQL and sqlx's SQLite driver both bind by number, times are
//! unix milliseconds in `BIGINT` columns and JSON is `TEXT`. The query code is
//! written once (`repo.rs`) and instantiated for each backend, so the two can
//! only differ where a backend really is different (connection set-up,
//! locking, migrations).
//!
//! Every query that touches tenant data takes an [`AccountId`]: there is no
//! method that reads another account's rows by id alone.

mod campaigns;
mod error;
mod imports;
mod migrate;
mod model;
mod postgres;
mod repo;
mod repo_campaigns;
mod repo_imports;
mod repo_reputation;
mod repo_signup;
mod reputation;
mod signup;
mod sqlite;

use std::sync::Arc;

use assent_domain::{
    AccountId, AccountStatus, ContactId, EmailAddress, Imprint, ListId, OperatorId, SuppressionHash, SuppressionReason,
    TokenId, UserId, UserRole,
};
use async_trait::async_trait;

pub use campaigns::*;
pub use error::StoreError;
pub use imports::*;
pub use model::*;
pub use postgres::PgStore;
pub use reputation::*;
pub use signup::*;
pub use sqlite::SqliteStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Opens the store a database URL names: `sqlite://path` (created when
/// missing) or `postgres://…`. Does not migrate; call [`Store::migrate`].
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Err(StoreError::BadUrl(format!(
            "unsupported database URL {url:?}: use sqlite://FILE or postgres://USER@HOST/DB"
        )))
    }
}

/// The repository. One implementation per backend, one contract test suite
/// for both (`tests/contract.rs`).
#[async_trait]
pub trait Store: Signups + Imports + Campaigns + Reputation + Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Applies the embedded migrations not yet applied. Safe to run from
    /// several processes at once.
    async fn migrate(&self) -> Result<()>;

    /// A cheap round trip, for health checks.
    async fn ping(&self) -> Result<()>;

    /// Returns the setting, storing `initial` first if it has none yet; every
    /// process of the installation then reads the same value.
    async fn setting_or_init(&self, key: &str, initial: &str) -> Result<String>;

    // --- operators -------------------------------------------------------

    async fn operator_count(&self) -> Result<i64>;
    async fn create_operator(&self, email: &str, password_hash: Option<&str>) -> Result<OperatorId>;
    async fn find_operator(&self, email: &str) -> Result<Option<Operator>>;

    // --- API tokens ------------------------------------------------------

    /// Stores a token by its hash; the secret itself is never stored.
    async fn create_token(&self, new: &NewToken) -> Result<TokenId>;
    /// Finds a live (not revoked) token by the hash of its secret.
    async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>>;
    async fn list_tokens(&self, account: AccountId) -> Result<Vec<TokenRecord>>;
    /// Revokes one of the account's tokens; `false` when it has no such live token.
    async fn revoke_token(&self, account: AccountId, id: TokenId) -> Result<bool>;

    // --- accounts ----------------------------------------------------------

    /// Creates an account in `pending_audit` together with its owner user.
    async fn create_account(&self, name: &str, owner_email: &EmailAddress) -> Result<(Account, UserId)>;
    async fn get_account(&self, id: AccountId) -> Result<Option<Account>>;
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    /// Moves the account from `from` to `to` (compare-and-set, so two
    /// operators acting at once cannot both succeed) and records `audit` in
    /// the same transaction. `false` when the account was not in `from`.
    async fn transition_account(
        &self,
        id: AccountId,
        from: AccountStatus,
        to: AccountStatus,
        reason: Option<&str>,
        audit: &NewAuditEntry,
    ) -> Result<bool>;
    /// Stores the audit submission and replaces the imprint, atomically.
    async fn submit_audit(&self, id: AccountId, audit: &AuditSubmission) -> Result<()>;
    async fn get_imprint(&self, id: AccountId) -> Result<Option<Imprint>>;
    async fn latest_audit(&self, id: AccountId) -> Result<Option<AuditRecord>>;

    // --- users ---------------------------------------------------------------

    async fn create_user(
        &self,
        account: AccountId,
        email: &EmailAddress,
        password_hash: Option<&str>,
        role: UserRole,
    ) -> Result<UserId>;
    async fn list_users(&self, account: AccountId) -> Result<Vec<User>>;
    async fn set_user_password(&self, account: AccountId, user: UserId, password_hash: &str) -> Result<bool>;

    // --- lists -----------------------------------------------------------------

    async fn create_list(&self, account: AccountId, name: &str, description: &str) -> Result<List>;
    async fn list_lists(&self, account: AccountId) -> Result<Vec<List>>;
    async fn get_list(&self, account: AccountId, id: ListId) -> Result<Option<List>>;
    async fn update_list(
        &self,
        account: AccountId,
        id: ListId,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<Option<List>>;
    /// Deletes a list. Its subscriptions end with it; the consent events
    /// that mention it stay (they are the proof).
    async fn delete_list(&self, account: AccountId, id: ListId) -> Result<bool>;

    // --- contacts, subscriptions, consent ---------------------------------------

    /// Finds or creates the contact for this address; attributes of an
    /// existing contact are merged (new keys win). `true` when created.
    async fn upsert_contact(
        &self,
        account: AccountId,
        email: &EmailAddress,
        attributes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(Contact, bool)>;
    async fn get_contact(&self, account: AccountId, id: ContactId) -> Result<Option<Contact>>;
    async fn find_contact(&self, account: AccountId, email: &EmailAddress) -> Result<Option<Contact>>;
    /// Contacts in id order after `after`, at most `limit`.
    async fn list_contacts(&self, account: AccountId, after: Option<ContactId>, limit: i64) -> Result<Vec<Contact>>;
    async fn subscriptions(&self, account: AccountId, contact: ContactId) -> Result<Vec<Subscription>>;
    /// Writes a subscription's status. The caller decides the status with
    /// the domain state machine (`SubscriptionStatus::apply`); this only
    /// stores it, with `expected` as compare-and-set (`None`: must not exist yet).
    async fn put_subscription(&self, account: AccountId, put: &PutSubscription) -> Result<bool>;
    async fn append_consent_event(&self, account: AccountId, event: &NewConsentEvent) -> Result<i64>;
    async fn consent_events(&self, account: AccountId, contact: ContactId) -> Result<Vec<ConsentEvent>>;

    // --- suppressions --------------------------------------------------------

    /// Adds the hash to the account's suppression list; `false` if present.
    async fn suppress(&self, account: AccountId, hash: &SuppressionHash, reason: SuppressionReason) -> Result<bool>;
    async fn suppression(&self, account: AccountId, hash: &SuppressionHash) -> Result<Option<Suppression>>;
    async fn list_suppressions(&self, account: AccountId, limit: i64) -> Result<Vec<Suppression>>;
    async fn unsuppress(&self, account: AccountId, hash: &SuppressionHash) -> Result<bool>;

    // --- audit log ---------------------------------------------------------------

    async fn record_action(&self, entry: &NewAuditEntry) -> Result<()>;
    /// Newest first. `None` reads the operator-level entries (no account).
    async fn audit_log(&self, account: Option<AccountId>, limit: i64) -> Result<Vec<AuditEntry>>;
}

pub(crate) fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}
