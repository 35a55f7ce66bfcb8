//! Idempotency keys, rate limits and the reconciliation log through a real server, on
//! every backend, with a clock the test moves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use apierr::{ApiError, Condition, Profile};
use apierr_axum::store::{
    Claim, ClaimRequest, Fingerprint, Outcome, Quota, RateLimitStore, ReconciliationLog,
    StoreError, StoredResponse,
};
use apierr_axum::{
    Caller, Clock, ContractLayer, IdempotencyLayer, Json, RateLimitLayer, ReconcileLayer,
    WhenStoreDown,
};
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderName};
use axum::routing::post;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tower::util::MapRequestLayer;

use crate::stores::{self, Backend};
use crate::{read, serve};

/// A clock the test moves: a fixed start plus the seconds in `offset`.
fn clock() -> (Clock, Arc<AtomicU64>) {
    let offset = Arc::new(AtomicU64::new(0));
    let moved = offset.clone();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let clock: Clock = Arc::new(move || start + Duration::from_secs(moved.load(Ordering::SeqCst)));
    (clock, offset)
}

/// The handler's side: how often it ran, and a gate a `"wait"` request stops at.
#[derive(Default)]
struct Handler {
    runs: AtomicUsize,
    started: Notify,
    gate: Notify,
}

async fn order(
    handler: Arc<Handler>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, [(HeaderName, &'static str); 1], String), ApiError> {
    let run = handler.runs.fetch_add(1, Ordering::SeqCst) + 1;
    match body["do"].as_str() {
        Some("wait") => {
            handler.started.notify_one();
            handler.gate.notified().await;
        }
        Some("slow") => tokio::time::sleep(Duration::from_millis(50)).await,
        Some("fail") if run == 1 => return Err(Condition::Internal.into()),
        Some("panic") if run == 1 => panic!("the handler broke"),
        Some("limited") if run == 1 => {
            return Err(
                ApiError::from(Condition::RateLimited).with_retry_after(Duration::from_secs(1))
            );
        }
        _ => {}
    }
    let body = json!({"run": run, "item": body["item"]}).to_string();
    Ok((
        StatusCode::CREATED,
        [(CONTENT_TYPE, "application/json")],
        body,
    ))
}

/// The code `profile` gives `condition`.
fn condition_code(profile: &Profile, condition: Condition) -> apierr::Code {
    profile.adopt(condition.into()).code().clone()
}

/// Who calls: the `x-caller` header, as an authentication layer would say.
fn caller_from_header(mut req: Request) -> Request {
    if let Some(caller) = req.headers().get("x-caller").and_then(|v| v.to_str().ok()) {
        let caller = Caller::new(caller);
        req.extensions_mut().insert(caller);
    }
    req
}

struct App {
    base: String,
    handler: Arc<Handler>,
    offset: Arc<AtomicU64>,
    client: reqwest::Client,
    /// The store's place, removed with the app.
    _keep: stores::Keep,
}

impl App {
    async fn post(&self, path: &str, key: Option<&str>, body: Value) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("x-caller", "acme")
            .json(&body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.unwrap()
    }

    fn runs(&self) -> usize {
        self.handler.runs.load(Ordering::SeqCst)
    }
}

async fn idempotent_app(backend: Backend) -> App {
    let (store, keep) = stores::idempotency(backend).await;
    let (clock, offset) = clock();
    let handler = Arc::new(Handler::default());
    let h = handler.clone();
    let layer = IdempotencyLayer::new(store).clock(clock);
    let orders = Router::new()
        .route("/orders", post(move |body| order(h.clone(), body)))
        .route_layer(layer.clone());
    let h = handler.clone();
    let payments = Router::new()
        .route("/payments", post(move |body| order(h.clone(), body)))
        .route_layer(layer.required(true));
    let app = orders
        .merge(payments)
        .layer(MapRequestLayer::new(caller_from_header))
        .layer(ContractLayer::new(Profile::ERRORS_ARRAY).timeout(Duration::from_secs(10)));
    App {
        base: serve(app).await,
        handler,
        offset,
        client: reqwest::Client::new(),
        _keep: keep,
    }
}

/// Runs each named test on each backend.
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use crate::stores::Backend;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() { super::$test(Backend::Memory).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() { super::$test(Backend::Sqlite).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() { super::$test(Backend::Postgres).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() { super::$test(Backend::Redis).await }
            }
        )*
    };
}

on_every_backend!(
    fifty_concurrent_requests_run_the_handler_once,
    a_retry_is_replayed_and_a_reuse_refused,
    a_request_in_flight_is_a_conflict,
    a_replay_expires,
    server_errors_and_panics_run_again,
);

async fn fifty_concurrent_requests_run_the_handler_once(backend: Backend) {
    let app = Arc::new(idempotent_app(backend).await);
    let requests = (0..50).map(|_| {
        let app = app.clone();
        tokio::spawn(async move {
            let r = app
                .post("/orders", Some("order-1"), json!({"do": "slow", "item": 7}))
                .await;
            let replayed = r.headers().contains_key("idempotent-replayed");
            (r.status().as_u16(), replayed, r.text().await.unwrap())
        })
    });
    let mut first = Vec::new();
    for request in requests {
        match request.await.unwrap() {
            (201, false, body) => first.push(body),
            (201, true, body) => assert_eq!(body, r#"{"item":7,"run":1}"#),
            (409, _, body) => assert!(body.contains("errorCode"), "{body}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(app.runs(), 1, "the handler ran exactly once");
    assert_eq!(first, [r#"{"item":7,"run":1}"#]);
    // Every later retry is a replay.
    let r = app
        .post("/orders", Some("order-1"), json!({"do": "slow", "item": 7}))
        .await;
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(app.runs(), 1);
}

async fn a_retry_is_replayed_and_a_reuse_refused(backend: Backend) {
    let app = idempotent_app(backend).await;
    let profile = Profile::ERRORS_ARRAY;
    let r = app
        .post("/orders", Some("\"k-1\""), json!({"item": 1}))
        .await;
    assert_eq!(r.status(), 201);
    assert!(!r.headers().contains_key("idempotent-replayed"));
    let first_id = r.headers()["x-request-id"].clone();
    let first = r.text().await.unwrap();
    // The same key, bare or quoted: the same response, marked, under a new request id.
    let r = app.post("/orders", Some("k-1"), json!({"item": 1})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_ne!(r.headers()["x-request-id"], first_id);
    assert_eq!(r.text().await.unwrap(), first);
    assert_eq!(app.runs(), 1);
    // Another payload under the key: 422 in the contract.
    let (status, _, body, error) = read(
        &profile,
        app.post("/orders", Some("k-1"), json!({"item": 2})).await,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error.code(),
        &condition_code(&profile, Condition::IdempotencyKeyReused),
        "{body}"
    );
    // Another caller with the same key runs on its own.
    let r = app
        .client
        .post(format!("{}/orders", app.base))
        .header("x-caller", "globex")
        .header("idempotency-key", "k-1")
        .json(&json!({"item": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(!r.headers().contains_key("idempotent-replayed"));
    assert_eq!(app.runs(), 2);
    // A route that requires a key: 400 without one, the handler never runs.
    let (status, _, body, error) = read(
        &profile,
        app.post("/payments", None, json!({"item": 1})).await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        error.code(),
        &condition_code(&profile, Condition::IdempotencyKeyMissing),
        "{body}"
    );
    // Malformed keys: 400, naming the header.
    for bad in ["", "\"\"", &"k".repeat(256), "caf\u{e9}", "a b"] {
        let r = app
            .client
            .post(format!("{}/payments", app.base))
            .header("x-caller", "acme")
            .header(
                "idempotency-key",
                reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            )
            .json(&json!({"item": 1}))
            .send()
            .await
            .unwrap();
        let (status, _, body, _) = read(&profile, r).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert!(body.contains("Idempotency-Key"), "{body}");
    }
    assert_eq!(app.runs(), 2);
    // 255 characters is the most a key may have.
    let r = app
        .post("/payments", Some(&"k".repeat(255)), json!({"item": 1}))
        .await;
    assert_eq!(r.status(), 201);
}

async fn a_request_in_flight_is_a_conflict(backend: Backend) {
    let app = Arc::new(idempotent_app(backend).await);
    let first = {
        let app = app.clone();
        tokio::spawn(async move {
            app.post("/orders", Some("k-2"), json!({"do": "wait"}))
                .await
        })
    };
    app.handler.started.notified().await;
    let profile = Profile::ERRORS_ARRAY;
    let (status, headers, body, error) = read(
        &profile,
        app.post("/orders", Some("k-2"), json!({"do": "wait"}))
            .await,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        error.code(),
        &condition_code(&profile, Condition::IdempotencyInFlight)
    );
    assert_eq!(headers["retry-after"], "1");
    app.handler.gate.notify_one();
    assert_eq!(first.await.unwrap().status(), 201);
    let r = app
        .post("/orders", Some("k-2"), json!({"do": "wait"}))
        .await;
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(app.runs(), 1);
}

async fn a_replay_expires(backend: Backend) {
    let app = idempotent_app(backend).await;
    assert_eq!(
        app.post("/orders", Some("k-3"), json!({})).await.status(),
        201
    );
    app.offset.store(24 * 60 * 60 - 1, Ordering::SeqCst);
    let r = app.post("/orders", Some("k-3"), json!({})).await;
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    app.offset.store(24 * 60 * 60 + 1, Ordering::SeqCst);
    let r = app.post("/orders", Some("k-3"), json!({})).await;
    assert_eq!(r.status(), 201);
    assert!(!r.headers().contains_key("idempotent-replayed"));
    assert_eq!(app.runs(), 2);
}

async fn server_errors_and_panics_run_again(backend: Backend) {
    // Scenario: a 5xx is not stored, so the retry runs and succeeds; a panic (answered
    // 500 by the contract) releases its claim too; so does a handler's 429 (nothing was
    // done, and a stored one would be replayed to every retry, without its wait).
    for what in ["fail", "panic", "limited"] {
        let app = idempotent_app(backend).await;
        let r = app.post("/orders", Some("k-4"), json!({"do": what})).await;
        let expected = if what == "limited" { 429 } else { 500 };
        assert_eq!(r.status(), expected, "{what}");
        let mut retried = None;
        // The release of a panicked request's claim is written as it unwinds.
        for _ in 0..50 {
            let r = app.post("/orders", Some("k-4"), json!({"do": what})).await;
            if r.status() != 409 {
                retried = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let r = retried.expect("the claim is released");
        assert_eq!(r.status(), 201, "{what}");
        assert!(!r.headers().contains_key("idempotent-replayed"));
        assert_eq!(app.runs(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_claim_blocks_its_key_until_its_lock_expires() {
    // Scenario: another replica claimed the key for the same request and died: a retry
    // is a conflict until the claim's lock expires, then runs; another payload is still
    // a reuse of the key.
    for backend in [
        Backend::Memory,
        Backend::Sqlite,
        Backend::Postgres,
        Backend::Redis,
    ] {
        let (store, keep) = stores::idempotency(backend).await;
        let (clock, offset) = clock();
        let handler = Arc::new(Handler::default());
        let h = handler.clone();
        let router = Router::new()
            .route("/orders", post(move |body| order(h.clone(), body)))
            .route_layer(
                IdempotencyLayer::new(store.clone())
                    .clock(clock.clone())
                    .lock_for(Duration::from_secs(30)),
            )
            .layer(MapRequestLayer::new(caller_from_header))
            .layer(ContractLayer::new(Profile::PROBLEM));
        let app = App {
            base: serve(router).await,
            handler,
            offset,
            client: reqwest::Client::new(),
            _keep: keep,
        };
        let body = json!({"item": 5});
        // The dead replica's claim: the fingerprint the layer computes for this request.
        let mut hash = Sha256::new();
        hash.update(format!("POST\0/orders\0{body}"));
        let dead = ClaimRequest {
            scope: "acme",
            key: "k-5",
            fingerprint: Fingerprint(hash.finalize().into()),
            now: clock(),
            lock_for: Duration::from_secs(30),
            keep_for: Duration::from_secs(24 * 60 * 60),
        };
        let Claim::Acquired { token } = store.claim(&dead).await.unwrap() else {
            panic!("{backend:?}: the dead replica's claim");
        };
        let r = app.post("/orders", Some("k-5"), body.clone()).await;
        assert_eq!(r.status(), 409, "{backend:?}");
        app.offset.store(29, Ordering::SeqCst);
        assert_eq!(
            app.post("/orders", Some("k-5"), body.clone())
                .await
                .status(),
            409
        );
        assert_eq!(app.runs(), 0);
        app.offset.store(31, Ordering::SeqCst);
        let r = app.post("/orders", Some("k-5"), json!({"item": 6})).await;
        assert_eq!(r.status(), 422, "{backend:?}");
        let r = app.post("/orders", Some("k-5"), body.clone()).await;
        assert_eq!(r.status(), 201, "{backend:?}");
        assert_eq!(app.runs(), 1);
        // The dead replica, back, can neither overwrite nor release the new claim.
        let late = StoredResponse {
            status: 500,
            headers: Vec::new(),
            body: Default::default(),
        };
        assert!(
            !store
                .complete("acme", "k-5", token, clock(), &late)
                .await
                .unwrap()
        );
        assert!(!store.release("acme", "k-5", token, clock()).await.unwrap());
        let r = app.post("/orders", Some("k-5"), body).await;
        assert_eq!(r.headers()["idempotent-replayed"], "true", "{backend:?}");
        assert_eq!(app.runs(), 1);
    }
}

async fn limited_app(store: Arc<dyn RateLimitStore>, clock: Clock) -> String {
    let quota = Quota::new(2, Duration::from_secs(10)).unwrap();
    let app = Router::new()
        .route("/orders", post(|| async { StatusCode::CREATED }))
        .route_layer(
            RateLimitLayer::new(store, quota)
                .class("write")
                .clock(clock),
        )
        .layer(MapRequestLayer::new(caller_from_header))
        .layer(ContractLayer::new(Profile::SPECIFIC_CODE));
    serve(app).await
}

async fn send(client: &reqwest::Client, base: &str, caller: &str) -> reqwest::Response {
    client
        .post(format!("{base}/orders"))
        .header("x-caller", caller)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_are_429_with_retry_after_and_ratelimit_headers() {
    for backend in [Backend::Memory, Backend::Redis] {
        let (clock, offset) = clock();
        let (limits, _keep) = stores::rate_limits(backend).await;
        let base = limited_app(limits, clock).await;
        let client = reqwest::Client::new();
        for left in [1, 0] {
            let r = send(&client, &base, "acme").await;
            assert_eq!(r.status(), 201);
            assert_eq!(r.headers()["ratelimit-policy"], "\"write\";q=2;w=10");
            let t = if left == 1 { 5 } else { 10 };
            assert_eq!(
                r.headers()["ratelimit"],
                format!("\"write\";r={left};t={t}").as_str()
            );
        }
        let profile = Profile::SPECIFIC_CODE;
        let (status, headers, body, error) =
            read(&profile, send(&client, &base, "acme").await).await;
        assert_eq!(status, 429, "{backend:?}: {body}");
        assert_eq!(
            error.code(),
            &condition_code(&profile, Condition::RateLimited),
            "{body}"
        );
        assert_eq!(headers["retry-after"], "5");
        assert_eq!(headers["ratelimit"], "\"write\";r=0;t=10");
        assert_eq!(headers["ratelimit-policy"], "\"write\";q=2;w=10");
        // Another caller has its own quota.
        assert_eq!(send(&client, &base, "globex").await.status(), 201);
        // After the wait it says, exactly one more.
        offset.store(5, Ordering::SeqCst);
        assert_eq!(send(&client, &base, "acme").await.status(), 201);
        assert_eq!(send(&client, &base, "acme").await.status(), 429);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_redis_share_the_limit() {
    let shared = apierr_testkit::TestRedis::new("axum_shared").await;
    let (clock, _offset) = clock();
    let a = limited_app(Arc::new(stores::redis(&shared).await), clock.clone()).await;
    let b = limited_app(Arc::new(stores::redis(&shared).await), clock).await;
    let client = reqwest::Client::new();
    assert_eq!(send(&client, &a, "acme").await.status(), 201);
    assert_eq!(send(&client, &b, "acme").await.status(), 201);
    assert_eq!(send(&client, &a, "acme").await.status(), 429);
    assert_eq!(send(&client, &b, "acme").await.status(), 429);
}

/// A store that is down.
#[derive(Debug)]
struct Down;

impl RateLimitStore for Down {
    fn check<'a>(
        &'a self,
        _key: &'a str,
        _quota: Quota,
        _now: SystemTime,
    ) -> apierr_axum::store::BoxFuture<'a, Result<apierr_axum::store::Decision, StoreError>> {
        Box::pin(async { Err(StoreError::new("connection refused")) })
    }
}

#[tokio::test]
async fn a_rate_limit_store_that_is_down_fails_open_or_closed_as_configured() {
    let quota = Quota::new(1, Duration::from_secs(1)).unwrap();
    for (when, expected) in [
        (WhenStoreDown::FailOpen, 201),
        (WhenStoreDown::FailClosed, 503),
    ] {
        let app = Router::new()
            .route("/orders", post(|| async { StatusCode::CREATED }))
            .route_layer(RateLimitLayer::new(Arc::new(Down), quota).when_store_down(when))
            .layer(ContractLayer::new(Profile::PROBLEM));
        let base = serve(app).await;
        let client = reqwest::Client::new();
        for _ in 0..3 {
            let r = send(&client, &base, "acme").await;
            assert_eq!(r.status(), expected, "{when:?}");
        }
    }
}

async fn logged_app(log: Arc<dyn ReconciliationLog>) -> (String, Arc<Handler>) {
    let handler = Arc::new(Handler::default());
    let h = handler.clone();
    let app = Router::new()
        .route(
            "/orders",
            post(move |body| order(h.clone(), body)).get(|| async { StatusCode::BAD_GATEWAY }),
        )
        .route_layer(ReconcileLayer::new(log))
        .layer(MapRequestLayer::new(caller_from_header))
        .layer(ContractLayer::new(Profile::NESTED).timeout(Duration::from_millis(300)));
    (serve(app).await, handler)
}

/// The log's entries once `n` have been written (writes are off the request path).
async fn entries(log: &dyn ReconciliationLog, n: usize) -> Vec<apierr_axum::store::Entry> {
    for _ in 0..100 {
        let all = log.list(SystemTime::UNIX_EPOCH, 0, 100).await.unwrap();
        if all.len() >= n {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {n} entries were recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_without_a_known_outcome_are_logged() {
    for backend in [Backend::Memory, Backend::Sqlite, Backend::Postgres] {
        let (log, _keep) = stores::log(backend).await;
        let (base, handler) = logged_app(log.clone()).await;
        let client = reqwest::Client::new();
        let post = |body: Value, key: Option<&'static str>| {
            let mut r = client
                .post(format!("{base}/orders?source=test"))
                .header("x-caller", "acme")
                .json(&body);
            if let Some(key) = key {
                r = r.header("idempotency-key", key);
            }
            r.send()
        };
        assert_eq!(post(json!({"do": "ok"}), None).await.unwrap().status(), 201);
        handler.runs.store(0, Ordering::SeqCst);
        let failed = post(json!({"do": "fail"}), Some("k-9")).await.unwrap();
        assert_eq!(failed.status(), 500);
        let failed_id = failed.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        handler.runs.store(0, Ordering::SeqCst);
        assert_eq!(
            post(json!({"do": "panic"}), None).await.unwrap().status(),
            500
        );
        // A timeout: the contract answers 503 while the handler is dropped.
        assert_eq!(
            post(json!({"do": "wait"}), None).await.unwrap().status(),
            503
        );
        // Reads are not mutations: a 502 on GET is not logged.
        let r = client.get(format!("{base}/orders")).send().await.unwrap();
        assert_eq!(r.status(), 502);
        let logged = entries(&*log, 3).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let logged_again = entries(&*log, 3).await;
        assert_eq!(logged.len(), logged_again.len());
        assert_eq!(logged.len(), 3, "{backend:?}: {logged:?}");
        // Entries are written off the request path, so in whatever order they finish.
        let first = logged
            .iter()
            .find(|e| e.request_id == failed_id)
            .expect("the 5xx is logged under its request id");
        assert_eq!(first.caller.as_deref(), Some("acme"));
        assert_eq!(first.method, "POST");
        assert_eq!(first.route, "/orders?source=test");
        assert_eq!(first.idempotency_key.as_deref(), Some("k-9"));
        assert_eq!(first.fingerprint.len(), 64);
        assert_eq!((first.status, first.outcome), (500, Outcome::ServerError));
        let mut outcomes: Vec<_> = logged.iter().map(|e| (e.status, e.outcome)).collect();
        outcomes.sort_by_key(|(status, outcome)| (*status, outcome.as_str()));
        assert_eq!(
            outcomes,
            [
                (500, Outcome::Panicked),
                (500, Outcome::ServerError),
                (503, Outcome::Abandoned)
            ],
            "{backend:?}"
        );
    }
}
