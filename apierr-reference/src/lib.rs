//! The reference Partner API behind `apierr serve`: a small real API (partners, OAuth
//! client-credentials tokens, accounts and their children) that answers every request,
//! good or bad, in the error contract of the chosen [`Profile`].
//!
//! The `apierr` binary (crate `apierr-cli`) is a thin shell over [`run`], so that tests
//! start the same server on `127.0.0.1:0`:
//!
//! ```no_run
//! # async fn demo() -> Result<(), apierr_reference::ServeError> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let config = apierr_reference::Config::new("sqlite://apierr.db");
//! apierr_reference::run(listener, config, std::future::pending()).await
//! # }
//! ```
//!
//! # Layout
//!
//! - `config`: [`Config`].
//! - `state`: the router's state, split with `FromRef` so each handler group takes its part.
//! - `errors`: the errors every handler group builds alike.
//! - `store`: SQLite or PostgreSQL through sqlx, with its migrations and demo partners.
//! - `auth`: API keys and access tokens checked against the store ([`Principal`]).
//! - `api`: the endpoints.
//! - `routes`: the route table, through aide's router: it serves the routes and writes
//!   the OpenAPI document (`/openapi.json`, [`openapi_document`]) from the same table.
//! - `partners`: partner management for operators ([`Partners`], `apierr partners`).
//! - `secrets`: the key that seals secrets at rest ([`SecretKeys`]), `apierr keys`.
//! - `retention`: how long each kind of record is kept, the background purge and
//!   `apierr purge` ([`Retention`]).
//! - `admin`: the operator routes (the reconciliation log) and `apierr reconcile`.
//! - `webhooks`: the partner's webhook routes (endpoints and their subscriptions, event
//!   types, test messages, reports, replay) and `apierr webhooks report | replay`; every
//!   change of an account or child writes its event to the outbox in the same
//!   transaction (`store`), and [`run`] starts a dispatcher unless
//!   [`Config::webhook_dispatcher`] is off ([`run_worker`] is one on its own).
//! - `events`: the event types, declared once (names, schemas, examples), and the
//!   OpenAPI document's `webhooks` made from them.
//!
//! # Safe retries
//!
//! Every partner route runs, in order: authentication, the partner's rate limit
//! ([`Config::rate_limit`], in memory or in Redis), the reconciliation log (POST, PUT,
//! PATCH and DELETE that end in 5xx, panic or time out), then `Idempotency-Key` on POST
//! and PATCH (records in the database, or in Redis). A POST without a key is still safe
//! to retry where the resource has a unique field: `POST /accounts` again with the same
//! email is *already exists* (seed 001's advice), and the partner reads the account it
//! created by listing.

mod admin;
mod api;
mod auth;
mod config;
mod counts;
mod docs;
mod errors;
mod events;
mod partners;
mod portal;
mod retention;
mod routes;
mod secrets;
mod state;
mod store;
mod webhooks;

use std::fmt;
use std::future::Future;

use apierr::Profile;
use std::sync::Arc;
use std::time::Duration;

use apierr_axum::store::{
    Database, IdempotencyStore, MemoryRateLimiter, Quota, RateLimitStore, RedisStore, SqlStore,
    StoreError,
};
use apierr_axum::{
    FailureLimit, IdempotencyLayer, RateLimitLayer, ReconcileLayer, RequireAuthLayer,
    StalenessLayer, not_found,
};
use apierr_webhooks::{AddressPolicy, Dispatcher, OperatorWebhook, Outbox};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use http::header::CONTENT_TYPE;
use tokio::net::TcpListener;
use tower_layer::Layer;

pub use crate::admin::{Selection, parse_duration, reconcile_ack, reconcile_report};
pub use crate::auth::Principal;
pub use crate::config::{
    Config, DEFAULT_BODY_LIMIT, DEFAULT_HANDLER_TIMEOUT, DEFAULT_PUBLIC_URL, DEFAULT_RATE_LIMIT,
    DEFAULT_TOKEN_TTL, DEFAULT_WEBHOOK_LEASE, DEFAULT_WEBHOOK_MAX_ENDPOINTS,
    DEFAULT_WEBHOOK_PAUSE_AFTER, DEFAULT_WEBHOOK_REPLAY_MAX, MAX_TRACKED_CALLERS,
    MIN_ADMIN_TOKEN_LEN, parse_admin_token, parse_proxy_url, parse_public_url, redact_database_url,
};
pub use crate::partners::{
    DEFAULT_PORTAL_LINK_TTL, DEFAULT_ROTATION_OVERLAP, Issued, MAX_NAME_CHARS, MAX_PORTAL_LINK_TTL,
    MAX_ROTATION_OVERLAP, PartnerError, PartnerRecord, Partners, PortalLink,
    describe as describe_partner,
};
pub use crate::retention::{Kind as RecordKind, Purged, Retention, purge};
pub use crate::secrets::{
    KEY_FILE_SUFFIX, Resealed, SECRET_KEY_ENV, SecretKeys, generate_key_file, read_key_file,
    rotate_keys,
};
pub use crate::store::{DEMO_PARTNERS, Partner};
pub use crate::webhooks::{webhook_replay, webhook_report};

