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
    ($backend:literal: $($version:literal $name:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/", $backend, "/", stringify!($version), "_", $name, ".sql")),
        }),*]
    };
}

pub(crate) const SQLITE: &[Migration] =
    migrations!("sqlite": 0001 "foundation", 0002 "signup", 0003 "imports", 0004 "campaigns");
pub(crate) const POSTGRES: &[Migration] =
    migrations!("postgres": 0001 "foundation", 0002 "signup", 0003 "imports", 0004 "campaigns");

pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";
