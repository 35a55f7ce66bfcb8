//! One suite, every backend: the same assertions on memory, SQLite, PostgreSQL and Redis.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use apierr_store::{
    Claim, ClaimRequest, Entry, Fingerprint, IdempotencyStore, MemoryRateLimiter, Outcome, Quota,
    RateLimitStore, ReconciliationLog, StoredResponse,
};
use bytes::Bytes;

use crate::backends;

/// Runs each named test of the suite against the store `open` gives.
macro_rules! against {
    ($backend:ident, $open:path, [$($test:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let (store, _keep) = $open().await;
                    super::$test(store).await;
                }
            )*
        }
    };
}

macro_rules! idempotency_suite {
    ($backend:ident, $open:path) => {
        against!(
            $backend,
            $open,
            [
                a_new_key_is_claimed_once_and_then_in_flight,
                a_completed_claim_is_replayed_with_its_headers_and_body,
                another_payload_under_the_key_is_a_mismatch,
                a_crashed_claim_is_taken_over_after_its_lock_expires,
                only_the_owner_completes_or_releases,
                a_released_claim_runs_again,
                a_record_expires_and_is_purged,
                a_claim_outlived_by_its_record_finishes_nothing,
                keys_are_scoped_to_their_caller,
                fifty_concurrent_claims_acquire_once,
            ]
        );
    };
}

idempotency_suite!(idempotency_memory, crate::backends::idempotency_memory);
idempotency_suite!(idempotency_sqlite, crate::backends::idempotency_sqlite);
idempotency_suite!(idempotency_postgres, crate::backends::idempotency_postgres);
idempotency_suite!(idempotency_redis, crate::backends::idempotency_redis);

macro_rules! rate_suite {
    ($backend:ident, $open:path) => {
        against!(
            $backend,
            $open,
            [
                a_burst_then_refusal_with_the_wait,
                keys_are_limited_apart,
                an_idle_key_gets_its_burst_back,
            ]
        );
    };
}

rate_suite!(rate_memory, crate::backends::rate_memory);
rate_suite!(rate_redis, crate::backends::rate_redis);

macro_rules! log_suite {
    ($backend:ident, $open:path) => {
        against!($backend, $open, [entries_are_listed_in_order_and_paged]);
    };
}

log_suite!(log_memory, crate::backends::log_memory);
log_suite!(log_sqlite, crate::backends::log_sqlite);
log_suite!(log_postgres, crate::backends::log_postgres);

const LOCK: Duration = Duration::from_secs(30);
const KEEP: Duration = Duration::from_secs(24 * 60 * 60);

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn request<'a>(scope: &'a str, key: &'a str, payload: u8, now: SystemTime) -> ClaimRequest<'a> {
    ClaimRequest {
        scope,
        key,
        fingerprint: Fingerprint([payload; 32]),
        now,
        lock_for: LOCK,
        keep_for: KEEP,
    }
}

fn created() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            (
                "content-type".into(),
                Bytes::from_static(b"application/json"),
            ),
            ("location".into(), Bytes::from_static(b"/accounts/1")),
        ],
        body: Bytes::from_static(b"{\"id\":\"1\",\"note\":\"\xc3\xa9\\n\"}"),
    }
}

async fn acquire(store: &dyn IdempotencyStore, request: &ClaimRequest<'_>) -> i64 {
    match store.claim(request).await.unwrap() {
        Claim::Acquired { token } => token,
        other => panic!("expected the claim to be acquired, got {other:?}"),
    }
}

async fn a_new_key_is_claimed_once_and_then_in_flight(store: Arc<dyn IdempotencyStore>) {
    acquire(&*store, &request("acme", "k1", 1, at(0))).await;
    let again = store
        .claim(&request("acme", "k1", 1, at(10)))
        .await
        .unwrap();
    assert_eq!(
        again,
        Claim::InFlight {
            lock_expires_in: Duration::from_secs(20)
        }
    );
}

async fn a_completed_claim_is_replayed_with_its_headers_and_body(store: Arc<dyn IdempotencyStore>) {
    let token = acquire(&*store, &request("acme", "k1", 1, at(0))).await;
    assert!(
        store
            .complete("acme", "k1", token, at(50), &created())
            .await
            .unwrap()
    );
    for later in [1, 60 * 60] {
        let replay = store
            .claim(&request("acme", "k1", 1, at(later)))
            .await
            .unwrap();
        assert_eq!(replay, Claim::Completed(created()));
    }
    // Completed once: a second completion (even by the owner) stores nothing.
    assert!(
        !store
            .complete("acme", "k1", token, at(50), &created())
            .await
            .unwrap()
    );
}

