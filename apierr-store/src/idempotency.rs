//! Idempotency records: a claim under an expiring, fenced lock, then the stored response.

use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::{BoxFuture, StoreError, micros_duration};

/// SHA-256 of what makes two requests "the same" (the layer hashes method, path and
/// body); a key sent again with another fingerprint is a reuse, not a retry.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("…")
    }
}

/// A request to claim `key` in `scope` (the caller: one partner never sees another's
/// records).
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// Whose key it is: the caller's identity.
    pub scope: &'a str,
    /// The `Idempotency-Key` as sent (unquoted).
    pub key: &'a str,
    /// The request's fingerprint.
    pub fingerprint: Fingerprint,
    /// The layer's clock.
    pub now: SystemTime,
    /// How long the lock holds if its owner never completes nor releases it (a crash):
    /// after that, a retry with the same fingerprint takes the claim over.
    pub lock_for: Duration,
    /// How long the record (and so the replay) lives.
    pub keep_for: Duration,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's: run it, then [`complete`](IdempotencyStore::complete)
    /// or [`release`](IdempotencyStore::release) with the token.
    Acquired {
        /// The fencing token: strictly greater than any earlier claim's of this key, so
        /// only the newest owner can complete or release it.
        token: i64,
    },
    /// Another request with this key holds an unexpired lock.
    InFlight {
        /// When the lock expires at the latest (it is released earlier on completion).
        lock_expires_in: Duration,
    },
    /// The key was used with another request (fingerprint) within the record's lifetime.
    Mismatch,
    /// The first request finished: its response, to replay.
    Completed(StoredResponse),
}

/// A response as stored for replay: status, the headers that matter, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, Bytes)>,
    /// The whole body.
    pub body: Bytes,
}

impl StoredResponse {
    /// The headers as one blob: `name: value` lines. HTTP forbids CR and LF in values and
    /// `:` in names, so the encoding is unambiguous.
    pub(crate) fn head(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.push(b'\n');
        }
        out
    }

    /// The response from its stored parts.
    pub(crate) fn from_parts(status: i64, head: &[u8], body: Vec<u8>) -> Self {
        let headers = head
            .split(|&b| b == b'\n')
            .filter_map(|line| {
                let at = line.windows(2).position(|w| w == b": ")?;
                let name = std::str::from_utf8(&line[..at]).ok()?;
                Some((name.to_owned(), Bytes::copy_from_slice(&line[at + 2..])))
            })
            .collect();
        StoredResponse {
            status: u16::try_from(status).unwrap_or(500),
            headers,
            body: Bytes::from(body),
        }
    }
}

/// Storage of idempotency records. Every operation is one atomic step in the backend, so
/// that concurrent requests with one key run the handler once between them.
pub trait IdempotencyStore: Send + Sync + fmt::Debug + 'static {
    /// Claims the key: a new key (or one whose record expired) is acquired; an unexpired
    /// record with another fingerprint is a mismatch; a completed one is replayed; one
    /// whose lock is held is in flight; one whose lock expired or was released is
    /// acquired again, with a greater token.
    fn claim<'a>(
        &'a self,
        request: &'a ClaimRequest<'a>,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;

    /// Stores the response of the claim holding `token`. False when the claim is no
    /// longer this token's (its lock expired and a retry took it over) or its record
    /// expired by `now`: nothing is stored.
    fn complete<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        token: i64,
        now: SystemTime,
        response: &'a StoredResponse,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Releases the lock of the claim holding `token` without storing a response, so that
    /// a retry runs again. False when the claim is not this token's or its record expired
    /// by `now`.
    fn release<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        token: i64,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Deletes the records that expired by `now`; returns how many.
    fn purge(&self, now: SystemTime) -> BoxFuture<'_, Result<u64, StoreError>>;
}

/// The token of a new claim: the claim time in microseconds, or one more than the last
/// token if that is not smaller. Tokens therefore grow even across a record's expiry and
/// purge (a claim cannot be older than the record it replaces).
pub(crate) fn next_token(previous: Option<i64>, now: i64) -> i64 {
    match previous {
        Some(token) if token >= now => token + 1,
        _ => now.max(1),
    }
}

/// A record that a claim did not take over, as a backend read it.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) fingerprint: Vec<u8>,
    pub(crate) locked_until: i64,
    pub(crate) expires_at: i64,
    /// Status, head and body once completed.
    pub(crate) response: Option<(i64, Vec<u8>, Vec<u8>)>,
}

impl Held {
    /// What the claim found, or `None` when the record no longer stands in the way (it
    /// expired or was released between the claim and the read: claim again).
    pub(crate) fn classify(self, request: &ClaimRequest<'_>, now: i64) -> Option<Claim> {
        if self.expires_at <= now {
            return None;
        }
        if self.fingerprint != request.fingerprint.0 {
            return Some(Claim::Mismatch);
        }
        if let Some((status, head, body)) = self.response {
            return Some(Claim::Completed(StoredResponse::from_parts(
                status, &head, body,
            )));
        }
        if self.locked_until <= now {
            return None;
        }
        Some(Claim::InFlight {
            lock_expires_in: micros_duration(self.locked_until - now),
        })
    }
}

/// How many times a backend claims again when the record changed between its claim and
/// its read; each change means another request made progress, so this is never reached
/// in practice.
pub(crate) const CLAIM_ATTEMPTS: usize = 4;

/// The error when a record kept changing under a claim.
pub(crate) fn contended() -> StoreError {
    StoreError::new("idempotency record changed under every claim attempt")
}
