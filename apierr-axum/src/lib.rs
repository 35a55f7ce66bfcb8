//! axum layers and extractors that answer every request in an apierr error contract.
//!
//! Wrap a router once in [`ContractLayer`] with the API's [`Profile`](apierr::Profile),
//! and every response speaks the contract: handler errors ([`ApiError`](apierr::ApiError)
//! implements `IntoResponse`), extractor rejections, unknown routes, wrong methods,
//! unacceptable `Accept`s, panics and timeouts all get the catalog's status and the
//! dialect's body, with the request id.
//!
//! Errors are rendered at the edge: an `ApiError` travels out on its response and the
//! layer renders it, so a handler writes `Condition::NotFound.into()` and the caller gets
//! the code the router's catalog binds to not-found, wherever the error was built.
//!
//! ```
//! use apierr::{ApiError, Condition, Profile};
//! use apierr_axum::{ContractLayer, Json, Path, not_found};
//! use axum::{Router, routing::get};
//! use tower_layer::Layer;
//!
//! async fn account(Path(id): Path<u64>) -> Result<Json<u64>, ApiError> {
//!     if id == 42 { Ok(Json(id)) } else { Err(Condition::NotFound.into()) }
//! }
//!
//! let router: Router = Router::new()
//!     .route("/accounts/{id}", get(account))
//!     .fallback(not_found);
//! // Serve with `apierr_axum::serve(listener, app)`: see `serve()`.
//! let app = ContractLayer::new(Profile::ERRORS_ARRAY).layer(router);
//! ```
//!
//! # Layout
//!
//! - `contract`: [`ContractLayer`], the outermost layer (request id and profile on the
//!   request as a [`RequestContract`], errors rendered at the edge, 406, panics, timeouts,
//!   foreign error responses redrawn with their status).
//! - [`future`]: the response futures of the layers.
//! - `extract`: [`Json`], [`Form`], [`Query`], [`Path`], [`Valid`], whose rejections are
//!   catalog errors.
//! - `auth`: [`RequireAuthLayer`] over an application's [`Authenticator`].
//! - `failures`: [`FailureLimit`], failed authentication limited per source address.
//! - `address`: [`ClientAddress`], the source address behind trusted proxies.
//! - `stale`: [`StalenessLayer`], seed 004's date window.
//! - `success`: [`Created`], [`AlreadyReported`], [`Empty`], [`Page`], wrapped where the
//!   dialect wraps successes, and [`Plain`], never wrapped.
//! - `openapi` (feature `openapi`): the extractors' part of an aide document, and
//!   `openapi::finish`, which states their conditions in the router's profile.
//! - `request_id`: [`RequestId`].
//! - [`telemetry`]: the request span's OpenTelemetry fields (`error.type` is the catalog
//!   code), and with the feature `telemetry` the route of each request and the HTTP
//!   server metrics; with `prometheus`, their exporter.
//! - `serve`: [`serve()`], an accept loop with [`Limits`] (head and body timeouts, a
//!   connection cap) and a drain with a grace period.
//! - `boxed`: the `call` preamble the boxed layers (auth, idempotency, rate limits,
//!   reconciliation) share.

mod address;
mod auth;
mod boxed;
mod caller;
mod contract;
mod either;
mod extract;
mod failures;
mod fingerprint;
mod idempotency;
#[cfg(feature = "openapi")]
pub mod openapi;
mod rate_limit;
mod reconcile;
mod request_id;
mod serve;
mod stale;
mod success;
pub mod telemetry;

pub use apierr::REQUEST_ID;
/// The network type of [`ContractLayer::trust_proxies`], from `ipnet`.
pub use ipnet::IpNet;

pub use crate::address::ClientAddress;
pub use crate::auth::{
    API_KEY, AuthFailure, Authenticated, Authenticator, Credential, RequireAuth, RequireAuthLayer,
};
pub use crate::caller::Caller;
pub use crate::contract::{Contract, ContractLayer, RequestContract};
pub use crate::extract::{Form, Json, Path, Query, Valid};
pub use crate::failures::{DEFAULT_FAILURE_QUOTA, FailureKey, FailureLimit};
pub use crate::idempotency::{
    DEFAULT_KEEP_FOR, DEFAULT_LOCK_FOR, IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, Idempotency,
    IdempotencyLayer, MAX_KEY_LEN,
};
pub use crate::rate_limit::{
    RATELIMIT, RATELIMIT_POLICY, RateLimit, RateLimitLayer, WhenStoreDown,
};
pub use crate::reconcile::{Reconcile, ReconcileLayer};
pub use crate::request_id::RequestId;
pub use crate::serve::{
    BodyTimeout, DEFAULT_BODY_TIMEOUT, DEFAULT_GRACE_PERIOD, DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_HEADERS, LimitError, Limits,
    MAX_TIMEOUT, Serve, serve,
};
pub use crate::stale::{Clock, DEFAULT_SKEW, Staleness, StalenessLayer};
pub use crate::success::{AlreadyReported, Created, Empty, Page, Plain, TOTAL_COUNT};
/// The stores the safe-retry layers keep their state in.
pub use apierr_store as store;

/// The response futures of the layers (tower-http's habit: out of the crate root).
pub mod future {
    pub use crate::auth::AuthFuture;
    pub use crate::contract::ResponseFuture;
    pub use crate::either::EitherFuture;

    /// The future of the idempotency, rate-limit and reconciliation layers: boxed, as
    /// each awaits its store.
    pub type BoxResponseFuture = std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<axum::response::Response, std::convert::Infallible>,
                > + Send,
        >,
    >;
}

/// The router's fallback: the not-found condition, for any path no route matches.
pub async fn not_found() -> apierr::ApiError {
    apierr::Condition::NotFound.into()
}
