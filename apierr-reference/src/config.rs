//! The reference server's settings.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use apierr::Profile;
use apierr_axum::{Clock, DEFAULT_SKEW};

/// A webhook claim lasts four times the 15-second delivery timeout: a live worker always
/// finishes first, a dead one's deliveries wait a minute.
pub const DEFAULT_WEBHOOK_LEASE: Duration = Duration::from_secs(60);

/// Five messages in a row failing (each after its retries, over a minute) is an endpoint
/// that is down, not one that hiccuped: it is paused, with a report, and messages are
/// kept for it.
pub const DEFAULT_WEBHOOK_PAUSE_AFTER: u32 = 5;

/// A partner's webhook endpoints at most: more than any integration needs (one per
/// environment and event consumer), few enough that one partner's dead endpoints cannot
/// multiply its share of the dispatcher.
pub const DEFAULT_WEBHOOK_MAX_ENDPOINTS: u32 = 20;

/// The deliveries one replay may queue: a day of busy traffic; a larger selection is
/// refused with a request to narrow it, so that one request cannot re-queue a
/// partner's whole history.
pub const DEFAULT_WEBHOOK_REPLAY_MAX: u32 = 10_000;

/// Seed 002's public tokens expire after 6 hours; the reference server's do too.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(6 * 60 * 60);

/// Long enough for any real handler of this API, short enough that a hung request is
/// answered in the contract rather than by a client's own timeout.
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests of this API are small JSON documents; 64 KiB leaves room and bounds memory.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Every partner's default rate limit: 100 000 requests a minute (about 1 700 a second
/// sustained, all of which may come at once), sized to what one instance of the reference
/// server answers, so that a load test sees the server and a runaway client sees 429. The
/// token endpoint has the same limit per client address. `--rate-limit` changes it.
pub const DEFAULT_RATE_LIMIT: (u32, Duration) = (100_000, Duration::from_secs(60));

/// The most callers the in-memory rate limiter tracks (about 2 MiB at this size).
pub const MAX_TRACKED_CALLERS: usize = 100_000;

