//! A fresh store per test: its own SQLite file, PostgreSQL schema or Redis key prefix
//! (from the test kit, which removes each when the test ends). PostgreSQL and Redis must
//! be running (`scripts/test` starts them); a test fails loudly, naming the service,
//! when they are not.

use std::any::Any;
use std::sync::Arc;

use apierr_store::{
    IdempotencyStore, MemoryRateLimiter, MemoryStore, RateLimitStore, ReconciliationLog,
    RedisStore, SqlStore,
};
use apierr_testkit::{Backend, TestDatabase, TestRedis};

/// What a store's place is kept alive by; dropping it removes the place.
pub(crate) type Keep = Box<dyn Any + Send + Sync>;

pub(crate) async fn sql(backend: Backend) -> (SqlStore, Keep) {
    let db = TestDatabase::new(backend, "store").await;
    let store = SqlStore::connect(db.url())
        .await
        .unwrap_or_else(|e| panic!("{backend}: {e}"));
    (store, Box::new(db))
}

/// A store on a prefix of its own, or on `shared`'s (two replicas of one API).
pub(crate) async fn redis_on(place: &TestRedis) -> RedisStore {
    RedisStore::connect_with_prefix(place.url(), place.prefix())
        .await
        .unwrap_or_else(|e| panic!("Redis at {}: {e}", place.url()))
}

pub(crate) async fn redis() -> (RedisStore, Keep) {
    let place = TestRedis::new("store").await;
    (redis_on(&place).await, Box::new(place))
}

pub(crate) async fn idempotency_memory() -> (Arc<dyn IdempotencyStore>, Keep) {
    (Arc::new(MemoryStore::new()), Box::new(()))
}
pub(crate) async fn idempotency_sqlite() -> (Arc<dyn IdempotencyStore>, Keep) {
    let (store, keep) = sql(Backend::Sqlite).await;
    (Arc::new(store), keep)
}
pub(crate) async fn idempotency_postgres() -> (Arc<dyn IdempotencyStore>, Keep) {
    let (store, keep) = sql(Backend::Postgres).await;
    (Arc::new(store), keep)
}
pub(crate) async fn idempotency_redis() -> (Arc<dyn IdempotencyStore>, Keep) {
    let (store, keep) = redis().await;
    (Arc::new(store), keep)
}

pub(crate) async fn rate_memory() -> (Arc<dyn RateLimitStore>, Keep) {
    (Arc::new(MemoryRateLimiter::new(10_000)), Box::new(()))
}
pub(crate) async fn rate_redis() -> (Arc<dyn RateLimitStore>, Keep) {
    let (store, keep) = redis().await;
    (Arc::new(store), keep)
}

pub(crate) async fn log_memory() -> (Arc<dyn ReconciliationLog>, Keep) {
    (Arc::new(MemoryStore::new()), Box::new(()))
}
pub(crate) async fn log_sqlite() -> (Arc<dyn ReconciliationLog>, Keep) {
    let (store, keep) = sql(Backend::Sqlite).await;
    (Arc::new(store), keep)
}
pub(crate) async fn log_postgres() -> (Arc<dyn ReconciliationLog>, Keep) {
    let (store, keep) = sql(Backend::Postgres).await;
    (Arc::new(store), keep)
}
