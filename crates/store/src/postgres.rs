//! The scale-out backend: any number of Assent processes share one
//! PostgreSQL database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};

use crate::migrate::{CREATE_TABLE, POSTGRES};
use crate::{Backend, Result, StoreError, now_ms};

/// Key of the advisory lock that serialises migrations across processes.
const MIGRATION_LOCK: i64 = 0x4153_5345_4e54; // "ASSENT"

#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    /// How a queue claim skips rows another worker holds: PostgreSQL
    /// locks rows; SQLite has one writer at a time, so nothing is needed.
    pub(crate) const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

    /// Whether one writer at a time holds the database (a write
    /// transaction sees every insert: ids handed out meanwhile are its own).
    pub(crate) const SINGLE_WRITER: bool = false;

    /// See `repo_imports::param`.
    pub(crate) const POSITIONAL_PARAMS: bool = false;

    pub(crate) const BACKEND: Backend = Backend::Postgres;

    pub async fn connect(url: &str) -> Result<Self> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl(format!("bad PostgreSQL URL: {e}")))?;
        Self::connect_with(options).await
    }

    /// Connects with explicit options (tests use this to put each test in a
    /// schema of its own via `search_path`).
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(PgStore { pool })
    }

    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Where a write statement outside a transaction goes: any connection
    /// (PostgreSQL has row locks, not one writer).
    pub(crate) fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// Refreshes planner statistics after a bulk write: right after an
    /// import or a fan-out the tables are much larger than the planner
    /// believes, and its plans for the delivery queries go from
    /// milliseconds to seconds.
    pub(crate) async fn after_bulk_write(&self) -> Result<()> {
        sqlx::raw_sql("ANALYZE contacts; ANALYZE subscriptions; ANALYZE deliveries").execute(&self.pool).await?;
        Ok(())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs administrative SQL (e.g. creating a schema for a test run).
    pub async fn execute_raw(&self, sql: &str) -> Result<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&self.pool).await?;
        Ok(())
    }

    pub(crate) async fn run_migrations(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        // Held for the session: other processes wait here until we are done.
        sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
        let result = async {
            conn.execute(CREATE_TABLE).await?;
            for m in POSTGRES {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let applied: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                        .bind(m.version)
                        .fetch_optional(&mut *tx)
                        .await?;
                if applied.is_some() {
                    continue;
                }
                let step = async {
                    sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
                    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                        .bind(m.version)
                        .bind(m.name)
                        .bind(now_ms())
                        .execute(&mut *tx)
                        .await
                }
                .await;
                if let Err(source) = step {
                    return Err(StoreError::Migration { version: m.version, source });
                }
                tx.commit().await?;
            }
            Ok(())
        }
        .await;
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
        result
    }
}

crate::repo::impl_store!(PgStore);
crate::repo_signup::impl_signups!(PgStore);
crate::repo_imports::impl_imports!(PgStore);
crate::repo_campaigns::impl_campaigns!(PgStore);
crate::repo_reputation::impl_reputation!(PgStore);
