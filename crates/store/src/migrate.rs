//! A small embedded migrator. Migrations are compiled into the binary (one
//! file of plain SQL per version and backend) so `assent` needs no files at
//! run time; each runs in its own transaction together with its bookkeeping
//! row, so a crash leaves either all of a migration or none of it.

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($backend:literal: $($version:literal => $file:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $file,
            sql: include_str!(concat!("../migrations/", $backend, "/", $file, ".sql")),
        }),*]
    };
}

pub(crate) const SQLITE: &[Migration] = migrations!("sqlite":
    1 => "0001_foundation", 2 => "0002_signup", 3 => "0003_imports", 4 => "0004_campaigns",
    5 => "0005_reputation", 6 => "0006_delivery_claims", 7 => "0007_pending_subscriptions", 8 => "0008_delivery_outcome_indexes");
pub(crate) const POSTGRES: &[Migration] = migrations!("postgres":
    1 => "0001_foundation", 2 => "0002_signup", 3 => "0003_imports", 4 => "0004_campaigns",
    5 => "0005_reputation", 6 => "0006_delivery_claims", 7 => "0007_pending_subscriptions", 8 => "0008_delivery_outcome_indexes");

pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";
