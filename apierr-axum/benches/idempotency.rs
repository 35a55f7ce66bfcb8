//! The latency an `Idempotency-Key` adds to a POST, per backend: a new key each request
//! (a claim and a completion: two store round trips), against the same route without the
//! layer, in the same run. In process (`tower::ServiceExt::oneshot`), so the figures are
//! the layer's and the store's, not the network's.
//!
//! `cargo bench -p apierr-axum --bench idempotency` (PostgreSQL and Redis running).

// criterion's macros write undocumented functions.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use apierr_axum::store::{IdempotencyStore, MemoryStore, RedisStore, SqlStore};
use apierr_axum::{Caller, IdempotencyLayer};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;
use tower::util::MapRequestLayer;

static NEXT: AtomicU64 = AtomicU64::new(0);

fn app(store: Option<Arc<dyn IdempotencyStore>>) -> Router {
    let route = post(|| async { (StatusCode::CREATED, "{\"id\":\"1\"}") });
    let route = match store {
        Some(store) => route.route_layer(IdempotencyLayer::new(store)),
        None => route,
    };
    Router::new()
        .route("/orders", route)
        .layer(MapRequestLayer::new(|mut req: Request| {
            req.extensions_mut().insert(Caller::new("acme"));
            req
        }))
}

fn request(run: u64) -> Request {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Request::post("/orders")
        .header("content-type", "application/json")
        .header("idempotency-key", format!("bench-{run}-{n}"))
        .body(Body::from("{\"email\":\"ada@example.com\"}"))
        .unwrap()
}

fn latency(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let backends: Vec<(&str, Option<Arc<dyn IdempotencyStore>>)> = rt.block_on(async {
        let sqlite = std::env::temp_dir().join(format!("apierr_bench_{run}.db"));
        vec![
            ("none", None),
            (
                "memory",
                Some(Arc::new(MemoryStore::new()) as Arc<dyn IdempotencyStore>),
            ),
            (
                "sqlite",
                Some(Arc::new(
                    SqlStore::connect(&format!("sqlite://{}", sqlite.display()))
                        .await
                        .unwrap(),
                ) as _),
            ),
            (
                "postgres",
                Some(Arc::new(
                    SqlStore::connect("postgres://postgres@127.0.0.1:5432/test")
                        .await
                        .unwrap(),
                ) as _),
            ),
            (
                "redis",
                Some(Arc::new(
                    RedisStore::connect_with_prefix(
                        "redis://127.0.0.1:6379",
                        &format!("apierr_bench_{run}:"),
                    )
                    .await
                    .unwrap(),
                ) as _),
            ),
        ]
    });
    let mut group = c.benchmark_group("idempotent_post");
    for (name, store) in backends {
        let app = app(store);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let response = app.clone().oneshot(request(run)).await.unwrap();
                        assert_eq!(response.status(), StatusCode::CREATED);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(30);
    targets = latency
}
criterion_main!(benches);
