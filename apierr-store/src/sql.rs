//! The statements SQLite and PostgreSQL share.

use std::time::SystemTime;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::idempotency::{
    CLAIM_ATTEMPTS, Claim, ClaimRequest, Held, IdempotencyStore, StoredResponse, contended,
    next_token,
};
#[cfg(feature = "postgres")]
use crate::postgres;
use crate::reconcile::{Entry, Outcome, ReconciliationLog};
#[cfg(feature = "sqlite")]
use crate::sqlite;
use crate::{
    Backend, BoxFuture, Database, StoreError, duration_micros, from_micros, micros, migrate,
};

/// How many rows one purge statement deletes.
const PURGE_BATCH: i64 = 500;

/// The name of this crate's tables in `apierr_schema_versions`.
const SCHEMA_COMPONENT: &str = "apierr_store";

/// The columns of an [`Entry`], in the order [`entry`] reads them.
const ENTRY_COLUMNS: &str = "seq, at, request_id, caller, method, route, idempotency_key,
    fingerprint, status, outcome, acknowledged_at";

/// The claim in one statement: insert, or take over a record that expired, or whose lock
/// expired or was released for the same fingerprint. A row comes back only when claimed.
const CLAIM: &str = "INSERT INTO apierr_idempotency
        (scope, key, fingerprint, token, locked_until, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (scope, key) DO UPDATE SET
        fingerprint = excluded.fingerprint,
        token = CASE WHEN apierr_idempotency.token >= excluded.token
            THEN apierr_idempotency.token + 1 ELSE excluded.token END,
        locked_until = excluded.locked_until,
        expires_at = excluded.expires_at,
        status = NULL, head = NULL, body = NULL
    WHERE apierr_idempotency.expires_at <= $7
        OR (apierr_idempotency.status IS NULL
            AND apierr_idempotency.locked_until <= $7
            AND apierr_idempotency.fingerprint = excluded.fingerprint)
    RETURNING token";

/// Idempotency records and the reconciliation log in SQL: SQLite (the embedded default)
/// or PostgreSQL (many replicas), chosen by the URL. The statements are the same on
/// both; the schema and connection settings are each backend's (`sqlite.rs`,
/// `postgres.rs`).
///
/// A claim is one `INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING` statement, atomic
/// on both databases (PostgreSQL locks the conflicting row; SQLite has one writer), and
/// a second, read-only round trip only when the key was already held.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlStore {
    /// Connects to `url` (`sqlite://file.db`, created if missing, or `postgres://…`)
    /// through [`Database::connect`] and creates the tables if they are missing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        SqlStore::open(&Database::connect(url).await?).await
    }

    /// The store in `database`'s pool (shared with the application), creating the tables
    /// if they are missing.
    pub async fn open(database: &Database) -> Result<Self, StoreError> {
        let versions = match database.backend() {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => sqlite::VERSIONS,
            #[cfg(feature = "postgres")]
            Backend::Postgres => postgres::VERSIONS,
            #[allow(unreachable_patterns)]
            other => {
                return Err(StoreError::new(format!(
                    "this build has no {other} (apierr-store's feature is off)"
                )));
            }
        };
        let pool = database.pool().clone();
        migrate(&pool, SCHEMA_COMPONENT, versions).await?;
        Ok(SqlStore {
            pool,
            backend: database.backend(),
        })
    }

    /// The database this store is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `delete` (`$1` a time in µs, `$2` the batch size) until a batch deletes fewer
    /// than a batch: each batch is its own short statement, so a purge of millions of
    /// rows never holds the write lock long.
    async fn purge_batches(&self, delete: &str, at: i64) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let done = sqlx::query(delete)
                .bind(at)
                .bind(PURGE_BATCH)
                .execute(&self.pool)
                .await?
                .rows_affected();
            purged += done;
            if done < PURGE_BATCH as u64 {
                return Ok(purged);
            }
        }
    }

    /// Seals every stored response body that `keyring`'s current key did not seal (one
    /// sealed by a previous key, or never sealed) under the current key; how many were
    /// sealed again. Each row is replaced only if it did not change meanwhile, so this
    /// runs beside servers writing. See `IdempotencyLayer::seal` in apierr-axum.
    #[cfg(feature = "seal")]
    pub async fn reseal(&self, keyring: &crate::Keyring) -> Result<u64, StoreError> {
        const PAGE: i64 = 500;
        let current = keyring.current_id();
        let (mut scope, mut key) = (String::new(), String::new());
        let mut done = 0;
        loop {
            let rows = sqlx::query(
                "SELECT scope, key, body FROM apierr_idempotency
                 WHERE body IS NOT NULL AND (scope > $1 OR (scope = $1 AND key > $2))
                 ORDER BY scope, key LIMIT $3",
            )
            .bind(&scope)
            .bind(&key)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else {
                return Ok(done);
            };
            (scope, key) = (last.try_get(0)?, last.try_get(1)?);
            for row in &rows {
                let (s, k, body): (String, String, Vec<u8>) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                if crate::Keyring::sealed_by(&body).as_deref() == Some(current.as_str()) {
                    continue;
                }
                let context = crate::record_context(&s, &k);
                let plain = keyring.open(&body, &context).map_err(StoreError::new)?;
                let sealed = keyring.seal(&plain, &context);
                done += sqlx::query(
                    "UPDATE apierr_idempotency SET body = $1
                     WHERE scope = $2 AND key = $3 AND body = $4",
                )
                .bind(sealed)
                .bind(&s)
                .bind(&k)
                .bind(&body)
                .execute(&self.pool)
                .await?
                .rows_affected();
            }
        }
    }

    async fn claim_once(&self, request: &ClaimRequest<'_>) -> Result<Option<Claim>, StoreError> {
        let now = micros(request.now);
        let claimed = sqlx::query(CLAIM)
            .bind(request.scope)
            .bind(request.key)
            .bind(&request.fingerprint.0[..])
            .bind(next_token(None, now))
            .bind(now.saturating_add(duration_micros(request.lock_for)))
            .bind(now.saturating_add(duration_micros(request.keep_for)))
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = claimed {
            return Ok(Some(Claim::Acquired {
                token: row.try_get(0)?,
            }));
        }
        let held = sqlx::query(
            "SELECT fingerprint, locked_until, expires_at, status, head, body
             FROM apierr_idempotency WHERE scope = $1 AND key = $2",
        )
        .bind(request.scope)
        .bind(request.key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = held else { return Ok(None) };
        let status: Option<i64> = row.try_get(3)?;
        let held = Held {
            fingerprint: row.try_get(0)?,
            locked_until: row.try_get(1)?,
            expires_at: row.try_get(2)?,
            response: match status {
                Some(status) => Some((
                    status,
                    row.try_get::<Option<Vec<u8>>, _>(4)?.unwrap_or_default(),
                    row.try_get::<Option<Vec<u8>>, _>(5)?.unwrap_or_default(),
                )),
                None => None,
            },
        };
        Ok(held.classify(request, now))
    }
}