use crate::api::Api;
use crate::auth::PartnerAuth;
use crate::state::AppState;
use crate::store::Store;

/// Why the server could not start or stopped with an error.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// The database could not be opened or migrated.
    Database(sqlx::Error),
    /// The listener failed.
    Io(std::io::Error),
    /// The store of idempotency records, rate limits or the reconciliation log could not
    /// be opened.
    Store(StoreError),
    /// A setting is out of its range.
    Config(String),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Database(e) => write!(f, "database: {e}"),
            ServeError::Io(e) => write!(f, "listener: {e}"),
            ServeError::Store(e) => write!(f, "{e}"),
            ServeError::Config(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Database(e) => Some(e),
            ServeError::Io(e) => Some(e),
            ServeError::Store(e) => Some(e),
            ServeError::Config(_) => None,
        }
    }
}

impl From<std::io::Error> for ServeError {
    fn from(e: std::io::Error) -> Self {
        ServeError::Io(e)
    }
}

/// The application: the router inside its body limit, staleness and contract layers.
pub type App = apierr_axum::Contract<
    apierr_axum::Staleness<<DefaultBodyLimit as tower_layer::Layer<Router>>::Service>,
>;

/// Where the safe-retry layers keep their state.
struct Safety {
    /// Seals stored responses, as it seals endpoint secrets.
    keyring: Option<Arc<apierr_axum::store::Keyring>>,
    idempotency: Arc<dyn IdempotencyStore>,
    limits: Arc<dyn RateLimitStore>,
    log: SqlStore,
    quota: Quota,
    /// Failed authentication, per source address and client id, on the rate-limit store.
    failures: FailureLimit,
}

/// Opens the database (and Redis, if configured) and builds the application; its webhook
/// dispatcher (unless [`Config::webhook_dispatcher`] is off) runs for as long as the
/// process does.
pub async fn app(config: &Config) -> Result<App, ServeError> {
    let (app, dispatcher) = build(config).await?;
    if let Some(dispatcher) = dispatcher {
        tokio::spawn(async move { dispatcher.run(std::future::pending()).await });
    }
    Ok(app)
}

/// The application, and the dispatcher that delivers its webhooks when it has one.
async fn build(config: &Config) -> Result<(App, Option<Dispatcher>), ServeError> {
    // One pool for the API's tables, the safe-retry stores and the outbox's writes (an
    // event is enqueued in the transaction of its change).
    let database = Database::connect(&config.database_url)
        .await
        .map_err(ServeError::Database)?;
    let keyring = secrets::keyring(&config.secret_keys, &config.database_url)?;
    let mut store = Store::open(&database, config.seed_demo)
        .await
        .map_err(ServeError::Database)?;
    store.outbox = sealed_outbox(store.outbox, keyring.clone()).await?;
    let (limit, window) = config.rate_limit;
    let quota = Quota::new(limit, window).ok_or_else(|| {
        ServeError::Config(format!(
            "a rate limit of {limit} per {window:?} cannot be kept (at most one a microsecond)"
        ))
    })?;
    if let Some(token) = &config.admin_token {
        config::parse_admin_token(token).map_err(ServeError::Config)?;
    }
    let (limit, window) = config.auth_failure_limit;
    let failure_quota = Quota::new(limit, window).ok_or_else(|| {
        ServeError::Config(format!(
            "a failure limit of {limit} per {window:?} cannot be kept (at most one a microsecond)"
        ))
    })?;
    let log = SqlStore::open(&database).await.map_err(ServeError::Store)?;
    let (idempotency, limits): (Arc<dyn IdempotencyStore>, Arc<dyn RateLimitStore>) =
        match &config.redis_url {
            Some(url) => {
                let redis = RedisStore::connect_with_prefix(url, &config.redis_prefix)
                    .await
                    .map_err(ServeError::Store)?;
                (Arc::new(redis.clone()), Arc::new(redis))
            }
            None => (
                Arc::new(log.clone()),
                Arc::new(MemoryRateLimiter::new(config::MAX_TRACKED_CALLERS)),
            ),
        };
    retention::spawn_purge(
        retention::Purger::connect(&config.database_url).await?,
        config.retention,
        config.clock.clone(),
    );
    let failures = FailureLimit::new(limits.clone(), failure_quota).clock(config.clock.clone());
    let safety = Safety {
        keyring,
        idempotency,
        limits,
        log,
        quota,
        failures,
    };
    let delivery = if config.webhook_dispatcher {
        // A second pool (same setup), so that deliveries never wait behind requests for
        // the API's connections.
        let own = apierr_webhooks::Outbox::connect(&config.database_url)
            .await
            .map_err(ServeError::Database)?;
        Some(dispatcher(
            store.outbox.with_pool(own.pool().clone()),
            config,
            DELIVERY_TIMEOUT,
        )?)
    } else {
        None
    };
    // Test messages are sent from the request that asks for one, so within its timeout.
    let tester = dispatcher(store.outbox.clone(), config, config.handler_timeout / 2)?;
    Ok((router(store, safety, config, tester), delivery))
}

