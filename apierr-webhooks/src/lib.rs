//! Durable outbound webhooks: what a platform owes the partners it notifies.
//!
//! - **A transactional outbox** ([`Outbox`]): a message is written with
//!   [`Outbox::enqueue`] inside the application's own `sqlx` transaction, so it exists
//!   exactly when the change it announces does; on SQLite (embedded, the default) or
//!   PostgreSQL (several workers, claims with `FOR UPDATE SKIP LOCKED`).
//! - **At-least-once delivery** ([`Dispatcher`]): deliveries are claimed under an expiring
//!   lease, so a worker that dies loses nothing (its claims lapse and are taken again);
//!   each message keeps one id, its `webhook-id`, on every attempt and replay.
//! - **Standard Webhooks signatures**: `webhook-id`, a fresh `webhook-timestamp` on each
//!   attempt, `webhook-signature` with a `v1,` HMAC-SHA256 per current secret (two while
//!   a secret is rotated).
//! - **Retries within a minute** ([`Schedule`]): the first attempt at once, then about 5,
//!   15 and 40 seconds after it; 5xx, 408, 429 (with its `Retry-After`), timeouts and
//!   connection failures are retried, other 4xx are not, 410 Gone disables the endpoint,
//!   redirects are not followed.
//! - **Failure reports** ([`Report`]): every failed message gets a durable report with
//!   each attempt; a [`Notifier`] is told once per endpoint, kind and hour; a partner-safe
//!   form ([`Report::to_json`]) can be shown to the partner.
//! - **Fair shares**: at most [`DEFAULT_ENDPOINT_CONCURRENCY`] deliveries in flight per
//!   endpoint and three quarters of the dispatcher's slots per partner, so that one
//!   partner's slow or dead endpoints cannot delay the others' deliveries
//!   ([`DispatcherBuilder::endpoint_concurrency`], [`DispatcherBuilder::partner_concurrency`]).
//! - **Endpoint health**: after a run of failed messages an endpoint is paused (a report
//!   first); its messages are kept (held), and sent when it is resumed. One failed
//!   message before that, the partner is warned: an `endpoint_failing` report with the
//!   earliest time of the pause, and a [`FAILING_EVENT`] message to its other endpoints.
//! - **Event types and subscriptions** ([`EventTypes`], [`Subscription`]): each type with
//!   the JSON Schema of its data and an example; an endpoint receives every type or the
//!   ones it names, chosen when the message is written.
//! - **Test messages** ([`Dispatcher::send_test`]): a signed [`TEST_EVENT`] sent at once,
//!   answered with the attempt.
//! - **Replay** ([`Outbox::replay`]): by message, endpoint and time range, state.
//! - **Safe by default** ([`AddressPolicy`]): URLs checked when registered, addresses
//!   checked when connected to (private, loopback, link-local and metadata ranges need an
//!   operator's allow-list); at most [`RESPONSE_HEAD`] bytes of an answer are read.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::SystemTime;
//! use apierr_webhooks::{AddressPolicy, Dispatcher, Outbox, Schedule, Secret, Subscription};
//!
//! let outbox = Outbox::connect("sqlite://app.db").await?;
//! let url = AddressPolicy::new().check_url("https://partner.example/hooks").unwrap();
//! let secret = Secret::generate();
//! outbox.register(
//!     "acme", url.as_str(), &secret, &Schedule::default(), &Subscription::All, SystemTime::now(),
//! ).await?;
//!
//! // In the application's transaction:
//! let mut tx = outbox.pool().begin().await?;
//! // ... the application's own writes on `&mut *tx` ...
//! let data = serde_json::json!({"id": "acc_1"});
//! outbox.enqueue(&mut tx, "acme", "account.created", &data, SystemTime::now()).await?;
//! tx.commit().await?;
//! outbox.wake();
//!
//! Dispatcher::builder(outbox).build()?.run(std::future::pending()).await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - `outbox`: the application's and the partner's side of the tables (enqueue,
//!   endpoints, reports, replay); `queue`: the dispatcher's (claims under a lease,
//!   outcomes); `schema`: the tables.
//! - `dispatch`: the dispatcher (claims, signs, posts, records); `fair`: the shares of
//!   its slots and claims per endpoint and partner.
//! - `endpoint`: endpoints, secrets, retry schedules; `events`: event types and
//!   subscriptions.
//! - `report`: failure reports and notifiers.
//! - `network`: URL checks and the address policy, enforced in the resolver.

mod dispatch;
mod endpoint;
mod events;
mod fair;
mod network;
mod outbox;
mod queue;
mod report;
mod retention;
mod schema;
mod sealing;
mod telemetry;

pub use crate::dispatch::{
    DEFAULT_CONCURRENCY, DEFAULT_ENDPOINT_CONCURRENCY, Dispatcher, DispatcherBuilder,
    RESPONSE_HEAD, TestSend,
};
pub use crate::endpoint::{
    Endpoint, EndpointState, MAX_OFFSET, MAX_RETRIES, Schedule, ScheduleError, Secret,
};
pub use crate::events::{
    EventType, EventTypeError, EventTypes, FAILING_EVENT, MAX_EVENT_TYPE_LEN, Subscription,
    SubscriptionError, TEST_EVENT,
};
pub use crate::network::{AddressPolicy, MAX_URL_LEN, UrlError};
pub use crate::outbox::{Delivery, DeliveryState, Message, Outbox, Replay};
pub use crate::report::{
    Attempt, AttemptView, FailureKind, LogNotifier, Notifier, OperatorWebhook, Report, ReportKind,
    ReportView,
};
pub use crate::retention::{DEFAULT_MESSAGE_RETENTION, DEFAULT_REPORT_RETENTION, PURGE_BATCH};
pub use ipnet::IpNet;
