//! The one connection setup for SQLite and PostgreSQL: the stores here, the webhook
//! outbox and the reference API all open their database through [`Database::connect`],
//! so every pool on a file or a server has the same settings.

use std::fmt;

use sqlx::AnyPool;

use crate::SchemaTooNew;
use sqlx::any::AnyPoolOptions;

/// Which database a [`Database`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (feature `sqlite`).
    Sqlite,
    /// PostgreSQL (feature `postgres`).
    Postgres,
}

impl Backend {
    /// The backend a URL names: `sqlite:…`, or `postgres:…` / `postgresql:…`.
    pub fn of(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// SQLite: one connection per pool. Writes take turns on the file's one lock anyway, and
/// a second connection would find its page cache stale after every write of the first
/// (each reading the pages back from the file): a third of the webhook dispatcher's
/// throughput, measured (`cargo bench -p apierr-webhooks --bench throughput`).
#[cfg(feature = "sqlite")]
const SQLITE_CONNECTIONS: u32 = 1;

/// PostgreSQL: each replica holds a few connections; many replicas share the server's
/// `max_connections` (100 by default).
#[cfg(feature = "postgres")]
const POSTGRES_CONNECTIONS: u32 = 8;

/// A pool on a SQLite file or a PostgreSQL database, set up the one way apierr sets
/// them up.
///
/// - SQLite: the file is created if missing, in write-ahead-log mode (readers never wait
///   for the writer, a commit is one append), each connection with `synchronous =
///   NORMAL`, SQLite's advice for WAL: a commit survives any crash of the process; a
///   power cut or kernel crash may lose the last commits before a checkpoint. Records
///   that must survive power loss belong in PostgreSQL. One connection (see above).
/// - PostgreSQL: eight connections.
///
/// Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
}

impl Database {
    /// Opens `url`: `sqlite://FILE` (created if missing) or `postgres://…`. A backend
    /// whose cargo feature is off is an error that names the feature.
    pub async fn connect(url: &str) -> Result<Database, sqlx::Error> {
        let backend = Backend::of(url).ok_or_else(|| {
            configuration(format!(
                "a database URL starts with sqlite: or postgres:, not {:?}",
                url.split(':').next().unwrap_or_default()
            ))
        })?;
        sqlx::any::install_default_drivers();
        let pool = match backend {
            Backend::Sqlite => sqlite(url).await?,
            Backend::Postgres => postgres(url).await?,
        };
        Ok(Database { pool, backend })
    }

