use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0}")]
    BadUrl(String),
    /// A uniqueness rule was broken (e.g. the same user e-mail twice).
    #[error("already exists: {0}")]
    Conflict(String),
    /// Stored data that the domain layer no longer accepts; names the column.
    #[error("corrupt stored value in {column}: {detail}")]
    Corrupt { column: &'static str, detail: String },
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The task doing the work was stopped (the process is shutting down).
    #[error("database work interrupted: {0}; it is redone on the next start")]
    Interrupted(String),
    #[error("migration {version} failed: {source}")]
    Migration {
        version: i64,
        #[source]
        source: sqlx::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(db.message().to_string());
        }
        StoreError::Database(e)
    }
}
