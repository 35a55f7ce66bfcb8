//! Bytes per tracked key: the in-memory rate limiter against `governor`'s keyed limiter,
//! each after 1,000,000 distinct keys, counted by a global allocator that tallies live
//! bytes. Not a timing: run it with `cargo bench -p apierr-store --bench key_memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, SystemTime};

use apierr_store::{MemoryRateLimiter, Quota};
use governor::{Quota as GovernorQuota, RateLimiter};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const KEYS: u32 = 1_000_000;

fn main() {
    // Keys as the layer builds them: class and partner id.
    let key = |n: u32| format!("partner:{n:032x}");
    let quota = Quota::new(100, Duration::from_secs(60)).unwrap();
    let now = SystemTime::now();

    let before = LIVE.load(Ordering::Relaxed);
    let ours = MemoryRateLimiter::new(2 * KEYS as usize);
    for n in 0..KEYS {
        ours.decide(&key(n), quota, now);
    }
    let used = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "apierr MemoryRateLimiter: {} keys tracked, {:.1} bytes per key",
        ours.len(),
        used as f64 / f64::from(KEYS)
    );
    drop(ours);

    let before = LIVE.load(Ordering::Relaxed);
    let theirs = RateLimiter::keyed(GovernorQuota::per_minute(NonZeroU32::new(100).unwrap()));
    for n in 0..KEYS {
        let _ = theirs.check_key(&key(n));
    }
    let used = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "governor keyed (DashMap<String, _>): {} keys tracked, {:.1} bytes per key",
        theirs.len(),
        used as f64 / f64::from(KEYS)
    );
}
