//! A fresh store per test: its own SQLite file, PostgreSQL schema or Redis key prefix.
//! PostgreSQL and Redis must be running (`.ci/run` starts them); a test fails loudly
//! when they are not.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use apierr_store::{
    IdempotencyStore, MemoryRateLimiter, MemoryStore, RateLimitStore, ReconciliationLog,
    RedisStore, SqlStore,
};
use sqlx::Connection;

/// PostgreSQL as the machine runs it (trust auth, database `test`).
pub(crate) const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Redis as the machine runs it.
pub(crate) const REDIS: &str = "redis://127.0.0.1:6379";

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A name no other test of this run or of an earlier run uses.
pub(crate) fn unique(prefix: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{nanos}_{n}", std::process::id())
}

pub(crate) async fn sqlite() -> SqlStore {
    let path = std::env::temp_dir().join(format!("{}.db", unique("apierr_store")));
    SqlStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("SQLite file")
}

pub(crate) async fn postgres() -> SqlStore {
    let schema = unique("apierr_store");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(POSTGRES)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (.ci/run starts it)");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    SqlStore::connect(&format!("{POSTGRES}?options=-c%20search_path%3D{schema}"))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (.ci/run starts it)")
}

pub(crate) async fn redis() -> RedisStore {
    RedisStore::connect(REDIS)
        .await
        .expect("Redis at 127.0.0.1:6379 (.ci/run starts it)")
        .prefix(format!("{}:", unique("apierr_test")))
}

pub(crate) async fn idempotency_memory() -> Arc<dyn IdempotencyStore> {
    Arc::new(MemoryStore::new())
}
pub(crate) async fn idempotency_sqlite() -> Arc<dyn IdempotencyStore> {
    Arc::new(sqlite().await)
}
pub(crate) async fn idempotency_postgres() -> Arc<dyn IdempotencyStore> {
    Arc::new(postgres().await)
}
pub(crate) async fn idempotency_redis() -> Arc<dyn IdempotencyStore> {
    Arc::new(redis().await)
}

pub(crate) async fn rate_memory() -> Arc<dyn RateLimitStore> {
    Arc::new(MemoryRateLimiter::new(10_000))
}
pub(crate) async fn rate_redis() -> Arc<dyn RateLimitStore> {
    Arc::new(redis().await)
}

pub(crate) async fn log_memory() -> Arc<dyn ReconciliationLog> {
    Arc::new(MemoryStore::new())
}
pub(crate) async fn log_sqlite() -> Arc<dyn ReconciliationLog> {
    Arc::new(sqlite().await)
}
pub(crate) async fn log_postgres() -> Arc<dyn ReconciliationLog> {
    Arc::new(postgres().await)
}
