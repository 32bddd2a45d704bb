//! Test support shared by the workspace's test suites: a fresh, empty database per test on
//! either backend. PostgreSQL is reached at `SWITCHBOARD_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each call creates its own database there.

use std::path::Path;

use sqlx::Connection;

use crate::StoreConfig;

/// The PostgreSQL server the tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// Creates an empty PostgreSQL database for one test and returns its URL.
pub async fn fresh_postgres() -> String {
    let admin = postgres_admin_url();
    let name = format!("sbtest_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed by the tests: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// A store configuration for `backend` ("sqlite" or "postgres"), fresh and empty; SQLite files
/// go under `dir`.
pub async fn fresh_config(backend: &str, dir: &Path) -> StoreConfig {
    match backend {
        "postgres" => StoreConfig::Postgres {
            url: fresh_postgres().await,
        },
        _ => StoreConfig::Sqlite {
            path: dir.join("switchboard.db"),
        },
    }
}
