//! Bytes per tracked key: the in-memory rate limiter against `governor`'s keyed limiter,
//! each after 1,000,000 distinct keys, measured as the growth of the process's resident
//! memory (each in a fresh child process, so neither reuses the other's freed pages).
//! Not a timing: `cargo bench -p apierr-store --bench key_memory`. Linux only (it reads
//! `/proc/self/statm`).

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use apierr_store::{MemoryRateLimiter, Quota};
use governor::{Quota as GovernorQuota, RateLimiter};

const KEYS: u32 = 1_000_000;

/// Resident bytes of this process.
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Keys as the layer builds them: class and partner id.
fn key(n: u32) -> String {
    format!("partner:{n:032x}")
}

fn measure(which: &str) {
    let before = resident();
    let tracked = match which {
        "apierr" => {
            let quota = Quota::new(100, Duration::from_secs(60)).unwrap();
            let now = SystemTime::now();
            let limiter = MemoryRateLimiter::new(2 * KEYS as usize);
            for n in 0..KEYS {
                limiter.decide(&key(n), quota, now);
            }
            let tracked = limiter.len();
            let used = resident() - before;
            std::mem::forget(limiter);
            (tracked, used)
        }
        _ => {
            let quota = GovernorQuota::per_minute(NonZeroU32::new(100).unwrap());
            let limiter = RateLimiter::keyed(quota);
            for n in 0..KEYS {
                let _ = limiter.check_key(&key(n));
            }
            let tracked = limiter.len();
            let used = resident() - before;
            std::mem::forget(limiter);
            (tracked, used)
        }
    };
    println!(
        "{which}: {} keys tracked, {:.1} bytes per key",
        tracked.0,
        tracked.1 as f64 / f64::from(KEYS)
    );
}

fn main() {
    if let Ok(which) = std::env::var("APIERR_KEY_MEMORY") {
        measure(&which);
        return;
    }
    let me = std::env::current_exe().expect("this bench's path");
    for which in ["apierr", "governor"] {
        let status = std::process::Command::new(&me)
            .env("APIERR_KEY_MEMORY", which)
            .status()
            .expect("a child process");
        assert!(status.success());
    }
}