/// `outbox`, sealing endpoint secrets under `keyring`: every stored secret must open
/// under it (a start-up error otherwise), and those written before sealing are sealed.
async fn sealed_outbox(
    outbox: Outbox,
    keyring: Option<Arc<apierr_axum::store::Keyring>>,
) -> Result<Outbox, ServeError> {
    let outbox = match keyring {
        Some(keyring) => outbox.seal(keyring),
        None => outbox,
    };
    outbox.check_keys().await.map_err(ServeError::Database)?;
    let sealed = outbox.reseal().await.map_err(ServeError::Database)?;
    if sealed > 0 {
        tracing::info!(
            endpoints = sealed,
            "sealed webhook secrets stored before under the current key"
        );
    }
    Ok(outbox)
}

/// The address policy of webhook endpoints: public addresses, and the allowed networks.
fn address_policy(config: &Config) -> AddressPolicy {
    config
        .webhook_allow
        .iter()
        .fold(AddressPolicy::new(), |policy, net| policy.allow(*net))
}

/// How long a delivery attempt may take: the dispatcher's default.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// A dispatcher of `outbox` as `config` says, each attempt within `timeout` (at most
/// [`DELIVERY_TIMEOUT`]).
fn dispatcher(
    outbox: Outbox,
    config: &Config,
    timeout: Duration,
) -> Result<Dispatcher, ServeError> {
    let mut builder = Dispatcher::builder(outbox)
        .policy(address_policy(config))
        .timeout(timeout.min(DELIVERY_TIMEOUT))
        .lease(config.webhook_lease)
        .pause_after(config.webhook_pause_after)
        .concurrency(config.webhook_concurrency)
        .endpoint_concurrency(config.webhook_endpoint_concurrency);
    if let Some(n) = config.webhook_partner_concurrency {
        builder = builder.partner_concurrency(n);
    }
    if let Some(url) = &config.webhook_notify_url {
        let url = url
            .parse()
            .map_err(|e| ServeError::Config(format!("the webhook notify URL: {e}")))?;
        let notifier = OperatorWebhook::new(url)
            .map_err(|e| ServeError::Config(format!("the webhook notifier: {e}")))?;
        builder = builder.notifier(Arc::new(notifier));
    }
    if let Some(proxy) = &config.webhook_proxy {
        let proxy = proxy
            .parse()
            .map_err(|e| ServeError::Config(format!("the webhook proxy: {e}")))?;
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|e| ServeError::Config(format!("the webhook dispatcher: {e}")))
}

/// Delivers webhooks from `config`'s database until `shutdown` completes, without
/// serving the API: one of any number of workers beside the servers (on PostgreSQL,
/// they share the queue; on SQLite, one at a time is best).
pub async fn run_worker(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let keyring = secrets::keyring(&config.secret_keys, &config.database_url)?;
    let outbox = apierr_webhooks::Outbox::connect(&config.database_url)
        .await
        .map_err(ServeError::Database)?;
    let dispatcher = dispatcher(
        sealed_outbox(outbox, keyring).await?,
        &config,
        DELIVERY_TIMEOUT,
    )?;
    retention::spawn_purge(
        retention::Purger::connect(&config.database_url).await?,
        config.retention,
        config.clock.clone(),
    );
    tracing::info!(database = %config::redact_database_url(&config.database_url), "delivering webhooks");
    let metrics = serve_metrics(&config, None).await?;
    let stop = Stop::new(shutdown);
    let signal = stop.signal();
    let delivering = tokio::spawn(async move { dispatcher.run(signal).await });
    stop.finish(delivering, config.limits.grace()).await;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    Ok(())
}

