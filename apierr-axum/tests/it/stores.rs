//! A fresh store per test on every backend: memory, its own SQLite file, its own
//! PostgreSQL schema, its own Redis key prefix (from the test kit, which removes each
//! when the test ends). PostgreSQL and Redis must be running (`scripts/test` starts
//! them); a test fails loudly, naming the service, when they are not.

use std::any::Any;
use std::sync::Arc;

use apierr_axum::store::{
    IdempotencyStore, MemoryRateLimiter, MemoryStore, RateLimitStore, ReconciliationLog,
    RedisStore, SqlStore,
};
use apierr_testkit::{TestDatabase, TestRedis};

/// What a store's place is kept alive by; dropping it removes the place.
pub(crate) type Keep = Box<dyn Any + Send + Sync>;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    Memory,
    Sqlite,
    Postgres,
    Redis,
}

pub(crate) async fn sql(backend: Backend) -> (SqlStore, Keep) {
    let backend = match backend {
        Backend::Sqlite => apierr_testkit::Backend::Sqlite,
        Backend::Postgres => apierr_testkit::Backend::Postgres,
        other => panic!("{other:?} is not SQL"),
    };
    let db = TestDatabase::new(backend, "axum").await;
    let store = SqlStore::connect(db.url())
        .await
        .unwrap_or_else(|e| panic!("{backend}: {e}"));
    (store, Box::new(db))
}

/// A store on `place`'s prefix (two stores on one place are two replicas of one API).
pub(crate) async fn redis(place: &TestRedis) -> RedisStore {
    RedisStore::connect_with_prefix(place.url(), place.prefix())
        .await
        .unwrap_or_else(|e| panic!("Redis at {}: {e}", place.url()))
}

async fn own_redis() -> (RedisStore, Keep) {
    let place = TestRedis::new("axum").await;
    (redis(&place).await, Box::new(place))
}

pub(crate) async fn idempotency(backend: Backend) -> (Arc<dyn IdempotencyStore>, Keep) {
    match backend {
        Backend::Memory => (Arc::new(MemoryStore::new()), Box::new(())),
        Backend::Sqlite | Backend::Postgres => {
            let (store, keep) = sql(backend).await;
            (Arc::new(store), keep)
        }
        Backend::Redis => {
            let (store, keep) = own_redis().await;
            (Arc::new(store), keep)
        }
    }
}

pub(crate) async fn rate_limits(backend: Backend) -> (Arc<dyn RateLimitStore>, Keep) {
    match backend {
        Backend::Memory => (Arc::new(MemoryRateLimiter::new(10_000)), Box::new(())),
        Backend::Redis => {
            let (store, keep) = own_redis().await;
            (Arc::new(store), keep)
        }
        other => panic!("no rate limits on {other:?}"),
    }
}

pub(crate) async fn log(backend: Backend) -> (Arc<dyn ReconciliationLog>, Keep) {
    match backend {
        Backend::Memory => (Arc::new(MemoryStore::new()), Box::new(())),
        Backend::Sqlite | Backend::Postgres => {
            let (store, keep) = sql(backend).await;
            (Arc::new(store), keep)
        }
        other => panic!("no reconciliation log on {other:?}"),
    }
}
