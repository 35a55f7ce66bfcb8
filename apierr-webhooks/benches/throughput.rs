//! Deliveries per second to a local receiver: the dispatcher on an SQLite outbox and on a
//! PostgreSQL outbox, against a bare `reqwest` loop sending the same signed requests with
//! the same concurrency and no outbox, in one run.
//!
//! `cargo bench -p apierr-webhooks --bench throughput [-- MESSAGES]` (PostgreSQL at
//! `APIERR_BENCH_POSTGRES`, default the machine's `postgres://postgres@127.0.0.1:5432/test`;
//! each run in a schema of its own).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use apierr_client::WebhookVerifier;
use apierr_webhooks::{
    AddressPolicy, DeliveryState, Dispatcher, Outbox, Schedule, Secret, Subscription,
};
use axum::http::StatusCode;
use sqlx::Connection;
use tokio::sync::Notify;

/// In flight at once, for the loop and the dispatcher alike.
const CONCURRENCY: usize = 32;
/// Rounds of each; the median is reported.
const ROUNDS: usize = 3;

/// A receiver that counts, and wakes the bench when `target` requests have arrived.
#[derive(Clone)]
struct Counter {
    got: Arc<AtomicUsize>,
    target: Arc<AtomicUsize>,
    done: Arc<Notify>,
}

impl Counter {
    fn expect(&self, n: usize) {
        self.got.store(0, Ordering::SeqCst);
        self.target.store(n, Ordering::SeqCst);
    }

