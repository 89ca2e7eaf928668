//! A small embedded migrator. Migrations are compiled into the binary (one
//! file of plain SQL per version and backend) so `assent` needs no files at
//! run time; each runs in its own transaction together with its bookkeeping
//! row, so a crash leaves either all of a migration or none of it.

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] =
    &[Migration { version: 1, name: "foundation", sql: include_str!("../migrations/sqlite/0001_foundation.sql") }];

pub(crate) const POSTGRES: &[Migration] =
    &[Migration { version: 1, name: "foundation", sql: include_str!("../migrations/postgres/0001_foundation.sql") }];

pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";
