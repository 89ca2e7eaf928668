//! The database's own ceiling for imports: how fast it stores contacts and
//! their subscriptions when no application is in the loop at all.
//!
//! `cargo run --release -p assent-store --example insert_floor -- URL [ROWS]`
//!
//! Migrates the database at URL (SQLite file or PostgreSQL), stages ROWS
//! generated addresses (default 200,000) in a temporary table inside the
//! database, then moves them into `contacts` and `subscriptions` with one
//! `INSERT … SELECT` each per 5,000 rows and transaction — the statements an
//! import writes, minus parsing, checks, binding and round trips. Prints
//! rows/s with the schema's foreign keys and indexes as they are. An import
//! cannot be faster than this figure; `bench/import.sh` prints it next to
//! its own.

use std::time::Instant;

use assent_store::{PgStore, SqliteStore, Store};
use sqlx::Executor;

/// Rows per transaction, as the importer's default batch.
const BATCH: i64 = 5_000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: insert_floor URL [ROWS]")?;
    let rows: i64 = args.next().map(|r| r.parse()).transpose()?.unwrap_or(200_000);
    let rate = if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(&url).await?;
        store.migrate().await?;
        // One connection: the temporary table lives on it.
        let mut conn = store.pool().acquire().await?;
        setup(
            &mut *conn,
            rows,
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1) SELECT i FROM s",
        )
        .await?;
        run(&mut *conn, rows, "BEGIN IMMEDIATE").await?
    } else {
        let store = PgStore::connect(&url).await?;
        store.migrate().await?;
        let mut conn = store.pool().acquire().await?;
        setup(&mut *conn, rows, "SELECT i FROM generate_series(1, $1::bigint) i").await?;
        run(&mut *conn, rows, "BEGIN").await?
    };
    println!("{{\"rows\":{rows},\"rows_per_sec\":{rate:.0}}}");
    Ok(())
}

/// An account, a list, an import and the staged rows (`series` yields `i`
/// from 1 to `$1`).
async fn setup<C>(conn: &mut C, rows: i64, series: &str) -> Result<(), sqlx::Error>
where
    for<'a> &'a mut C: Executor<'a, Database = C::Database>,
    C: sqlx::Connection,
    i64: for<'q> sqlx::Encode<'q, C::Database> + sqlx::Type<C::Database>,
    <C::Database as sqlx::Database>::Arguments: sqlx::IntoArguments<C::Database>,
{
    for sql in [
        "INSERT INTO accounts (name, owner_email, status, created_at, updated_at) VALUES ('Floor', 'o@floor.example', 'active', 0, 0)",
        "INSERT INTO lists (account_id, name, created_at, updated_at) SELECT MAX(id), 'Floor', 0, 0 FROM accounts",
        "INSERT INTO imports (account_id, list_id, status, review, file_path, file_size, created_by, created_at, updated_at)
         SELECT account_id, id, 'running', 'not_required', 'floor.csv', 0, 'floor', 0, 0 FROM lists WHERE id = (SELECT MAX(id) FROM lists)",
    ] {
        (&mut *conn).execute(sql).await?;
    }
    // Addresses shaped as `bench/gen_contacts.py` writes them.
    (&mut *conn).execute("CREATE TEMPORARY TABLE floor_stage (i BIGINT PRIMARY KEY, email TEXT NOT NULL)").await?;
    let stage = format!(
        "INSERT INTO floor_stage (i, email)
         SELECT i, 'person' || i || '@example' || (i % 5) || '.com' FROM ({series}) g"
    );
    (&mut *conn).execute(sqlx::query(sqlx::AssertSqlSafe(stage)).bind(rows)).await?;
    Ok(())
}

/// Moves the staged rows over, `BATCH` per transaction; returns rows/s.
async fn run<C>(conn: &mut C, rows: i64, begin: &'static str) -> Result<f64, sqlx::Error>
where
    for<'a> &'a mut C: Executor<'a, Database = C::Database>,
    C: sqlx::Connection,
    i64: for<'q> sqlx::Encode<'q, C::Database> + sqlx::Type<C::Database>,
    <C::Database as sqlx::Database>::Arguments: sqlx::IntoArguments<C::Database>,
{
    let started = Instant::now();
    let mut lo = 1;
    while lo <= rows {
        let hi = lo + BATCH - 1;
        (&mut *conn).execute(begin).await?;
        (&mut *conn).execute(
            sqlx::query(
                "INSERT INTO contacts (account_id, email, email_norm, attributes, created_at, updated_at, import_id, address_hash)
                 SELECT (SELECT MAX(id) FROM accounts), email, email, '{\"first_name\":\"Anna\",\"city\":\"Berlin\"}', 1, 1,
                        (SELECT MAX(id) FROM imports), 'h' || email
                 FROM floor_stage WHERE i BETWEEN $1 AND $2",
            )
            .bind(lo)
            .bind(hi),
        )
        .await?;
        // This session is the only writer: the contacts above the highest
        // id of the previous batch are this batch's.
        (&mut *conn)
            .execute(
                "INSERT INTO subscriptions (account_id, contact_id, list_id, status, origin, evidence, created_at, updated_at, import_id)
                 SELECT c.account_id, c.id, (SELECT MAX(id) FROM lists), 'confirmed', 'offline_form', '{\"import\":1}', 1, 1, c.import_id
                 FROM contacts c WHERE c.id > (SELECT COALESCE(MAX(contact_id), 0) FROM subscriptions)",
            )
            .await?;
        (&mut *conn).execute("COMMIT").await?;
        lo = hi + 1;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}
