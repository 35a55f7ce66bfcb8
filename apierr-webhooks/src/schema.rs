//! The outbox's tables. The same statements create them on SQLite and PostgreSQL (types
//! both accept; times are Unix microseconds in `BIGINT`), beside the application's own
//! tables so that one transaction covers both.

/// The name of the outbox's tables in `apierr_schema_versions` (see
/// `apierr_store::migrate`).
pub(crate) const SCHEMA_COMPONENT: &str = "apierr_webhooks";

/// Version 4, PostgreSQL only: half of each page of deliveries left free when rows are
/// written (`fillfactor`), so that a claim, which changes no indexed column, puts the new
/// version of every row it takes beside the old one: a heap-only update, which writes no
/// index entry. A claim takes the rows of a page together (they are due in the order they
/// were written), so the page needs room for all of them at once. Measured on 40 000
/// deliveries claimed and marked delivered, 128 at a time: 27 µs of server CPU and 1.1 KB
/// of write-ahead log per delivery, against 36 µs and 1.5 KB with 70% full pages (what
/// version 1 set in earlier releases: some of a page's claims found no room and wrote
/// four index entries each). The price is space: the table takes up to twice the pages for the same rows.
/// Only rows written from now on are placed so.
pub(crate) fn room(postgres: bool) -> &'static [&'static str] {
    if postgres {
        &["ALTER TABLE apierr_webhook_deliveries SET (fillfactor = 50)"]
    } else {
        &[]
    }
}

/// Version 3: subscriptions (an endpoint's event types, `NULL` for all: see
/// `Subscription::to_column`) and the time a warned endpoint may be paused at. On
/// PostgreSQL each statement commits on its own, so a column added before a crash must
/// not fail the next start (`IF NOT EXISTS`, which SQLite lacks; there the version is one
/// transaction).
pub(crate) fn subscriptions(postgres: bool) -> &'static [&'static str] {
    if postgres {
        &[
            "ALTER TABLE apierr_webhook_endpoints ADD COLUMN IF NOT EXISTS event_types TEXT",
            "ALTER TABLE apierr_webhook_reports ADD COLUMN IF NOT EXISTS pauses_at BIGINT",
        ]
    } else {
        &[
            "ALTER TABLE apierr_webhook_endpoints ADD COLUMN event_types TEXT",
            "ALTER TABLE apierr_webhook_reports ADD COLUMN pauses_at BIGINT",
        ]
    }
}

/// Version 2: what retention deletes by, found through indexes (messages and reports by
/// age, a message's deliveries, a message's report, notices by hour).
pub(crate) const RETENTION: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS apierr_webhook_messages_created
        ON apierr_webhook_messages (created_at)",
    "CREATE INDEX IF NOT EXISTS apierr_webhook_deliveries_message
        ON apierr_webhook_deliveries (message_id)",
    "CREATE INDEX IF NOT EXISTS apierr_webhook_reports_created
        ON apierr_webhook_reports (created_at)",
    "CREATE INDEX IF NOT EXISTS apierr_webhook_reports_message
        ON apierr_webhook_reports (message_id)",
    "CREATE INDEX IF NOT EXISTS apierr_webhook_notices_hour ON apierr_webhook_notices (hour)",
];

/// Version 1 of the tables: `IF NOT EXISTS`, so that it adopts the tables of a database
/// made before versions were kept.
pub(crate) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS apierr_webhook_endpoints (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_until BIGINT,
        schedule TEXT,
        state TEXT NOT NULL,
        failure_run BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS apierr_webhook_endpoints_owner
        ON apierr_webhook_endpoints (owner)",
    "CREATE TABLE IF NOT EXISTS apierr_webhook_messages (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS apierr_webhook_messages_owner
        ON apierr_webhook_messages (owner, created_at)",
    // One row per message and endpoint. `state` is pending, delivered, failed, held (kept
    // while its endpoint is paused or disabled) or cancelled (its endpoint was deleted).
    // A pending delivery is due at `next_at`; `lease` is the claim of the worker
    // delivering it, which lapses at `lease_until` (a dead worker's deliveries are then
    // claimed again). A claim writes no indexed column, so on PostgreSQL it is a
    // heap-only update where its page has room (see version 4).
    "CREATE TABLE IF NOT EXISTS apierr_webhook_deliveries (
        id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL,
        endpoint_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        total_attempts BIGINT NOT NULL DEFAULT 0,
        round_started BIGINT,
        next_at BIGINT NOT NULL,
        lease BIGINT,
        lease_until BIGINT,
        last_status BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )",
    // The queue: pending deliveries by when they are due (the others are history, and
    // stay out of the index).
    "CREATE INDEX IF NOT EXISTS apierr_webhook_deliveries_pending
        ON apierr_webhook_deliveries (next_at) WHERE state = 'pending'",
    // What an endpoint has waiting, for pausing, resuming and deleting it. Deliveries are
    // looked up otherwise by id (message id, '.', endpoint id) through the messages'
    // index: every index here is written again at each claim, so there are few.
    "CREATE INDEX IF NOT EXISTS apierr_webhook_deliveries_waiting
        ON apierr_webhook_deliveries (endpoint_id) WHERE state IN ('pending', 'held')",
    // Failed attempts only: a delivered message needs no history, a failure report needs
    // every attempt.
    "CREATE TABLE IF NOT EXISTS apierr_webhook_attempts (
        delivery_id TEXT NOT NULL,
        n BIGINT NOT NULL,
        at BIGINT NOT NULL,
        status BIGINT,
        latency_us BIGINT NOT NULL,
        response_head TEXT,
        error_kind TEXT,
        error TEXT,
        PRIMARY KEY (delivery_id, n)
    )",
    "CREATE TABLE IF NOT EXISTS apierr_webhook_reports (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        endpoint_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        delivery_id TEXT,
        message_id TEXT,
        event_type TEXT,
        first_attempt BIGINT,
        last_attempt BIGINT,
        summary TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS apierr_webhook_reports_owner
        ON apierr_webhook_reports (owner, created_at)",
    // Which notifications were sent, per endpoint, kind and hour: one a dead endpoint's
    // hour, however many of its messages fail.
    "CREATE TABLE IF NOT EXISTS apierr_webhook_notices (
        endpoint_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        hour BIGINT NOT NULL,
        PRIMARY KEY (endpoint_id, kind, hour)
    )",
];
