//! In-process backends: for one replica, and for tests.

use std::collections::HashMap;
use std::collections::hash_map::{Entry as MapEntry, RandomState};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use crate::idempotency::{Claim, ClaimRequest, IdempotencyStore, StoredResponse, next_token};
use crate::rate_limit::{Decision, Quota, RateLimitStore};
use crate::reconcile::{Entry, ReconciliationLog};
use crate::{BoxFuture, StoreError, duration_micros, micros, micros_duration};

/// A lock that a panicking holder did not poison: every critical section below leaves its
/// map consistent at every step.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Idempotency records and the reconciliation log in this process's memory. Records are
/// lost on restart, so the log is for tests and single-process tools; a server uses
/// [`SqlStore`](crate::SqlStore).
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<Records>,
    log: Mutex<Vec<Entry>>,
}

#[derive(Debug, Default)]
struct Records {
    map: HashMap<(Box<str>, Box<str>), Record>,
    /// The size at which expired records are next swept out.
    sweep_at: usize,
}

#[derive(Debug)]
struct Record {
    fingerprint: [u8; 32],
    token: i64,
    locked_until: i64,
    expires_at: i64,
    response: Option<StoredResponse>,
}

/// The fewest entries a map holds before it is swept.
const MIN_SWEEP: usize = 1024;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn claim_now(&self, request: &ClaimRequest<'_>) -> Claim {
        let now = micros(request.now);
        let mut records = lock(&self.records);
        if records.map.len() >= records.sweep_at.max(MIN_SWEEP) {
            records.map.retain(|_, r| r.expires_at > now);
            records.sweep_at = records.map.len() * 2;
        }
        let key = (Box::from(request.scope), Box::from(request.key));
        let fresh = |previous: Option<i64>| Record {
            fingerprint: request.fingerprint.0,
            token: next_token(previous, now),
            locked_until: now.saturating_add(duration_micros(request.lock_for)),
            expires_at: now.saturating_add(duration_micros(request.keep_for)),
            response: None,
        };
        match records.map.entry(key) {
            MapEntry::Vacant(slot) => Claim::Acquired {
                token: slot.insert(fresh(None)).token,
            },
            MapEntry::Occupied(mut slot) => {
                let record = slot.get_mut();
                if record.expires_at > now {
                    if record.fingerprint != request.fingerprint.0 {
                        return Claim::Mismatch;
                    }
                    if let Some(response) = &record.response {
                        return Claim::Completed(response.clone());
                    }
                    if record.locked_until > now {
                        return Claim::InFlight {
                            lock_expires_in: micros_duration(record.locked_until - now),
                        };
                    }
                }
                *record = fresh(Some(record.token));
                Claim::Acquired {
                    token: record.token,
                }
            }
        }
    }

    /// Applies `finish` to the record of `token`, if it is still that token's, open and
    /// unexpired at `now`.
    fn finish(
        &self,
        scope: &str,
        key: &str,
        token: i64,
        now: SystemTime,
        finish: impl FnOnce(&mut Record),
    ) -> bool {
        let now = micros(now);
        let mut records = lock(&self.records);
        let found = records
            .map
            .get_mut(&(Box::from(scope), Box::from(key)))
            .filter(|r| r.token == token && r.response.is_none() && r.expires_at > now);
        found.map(finish).is_some()
    }
}

impl IdempotencyStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        request: &'a ClaimRequest<'a>,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move { Ok(self.claim_now(request)) })
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
            Ok(self.finish(scope, key, token, now, |r| {
                r.response = Some(response.clone());
                r.locked_until = 0;
            }))
        })
    }

    fn release<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        token: i64,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { Ok(self.finish(scope, key, token, now, |r| r.locked_until = 0)) })
    }

    fn purge(&self, now: SystemTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        let now = micros(now);
        Box::pin(async move {
            let mut records = lock(&self.records);
            let before = records.map.len();
            records.map.retain(|_, r| r.expires_at > now);
            Ok((before - records.map.len()) as u64)
        })
    }
}

impl ReconciliationLog for MemoryStore {
    fn record<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut log = lock(&self.log);
            let seq = log.last().map_or(1, |last| last.seq + 1);
            log.push(Entry {
                seq,
                acknowledged_at: None,
                ..entry.clone()
            });
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
            let log = lock(&self.log);
            Ok(log
                .iter()
                .filter(|e| e.seq > after && e.at >= since)
                .take(limit as usize)
                .cloned()
                .collect())
        })
    }

    fn recent_for<'a>(
        &'a self,
        caller: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let log = lock(&self.log);
            Ok(log
                .iter()
                .rev()
                .filter(|e| e.caller.as_deref() == Some(caller))
                .take(limit as usize)
                .cloned()
                .collect())
        })
    }

    fn open(&self, after: i64, limit: u32) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let log = lock(&self.log);
            Ok(log
                .iter()
                .filter(|e| e.seq > after && e.acknowledged_at.is_none())
                .take(limit as usize)
                .cloned()
                .collect())
        })
    }

    fn acknowledge(&self, seq: i64, at: SystemTime) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut log = lock(&self.log);
            Ok(log
                .iter_mut()
                .find(|e| e.seq == seq && e.acknowledged_at.is_none())
                .map(|e| e.acknowledged_at = Some(at))
                .is_some())
        })
    }

    fn purge(&self, before: SystemTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut log = lock(&self.log);
            let was = log.len();
            log.retain(|e| e.acknowledged_at.is_none() || e.at >= before);
            Ok((was - log.len()) as u64)
        })
    }
}