impl IdempotencyStore for SqlStore {
    fn claim<'a>(
        &'a self,
        request: &'a ClaimRequest<'a>,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            for _ in 0..CLAIM_ATTEMPTS {
                if let Some(claim) = self.claim_once(request).await? {
                    return Ok(claim);
                }
            }
            Err(contended())
        })
    }

    fn complete<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        token: i64,
        now: SystemTime,
        response: &'a StoredResponse,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let done = sqlx::query(
                "UPDATE apierr_idempotency SET status = $1, head = $2, body = $3, locked_until = 0
                 WHERE scope = $4 AND key = $5 AND token = $6 AND status IS NULL
                    AND expires_at > $7",
            )
            .bind(i64::from(response.status))
            .bind(response.head())
            .bind(&response.body[..])
            .bind(scope)
            .bind(key)
            .bind(token)
            .bind(micros(now))
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn release<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        token: i64,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let done = sqlx::query(
                "UPDATE apierr_idempotency SET locked_until = 0
                 WHERE scope = $1 AND key = $2 AND token = $3 AND status IS NULL
                    AND expires_at > $4",
            )
            .bind(scope)
            .bind(key)
            .bind(token)
            .bind(micros(now))
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn purge(&self, now: SystemTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            self.purge_batches(
                "DELETE FROM apierr_idempotency WHERE (scope, key) IN
                 (SELECT scope, key FROM apierr_idempotency WHERE expires_at <= $1 LIMIT $2)",
                micros(now),
            )
            .await
        })
    }
}

impl ReconciliationLog for SqlStore {
    fn record<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO apierr_reconciliation
                    (at, request_id, caller, method, route, idempotency_key, fingerprint, status, outcome)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(micros(entry.at))
            .bind(&entry.request_id)
            .bind(&entry.caller)
            .bind(&entry.method)
            .bind(&entry.route)
            .bind(&entry.idempotency_key)
            .bind(&entry.fingerprint)
            .bind(i64::from(entry.status))
            .bind(entry.outcome.as_str())
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn list(
        &self,
        since: SystemTime,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS}
                 FROM apierr_reconciliation WHERE at >= $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ))
            .bind(micros(since))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(entry).collect()
        })
    }

    fn recent_for<'a>(
        &'a self,
        caller: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS}
                 FROM apierr_reconciliation WHERE caller = $1 ORDER BY seq DESC LIMIT $2"
            ))
            .bind(caller)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(entry).collect()
        })
    }

    fn open(&self, after: i64, limit: u32) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS} FROM apierr_reconciliation
                 WHERE acknowledged_at IS NULL AND seq > $1 ORDER BY seq LIMIT $2"
            ))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(entry).collect()
        })
    }

    fn purge(&self, before: SystemTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            self.purge_batches(
                "DELETE FROM apierr_reconciliation WHERE seq IN
                 (SELECT seq FROM apierr_reconciliation
                  WHERE acknowledged_at IS NOT NULL AND at < $1 LIMIT $2)",
                micros(before),
            )
            .await
        })
    }

    fn acknowledge(&self, seq: i64, at: SystemTime) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let done = sqlx::query(
                "UPDATE apierr_reconciliation SET acknowledged_at = $1
                 WHERE seq = $2 AND acknowledged_at IS NULL",
            )
            .bind(micros(at))
            .bind(seq)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }
}

fn entry(row: &AnyRow) -> Result<Entry, StoreError> {
    Ok(Entry {
        seq: row.try_get(0)?,
        at: from_micros(row.try_get(1)?),
        request_id: row.try_get(2)?,
        caller: row.try_get(3)?,
        method: row.try_get(4)?,
        route: row.try_get(5)?,
        idempotency_key: row.try_get(6)?,
        fingerprint: row.try_get(7)?,
        status: u16::try_from(row.try_get::<i64, _>(8)?).unwrap_or(500),
        outcome: Outcome::parse(row.try_get(9)?),
        acknowledged_at: row.try_get::<Option<i64>, _>(10)?.map(from_micros),
    })
}
