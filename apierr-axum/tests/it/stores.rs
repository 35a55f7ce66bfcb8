//! A fresh store per test on every backend: memory, its own SQLite file, its own
//! PostgreSQL schema, its own Redis key prefix. PostgreSQL and Redis must be running
//! (`.ci/run` starts them); a test fails loudly when they are not.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use apierr_axum::store::{
    IdempotencyStore, MemoryRateLimiter, MemoryStore, RateLimitStore, ReconciliationLog,
    RedisStore, SqlStore,
};
use sqlx::Connection;

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
const REDIS: &str = "redis://127.0.0.1:6379";

static NEXT: AtomicU64 = AtomicU64::new(0);

pub(crate) fn unique(prefix: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{nanos}_{n}", std::process::id())
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    Memory,
    Sqlite,
    Postgres,
    Redis,
}

pub(crate) async fn sql(backend: Backend) -> SqlStore {
    let url = match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique("apierr_axum")));
            format!("sqlite://{}", path.display())
        }
        Backend::Postgres => {
            let schema = unique("apierr_axum");
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(POSTGRES)
                .await
                .expect("PostgreSQL at 127.0.0.1:5432 (.ci/run starts it)");
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .await
                .unwrap();
            format!("{POSTGRES}?options=-c%20search_path%3D{schema}")
        }
        other => panic!("{other:?} is not SQL"),
    };
    SqlStore::connect(&url).await.expect("database")
}

pub(crate) async fn redis(prefix: &str) -> RedisStore {
    RedisStore::connect(REDIS)
        .await
        .expect("Redis at 127.0.0.1:6379 (.ci/run starts it)")
        .prefix(format!("{prefix}:"))
}

pub(crate) async fn idempotency(backend: Backend) -> Arc<dyn IdempotencyStore> {
    match backend {
        Backend::Memory => Arc::new(MemoryStore::new()),
        Backend::Sqlite | Backend::Postgres => Arc::new(sql(backend).await),
        Backend::Redis => Arc::new(redis(&unique("apierr_axum")).await),
    }
}

pub(crate) async fn rate_limits(backend: Backend) -> Arc<dyn RateLimitStore> {
    match backend {
        Backend::Memory => Arc::new(MemoryRateLimiter::new(10_000)),
        Backend::Redis => Arc::new(redis(&unique("apierr_axum")).await),
        other => panic!("no rate limits on {other:?}"),
    }
}

pub(crate) async fn log(backend: Backend) -> Arc<dyn ReconciliationLog> {
    match backend {
        Backend::Memory => Arc::new(MemoryStore::new()),
        Backend::Sqlite | Backend::Postgres => Arc::new(sql(backend).await),
        other => panic!("no reconciliation log on {other:?}"),
    }
}
