//! PostgreSQL: one database shared by many replicas (connection settings in
//! `database.rs`).

/// The tables, created if missing.
pub(crate) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS apierr_idempotency (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint BYTEA NOT NULL,
        token BIGINT NOT NULL,
        locked_until BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        status BIGINT,
        head BYTEA,
        body BYTEA,
        PRIMARY KEY (scope, key)
    )",
    "CREATE INDEX IF NOT EXISTS apierr_idempotency_expiry ON apierr_idempotency (expires_at)",
    "CREATE TABLE IF NOT EXISTS apierr_reconciliation (
        seq BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        request_id TEXT NOT NULL,
        caller TEXT,
        method TEXT NOT NULL,
        route TEXT NOT NULL,
        idempotency_key TEXT,
        fingerprint TEXT NOT NULL,
        status BIGINT NOT NULL,
        outcome TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS apierr_reconciliation_at ON apierr_reconciliation (at)",
];