async fn another_payload_under_the_key_is_a_mismatch(store: Arc<dyn IdempotencyStore>) {
    let token = acquire(&*store, &request("acme", "k1", 1, at(0))).await;
    // While in flight and after completion alike.
    let reuse = store.claim(&request("acme", "k1", 2, at(1))).await.unwrap();
    assert_eq!(reuse, Claim::Mismatch);
    assert!(
        store
            .complete("acme", "k1", token, at(50), &created())
            .await
            .unwrap()
    );
    let reuse = store.claim(&request("acme", "k1", 2, at(2))).await.unwrap();
    assert_eq!(reuse, Claim::Mismatch);
}

async fn a_crashed_claim_is_taken_over_after_its_lock_expires(store: Arc<dyn IdempotencyStore>) {
    // Scenario: the first owner crashes (never completes); a retry within the lock is in
    // flight, one after it takes the claim over with a greater token.
    let first = acquire(&*store, &request("acme", "k1", 1, at(0))).await;
    let early = store
        .claim(&request("acme", "k1", 1, at(29)))
        .await
        .unwrap();
    assert!(matches!(early, Claim::InFlight { .. }));
    let second = acquire(&*store, &request("acme", "k1", 1, at(31))).await;
    assert!(second > first, "fencing tokens grow: {second} > {first}");
    // A crashed claim is not free for another payload.
    let reuse = store
        .claim(&request("acme", "k1", 2, at(90)))
        .await
        .unwrap();
    assert_eq!(reuse, Claim::Mismatch);
}

async fn only_the_owner_completes_or_releases(store: Arc<dyn IdempotencyStore>) {
    // Scenario: a slow first owner outlives its lock; the retry takes over. The slow one
    // can neither store its response nor release the new owner's lock.
    let slow = acquire(&*store, &request("acme", "k1", 1, at(0))).await;
    let retry = acquire(&*store, &request("acme", "k1", 1, at(40))).await;
    assert!(!store.release("acme", "k1", slow, at(50)).await.unwrap());
    assert!(
        !store
            .complete("acme", "k1", slow, at(50), &created())
            .await
            .unwrap()
    );
    let still = store
        .claim(&request("acme", "k1", 1, at(41)))
        .await
        .unwrap();
    assert!(matches!(still, Claim::InFlight { .. }), "{still:?}");
    assert!(
        store
            .complete("acme", "k1", retry, at(50), &created())
            .await
            .unwrap()
    );
    let replay = store
        .claim(&request("acme", "k1", 1, at(42)))
        .await
        .unwrap();
    assert_eq!(replay, Claim::Completed(created()));
    // A token never issued does nothing either.
    assert!(
        !store
            .release("acme", "k1", retry + 1000, at(50))
            .await
            .unwrap()
    );
}

async fn a_released_claim_runs_again(store: Arc<dyn IdempotencyStore>) {
    // Scenario: the first attempt ended in a 5xx that is not stored: the lock is released
    // and the retry runs, at once, under a new token.
    let first = acquire(&*store, &request("acme", "k1", 1, at(0))).await;
    assert!(store.release("acme", "k1", first, at(50)).await.unwrap());
    let second = acquire(&*store, &request("acme", "k1", 1, at(1))).await;
    assert!(second > first);
    assert!(!store.release("acme", "k1", first, at(50)).await.unwrap());
}

async fn a_claim_outlived_by_its_record_finishes_nothing(store: Arc<dyn IdempotencyStore>) {
    // Scenario: a request still running when its record expires (a day later) can
    // neither store its response nor release: the key is anybody's again.
    let token = acquire(&*store, &request("acme", "k1", 1, at(0))).await;
    let day = KEEP.as_secs();
    assert!(!store.release("acme", "k1", token, at(day)).await.unwrap());
    assert!(
        !store
            .complete("acme", "k1", token, at(day + 1), &created())
            .await
            .unwrap()
    );
    assert!(
        store
            .complete("acme", "k1", token, at(day - 1), &created())
            .await
            .unwrap()
    );
}

