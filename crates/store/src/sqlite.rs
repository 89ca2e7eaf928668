//! The embedded default backend. One file, WAL journal so readers never
//! wait for the writer, write transactions through one connection of their
//! own (writers of this process queue for it in order), a busy timeout so
//! writers of other processes queue instead of failing, foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Executor, SqlitePool};

use crate::migrate::{CREATE_TABLE, SQLITE};
use crate::{Backend, Result, StoreError, now_ms};

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// The one connection write transactions use. SQLite lets one writer
    /// in at a time; a writer that finds the lock taken polls it in sleeps
    /// of 1, 2, 5, 10… ms (its busy handler), so with writers of the same
    /// process competing (claims, recorded outcomes, renewals) a write
    /// waited tens of milliseconds for a lock held for one. Waiting for
    /// this connection instead is a queue: each writer starts as soon as
    /// the one before is done.
    writer: SqlitePool,
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
            // Rows travel from the connection's thread one message each; a
            // channel that holds a whole claimed batch lets the thread finish
            // a statement without waiting for the reader to be scheduled.
            .row_buffer_size(1024)
            .foreign_keys(true);
        // No ping before handing out a connection: an embedded database's
        // connection does not go stale, and the ping is one more round trip
        // to the connection's thread in front of every statement.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool, writer })
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock at the
    /// start: a deferred transaction that reads first and writes later can
    /// fail with SQLITE_BUSY when another writer got in between, and no busy
    /// timeout helps there.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Where a write statement outside a transaction goes (see `writer`).
    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
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
