//! SQLite: the embedded default, in WAL mode.

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::StoreError;

/// The tables, created if missing (no migrator: they live beside the application's own
/// tables and migrations, and `IF NOT EXISTS` is all they need so far).
pub(crate) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS apierr_idempotency (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint BLOB NOT NULL,
        token INTEGER NOT NULL,
        locked_until INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        status INTEGER,
        head BLOB,
        body BLOB,
        PRIMARY KEY (scope, key)
    )",
    "CREATE INDEX IF NOT EXISTS apierr_idempotency_expiry ON apierr_idempotency (expires_at)",
    "CREATE TABLE IF NOT EXISTS apierr_reconciliation (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        caller TEXT,
        method TEXT NOT NULL,
        route TEXT NOT NULL,
        idempotency_key TEXT,
        fingerprint TEXT NOT NULL,
        status INTEGER NOT NULL,
        outcome TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS apierr_reconciliation_at ON apierr_reconciliation (at)",
];

/// Opens the file (creating it), switched to write-ahead logging: readers never wait for
/// the writer, and a commit is one append. The mode is stored in the file.
///
/// Each connection runs with `synchronous = NORMAL`, SQLite's advice for WAL: a commit
/// is appended to the log without waiting for the disk, which is synced at checkpoints. A
/// record survives any crash of the process; a power cut or kernel crash may lose the
/// last commits before a checkpoint. That trade is what lets a claim and its completion
/// cost about a hundred microseconds each instead of a disk flush each (half a
/// millisecond here); records that must survive power loss belong in PostgreSQL.
pub(crate) async fn connect(url: &str) -> Result<AnyPool, StoreError> {
    let url = if url.contains('?') {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    };
    // SQLite has one writer; more connections only queue on its lock.
    let pool = AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("PRAGMA synchronous = NORMAL")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&pool)
        .await?;
    Ok(pool)
}