async fn a_record_expires_and_is_purged(store: Arc<dyn IdempotencyStore>) {
    let token = acquire(&*store, &request("acme", "k1", 1, at(0))).await;
    assert!(
        store
            .complete("acme", "k1", token, at(50), &created())
            .await
            .unwrap()
    );
    let day = KEEP.as_secs();
    let replay = store
        .claim(&request("acme", "k1", 1, at(day - 1)))
        .await
        .unwrap();
    assert!(matches!(replay, Claim::Completed(_)));
    // Expired: the key is new again, for any payload.
    let fresh = acquire(&*store, &request("acme", "k1", 2, at(day + 1))).await;
    assert!(fresh > token);
    acquire(&*store, &request("acme", "k2", 1, at(day + 1))).await;
    // Purged at its expiry, and only then; Redis expires keys on its own.
    let expiring = if format!("{store:?}").starts_with("RedisStore") {
        0
    } else {
        2
    };
    assert_eq!(store.purge(at(day + 2)).await.unwrap(), 0);
    assert_eq!(store.purge(at(2 * day + 2)).await.unwrap(), expiring);
    acquire(&*store, &request("acme", "k1", 1, at(2 * day + 3))).await;
}

async fn keys_are_scoped_to_their_caller(store: Arc<dyn IdempotencyStore>) {
    // Scenario: two partners pick the same key: neither sees the other's record.
    let token = acquire(&*store, &request("acme", "k1", 1, at(0))).await;
    assert!(
        store
            .complete("acme", "k1", token, at(50), &created())
            .await
            .unwrap()
    );
    acquire(&*store, &request("globex", "k1", 1, at(1))).await;
    // A scope that ends where a key begins does not spell another's pair.
    acquire(&*store, &request("acme:k", "1", 1, at(1))).await;
    acquire(&*store, &request("acm", "e:k1", 1, at(1))).await;
}

async fn fifty_concurrent_claims_acquire_once(store: Arc<dyn IdempotencyStore>) {
    let claims = (0..50).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.claim(&request("acme", "k1", 1, at(0))).await })
    });
    let mut acquired = 0;
    for claim in claims {
        match claim.await.unwrap().unwrap() {
            Claim::Acquired { .. } => acquired += 1,
            Claim::InFlight { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(acquired, 1);
}

fn per_second(limit: u32) -> Quota {
    Quota::new(limit, Duration::from_secs(1)).unwrap()
}

async fn a_burst_then_refusal_with_the_wait(store: Arc<dyn RateLimitStore>) {
    let quota = per_second(4);
    for left in (0..4).rev() {
        let d = store.check("acme:write", quota, at(0)).await.unwrap();
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining), (4, left));
    }
    let refused = store.check("acme:write", quota, at(0)).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    assert_eq!(refused.retry_after, Duration::from_millis(250));
    assert_eq!(refused.reset, Duration::from_secs(1));
    // A refusal is not counted: 250 ms later exactly one more is allowed.
    let later = at(0) + Duration::from_millis(250);
    assert!(
        store
            .check("acme:write", quota, later)
            .await
            .unwrap()
            .allowed
    );
    assert!(
        !store
            .check("acme:write", quota, later)
            .await
            .unwrap()
            .allowed
    );
}

async fn keys_are_limited_apart(store: Arc<dyn RateLimitStore>) {
    let quota = per_second(1);
    assert!(
        store
            .check("acme:write", quota, at(0))
            .await
            .unwrap()
            .allowed
    );
    assert!(
        !store
            .check("acme:write", quota, at(0))
            .await
            .unwrap()
            .allowed
    );
    assert!(
        store
            .check("globex:write", quota, at(0))
            .await
            .unwrap()
            .allowed
    );
    assert!(
        store
            .check("acme:read", quota, at(0))
            .await
            .unwrap()
            .allowed
    );
}

async fn an_idle_key_gets_its_burst_back(store: Arc<dyn RateLimitStore>) {
    let quota = per_second(3);
    for _ in 0..3 {
        assert!(
            store
                .check("acme:write", quota, at(0))
                .await
                .unwrap()
                .allowed
        );
    }
    let back = store.check("acme:write", quota, at(5)).await.unwrap();
    assert!(back.allowed);
    assert_eq!(back.remaining, 2);
}