/// How the reference Partner API runs.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://file.db` (created on first run) or `postgres://…`.
    pub database_url: String,
    /// The key that seals webhook signing secrets and stored idempotent responses at
    /// rest (by default one beside a SQLite file; any other database needs one given).
    pub secret_keys: crate::SecretKeys,
    /// How long each kind of record is kept; the background purge deletes the rest.
    pub retention: crate::Retention,
    /// The error contract to answer in.
    pub profile: Profile,
    /// Whether every request must carry a `Date` header; when false, a `Date` that is
    /// sent is still checked.
    pub require_date: bool,
    /// How far a request's `Date` may be from the server's clock.
    pub date_skew: Duration,
    /// How long an access token lives.
    pub token_ttl: Duration,
    /// How long a handler may run before the timeout condition answers.
    pub handler_timeout: Duration,
    /// The largest request body accepted.
    pub body_limit: usize,
    /// Whether a new database gets the demo partners (see
    /// [`DEMO_PARTNERS`](crate::DEMO_PARTNERS)): only the database this start creates
    /// the tables of, so that a deleted demo partner never comes back. Off by default:
    /// their keys are published, and a production database must not have them.
    pub seed_demo: bool,
    /// The clock for token expiry and request dates; tests inject their own.
    pub clock: Clock,
    /// Redis (`redis://…`) for rate limits and idempotency records, shared by replicas;
    /// without it, rate limits are in memory and records in the database.
    pub redis_url: Option<String>,
    /// The prefix of every Redis key (replicas of one API share it; tests and other APIs
    /// on the same Redis use their own).
    pub redis_prefix: String,
    /// Each partner's requests per window (see [`DEFAULT_RATE_LIMIT`]).
    pub rate_limit: (u32, Duration),
    /// Whether POST and PATCH must carry an `Idempotency-Key`.
    pub require_idempotency_key: bool,
    /// The bearer token of the operator routes (`/admin/…`); without one they do not
    /// exist.
    pub admin_token: Option<String>,
    /// Networks outside the public internet that webhook endpoints may be in (loopback
    /// in tests, a partner's private link); all others are refused when an endpoint is
    /// registered and when it is delivered to.
    pub webhook_allow: Vec<apierr_webhooks::IpNet>,
    /// Whether this process delivers webhooks. Other processes can, on the same
    /// database (`apierr webhooks worker`).
    pub webhook_dispatcher: bool,
    /// How long a worker's claim on a delivery lasts: the deliveries of a worker that
    /// died are taken by another after this.
    pub webhook_lease: Duration,
    /// An operator URL that receives each webhook failure report as JSON (besides the
    /// log).
    pub webhook_notify_url: Option<String>,
    /// How many messages in a row must fail before an endpoint is paused.
    pub webhook_pause_after: u32,
    /// Deliveries in flight at once in this process (see
    /// [`apierr_webhooks::DispatcherBuilder::concurrency`]).
    pub webhook_concurrency: usize,
    /// Deliveries in flight at once per endpoint (see
    /// [`apierr_webhooks::DispatcherBuilder::endpoint_concurrency`]).
    pub webhook_endpoint_concurrency: usize,
    /// Deliveries in flight at once per partner; `None` is three quarters of the
    /// concurrency (see [`apierr_webhooks::DispatcherBuilder::partner_concurrency`]).
    pub webhook_partner_concurrency: Option<usize>,
    /// The most webhook endpoints a partner may have (see
    /// [`DEFAULT_WEBHOOK_MAX_ENDPOINTS`]).
    pub webhook_max_endpoints: u32,
    /// The most deliveries one `POST /webhooks/replay` may queue (see
    /// [`DEFAULT_WEBHOOK_REPLAY_MAX`]).
    pub webhook_replay_max: u32,
    /// The egress proxy deliveries go through, which must then enforce the address
    /// policy itself (it resolves the names); without one, deliveries connect directly,
    /// whatever proxy the environment names.
    pub webhook_proxy: Option<String>,
    /// The base URL partners reach this deployment at (behind a proxy, the proxy's), as
    /// the OpenAPI document's server (checked by [`parse_public_url`]). Without one,
    /// [`run`](crate::run) states its listener's address and [`app`](crate::app)
    /// [`DEFAULT_PUBLIC_URL`].
    pub public_url: Option<String>,
    /// Failed authentications (bad key, bad token, bad client secret) a source address,
    /// and a client id at the token endpoint, may make per window before it is answered
    /// 429 (see [`apierr_axum::DEFAULT_FAILURE_QUOTA`]).
    pub auth_failure_limit: (u32, Duration),
    /// The networks of the proxies in front of the server, whose `Forwarded` and
    /// `X-Forwarded-For` headers name the client's address (see
    /// [`apierr_axum::ContractLayer::trust_proxies`]); none by default.
    pub trust_proxies: Vec<apierr_axum::IpNet>,
    /// The bounds of every connection (head and body timeouts, the connection cap) and
    /// the grace period of a drain.
    pub limits: apierr_axum::Limits,
    /// Where the metrics are served, in Prometheus's text format at `/metrics` (requests
    /// by route, status and catalog code, rate-limit, idempotency and webhook figures):
    /// a listener of its own, never the partner port. None (the default) records none.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// The base URL of a server listening where `apierr serve` does by default.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// A base URL for the OpenAPI document's `servers`: absolute, `http` or `https`, with a
/// host, without credentials, query or fragment; a trailing `/` is dropped (paths are
/// appended to it).
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "{text:?}: the public URL is http:// or https:// with a host"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{text:?}: the public URL carries no credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{text:?}: the public URL has no query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// An egress proxy's URL ([`Config::webhook_proxy`]): `http` or `https` with a host and
/// perhaps a port and credentials, and nothing after them.
pub fn parse_proxy_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "{text:?}: a proxy is http:// or https:// with a host"
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?}: a proxy URL has no path, query or fragment"
        ));
    }
    Ok(url.as_str().to_owned())
}

/// The shortest admin token accepted: 32 characters of a random token are some 190 bits,
/// out of reach of guessing whatever the rate; a short or memorable one is not.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// An operator's admin token ([`Config::admin_token`]): at least [`MIN_ADMIN_TOKEN_LEN`]
/// characters, all visible ASCII (it travels in a header).
pub fn parse_admin_token(text: &str) -> Result<String, String> {
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("an admin token is visible ASCII, without spaces".into());
    }
    if text.len() < MIN_ADMIN_TOKEN_LEN {
        return Err(format!(
            "an admin token has at least {MIN_ADMIN_TOKEN_LEN} characters (this one has {}); \
             make one with `openssl rand -hex 32`",
            text.len()
        ));
    }
    Ok(text.to_owned())
}