    async fn wait(&self) {
        loop {
            let notified = self.done.notified();
            if self.got.load(Ordering::SeqCst) >= self.target.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

async fn receiver() -> (String, Counter) {
    let counter = Counter {
        got: Arc::new(AtomicUsize::new(0)),
        target: Arc::new(AtomicUsize::new(usize::MAX)),
        done: Arc::new(Notify::new()),
    };
    let c = counter.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let c = c.clone();
            async move {
                if c.got.fetch_add(1, Ordering::SeqCst) + 1 >= c.target.load(Ordering::SeqCst) {
                    c.done.notify_waiters();
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, counter)
}

fn payload(n: usize) -> serde_json::Value {
    serde_json::json!({
        "id": format!("{n:032x}"),
        "email": format!("user{n}@example.com"),
        "first_name": "Ada",
        "last_name": "Lovelace",
    })
}

/// The bare loop: `CONCURRENCY` tasks sending `n` signed posts between them.
async fn bare(url: &str, secret: &Secret, n: usize, counter: &Counter) -> (Duration, Duration) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let signer = WebhookVerifier::new(secret.expose()).unwrap();
    counter.expect(n);
    let cpu_before = cpu();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..CONCURRENCY {
        let (http, signer, url) = (http.clone(), signer.clone(), url.to_owned());
        tasks.spawn(async move {
            for i in (t..n).step_by(CONCURRENCY) {
                let id = format!("msg_{i:032x}");
                let body = serde_json::json!({
                    "type": "account.created",
                    "timestamp": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
                    "data": payload(i),
                })
                .to_string();
                let ts = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
                let signature = signer.sign(&id, ts, body.as_bytes());
                http.post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", signature)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    counter.wait().await;
    (start.elapsed(), cpu().saturating_sub(cpu_before))
}

/// The dispatcher: `n` messages written to the outbox first (neither timed nor counted
/// in CPU), then delivered.
async fn outboxed(outbox: &Outbox, url: &str, n: usize, counter: &Counter) -> (Duration, Duration) {
    let secret = Secret::generate();
    let owner = format!("bench{}", fastrand::u64(..));
    outbox
        .register(
            &owner,
            url,
            &secret,
            &Schedule::default(),
            &Subscription::All,
            SystemTime::now(),
        )
        .await
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = outbox.pool().begin().await.unwrap();
        for i in chunk {
            outbox
                .enqueue(
                    &mut tx,
                    &owner,
                    "account.created",
                    &payload(*i),
                    SystemTime::now(),
                )
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    counter.expect(n);
    let dispatcher = Dispatcher::builder(outbox.clone())
        .concurrency(CONCURRENCY)
        // The one partner and endpoint may use every slot, as the loop does: by
        // default they would have 16 (the per-endpoint cap that keeps a slow endpoint
        // from holding all of them).
        .partner_concurrency(CONCURRENCY)
        .endpoint_concurrency(CONCURRENCY)
        .policy(AddressPolicy::new().allow("127.0.0.0/8".parse().unwrap()))
        .build()
        .unwrap();
    let stop = Arc::new(Notify::new());
    let stopped = stop.clone();
    let cpu_before = cpu();
    let start = Instant::now();
    let run = tokio::spawn(async move {
        dispatcher
            .run(async move { stopped.notified().await })
            .await;
    });
    counter.wait().await;
    let took = start.elapsed();
    stop.notify_waiters();
    run.await.unwrap();
    let used = cpu().saturating_sub(cpu_before);
    // Every delivery recorded before the next round (not timed).
    loop {
        let pending = outbox.count(None, DeliveryState::Pending).await.unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (took, used)
}

/// This process's CPU time so far (user and system), from `/proc/self/stat` in clock
/// ticks of 10 ms (Linux's `USER_HZ`); zero where there is no `/proc`.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Deliveries per second and this process's CPU µs per delivery.
fn figures(n: usize, (took, used): (Duration, Duration)) -> (f64, f64) {
    (rate(n, took), used.as_micros() as f64 / n as f64)
}

fn rate(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

/// The median of the measured rounds (the first item is a placeholder, so that an arm
/// left out prints zero).
fn median(v: Vec<f64>) -> f64 {
    let mut v = v[1..].to_vec();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000);
    let (url, counter) = receiver().await;
    let dir = std::env::temp_dir().join(format!("apierr_wh_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = Outbox::connect(&format!("sqlite://{}", dir.join("outbox.db").display()))
        .await
        .unwrap();
    let pg_url = std::env::var("APIERR_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("apierr_wh_bench_{}", std::process::id());
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&pg_url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if pg_url.contains('?') { '&' } else { '?' };
    let postgres = Outbox::connect(&format!("{pg_url}{sep}options=-c%20search_path%3D{schema}"))
        .await
        .unwrap();

    let secret = Secret::generate();
    // One warm-up of each, then the rounds, interleaved so drift hits all three.
    bare(&url, &secret, n / 10, &counter).await;
    outboxed(&sqlite, &url, n / 10, &counter).await;
    // `-- N sqlite` or `-- N postgres` runs the bare loop and that outbox only (for
    // profiling one of them).
    let only = std::env::args()
        .skip(1)
        .find(|a| a == "sqlite" || a == "postgres");
    let only = only.as_deref();
    let (mut b, mut s, mut p) = (vec![0.0], vec![0.0], vec![0.0]);
    let (mut bc, mut sc, mut pc) = (vec![0.0], vec![0.0], vec![0.0]);
    for _ in 0..ROUNDS {
        let (r, c) = figures(n, bare(&url, &secret, n, &counter).await);
        b.push(r);
        bc.push(c);
        if only.is_none_or(|o| o == "sqlite") {
            let (r, c) = figures(n, outboxed(&sqlite, &url, n, &counter).await);
            s.push(r);
            sc.push(c);
        }
        if only.is_none_or(|o| o == "postgres") {
            let (r, c) = figures(n, outboxed(&postgres, &url, n, &counter).await);
            p.push(r);
            pc.push(c);
        }
    }
    let (b, s, p) = (median(b), median(s), median(p));
    let (bc, sc, pc) = (median(bc), median(sc), median(pc));
    println!("{n} deliveries, {CONCURRENCY} in flight, median of {ROUNDS} rounds");
    println!("(CPU: this process, receiver included; PostgreSQL's own processes not counted):");
    println!("  bare reqwest loop   {b:>8.0} /s          {bc:>5.1} µs CPU a delivery");
    println!(
        "  SQLite outbox       {s:>8.0} /s   {:.2}x   {sc:>5.1} µs CPU a delivery",
        s / b
    );
    println!(
        "  PostgreSQL outbox   {p:>8.0} /s   {:.2}x   {pc:>5.1} µs CPU a delivery",
        p / b
    );

    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
