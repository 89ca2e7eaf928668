//! The embedded default backend. One file, WAL journal so readers never
//! wait for the writer, a busy timeout so concurrent writers queue instead
//! of failing, foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Executor, SqlitePool};

use crate::migrate::{CREATE_TABLE, SQLITE};
use crate::{Backend, Result, StoreError, now_ms};

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    /// How a queue claim skips rows another worker holds: PostgreSQL
    /// locks rows; SQLite has one writer at a time, so nothing is needed.
    pub(crate) const SKIP_LOCKED: &str = "";

    /// Whether one writer at a time holds the database (a write
    /// transaction sees every insert: ids handed out meanwhile are its own).
    pub(crate) const SINGLE_WRITER: bool = true;

    /// See `repo_imports::param`.
    pub(crate) const POSITIONAL_PARAMS: bool = true;

    pub(crate) const BACKEND: Backend = Backend::Sqlite;

    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        Ok(SqliteStore { pool })
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock at the
    /// start: a deferred transaction that reads first and writes later can
    /// fail with SQLITE_BUSY when another writer got in between, and no busy
    /// timeout helps there.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Nothing to do: SQLite plans these queries well without statistics.
    pub(crate) async fn after_bulk_write(&self) -> Result<()> {
        Ok(())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(crate) async fn run_migrations(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        conn.execute(CREATE_TABLE).await?;
        for m in SQLITE {
            // BEGIN IMMEDIATE takes the write lock up front, so two processes
            // starting at once apply each migration once.
            conn.execute("BEGIN IMMEDIATE").await?;
            let applied: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *conn)
                .await?;
            if applied.is_some() {
                conn.execute("COMMIT").await?;
                continue;
            }
            let result = async {
                sqlx::raw_sql(m.sql).execute(&mut *conn).await?;
                sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                    .bind(m.version)
                    .bind(m.name)
                    .bind(now_ms())
                    .execute(&mut *conn)
                    .await
            }
            .await;
            match result {
                Ok(_) => {
                    conn.execute("COMMIT").await?;
                }
                Err(source) => {
                    conn.execute("ROLLBACK").await?;
                    return Err(StoreError::Migration { version: m.version, source });
                }
            }
        }
        conn.ping().await?;
        Ok(())
    }
}

crate::repo::impl_store!(SqliteStore);
crate::repo_signup::impl_signups!(SqliteStore);
crate::repo_imports::impl_imports!(SqliteStore);
crate::repo_campaigns::impl_campaigns!(SqliteStore);
crate::repo_reputation::impl_reputation!(SqliteStore);
