//! Records the store reads and writes. Status and role columns come back as
//! domain enums; a value the domain no longer parses is `StoreError::Corrupt`.

use assent_domain::{
    AccountId, AccountStatus, ContactId, ImprintDraft, ListId, OperatorId, SubscriptionStatus, SuppressionReason,
    TokenId, UserId, UserRole,
};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    pub id: OperatorId,
    pub email: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub created_at: i64,
}

/// Who an API token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOwner {
    Operator(OperatorId),
    Account { account: AccountId, user: Option<UserId> },
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub owner: TokenOwner,
    /// What the token may do on its account (operators ignore it).
    pub role: UserRole,
    pub name: String,
    /// Hex SHA-256 of the secret.
    pub token_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: TokenId,
    pub owner: TokenOwner,
    pub role: UserRole,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub owner_email: String,
    pub status: AccountStatus,
    pub status_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a customer submits for the operator's audit (PRODUCT.md rule 4).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSubmission {
    pub imprint: assent_domain::Imprint,
    pub website: String,
    pub list_origins: String,
    pub consent_collection: String,
    pub expected_monthly_volume: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub account_id: AccountId,
    pub website: String,
    pub list_origins: String,
    pub consent_collection: String,
    pub expected_monthly_volume: i64,
    /// The imprint as submitted with this audit (the draft form, so an
    /// old submission stays readable even if the rules tighten).
    pub imprint: ImprintDraft,
    pub submitted_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub account_id: AccountId,
    pub email: String,
    pub role: UserRole,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct List {
    pub id: ListId,
    pub account_id: AccountId,
    pub name: String,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub id: ContactId,
    pub account_id: AccountId,
    pub email: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscription {
    pub contact_id: ContactId,
    pub list_id: ListId,
    pub status: SubscriptionStatus,
    pub origin: String,
    pub evidence: serde_json::Value,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PutSubscription {
    pub contact: ContactId,
    pub list: ListId,
    /// The status the caller read; `None` when it read no subscription.
    pub expected: Option<SubscriptionStatus>,
    pub status: SubscriptionStatus,
    pub origin: String,
    pub evidence: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewConsentEvent {
    pub contact: ContactId,
    pub list: Option<ListId>,
    /// `requested`, `confirmation_sent`, `confirmed`, `unsubscribed`, …
    pub kind: String,
    /// Where it came from: `form:ID`, `api`, `import:ID`, `bounce`, …
    pub source: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub evidence: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentEvent {
    pub id: i64,
    pub contact_id: ContactId,
    pub list_id: Option<ListId>,
    pub kind: String,
    pub at: i64,
    pub source: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub evidence: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub address_hash: String,
    pub reason: SuppressionReason,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub account: Option<AccountId>,
    /// `operator:1`, `token:7`, `user:3`, `system`.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub account_id: Option<AccountId>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
    pub at: i64,
}