    /// The pool, for the application's own queries and transactions.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The database it is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Begins a transaction that will write. On SQLite it holds the file's write lock from
/// the start (`BEGIN IMMEDIATE`), waiting for it as for any lock: a deferred transaction
/// that reads first cannot write once another connection (a webhook dispatcher's own
/// pool, another process) has committed since that read, and SQLite fails it at once
/// (`SQLITE_BUSY`) rather than wait. On PostgreSQL, an ordinary `BEGIN`.
pub async fn begin_write(
    pool: &AnyPool,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    if pool.connect_options().database_url.scheme() == "sqlite" {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

/// The advisory lock under which schema is created on PostgreSQL ("apierr" in ASCII):
/// one key for every apierr crate, so that their tables are made one process at a time.
const SCHEMA_LOCK: i64 = 0x6170_6965_7272;

/// The table of schema versions: one row per component (`apierr_store`,
/// `apierr_webhooks`, …) with the last version applied.
const VERSIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS apierr_schema_versions (
    component TEXT PRIMARY KEY,
    version BIGINT NOT NULL
)";

/// Brings `component`'s tables to its newest version under the [`SchemaLock`]: version
/// *n*'s statements are `versions[n - 1]`, run once each, in order, and the version
/// reached is recorded in `apierr_schema_versions`. A database at a version newer than
/// `versions.len()` is refused with [`SchemaTooNew`] (inside [`sqlx::Error::Configuration`]).
///
/// The stores, the webhook outbox and any application crate on apierr's tables migrate
/// through it, so that replicas starting at once on a new database take turns and each
/// version is applied once. Version 1 of a component that existed before versions were
/// kept uses `CREATE … IF NOT EXISTS`, so that it adopts tables already there. On
/// PostgreSQL each statement commits on its own (see [`SchemaLock`]); a version's
/// statements are written so that running them again after a crash between them is
/// harmless (`IF NOT EXISTS`). On SQLite the whole migration is one transaction.
pub async fn migrate(
    pool: &AnyPool,
    component: &str,
    versions: &[&[&str]],
) -> Result<(), sqlx::Error> {
    let known = i64::try_from(versions.len()).unwrap_or(i64::MAX);
    let mut lock = SchemaLock::take(pool).await?;
    sqlx::query(VERSIONS_TABLE)
        .execute(lock.connection())
        .await?;
    let found: Option<i64> =
        sqlx::query_scalar("SELECT version FROM apierr_schema_versions WHERE component = $1")
            .bind(component)
            .fetch_optional(lock.connection())
            .await?;
    let found = found.unwrap_or(0);
    if found > known {
        return Err(sqlx::Error::Configuration(Box::new(SchemaTooNew {
            component: component.to_owned(),
            found,
            known,
        })));
    }
    for (version, statements) in (1..)
        .zip(versions)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        for statement in *statements {
            sqlx::query(statement).execute(lock.connection()).await?;
        }
        sqlx::query(
            "INSERT INTO apierr_schema_versions (component, version) VALUES ($1, $2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
        )
        .bind(component)
        .bind(version)
        .execute(lock.connection())
        .await?;
    }
    lock.release().await
}

/// The lock that every process creating or migrating apierr's tables in one database
/// waits for, with the connection that holds it (run the schema's statements on it).
///
/// - PostgreSQL: a session advisory lock. Two replicas racing on `CREATE … IF NOT
///   EXISTS` would otherwise make one fail with a duplicate key in the catalog. The
///   statements run one at a time, each in its own transaction, so that no table lock
///   is held from one to the next: a replica starting beside running ones (a rolling
///   deploy) would otherwise deadlock with their transactions. Dropped without
///   [`SchemaLock::release`] (an error), the connection is closed, which releases it.
/// - SQLite: a transaction holding the write lock from the start (`BEGIN IMMEDIATE`: a
///   deferred one that read the schema first could not write after another process
///   had). SQLite locks the whole file, not tables, so there is nothing to deadlock on.
#[derive(Debug)]
pub struct SchemaLock {
    held: Option<Held>,
}

#[derive(Debug)]
enum Held {
    Postgres(sqlx::pool::PoolConnection<sqlx::Any>),
    Sqlite(sqlx::Transaction<'static, sqlx::Any>),
}

impl SchemaLock {
    /// Waits for the lock on `pool`'s database.
    pub async fn take(pool: &AnyPool) -> Result<SchemaLock, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let held = if conn.backend_name().eq_ignore_ascii_case("postgresql") {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(SCHEMA_LOCK)
                .execute(&mut *conn)
                .await?;
            Held::Postgres(conn)
        } else {
            drop(conn);
            Held::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)
        };
        Ok(SchemaLock { held: Some(held) })
    }

    /// The connection that holds the lock.
    pub fn connection(&mut self) -> &mut sqlx::AnyConnection {
        match self.held.as_mut() {
            Some(Held::Postgres(conn)) => conn,
            Some(Held::Sqlite(tx)) => tx,
            None => unreachable!("a lock is held until released or dropped"),
        }
    }

    /// Lets the next process in: the statements' effects are kept.
    pub async fn release(mut self) -> Result<(), sqlx::Error> {
        match self.held.take() {
            Some(Held::Postgres(mut conn)) => {
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(SCHEMA_LOCK)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
            Some(Held::Sqlite(tx)) => tx.commit().await,
            None => Ok(()),
        }
    }
}

impl Drop for SchemaLock {
    fn drop(&mut self) {
        // Not released: a PostgreSQL connection must not go back to the pool still
        // holding the lock; closed, it releases it. (A SQLite transaction rolls back.)
        if let Some(Held::Postgres(conn)) = self.held.take() {
            drop(conn.detach());
        }
    }
}

fn configuration(message: String) -> sqlx::Error {
    sqlx::Error::Configuration(message.into())
}

#[cfg(feature = "sqlite")]
async fn sqlite(url: &str) -> Result<AnyPool, sqlx::Error> {
    let url = if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else {
        // Create the file on first run.
        format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
    };
    AnyPoolOptions::new()
        .max_connections(SQLITE_CONNECTIONS)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // The mode is stored in the file; setting it again is a no-op.
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("PRAGMA synchronous = NORMAL")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
}

#[cfg(not(feature = "sqlite"))]
async fn sqlite(_url: &str) -> Result<AnyPool, sqlx::Error> {
    Err(configuration(
        "this build has no SQLite: apierr-store's `sqlite` feature is off".into(),
    ))
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .connect(url)
        .await
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_url: &str) -> Result<AnyPool, sqlx::Error> {
    Err(configuration(
        "this build has no PostgreSQL: apierr-store's `postgres` feature is off".into(),
    ))
}
