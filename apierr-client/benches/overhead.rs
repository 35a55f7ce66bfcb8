//! The policy's overhead on a successful request: the same GET to a local axum server
//! through plain `reqwest` and through `apierr_client::Client` (which adds an
//! `Idempotency-Key` check, the retry loop, the deadline timer and the budget), in one
//! run. `cargo bench -p apierr-client --bench overhead`

// criterion's macros write undocumented functions.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use apierr_client::Client;
use axum::Router;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/r", listener.local_addr().unwrap());
        let app = Router::new().route("/r", get(|| async { "{\"ok\":true}" }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    });
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ours = Client::new();
    let mut group = c.benchmark_group("success");
    group.bench_function("reqwest", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let r = plain.get(&url).send().await.unwrap();
                    assert!(r.status().is_success());
                    r.bytes().await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("apierr_client", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let r = ours.get(&url).send().await.unwrap();
                    assert!(r.status().is_success());
                    r.bytes().await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = overhead
}
criterion_main!(benches);
