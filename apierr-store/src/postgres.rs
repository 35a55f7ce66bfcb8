//! PostgreSQL: one database shared by many replicas (connection settings in
//! `database.rs`).

/// The tables, version by version (see [`crate::migrate`]): the component
/// `apierr_store`.
pub(crate) const VERSIONS: &[&[&str]] = &[V1, V2, V3];

/// The idempotency records and the reconciliation log.
const V1: &[&str] = &[
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

/// Acknowledged reconciliation entries: the log is a work queue, and the open ones have
/// an index of their own.
const V2: &[&str] = &[
    "ALTER TABLE apierr_reconciliation ADD COLUMN IF NOT EXISTS acknowledged_at BIGINT",
    "CREATE INDEX IF NOT EXISTS apierr_reconciliation_open
        ON apierr_reconciliation (seq) WHERE acknowledged_at IS NULL",
];

/// A caller's entries, newest first, for the partner portal: an index by caller.
const V3: &[&str] = &["CREATE INDEX IF NOT EXISTS apierr_reconciliation_caller
        ON apierr_reconciliation (caller, seq)"];
