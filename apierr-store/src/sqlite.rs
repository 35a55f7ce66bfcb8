//! SQLite: the embedded default (connection settings in `database.rs`).

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
