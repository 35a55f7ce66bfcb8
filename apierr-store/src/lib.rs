//! Storage behind apierr's safe-retry layers.
//!
//! Three small traits, each with the few operations its layer needs, every operation one
//! atomic step in the backend:
//!
//! - [`IdempotencyStore`]: claims an `Idempotency-Key` under an expiring lock with a
//!   fencing token, then stores the response for replay;
//! - [`RateLimitStore`]: one GCRA decision per request (see [`Quota`]);
//! - [`ReconciliationLog`]: the durable record of mutations whose outcome is unknown.
//!
//! | backend | idempotency | rate limits | reconciliation |
//! |---|---|---|---|
//! | [`MemoryStore`] (one process) | yes | yes, bounded ([`MemoryRateLimiter`]) | yes (not durable) |
//! | [`SqlStore`] on SQLite (embedded default, WAL) | yes | — | yes |
//! | [`SqlStore`] on PostgreSQL (many replicas) | yes | — | yes |
//! | [`RedisStore`] (many replicas) | yes | yes, one Lua round trip | — |
//!
//! Each backend is a cargo feature: `memory` (the default), `sqlite`, `postgres`, `redis`;
//! a build compiles only the drivers it asks for. SQLite and PostgreSQL are opened through
//! one connection setup, [`Database`] (feature `sqlite` or `postgres`), which the webhook
//! outbox and an application's own tables share. Feature `seal` adds the [`Keyring`] that
//! seals secrets and stored responses at rest.
//!
//! Every SQL table here is versioned ([`migrate`], `apierr_schema_versions`) and so is the
//! Redis key layout (`{prefix}layout`): a newer one than the program knows is refused
//! ([`SchemaTooNew`]).
//!
//! Time is always passed in, never read: the layers own the clock, so a test moves it.
//! Every backend is run through the same conformance suite (`tests/it/conformance.rs`).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use apierr_store::{MemoryRateLimiter, Quota};
//!
//! let limiter = MemoryRateLimiter::new(10_000);
//! let quota = Quota::new(2, Duration::from_secs(1)).unwrap();
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
//! assert!(limiter.decide("acme", quota, now).allowed);
//! assert!(limiter.decide("acme", quota, now).allowed);
//! let third = limiter.decide("acme", quota, now);
//! assert!(!third.allowed);
//! assert_eq!(third.retry_after, Duration::from_millis(500));
//! ```

// The shared helpers (times in microseconds, the claim model) serve every backend; a
// build with only some backends leaves some of them unused.
#![cfg_attr(
    not(all(
        feature = "memory",
        feature = "sqlite",
        feature = "postgres",
        feature = "redis"
    )),
    allow(dead_code)
)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod database;
mod idempotency;
#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod rate_limit;
mod reconcile;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "seal")]
mod seal;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use crate::database::{Backend, Database, SchemaLock, begin_write, migrate};
pub use crate::idempotency::{Claim, ClaimRequest, Fingerprint, IdempotencyStore, StoredResponse};
#[cfg(feature = "memory")]
pub use crate::memory::{MemoryRateLimiter, MemoryStore};
pub use crate::rate_limit::{Decision, Quota, RateLimitStore};
pub use crate::reconcile::{Entry, Outcome, ReconciliationLog};
#[cfg(feature = "redis")]
pub use crate::redis::RedisStore;
#[cfg(feature = "seal")]
pub use crate::seal::{KEY_LEN, Keyring, SealError, record_context};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use crate::sql::SqlStore;
/// sqlx, as this crate uses it: the pool type of [`Database::pool`] and the queries an
/// application runs on it.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sqlx;

/// A database (or a Redis key layout) whose schema is newer than this program: written
/// by a later release. It
/// is refused rather than used, as this program would misread what it does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaTooNew {
    /// The component whose tables are newer.
    pub component: String,
    /// The version the database has.
    pub found: i64,
    /// The newest version this program knows.
    pub known: i64,
}

impl fmt::Display for SchemaTooNew {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the database's {} tables are at version {}, newer than the {} this program knows: \
             run the release that wrote them, or a later one",
            self.component, self.found, self.known
        )
    }
}

impl std::error::Error for SchemaTooNew {}

/// A boxed future: the traits are object-safe so a server picks its backend at run time.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A backend could not be reached or refused the operation.
#[derive(Debug)]
pub struct StoreError {
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl StoreError {
    /// An error from a backend's own error type.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError {
            source: source.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store unavailable: {}", self.source)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::new(e)
    }
}

#[cfg(feature = "redis")]
impl From<::redis::RedisError> for StoreError {
    fn from(e: ::redis::RedisError) -> Self {
        StoreError::new(e)
    }
}

/// Microseconds since the Unix epoch, the unit every backend stores (exact in a Lua
/// number until the year 2255). Times before the epoch count as the epoch.
pub(crate) fn micros(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time `micros` stands for.
pub(crate) fn from_micros(us: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

/// A duration in microseconds, saturating.
pub(crate) fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The duration of a positive number of microseconds (zero otherwise).
pub(crate) fn micros_duration(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}