fn entry(n: u32, at: SystemTime) -> Entry {
    Entry {
        seq: 0,
        at,
        request_id: format!("req-{n}"),
        caller: n.is_multiple_of(2).then(|| "acme".to_owned()),
        method: "POST".into(),
        route: "/accounts?x=1".into(),
        idempotency_key: n.is_multiple_of(3).then(|| format!("key-{n}")),
        fingerprint: "ab".repeat(32),
        status: 500 + (n % 5) as u16,
        outcome: [Outcome::ServerError, Outcome::Panicked, Outcome::Abandoned][n as usize % 3],
        acknowledged_at: None,
    }
}

async fn entries_are_listed_in_order_and_paged(log: Arc<dyn ReconciliationLog>) {
    for n in 0..7 {
        log.record(&entry(n, at(u64::from(n)))).await.unwrap();
    }
    let first = log.list(at(0), 0, 4).await.unwrap();
    assert_eq!(first.len(), 4);
    for (n, e) in first.iter().enumerate() {
        assert_eq!(
            Entry {
                seq: 0,
                ..e.clone()
            },
            entry(n as u32, at(n as u64))
        );
    }
    let rest = log.list(at(0), first[3].seq, 100).await.unwrap();
    let ids: Vec<_> = rest.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["req-4", "req-5", "req-6"]);
    let recent = log.list(at(5), 0, 100).await.unwrap();
    assert_eq!(recent.len(), 2);
    // One caller's newest first (the even ones are acme's).
    let theirs = log.recent_for("acme", 3).await.unwrap();
    let ids: Vec<_> = theirs.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["req-6", "req-4", "req-2"]);
    assert!(log.recent_for("nobody", 10).await.unwrap().is_empty());

    // Acknowledged entries leave the queue of open ones and stay in the history.
    assert!(log.acknowledge(first[1].seq, at(9)).await.unwrap());
    assert!(
        !log.acknowledge(first[1].seq, at(10)).await.unwrap(),
        "once"
    );
    assert!(
        !log.acknowledge(i64::MAX, at(10)).await.unwrap(),
        "no such entry"
    );
    let open = log.open(0, 3).await.unwrap();
    let ids: Vec<_> = open.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["req-0", "req-2", "req-3"]);
    let open = log.open(open[2].seq, 100).await.unwrap();
    assert_eq!(open.len(), 3);
    let all = log.list(at(0), 0, 100).await.unwrap();
    assert_eq!(all[1].acknowledged_at, Some(at(9)));
    assert_eq!(
        all.iter().filter(|e| e.acknowledged_at.is_some()).count(),
        1
    );
}

#[test]
fn memory_stays_bounded_after_a_million_keys() {
    // Scenario: a flood of 1,000,000 distinct callers, each still limited when the next
    // arrives: the limiter never tracks more than its cap, and gives memory back once
    // they are idle.
    let limiter = MemoryRateLimiter::new(50_000);
    let quota = Quota::new(10, Duration::from_secs(60)).unwrap();
    for n in 0..1_000_000u32 {
        let now = at(0) + Duration::from_micros(u64::from(n));
        assert!(limiter.decide(&format!("caller-{n}"), quota, now).allowed);
        if n % 100_000 == 0 {
            assert!(limiter.len() <= limiter.max_keys(), "{}", limiter.len());
        }
    }
    assert!(limiter.len() <= limiter.max_keys());
    assert!(limiter.len() > limiter.max_keys() / 2, "the cap is used");
    // The newest keys are kept: the last caller is still limited as it should be.
    let last = limiter.decide("caller-999999", quota, at(1));
    assert_eq!(last.remaining, 8);
    // An hour later every key is idle: a sweep forgets them all, deciding nothing else.
    assert_eq!(limiter.sweep(at(3600)), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_redis_stores_share_one_limit() {
    // Scenario: two replicas on one Redis: 10 per second between them, not each.
    let shared = apierr_testkit::TestRedis::new("shared").await;
    let a = backends::redis_on(&shared).await;
    let b = backends::redis_on(&shared).await;
    let quota = per_second(10);
    let mut allowed = 0;
    for n in 0..30 {
        let store: &dyn RateLimitStore = if n % 2 == 0 { &a } else { &b };
        allowed += usize::from(
            store
                .check("acme:write", quota, at(0))
                .await
                .unwrap()
                .allowed,
        );
    }
    assert_eq!(allowed, 10);
}
