//! The repository of contact imports: the import record with its declared
//! consent and review state, batches of rows applied atomically together
//! with the progress that lets a crashed import resume, and the operator's
//! decision.

use assent_domain::{AccountId, ListId};
use async_trait::async_trait;
use serde::Serialize;

use crate::Result;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Import {
    pub id: i64,
    pub account_id: AccountId,
    pub list_id: ListId,
    /// `pending_review`, `running`, `completed`, `failed`, `rejected`.
    pub status: String,
    /// `not_required`, `pending`, `approved`, `rejected`.
    pub review: String,
    pub review_reason: Option<String>,
    pub decision_reason: Option<String>,
    /// The origin declared for the whole file (None: per-row column).
    pub origin: Option<String>,
    pub evidence: serde_json::Value,
    /// Reading options (encoding, delimiter, mapping, consent columns).
    pub options: serde_json::Value,
    #[serde(skip)]
    pub file_path: String,
    pub file_name: String,
    pub file_size: i64,
    /// All rows have been read and applied.
    pub processed: bool,
    pub byte_offset: i64,
    pub line: i64,
    pub rows_done: i64,
    pub imported: i64,
    pub merged: i64,
    pub rejected: i64,
    /// Rejections that signal a risky list: invalid, role or disposable addresses.
    pub risky: i64,
    pub created_by: String,
    pub ip: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewImport {
    pub list_id: ListId,
    pub review: &'static str,
    pub review_reason: Option<String>,
    pub origin: Option<String>,
    pub evidence: serde_json::Value,
    pub options: serde_json::Value,
    pub file_path: String,
    pub file_name: String,
    pub file_size: i64,
    pub created_by: String,
    pub ip: Option<String>,
}

/// One accepted row of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub line: i64,
    /// Delivery form of the address.
    pub email: String,
    /// Identity key (`EmailAddress::normalized`).
    pub email_norm: String,
    /// Suppression key of the address.
    pub hash: String,
    /// Attributes as a JSON object text, serialised by the reader so the
    /// writer only binds it.
    pub attributes: String,
    pub origin: String,
    /// Row-level evidence; file-level evidence stays on the import.
    pub evidence: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportRejection {
    pub line: i64,
    pub address: String,
    pub reason: String,
    pub risky: bool,
}

/// Rows read since the last batch and where reading stopped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportBatch {
    pub rows: Vec<ImportRow>,
    pub rejections: Vec<ImportRejection>,
    /// Byte offset after the last record of the batch.
    pub byte_offset: i64,
    /// Line where the next record starts.
    pub line: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub imported: i64,
    pub merged: i64,
    pub rejected: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedRow {
    pub line: i64,
    pub address: String,
    pub reason: String,
}

#[async_trait]
pub trait Imports: Send + Sync {
    async fn create_import(&self, account: AccountId, new: &NewImport) -> Result<Import>;
    async fn get_import(&self, account: AccountId, id: i64) -> Result<Option<Import>>;
    /// For the operator's review (any account).
    async fn find_import(&self, id: i64) -> Result<Option<Import>>;
    async fn list_imports(&self, account: AccountId, limit: i64) -> Result<Vec<Import>>;
    /// Imports waiting for the operator, oldest first.
    async fn imports_in_review(&self, limit: i64) -> Result<Vec<Import>>;
    /// Leases the oldest unprocessed import whose lease ran out (a crashed
    /// worker's import comes back here and resumes).
    async fn claim_import(&self, now_ms: i64, lease_ms: i64) -> Result<Option<Import>>;
    async fn renew_import_lease(&self, id: i64, until_ms: i64) -> Result<()>;
    /// Applies one batch and the new reading position in one transaction.
    async fn apply_import_batch(&self, import: &Import, batch: &ImportBatch) -> Result<BatchCounts>;
    /// Reading is done: sets the final status and review.
    async fn finish_import(&self, id: i64, status: &str, review: &str, review_reason: Option<&str>) -> Result<()>;
    async fn fail_import(&self, id: i64, error: &str) -> Result<()>;
    /// The operator's decision. Rejecting removes the contacts the import
    /// created (and its subscriptions). `false` if not in review.
    async fn decide_import(&self, id: i64, approve: bool, reason: &str) -> Result<bool>;
    async fn import_rejections(
        &self,
        account: AccountId,
        id: i64,
        after_line: i64,
        limit: i64,
    ) -> Result<Vec<RejectedRow>>;
}