/// Rate-limit state in memory, bounded: at most `max_keys` keys are tracked.
///
/// Written here rather than taken from `governor`, whose keyed limiter never forgets a
/// key on its own (`retain_recent` must be called), has no cap on the number of keys,
/// and keeps each key's full string: under a flood of new keys its memory grows without
/// bound. Here a key is tracked by a 64-bit keyed hash (a collision between two of a
/// million live keys has odds of about 1 in 36 million, and would only make two callers
/// share a limit) and its TAT: 16 bytes and a control byte per slot.
///
/// Idle keys are forgotten without changing any decision: a key whose TAT is past is the
/// same as an unseen key (see [`Quota`]). A shard sweeps them out whenever it has doubled
/// since its last sweep, and gives memory back when it shrinks. When a shard is full of
/// keys that are all still limited, the eighth nearest to a full burst are forgotten:
/// those keys get their burst back early, which is the least harm a bound can do.
#[derive(Debug)]
pub struct MemoryRateLimiter {
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
    shard_cap: usize,
}

/// The keys are already hashes: the map uses them as they are.
#[derive(Debug, Default, Clone, Copy)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug, Default)]
struct Shard {
    tats: HashMap<u64, i64, BuildHasherDefault<Prehashed>>,
    sweep_at: usize,
}

/// Shards of the key space, each behind its own lock (a power of two).
const SHARDS: usize = 64;

/// The fewest keys a shard holds before it sweeps.
const MIN_SHARD_SWEEP: usize = 64;

impl Shard {
    /// Forgets idle keys; if the shard is still full, the eighth of the keys nearest to a
    /// full burst.
    fn make_room(&mut self, now: i64, cap: usize) {
        self.tats.retain(|_, tat| *tat > now);
        if self.tats.len() >= cap {
            let mut tats: Vec<i64> = self.tats.values().copied().collect();
            let nth = tats.len() / 8;
            let (_, &mut threshold, _) = tats.select_nth_unstable(nth);
            self.tats.retain(|_, tat| *tat > threshold);
        }
        let len = self.tats.len();
        if self.tats.capacity() > 4 * len.max(MIN_SHARD_SWEEP) {
            self.tats.shrink_to(2 * len);
        }
        self.sweep_at = (2 * len).clamp(MIN_SHARD_SWEEP.min(cap), cap);
    }
}

impl MemoryRateLimiter {
    /// A limiter tracking at most `max_keys` keys (at least one per shard).
    pub fn new(max_keys: usize) -> Self {
        let shard_cap = max_keys.div_ceil(SHARDS).max(1);
        MemoryRateLimiter {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_cap,
        }
    }

    /// Decides a request of `key` under `quota` at `now`, and records it when allowed.
    pub fn decide(&self, key: &str, quota: Quota, now: SystemTime) -> Decision {
        let hash = self.hasher.hash_one(key);
        let now = micros(now);
        // The top bits pick the shard; the map hashes on the low bits.
        let mut shard = lock(&self.shards[(hash >> 58) as usize % SHARDS]);
        let tat = shard.tats.get(&hash).copied();
        let (decision, next) = quota.decide(tat, now);
        if let Some(next) = next {
            if tat.is_none() && shard.tats.len() >= shard.sweep_at {
                shard.make_room(now, self.shard_cap);
            }
            shard.tats.insert(hash, next);
        }
        decision
    }

    /// Forgets every key that is idle at `now` (decisions do not change); returns how
    /// many keys are still tracked. Keys are also swept as new ones arrive.
    pub fn sweep(&self, now: SystemTime) -> usize {
        let now = micros(now);
        self.shards
            .iter()
            .map(|shard| {
                let mut shard = lock(shard);
                shard.make_room(now, self.shard_cap);
                shard.tats.len()
            })
            .sum()
    }

    /// How many keys are tracked.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).tats.len()).sum()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys this limiter tracks.
    pub fn max_keys(&self) -> usize {
        self.shard_cap * SHARDS
    }
}

impl RateLimitStore for MemoryRateLimiter {
    fn check<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Decision, StoreError>> {
        let decision = self.decide(key, quota, now);
        Box::pin(std::future::ready(Ok(decision)))
    }
}