/// Installs the metrics recorder and serves `/metrics` on [`Config::metrics_listen`],
/// which may not be the partner listener's address (`partner`).
async fn serve_metrics(
    config: &Config,
    partner: Option<std::net::SocketAddr>,
) -> Result<Option<tokio::task::JoinHandle<()>>, ServeError> {
    let Some(address) = config.metrics_listen else {
        return Ok(None);
    };
    if partner.is_some_and(|p| p.port() == address.port() && p.port() != 0) {
        return Err(ServeError::Config(format!(
            "the metrics listener {address} is on the partner port: it must have a port of its own"
        )));
    }
    let metrics = apierr_axum::telemetry::Prometheus::install()
        .map_err(|e| ServeError::Config(format!("the metrics recorder: {e}")))?;
    let listener = TcpListener::bind(address).await?;
    tracing::info!(address = %listener.local_addr()?, "serving metrics at /metrics");
    let router = metrics.router().fallback(not_found);
    // Scrapers ask for Prometheus's own types: the text answer is what they all read.
    let app = routes::contract(config).check_accept(false).layer(router);
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = apierr_axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener failed");
        }
    })))
}

/// A process's stop: the signal, shared by the server and the dispatcher, and when it
/// came, from which the grace period counts.
struct Stop {
    at: tokio::sync::watch::Receiver<Option<tokio::time::Instant>>,
}

impl Stop {
    fn new(shutdown: impl Future<Output = ()> + Send + 'static) -> Stop {
        let (tell, at) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            shutdown.await;
            let _ = tell.send(Some(tokio::time::Instant::now()));
            // Kept until every watcher is gone, so they see the stop rather than a
            // closed channel.
            tell.closed().await;
        });
        Stop { at }
    }

    /// Completes when the stop has come.
    fn signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut at = self.at.clone();
        async move {
            let _ = at.wait_for(Option::is_some).await;
        }
    }

    /// Waits for the dispatcher's deliveries in flight until the grace period since the
    /// stop is over, then stops them: their claims are given back when their lease ends.
    /// A dispatcher that ends before the stop (it panicked) ends the wait.
    async fn finish(
        mut self,
        mut delivering: tokio::task::JoinHandle<()>,
        grace: std::time::Duration,
    ) {
        let abort = delivering.abort_handle();
        let at = tokio::select! {
            _ = &mut delivering => return,
            at = self.at.wait_for(Option::is_some) => match at {
                Ok(at) => at.unwrap_or_else(tokio::time::Instant::now),
                Err(_) => tokio::time::Instant::now(),
            },
        };
        if tokio::time::timeout_at(at + grace, delivering)
            .await
            .is_err()
        {
            tracing::warn!("grace period over: deliveries still in flight are stopped");
            abort.abort();
        }
    }
}

