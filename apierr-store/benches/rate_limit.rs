//! The in-memory rate-limit decision against `governor`'s keyed check (the issue's
//! reference), on the same keys in the same run: a hot key, and keys spread over 10 000
//! callers.
//!
//! `cargo bench -p apierr-store --bench rate_limit`

// criterion's macros write undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use apierr_store::{MemoryRateLimiter, Quota};
use criterion::{Criterion, criterion_group, criterion_main};
use governor::{Quota as GovernorQuota, RateLimiter};

fn keys() -> Vec<String> {
    (0..10_000).map(|i| format!("partner-{i}:write")).collect()
}

fn decisions(c: &mut Criterion) {
    let keys = keys();
    // A quota nobody exhausts, so both sides take the "allowed, record it" path.
    let limit = 1_000_000_000u32;
    let ours = MemoryRateLimiter::new(100_000);
    // A burst of 2^32 - 1 at one a microsecond: never exhausted within the bench.
    let quota = Quota::new(u32::MAX, Duration::from_secs(4_295)).unwrap();
    let theirs = RateLimiter::keyed(GovernorQuota::per_second(NonZeroU32::new(limit).unwrap()));

    let mut group = c.benchmark_group("rate_limit");
    // Both read the clock on every decision: governor its own, apierr the layer's.
    group.bench_function("apierr/hot_key", |b| {
        b.iter(|| black_box(ours.decide(black_box(&keys[0]), quota, SystemTime::now())))
    });
    group.bench_function("governor/hot_key", |b| {
        b.iter(|| black_box(theirs.check_key(black_box(&keys[0]))))
    });
    let mut i = 0usize;
    group.bench_function("apierr/10k_keys", |b| {
        b.iter(|| {
            i += 1;
            let key = &keys[i % keys.len()];
            black_box(ours.decide(black_box(key), quota, SystemTime::now()))
        })
    });
    let mut i = 0usize;
    group.bench_function("governor/10k_keys", |b| {
        b.iter(|| {
            i += 1;
            black_box(theirs.check_key(black_box(&keys[i % keys.len()])))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = decisions
}
criterion_main!(benches);
