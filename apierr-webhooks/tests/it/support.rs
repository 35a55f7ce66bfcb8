//! A real receiver on `127.0.0.1:0` that records what it got and answers as told (the
//! answer can change mid-test), and an outbox per test: its own SQLite file or
//! PostgreSQL schema (the test kit's). PostgreSQL must be running (`scripts/test` starts
//! it); a test fails loudly, naming it, when it is not.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use apierr_webhooks::{
    AddressPolicy, Dispatcher, DispatcherBuilder, Notifier, Outbox, Report, Schedule, Secret,
    Subscription,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// The databases every outbox test runs on, from the test kit.
pub(crate) use apierr_testkit::{BACKENDS as DBS, Backend as Db, TestDatabase};

/// An outbox on a database of its own, removed when the second value is dropped.
pub(crate) async fn outbox_on(db: Db) -> (Outbox, TestDatabase) {
    let place = TestDatabase::new(db, "webhooks").await;
    let outbox = Outbox::connect(place.url())
        .await
        .unwrap_or_else(|e| panic!("outbox on {db}: {e}"));
    (outbox, place)
}

/// What the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Received {
    pub(crate) fn id(&self) -> &str {
        self.headers["webhook-id"].to_str().unwrap()
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) delay: Duration,
}

impl Answer {
    pub(crate) fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: format!("answer {status}").into_bytes(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Answer {
        self.headers.push((name, value.to_owned()));
        self
    }
}

#[derive(Debug, Default)]
struct Inner {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    otherwise: Option<Answer>,
}

/// The receiver: answers from its script in order, then with its default (200).
#[derive(Debug, Clone)]
pub(crate) struct Receiver {
    inner: Arc<Mutex<Inner>>,
    pub(crate) url: String,
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received { headers, body });
        inner
            .script
            .pop_front()
            .or_else(|| inner.otherwise.clone())
            .unwrap_or_else(|| Answer::status(200))
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let mut response = (StatusCode::from_u16(answer.status).unwrap(), answer.body).into_response();
    for (name, value) in answer.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            inner,
            url: format!("http://{addr}/hooks"),
        }
    }

    /// Answers these, in order, before the default.
    pub(crate) fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    /// The answer once the script is used up.
    pub(crate) fn otherwise(&self, answer: Answer) {
        self.inner.lock().unwrap().otherwise = Some(answer);
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub(crate) fn count(&self) -> usize {
        self.inner.lock().unwrap().received.len()
    }
}

/// Loopback allowed, as the tests' receivers are there.
pub(crate) fn loopback() -> AddressPolicy {
    AddressPolicy::new().allow("127.0.0.0/8".parse().unwrap())
}

/// A dispatcher allowed to reach the receivers, telling `notes` about reports.
pub(crate) fn dispatcher(outbox: &Outbox, notes: &Notes) -> DispatcherBuilder {
    Dispatcher::builder(outbox.clone())
        .policy(loopback())
        .notifier(Arc::new(notes.clone()))
}

/// A notifier that keeps what it is told.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notes(Arc<Mutex<Vec<Report>>>);

impl Notes {
    pub(crate) fn taken(&self) -> Vec<Report> {
        self.0.lock().unwrap().clone()
    }
}

impl Notifier for Notes {
    fn notify<'a>(&'a self, report: &'a Report) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        self.0.lock().unwrap().push(report.clone());
        Box::pin(std::future::ready(()))
    }
}

/// A clock the test moves: whole seconds from a start near the real time (so signatures
/// stay within receivers' tolerance).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) start: SystemTime,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            start: SystemTime::now(),
        }
    }

    pub(crate) fn at(self, secs: u64) -> SystemTime {
        self.start + Duration::from_secs(secs)
    }
}

/// Enqueues one message for `owner` in its own transaction.
pub(crate) async fn enqueue(outbox: &Outbox, owner: &str, n: u64, now: SystemTime) -> String {
    let mut tx = outbox.pool().begin().await.unwrap();
    let id = outbox
        .enqueue(
            &mut tx,
            owner,
            "account.created",
            &serde_json::json!({"n": n}),
            now,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// Registers an endpoint of `owner` at the receiver; its id and secret.
pub(crate) async fn endpoint(
    outbox: &Outbox,
    owner: &str,
    receiver: &Receiver,
    schedule: &Schedule,
) -> (String, Secret) {
    let secret = Secret::generate();
    let ep = outbox
        .register(
            owner,
            &receiver.url,
            &secret,
            schedule,
            &Subscription::All,
            SystemTime::now(),
        )
        .await
        .unwrap();
    (ep.id, secret)
}

/// A dispatcher's `run`, on a task of its own until stopped.
pub(crate) struct Running {
    stop: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub(crate) fn start(dispatcher: Dispatcher) -> Running {
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            dispatcher
                .run(async move { stopped.notified().await })
                .await;
        });
        Running { stop, task }
    }

    /// Asks it to shut down, and waits at most `limit` for `run` to return.
    pub(crate) async fn stop(self, limit: Duration) {
        // A permit, not only a wake-up: `run` may not be waiting on it yet.
        self.stop.notify_one();
        tokio::time::timeout(limit, self.task)
            .await
            .expect("run returns after shutdown")
            .unwrap();
    }
}
