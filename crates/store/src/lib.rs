//! The store: the only crate that writes SQL. One schema (migrations in `migrations/`, portable
//! between the two backends) behind one type, [`Store`], with embedded SQLite (the default, a
//! single file in WAL mode) and PostgreSQL (a cluster of nodes sharing one database).
//!
//! Every query is written once: the [`db!`] macro expands the same code for each backend's
//! pool (SQL uses `$n` placeholders, which SQLite accepts too). Every change made through the
//! store's write methods is validated ([`validate`]) and written to the audit log in the same
//! transaction.

mod admin;
mod cnf;
mod config;
mod devices;
mod error;
pub mod model;
pub mod oauth;
pub mod params;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;
mod users;
pub mod validate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub use admin::AdminIdentity;
pub use devices::DeviceAuthRow;
pub use error::{Result, StoreError};
pub use sql::check_read_only;
pub use users::{FailedLogon, UserCredentials, CREDENTIAL_POLICY_ACTOR};

/// Which database the store uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// A SQLite file, created when missing.
    Sqlite { path: PathBuf },
    /// A PostgreSQL URL, e.g. `postgres://postgres@127.0.0.1:5432/switchboard`.
    Postgres { url: String },
}

/// The cryptography the store needs but does not own: password hashing and sealing of the
/// secrets the server must read back (digest passwords, the LDAP service password).
pub trait Crypto: Send + Sync + 'static {
    /// An Argon2id PHC string for `password`.
    fn hash_password(&self, password: &str) -> String;
    /// `secret` encrypted for storage.
    fn seal(&self, secret: &str) -> String;
    /// The plaintext of a sealed secret, `None` when it cannot be opened.
    fn unseal(&self, sealed: &str) -> Option<String>;
}

#[derive(Clone)]
enum Pool {
    Sqlite { rw: SqlitePool, ro: SqlitePool },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool; the body is compiled once per
/// backend, so one query text serves both.
macro_rules! db {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite { rw: $pool, .. } => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use db;

/// The store handle: cheap to clone, shared by every part of a node.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    crypto: Arc<dyn Crypto>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Opens (creating when needed) the database and brings its schema up to date.
    pub async fn open(config: &StoreConfig, crypto: Arc<dyn Crypto>) -> Result<Store> {
        let pool = match config {
            StoreConfig::Sqlite { path } => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5));
                let rw = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options.clone())
                    .await?;
                MIGRATOR.run(&rw).await?;
                let ro = SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect_with(options.read_only(true))
                    .await?;
                Pool::Sqlite { rw, ro }
            }
            StoreConfig::Postgres { url } => {
                let options: PgConnectOptions = url.parse()?;
                let pool = PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                MIGRATOR.run(&pool).await?;
                Pool::Postgres(pool)
            }
        };
        Ok(Store { pool, crypto })
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite { .. } => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { rw, ro } => {
                ro.close().await;
                rw.close().await;
            }
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    pub(crate) fn crypto(&self) -> &dyn Crypto {
        self.crypto.as_ref()
    }
}

/// Now, as the RFC 3339 UTC text the schema stores.
pub(crate) fn now() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A Unix time as RFC 3339 UTC text with whole seconds (`2026-01-02T03:04:05Z`): the form the
/// OAuth and credential-policy columns are written in, so that they compare correctly as text.
pub fn time_text(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    rfc3339(t)
}

/// The Unix time (seconds) of an RFC 3339 text, `None` when it is not one.
pub fn unix_of(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Now, as a Unix time in seconds.
pub(crate) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Field names whose values never reach the audit log.
const SECRET_FIELDS: &[&str] = &[
    "password",
    "digest_password",
    "service_password",
    "private_key",
    "token",
    "refresh_token",
    "code",
];

/// The JSON of an input for the audit log, with every secret replaced by its length.
pub(crate) fn audit_detail<T: Serialize>(input: &T) -> String {
    fn scrub(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if SECRET_FIELDS.contains(&key.as_str()) {
                        if let serde_json::Value::String(s) = v {
                            *v = serde_json::Value::String(format!("<set, {} chars>", s.len()));
                        }
                    } else {
                        scrub(v);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(input).unwrap_or_default();
    scrub(&mut value);
    value.to_string()
}

/// Appends one audit entry inside the caller's transaction.
macro_rules! audit {
    ($tx:expr, $actor:expr, $action:expr, $object_type:expr, $object_id:expr, $detail:expr) => {
        sqlx::query(
            "INSERT INTO auditlog (id, at, actor, action, object_type, object_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind($crate::now())
        .bind($actor)
        .bind($action)
        .bind($object_type)
        .bind($object_id)
        .bind($detail)
        .execute(&mut *$tx)
        .await?
    };
}
pub(crate) use audit;
