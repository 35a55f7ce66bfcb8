//! Property tests: random sequences of claims, completions, releases, purges and clock
//! moves give the same answers, token for token, on every backend as on the in-memory
//! model; and the same rate-limit decisions in memory and in Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use apierr_store::{
    Claim, ClaimRequest, Fingerprint, IdempotencyStore, MemoryRateLimiter, MemoryStore, Quota,
    RateLimitStore, StoredResponse,
};
use bytes::Bytes;
use proptest::prelude::*;

use crate::backends;

#[derive(Debug, Clone)]
enum Op {
    Claim { key: u8, payload: u8 },
    Complete { key: u8, which: u8, status: u16 },
    Release { key: u8, which: u8 },
    Purge,
    Advance { secs: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3u8, 0..2u8).prop_map(|(key, payload)| Op::Claim { key, payload }),
        2 => (0..3u8, any::<u8>(), prop_oneof![Just(201u16), Just(409), Just(500)])
            .prop_map(|(key, which, status)| Op::Complete { key, which, status }),
        1 => (0..3u8, any::<u8>()).prop_map(|(key, which)| Op::Release { key, which }),
        1 => Just(Op::Purge),
        2 => (0..400u16).prop_map(|secs| Op::Advance { secs }),
    ]
}

/// What one backend answered, in order (purge counts left out: Redis expires on its own).
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Claim(Claim),
    Finished(bool),
}

const LOCK: Duration = Duration::from_secs(30);
const KEEP: Duration = Duration::from_secs(600);

async fn run(store: &dyn IdempotencyStore, scope: &str, ops: &[Op]) -> Vec<Seen> {
    let mut now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut tokens: [Vec<i64>; 3] = Default::default();
    let mut seen = Vec::new();
    for op in ops {
        match *op {
            Op::Claim { key, payload } => {
                let key_name = format!("k{key}");
                let request = ClaimRequest {
                    scope,
                    key: &key_name,
                    fingerprint: Fingerprint([payload; 32]),
                    now,
                    lock_for: LOCK,
                    keep_for: KEEP,
                };
                let claim = store.claim(&request).await.unwrap();
                if let Claim::Acquired { token } = claim {
                    tokens[usize::from(key)].push(token);
                }
                seen.push(Seen::Claim(claim));
            }
            Op::Complete { key, which, status } => {
                let held = &tokens[usize::from(key)];
                let token = held
                    .get(usize::from(which) % held.len().max(1))
                    .copied()
                    .unwrap_or(7);
                let response = StoredResponse {
                    status,
                    headers: vec![(
                        "content-type".into(),
                        Bytes::from_static(b"application/json"),
                    )],
                    body: Bytes::from(format!("{{\"status\":{status}}}")),
                };
                let done = store
                    .complete(scope, &format!("k{key}"), token, now, &response)
                    .await;
                seen.push(Seen::Finished(done.unwrap()));
            }
            Op::Release { key, which } => {
                let held = &tokens[usize::from(key)];
                let token = held
                    .get(usize::from(which) % held.len().max(1))
                    .copied()
                    .unwrap_or(7);
                let done = store.release(scope, &format!("k{key}"), token, now).await;
                seen.push(Seen::Finished(done.unwrap()));
            }
            Op::Purge => {
                store.purge(now).await.unwrap();
            }
            Op::Advance { secs } => now += Duration::from_secs(u64::from(secs)),
        }
    }
    seen
}

static CASE: AtomicU64 = AtomicU64::new(0);

/// Opens the store in the runtime every case then runs on (connections belong to it).
fn same_as_memory<F>(open: impl FnOnce() -> F)
where
    F: std::future::Future<Output = (Arc<dyn IdempotencyStore>, crate::backends::Keep)>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (store, _keep) = runtime.block_on(open());
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..40))| {
        // A scope per case: one store serves every case without cleaning up.
        let scope = format!("case-{}", CASE.fetch_add(1, Ordering::Relaxed));
        let (model, real) = runtime.block_on(async {
            let model = run(&MemoryStore::new(), &scope, &ops).await;
            (model, run(&*store, &scope, &ops).await)
        });
        prop_assert_eq!(model, real);
    });
}

#[test]
fn sqlite_answers_as_the_model() {
    same_as_memory(backends::idempotency_sqlite);
}

#[test]
fn postgres_answers_as_the_model() {
    same_as_memory(backends::idempotency_postgres);
}

#[test]
fn redis_answers_as_the_model() {
    same_as_memory(backends::idempotency_redis);
}

#[test]
fn redis_decides_rate_limits_as_memory() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (redis, _keep) = runtime.block_on(backends::redis());
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let steps = proptest::collection::vec((0..3u8, 0..3_000_000u64), 1..60);
    proptest!(config, |(limit in 1..6u32, window_ms in 1..5_000u64, steps in steps)| {
        let case = CASE.fetch_add(1, Ordering::Relaxed);
        let quota = Quota::new(limit, Duration::from_millis(window_ms)).unwrap();
        let memory = MemoryRateLimiter::new(1_000);
        let mut now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        for (key, wait_us) in steps {
            now += Duration::from_micros(wait_us % (window_ms * 1_000));
            let key = format!("case-{case}:k{key}");
            let expected = memory.decide(&key, quota, now);
            let got = runtime.block_on(redis.check(&key, quota, now)).unwrap();
            prop_assert_eq!(expected, got);
        }
    });
}