fn router(store: Store, safety: Safety, config: &Config, tester: Dispatcher) -> App {
    let webhooks = webhooks::Webhooks {
        outbox: store.outbox.clone(),
        policy: Arc::new(address_policy(config)),
        clock: config.clock.clone(),
        max_endpoints: config.webhook_max_endpoints,
        replay_max: config.webhook_replay_max,
        tester,
        limits: safety.limits.clone(),
    };
    let state = AppState {
        api: Api {
            store: store.clone(),
            clock: config.clock.clone(),
            token_ttl: config.token_ttl,
            failures: safety.failures.clone(),
            counts: Arc::default(),
            public_url: config.public_url.clone(),
        },
        webhooks: webhooks.clone(),
    };
    let portal = portal::Portal {
        store: store.clone(),
        webhooks,
        log: Arc::new(safety.log.clone()),
        clock: config.clock.clone(),
        origin: config
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .map_or_else(
                || config::DEFAULT_PUBLIC_URL.to_owned(),
                |u| u.origin().ascii_serialization(),
            ),
    };
    let auth = RequireAuthLayer::new(PartnerAuth {
        store,
        clock: config.clock.clone(),
    })
    .realm("partner-api")
    .failure_limit(safety.failures.clone());
    let rate_limit = |class: &'static str| {
        RateLimitLayer::new(safety.limits.clone(), safety.quota)
            .class(class)
            .clock(config.clock.clone())
    };
    let staleness = StalenessLayer::new()
        .required(config.require_date)
        .skew(config.date_skew)
        .clock(config.clock.clone());
    let layers = routes::Layers {
        idempotency: {
            let layer = IdempotencyLayer::new(safety.idempotency.clone());
            match &safety.keyring {
                Some(keyring) => layer.seal(keyring.clone()),
                None => layer,
            }
        }
        .required(config.require_idempotency_key)
        .body_limit(config.body_limit)
        .clock(config.clock.clone()),
        reconcile: ReconcileLayer::new(Arc::new(safety.log.clone()))
            .body_limit(config.body_limit)
            .clock(config.clock.clone()),
        partner_limit: rate_limit("partner"),
        token_limit: rate_limit("token"),
        auth,
        staleness: staleness.clone(),
    };
    let (mut router, doc) = routes::routes(config, Some(layers));
    let document = apierr_axum::openapi::to_json(&doc);
    let plan = docs::ErrorPlan::new(&document, &config.profile);
    let openapi = serde_json::to_vec(&document).unwrap_or_default();
    // Undocumented: the document itself, the error-handling plan made from it, and the
    // operator's routes.
    router = router
        .route(
            "/openapi.json",
            get(move || {
                let body = openapi.clone();
                async move { ([(CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route(
            docs::ERRORS_PATH,
            get(move |query| plan.clone().answer(query)),
        );
    if let Some(token) = &config.admin_token {
        router = router.merge(admin::router(token, safety.log.clone()));
    }
    // The partner portal: a browser's pages, signed in with a link, not a credential.
    router = router.merge(portal::router(portal));
    // The route of each request, for its span's `http.route` (logged, and exported with
    // `--otlp-endpoint`) and the metrics' `http_route` label: a box more a request, a
    // fraction of a microsecond beside the database.
    let router = router
        .fallback(not_found)
        .with_state(state)
        .layer(apierr_axum::telemetry::RouteLayer);
    // Around the whole router rather than with `Router::layer`, which would wrap (and box)
    // every route on its own.
    let stack = (
        routes::contract(config).metrics(config.metrics_listen.is_some()),
        // The token routes check the date themselves (`routes`); the document needs none.
        // Nor do the portal's pages: browsers send no `Date`.
        staleness.exempt(&[
            "/openapi.json",
            docs::ERRORS_PATH,
            "/oauth/token",
            "/portal/*",
        ]),
        DefaultBodyLimit::max(config.body_limit),
    );
    stack.layer(router)
}

/// The documentation of every error code the reference server can send in `profile`:
/// the profile's catalog (its own codes and the defaults of the conditions it leaves
/// unbound), then the token endpoint's, which answers in RFC 6749's form in every profile.
pub fn catalog_docs(profile: &Profile) -> String {
    format!(
        "{}\n\n## The token endpoint (POST /oauth/token)\n\nIn every profile, RFC 6749 §5.2's form.\n\n{}",
        profile.docs(),
        Profile::OAUTH_TOKEN.docs()
    )
}

/// The OpenAPI 3.1 document the server serves at `/openapi.json` with `config`, made
/// from the same route table without a server or a database (`apierr openapi`): its
/// profile, its server ([`Config::public_url`]) and whether `Idempotency-Key` is
/// required.
pub fn openapi_document(config: &Config) -> serde_json::Value {
    apierr_axum::openapi::to_json(&routes::routes(config, None).1)
}

/// Whether `code` is documented for `profile` (see [`catalog_docs`]).
pub fn documents(profile: &Profile, code: &apierr::Code) -> bool {
    profile.catalog().documents(code) || Profile::OAUTH_TOKEN.catalog().documents(code)
}

/// Serves the reference Partner API on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut config = config;
    if config.public_url.is_none() {
        config.public_url = Some(format!("http://{}", listener.local_addr()?));
    }
    let metrics = serve_metrics(&config, Some(listener.local_addr()?)).await?;
    let (app, dispatcher) = build(&config).await?;
    // The dispatcher stops with the server, at the same signal: its attempts in flight
    // finish within the same grace period and its unstarted claims are given back.
    let stop = Stop::new(shutdown);
    let delivering = dispatcher.map(|dispatcher| {
        let signal = stop.signal();
        tokio::spawn(async move { dispatcher.run(signal).await })
    });
    tracing::info!(
        address = %listener.local_addr()?,
        profile = config.profile.name(),
        database = %config::redact_database_url(&config.database_url),
        "serving the reference Partner API"
    );
    let served = apierr_axum::serve(listener, app)
        .limits(config.limits.clone())
        .with_graceful_shutdown(stop.signal())
        .await;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    if let Some(delivering) = delivering {
        stop.finish(delivering, config.limits.grace()).await;
    }
    served?;
    Ok(())
}

/// The README's examples, compiled (and run where they can) as doc tests of the crate
/// that depends on every other, so that the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