/// A database URL fit for logs: a password in it (`postgres://user:secret@host/db`, or a
/// `password` query parameter) is replaced by `***`. Text that is not a URL is shown as
/// its scheme alone, since it may hold anything.
pub fn redact_database_url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return match text.split_once(':') {
            Some((scheme, _)) => format!("{scheme}:***"),
            None => "***".to_owned(),
        };
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    if url
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case("password"))
    {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_database_url(&self.database_url))
            .field("profile", &self.profile.name())
            .field("require_date", &self.require_date)
            .field("token_ttl", &self.token_ttl)
            .field(
                "redis_url",
                &self.redis_url.as_deref().map(redact_database_url),
            )
            .field("rate_limit", &self.rate_limit)
            .field("limits", &self.limits)
            .field("secret_keys", &self.secret_keys)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults for a database: the `problem` profile, dates checked when sent, 6-hour
    /// tokens, a 30-second handler timeout, 64 KiB bodies, no demo partners, system clock,
    /// no Redis, the default rate limit, optional idempotency keys, no operator routes,
    /// webhooks delivered by this process to public addresses only.
    pub fn new(database_url: impl Into<String>) -> Self {
        Config {
            database_url: database_url.into(),
            profile: Profile::PROBLEM,
            require_date: false,
            date_skew: DEFAULT_SKEW,
            token_ttl: DEFAULT_TOKEN_TTL,
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            seed_demo: false,
            clock: Arc::new(SystemTime::now),
            redis_url: None,
            redis_prefix: "apierr:".to_owned(),
            rate_limit: DEFAULT_RATE_LIMIT,
            require_idempotency_key: false,
            admin_token: None,
            webhook_allow: Vec::new(),
            webhook_dispatcher: true,
            webhook_lease: DEFAULT_WEBHOOK_LEASE,
            webhook_notify_url: None,
            webhook_pause_after: DEFAULT_WEBHOOK_PAUSE_AFTER,
            webhook_concurrency: apierr_webhooks::DEFAULT_CONCURRENCY,
            webhook_endpoint_concurrency: apierr_webhooks::DEFAULT_ENDPOINT_CONCURRENCY,
            webhook_partner_concurrency: None,
            webhook_proxy: None,
            webhook_max_endpoints: DEFAULT_WEBHOOK_MAX_ENDPOINTS,
            webhook_replay_max: DEFAULT_WEBHOOK_REPLAY_MAX,
            public_url: None,
            limits: apierr_axum::Limits::default(),
            metrics_listen: None,
            auth_failure_limit: apierr_axum::DEFAULT_FAILURE_QUOTA,
            trust_proxies: Vec::new(),
            secret_keys: crate::SecretKeys::default(),
            retention: crate::Retention::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_is_an_http_base_without_extras() {
        // Scenario: the document's server is what partners can use as a base URL.
        assert_eq!(
            parse_public_url("https://api.example.com/").unwrap(),
            "https://api.example.com"
        );
        assert_eq!(
            parse_public_url("http://127.0.0.1:8080/partner/v1/").unwrap(),
            "http://127.0.0.1:8080/partner/v1"
        );
        for bad in [
            "",
            "api.example.com",
            "ftp://api.example.com",
            "https://user:pw@api.example.com",
            "https://api.example.com/?a=1",
            "https://api.example.com/#top",
            "file:///etc/passwd",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn database_urls_are_logged_without_their_passwords() {
        // Scenario: an operator's logs and `Debug` output never show the database
        // password, in the userinfo or in the query; the rest stays readable.
        for (url, shown) in [
            (
                "postgres://app:s3cret@db.internal:5432/api",
                "postgres://app:***@db.internal:5432/api",
            ),
            (
                "postgres://db.internal/api?user=app&password=s3cret&sslmode=require",
                "postgres://db.internal/api?user=app&password=***&sslmode=require",
            ),
            (
                "postgres://app@db.internal/api",
                "postgres://app@db.internal/api",
            ),
            ("sqlite://apierr.db", "sqlite://apierr.db"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("not a url with s3cret", "***"),
        ] {
            assert_eq!(redact_database_url(url), shown, "{url}");
        }
        let mut config = Config::new("postgres://app:s3cret@db/api");
        config.redis_url = Some("redis://:s3cret@cache:6379".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("cache:6379"), "{shown}");
    }
}
