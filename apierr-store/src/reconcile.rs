//! The reconciliation log: mutations whose outcome the caller cannot know.

use std::fmt;
use std::time::SystemTime;

use crate::{BoxFuture, StoreError};

/// How a recorded request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The response had a 5xx status.
    ServerError,
    /// The handler panicked (answered 500 by the contract layer).
    Panicked,
    /// The request was dropped before it finished: the handler timed out or the client
    /// went away. Whether the mutation happened is unknown.
    Abandoned,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::ServerError => "server_error",
            Outcome::Panicked => "panicked",
            Outcome::Abandoned => "abandoned",
        }
    }

    /// The outcome a stored name stands for (an unknown name reads as a server error).
    pub fn parse(name: &str) -> Outcome {
        match name {
            "panicked" => Outcome::Panicked,
            "abandoned" => Outcome::Abandoned,
            _ => Outcome::ServerError,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mutating request that ended without a known outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The log's sequence number (ascending); ignored when recording.
    pub seq: i64,
    /// When the request ended.
    pub at: SystemTime,
    /// The request id (`X-Request-Id`).
    pub request_id: String,
    /// Who called, when known.
    pub caller: Option<String>,
    /// The method.
    pub method: String,
    /// The path (and query) of the request.
    pub route: String,
    /// The `Idempotency-Key`, if one was sent: a retry with it is safe.
    pub idempotency_key: Option<String>,
    /// SHA-256 of the method, path and body, in hex.
    pub fingerprint: String,
    /// The status the caller was answered (for an abandoned request: the status the
    /// contract answers a timeout with, if it was one).
    pub status: u16,
    /// How it ended.
    pub outcome: Outcome,
    /// When an operator acknowledged it (reconciled it); `None` while it is open.
    /// Ignored when recording.
    pub acknowledged_at: Option<SystemTime>,
}

/// Durable storage of the reconciliation log.
pub trait ReconciliationLog: Send + Sync + fmt::Debug + 'static {
    /// Appends `entry` (its `seq` is assigned).
    fn record<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Up to `limit` entries at or after `since` with a sequence number above `after`, in
    /// order: page with the last `seq` seen.
    fn list(
        &self,
        since: SystemTime,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>>;

    /// Up to `limit` of `caller`'s newest entries, newest first: what a partner may be
    /// shown of its own requests whose outcome is unknown (found through an index by
    /// caller).
    fn recent_for<'a>(
        &'a self,
        caller: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Entry>, StoreError>>;

    /// Up to `limit` open (unacknowledged) entries with a sequence number above `after`,
    /// oldest first: the log as a work queue.
    fn open(&self, after: i64, limit: u32) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>>;

    /// Marks entry `seq` reconciled at `at`: `true` if it was open, `false` if it was
    /// acknowledged already or does not exist.
    fn acknowledge(&self, seq: i64, at: SystemTime) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// Deletes the acknowledged entries that ended before `before` (open ones are kept
    /// whatever their age: they are work still to do); returns how many. Batched where
    /// the backend needs it, so that requests are never held up long.
    fn purge(&self, before: SystemTime) -> BoxFuture<'_, Result<u64, StoreError>>;
}
