//! `apierr`: the reference Partner API and the catalog tools, a thin shell over
//! `apierr-reference` (the server and its operator commands) and `apierr-cli`'s `call`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use apierr::Profile;
use apierr_axum::Limits;
use clap::{Parser, Subcommand};

/// apierr: the error contract of an HTTP API.
#[derive(Debug, Parser)]
#[command(name = "apierr", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the reference Partner API.
    Serve(Box<Serve>),
    /// Print a profile's catalog as Markdown, with an example body per code; `export` it
    /// as JSON, or `diff` two exports or OpenAPI documents.
    #[command(args_conflicts_with_subcommands = true)]
    Catalog {
        /// The profile.
        #[arg(long, default_value = "problem", value_parser = profile_names())]
        profile: String,
        #[command(subcommand)]
        action: Option<CatalogAction>,
    },
    /// Print the reference server's OpenAPI 3.1 document in a profile (what it serves at
    /// /openapi.json), without starting it.
    Openapi {
        /// The profile.
        #[arg(long, default_value = "problem", value_parser = profile_names())]
        profile: String,
        /// The base URL partners reach the API at (the document's server).
        #[arg(long, default_value = apierr_reference::DEFAULT_PUBLIC_URL, value_parser = apierr_reference::parse_public_url)]
        public_url: String,
    },
    /// Send a fixed, bounded battery of bad requests to a live API and check its answers
    /// against the error contract: one error format everywhere, no 5xx for bad input,
    /// Allow on 405, WWW-Authenticate on 401, Retry-After on 429/503, no internal detail,
    /// request ids, and (with --openapi) every status declared. Exit code: 0 no violation,
    /// 1 a violation not allowed, 2 a probe that could not run.
    Probe(Box<ProbeArgs>),
    /// Print the error-handling plan (seed 001): for every operation, every error it can
    /// answer (status, code, when, an example body) and what the partner does about it.
    /// Made from the reference server's document in a profile, or any OpenAPI document;
    /// `serve` serves its own at /docs/errors.
    Plan {
        /// The profile (of the reference server, or whose catalog explains the codes of
        /// `--openapi`'s).
        #[arg(long, default_value = "problem", value_parser = profile_names())]
        profile: String,
        /// An OpenAPI 3.x document to plan instead, JSON or YAML: a file, or an http(s) URL.
        #[arg(long, value_name = "URL|FILE")]
        openapi: Option<String>,
        /// The output format.
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "html", "json"])]
        format: String,
    },
    /// Send one logical request through apierr's client and tell what happened: every
    /// attempt (outcome, delay, reason), then the answer or the parsed error. The exit
    /// code is the category: 0 success, 2 content, 3 auth, 4 rate-limited, 5 server,
    /// 6 network, 7 decode, 1 a request that could not be built.
    Call {
        /// The method (GET, POST, …).
        method: String,
        /// The URL.
        url: String,
        /// A header, `Name: value` (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// A JSON body.
        #[arg(long)]
        data: Option<String>,
        /// The `Idempotency-Key` (a POST without one gets one generated, the same on
        /// every attempt).
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Attempts in all.
        #[arg(long, default_value_t = 3)]
        max_attempts: u32,
        /// One deadline for the whole call: `10s`, `1m`.
        #[arg(long, value_parser = apierr_reference::parse_duration)]
        deadline: Option<Duration>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Webhooks: failure reports, replay, and a worker that delivers without serving.
    #[command(subcommand)]
    Webhooks(Box<Webhooks>),
    /// The key that seals webhook signing secrets and stored responses at rest:
    /// generate one, or rotate to a new one.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Deletes now the records past their retention (or older than --older-than):
    /// expired tokens, expired idempotency records, done webhook messages with their
    /// attempts, failure reports, acknowledged reconciliation entries. `serve` and
    /// `webhooks worker` do the same in the background every 10 minutes.
    Purge {
        #[command(flatten)]
        database: DatabaseArg,
        /// Delete what is older than this (`7days`), instead of each kind's retention;
        /// pending webhook deliveries and open reconciliation entries are kept
        /// whatever their age.
        #[arg(long, value_name = "DURATION", value_parser = apierr_reference::parse_duration)]
        older_than: Option<Duration>,
        /// Only this kind (repeatable).
        #[arg(long = "kind", value_name = "KIND", value_parser = ["tokens", "idempotency", "messages", "reports", "reconciliation"])]
        kinds: Vec<String>,
    },
    /// Partners and their credentials: add, list, show, revoke, rotate. Credentials are
    /// printed once and stored as digests only.
    #[command(subcommand)]
    Partners(PartnersCommand),
    /// The mutations whose outcome is unknown (5xx, panics, timeouts), for
    /// reconciliation: a table, or JSON lines with `--json`; `ack` marks them done.
    Reconcile(Reconcile),
}

/// `apierr reconcile [--since D | --open] [--json]`, or `apierr reconcile ack SEQ…`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct Reconcile {
    #[command(subcommand)]
    action: Option<ReconcileAction>,
    #[command(flatten)]
    database: DatabaseArg,
    /// How far back: `90s`, `24h`, `7days`.
    #[arg(long, default_value = "24h", value_parser = apierr_reference::parse_duration)]
    since: Duration,
    /// Only the entries not yet acknowledged, of any age (the work still to do).
    #[arg(long, conflicts_with = "since")]
    open: bool,
    /// One JSON object a line instead of a table.
    #[arg(long)]
    json: bool,
}

/// `apierr probe`'s arguments.
#[derive(Debug, clap::Args)]
struct ProbeArgs {
    /// The API's base URL; only its origin is sent to.
    base_url: String,
    /// The API's OpenAPI 3 or Swagger 2 document, JSON or YAML (a file or an http(s) URL):
    /// the operations to probe and what each declares. When the base URL has no path, the
    /// operations are sent under the document's server path (`servers`, `basePath`).
    /// Without it only unknown routes are probed.
    #[arg(long, value_name = "URL|FILE")]
    openapi: Option<String>,
    /// A header for every request, `Name: value` (repeatable): the credentials go here.
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// An access token that has expired, for the expired-token check.
    #[arg(long)]
    expired_token: Option<String>,
    /// Also send the body checks (malformed JSON, wrong types, missing fields, wrong
    /// content type, an oversized body) to an operation that writes. Each is built to be
    /// refused; a broken server might create data.
    #[arg(long)]
    allow_writes: bool,
    /// The most requests to send.
    #[arg(long, default_value_t = 100)]
    max_requests: usize,
    /// Requests a second.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Do not fail on findings of this rule (repeatable).
    #[arg(long = "allow", value_name = "RULE", value_parser = probe_rule_names())]
    allow: Vec<String>,
    /// Print the report as JSON.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the report as Markdown.
    #[arg(long)]
    markdown: bool,
    /// Also write the report as an HTML page to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
}

/// The names `apierr probe --allow` takes.
fn probe_rule_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        apierr_cli::probe::ProbeRule::ALL
            .iter()
            .map(|rule| rule.name())
            .collect::<Vec<_>>(),
    )
}

#[derive(Debug, Subcommand)]
enum CatalogAction {
    /// Print the catalogs as JSON: every code each profile can send (status, category,
    /// message, description, the conditions that raise it) and the members of its error
    /// bodies, for `apierr catalog diff` and other tools.
    Export {
        /// The profiles (repeatable; default every one).
        #[arg(long = "profile", value_parser = profile_names())]
        profiles: Vec<String>,
    },
    /// Compare two catalog exports, or two OpenAPI documents, and classify each change
    /// breaking or not, with its rule. Exit code: 0 nothing breaking, 1 a breaking change
    /// not allowed, 2 a document that cannot be read.
    Diff {
        /// The contract as it was (a file, or `-` for standard input).
        old: std::path::PathBuf,
        /// The contract as it is now.
        new: std::path::PathBuf,
        /// Print the changes as JSON.
        #[arg(long)]
        json: bool,
        /// Do not fail on changes of this rule (repeatable), e.g. `status-added`.
        #[arg(long = "allow", value_name = "RULE", value_parser = rule_names())]
        allow: Vec<String>,
    },
}

/// The names `--allow` takes.
fn rule_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        apierr_cli::diff::Rule::ALL
            .iter()
            .map(|rule| rule.name())
            .collect::<Vec<_>>(),
    )
}

#[derive(Debug, Subcommand)]
enum ReconcileAction {
    /// Marks entries reconciled (by their SEQ): they leave `--open`, and stay in the
    /// history until their retention ends.
    Ack {
        /// The entries' sequence numbers.
        #[arg(required = true)]
        seq: Vec<i64>,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

/// The database every command that reads or serves the API's data names.
#[derive(Debug, Clone, clap::Args)]
struct DatabaseArg {
    /// The API's database: `sqlite://FILE` (created on first run) or `postgres://…`.
    #[arg(
        long = "database-url",
        value_name = "DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL
    )]
    url: String,
}

/// The key that seals secrets at rest, for the commands that read or write them.
#[derive(Debug, Clone, clap::Args)]
struct SecretKeyArgs {
    /// The file of the key that seals webhook signing secrets and stored responses (64
    /// hex digits; `apierr keys generate FILE` makes one). Without it (and without
    /// APIERR_SECRET_KEY), a SQLite database gets one beside its file (`FILE.key`);
    /// PostgreSQL needs one.
    #[arg(long, value_name = "FILE", env = "APIERR_SECRET_KEY_FILE")]
    secret_key_file: Option<std::path::PathBuf>,
    /// A key being rotated out (repeatable): what it sealed still opens; the current
    /// key seals.
    #[arg(long, value_name = "FILE")]
    previous_secret_key_file: Vec<std::path::PathBuf>,
    /// Store webhook signing secrets unsealed. Risk: anyone who reads the database (a
    /// backup, a replica, a dump) can sign webhooks as the API.
    #[arg(long, conflicts_with = "secret_key_file")]
    allow_plaintext_secrets: bool,
}

impl SecretKeyArgs {
    /// The keys: the file, else APIERR_SECRET_KEY, else plain text if allowed, else a
    /// key beside a SQLite file.
    fn keys(&self) -> Result<apierr_reference::SecretKeys, String> {
        use apierr_axum::store::Keyring;
        let current = match (
            &self.secret_key_file,
            std::env::var(apierr_reference::SECRET_KEY_ENV),
        ) {
            (Some(file), _) => Some(apierr_reference::read_key_file(file)?),
            (None, Ok(text)) => Some(
                Keyring::parse_key(&text)
                    .map_err(|e| format!("{}: {e}", apierr_reference::SECRET_KEY_ENV))?,
            ),
            (None, Err(_)) => None,
        };
        let Some(current) = current else {
            if !self.previous_secret_key_file.is_empty() {
                return Err("a previous key needs a current one (--secret-key-file)".into());
            }
            return Ok(if self.allow_plaintext_secrets {
                apierr_reference::SecretKeys::Plaintext
            } else {
                apierr_reference::SecretKeys::BesideDatabase
            });
        };
        let mut keyring = Keyring::new(&current);
        for file in &self.previous_secret_key_file {
            keyring = keyring.with_previous(&apierr_reference::read_key_file(file)?);
        }
        Ok(apierr_reference::SecretKeys::Given(keyring))
    }
}

/// How long records are kept before the background purge deletes them.
#[derive(Debug, Clone, clap::Args)]
struct RetentionArgs {
    /// How long an expired access token is kept after its expiry.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = apierr_reference::parse_duration)]
    retain_expired_tokens: Duration,
    /// How long a webhook message whose deliveries are done is kept, with its attempts
    /// (the window a partner can replay in).
    #[arg(long, value_name = "DURATION", default_value = "30days", value_parser = apierr_reference::parse_duration)]
    retain_messages: Duration,
    /// How long a webhook failure report is kept (with the message and attempts it shows).
    #[arg(long, value_name = "DURATION", default_value = "90days", value_parser = apierr_reference::parse_duration)]
    retain_reports: Duration,
    /// How long an acknowledged reconciliation entry is kept (open ones stay).
    #[arg(long, value_name = "DURATION", default_value = "90days", value_parser = apierr_reference::parse_duration)]
    retain_reconciliation: Duration,
}

impl RetentionArgs {
    fn retention(&self) -> apierr_reference::Retention {
        apierr_reference::Retention {
            expired_tokens: self.retain_expired_tokens,
            messages: self.retain_messages,
            reports: self.retain_reports,
            reconciliation: self.retain_reconciliation,
        }
    }
}

/// `apierr keys …`
#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Writes a new random key to FILE (mode 0600; never over an existing file).
    Generate {
        /// Where to write it.
        file: std::path::PathBuf,
    },
    /// Seals every webhook secret and stored response under the current key
    /// (--secret-key-file), opening them with the previous ones: run it after the
    /// servers have the new key as current and the old as previous; then the old key
    /// can go. Servers keep running.
    Rotate {
        #[command(flatten)]
        database: DatabaseArg,
        #[command(flatten)]
        keys: SecretKeyArgs,
        /// Redis holding idempotency records too (as `serve --redis-url`).
        #[arg(long)]
        redis_url: Option<String>,
        /// Its key prefix.
        #[arg(long, default_value = "apierr:")]
        redis_prefix: String,
    },
}

/// `apierr partners …`
#[derive(Debug, Subcommand)]
enum PartnersCommand {
    /// Adds a partner and prints its client id, client secret and API key (once).
    Add {
        /// The partner's name.
        name: String,
        /// It may only read (GET and HEAD).
        #[arg(long)]
        read_only: bool,
        #[command(flatten)]
        output: PartnerOutput,
    },
    /// Lists every partner (no credentials).
    List {
        #[command(flatten)]
        output: PartnerOutput,
    },
    /// Shows one partner (no credentials): state, and until when rotated ones work.
    Show {
        /// The partner's id.
        id: String,
        #[command(flatten)]
        output: PartnerOutput,
    },
    /// Revokes a partner at once: its key, secret and access tokens stop working.
    Revoke {
        /// The partner's id.
        id: String,
        #[command(flatten)]
        output: PartnerOutput,
    },
    /// Makes a new API key and prints it (once); the current one works for the overlap.
    RotateKey {
        /// The partner's id.
        id: String,
        #[command(flatten)]
        overlap: Overlap,
        #[command(flatten)]
        output: PartnerOutput,
    },
    /// Makes a new client secret and prints it (once); the current one works for the
    /// overlap.
    RotateSecret {
        /// The partner's id.
        id: String,
        #[command(flatten)]
        overlap: Overlap,
        #[command(flatten)]
        output: PartnerOutput,
    },
    /// Makes a one-use sign-in link to the partner portal (`/portal`) and prints it
    /// (once); it expires after the TTL, or when it is used.
    PortalLink {
        /// The partner's id.
        id: String,
        /// How long the link may be used: `1s` to `1day`.
        #[arg(long, value_name = "DURATION", default_value_t = apierr_reference::DEFAULT_PORTAL_LINK_TTL.into())]
        ttl: humantime::Duration,
        /// The server's public base URL, which the link starts with.
        #[arg(long, default_value = apierr_reference::DEFAULT_PUBLIC_URL, value_parser = apierr_reference::parse_public_url)]
        public_url: String,
        #[command(flatten)]
        output: PartnerOutput,
    },
}

/// Where and how `apierr partners` works.
#[derive(Debug, Clone, clap::Args)]
struct PartnerOutput {
    #[command(flatten)]
    database: DatabaseArg,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// How long a rotated credential keeps working.
#[derive(Debug, Clone, clap::Args)]
struct Overlap {
    /// How long the credential being replaced keeps working beside the new one: `0s`
    /// (it stops now) to `30days`.
    #[arg(long, value_name = "DURATION", default_value_t = apierr_reference::DEFAULT_ROTATION_OVERLAP.into(), value_parser = overlap)]
    overlap: humantime::Duration,
}

fn overlap(text: &str) -> Result<humantime::Duration, String> {
    let value: humantime::Duration = text.trim().parse().map_err(|e| format!("{text:?}: {e}"))?;
    if Duration::from(value) > apierr_reference::MAX_ROTATION_OVERLAP {
        return Err(apierr_reference::PartnerError::InvalidOverlap(value.into()).to_string());
    }
    Ok(value)
}

/// The embedded quick start's database.
const DEFAULT_DATABASE_URL: &str = "sqlite://apierr.db";

/// `apierr webhooks …`
#[derive(Debug, Subcommand)]
enum Webhooks {
    /// Prints the webhook failure reports written in a recent time, in the form that
    /// can be shared with the partner (or, with --internal, with the error details).
    Report {
        #[command(flatten)]
        database: DatabaseArg,
        /// How far back, e.g. 24h or 7d.
        #[arg(long, default_value = "24h", value_parser = apierr_reference::parse_duration)]
        since: Duration,
        /// Only this partner's.
        #[arg(long)]
        partner: Option<String>,
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
        /// The operator's view: error details and full URLs.
        #[arg(long)]
        internal: bool,
    },
    /// Sends deliveries again (same message ids): by message, endpoint and time, state.
    Replay {
        #[command(flatten)]
        database: DatabaseArg,
        /// Only this message (its id, `msg_…`).
        #[arg(long)]
        message: Option<String>,
        /// Only the deliveries to this endpoint (its id, `ep_…`).
        #[arg(long)]
        endpoint: Option<String>,
        /// Only this partner's.
        #[arg(long)]
        partner: Option<String>,
        /// Messages written within this long before now, e.g. 2h.
        #[arg(long, value_parser = apierr_reference::parse_duration)]
        since: Option<Duration>,
        /// Messages written more than this long before now.
        #[arg(long, value_parser = apierr_reference::parse_duration)]
        until: Option<Duration>,
        /// delivered, failed or held (kept while the endpoint was paused).
        #[arg(long, value_parser = ["delivered", "failed", "held"])]
        state: Option<String>,
    },
    /// Delivers webhooks from the database until interrupted, without serving the API.
    Worker {
        #[command(flatten)]
        database: DatabaseArg,
        #[command(flatten)]
        keys: SecretKeyArgs,
        #[command(flatten)]
        retention: RetentionArgs,
        #[command(flatten)]
        delivery: Delivery,
        #[command(flatten)]
        grace: Grace,
        #[command(flatten)]
        telemetry: Telemetry,
    },
}

/// How webhooks are delivered.
#[derive(Debug, Clone, clap::Args)]
struct Delivery {
    /// A network outside the public internet that endpoints may be in (repeatable),
    /// e.g. 127.0.0.0/8 for local receivers.
    #[arg(long = "webhook-allow")]
    webhook_allow: Vec<apierr_webhooks::IpNet>,
    /// How long a claim on a delivery lasts before another worker may take it.
    #[arg(long, default_value = "60s", value_parser = apierr_reference::parse_duration)]
    webhook_lease: Duration,
    /// An operator URL that receives each failure report as JSON.
    #[arg(long)]
    webhook_notify_url: Option<String>,
    /// How many messages in a row must fail before an endpoint is paused.
    #[arg(long, default_value_t = apierr_reference::DEFAULT_WEBHOOK_PAUSE_AFTER)]
    webhook_pause_after: u32,
    /// How many deliveries are in flight at once in this process.
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = apierr_webhooks::DEFAULT_CONCURRENCY, value_parser = slots)]
    webhook_concurrency: usize,
    /// How many deliveries to one endpoint are in flight at once (at most the
    /// partner's share).
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = apierr_webhooks::DEFAULT_ENDPOINT_CONCURRENCY, value_parser = slots)]
    webhook_endpoint_concurrency: usize,
    /// How many deliveries to one partner's endpoints are in flight at once (at most
    /// the concurrency; default three quarters of it): the rest stays free for the
    /// other partners when one partner's endpoints are slow or dead.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = slots)]
    webhook_partner_concurrency: Option<usize>,
    /// Send deliveries through this egress proxy (`http://host:port`), which must refuse
    /// private, loopback and metadata addresses itself: it resolves the endpoints' names.
    /// Proxy variables of the environment are never used.
    #[arg(long, value_name = "URL", value_parser = apierr_reference::parse_proxy_url)]
    webhook_proxy: Option<String>,
}

impl Delivery {
    fn apply(self, config: &mut apierr_reference::Config) {
        config.webhook_allow = self.webhook_allow;
        config.webhook_lease = self.webhook_lease;
        config.webhook_notify_url = self.webhook_notify_url;
        config.webhook_pause_after = self.webhook_pause_after;
        config.webhook_concurrency = self.webhook_concurrency;
        config.webhook_endpoint_concurrency = self.webhook_endpoint_concurrency;
        config.webhook_partner_concurrency = self.webhook_partner_concurrency;
        config.webhook_proxy = self.webhook_proxy;
    }
}

/// A count of delivery slots: 1 to 4096.
fn slots(text: &str) -> Result<usize, String> {
    const MAX: usize = 4096;
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is not between 1 and {MAX}")),
        Err(e) => Err(format!("{text:?}: {e}")),
    }
}

/// How long a stopping process waits for the work in flight (see
/// [`apierr_axum::Limits::grace_period`]).
#[derive(Debug, Clone, clap::Args)]
struct Grace {
    /// After SIGTERM or Ctrl-C: how long requests and deliveries in flight may take to
    /// finish before what remains is closed.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = apierr_axum::DEFAULT_GRACE_PERIOD.into(), value_parser = duration_limit(Limits::grace_period))]
    shutdown_grace: humantime::Duration,
}

/// How every connection is bounded (see [`apierr_axum::Limits`]).
#[derive(Debug, Clone, clap::Args)]
struct Connections {
    /// How long a request's head (request line and headers) may take to arrive, from
    /// when the server starts waiting for it; an idle keep-alive connection is closed
    /// after it too.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = apierr_axum::DEFAULT_HEADER_TIMEOUT.into(), value_parser = duration_limit(Limits::header_timeout))]
    header_timeout: humantime::Duration,
    /// How long a request's body may take to arrive after its head (past it: 408).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = apierr_axum::DEFAULT_BODY_TIMEOUT.into(), value_parser = duration_limit(Limits::body_timeout))]
    body_timeout: humantime::Duration,
    /// The most connections open at once; more wait in the listen backlog.
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = apierr_axum::DEFAULT_MAX_CONNECTIONS, value_parser = count_limit(Limits::max_connections))]
    max_connections: usize,
    #[command(flatten)]
    grace: Grace,
}

impl Connections {
    fn limits(&self) -> Result<Limits, apierr_axum::LimitError> {
        Limits::default()
            .header_timeout(self.header_timeout.into())?
            .body_timeout(self.body_timeout.into())?
            .max_connections(self.max_connections)?
            .grace_period(self.grace.shutdown_grace.into())
    }
}

/// A duration flag's parser: the value as humantime reads it (`10s`, `1m`), checked by
/// the [`Limits`] setter it sets, so that the range of each limit is written once.
fn duration_limit(
    set: fn(Limits, Duration) -> Result<Limits, apierr_axum::LimitError>,
) -> impl Fn(&str) -> Result<humantime::Duration, String> + Clone + Send + Sync + 'static {
    move |text| {
        let value: humantime::Duration =
            text.trim().parse().map_err(|e| format!("{text:?}: {e}"))?;
        let _checked = set(Limits::default(), value.into()).map_err(|e| e.to_string())?;
        Ok(value)
    }
}

/// A count flag's parser, checked by its [`Limits`] setter (see [`duration_limit`]).
fn count_limit(
    set: fn(Limits, usize) -> Result<Limits, apierr_axum::LimitError>,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |text| {
        let value: usize = text.trim().parse().map_err(|e| format!("{text:?}: {e}"))?;
        let _checked = set(Limits::default(), value).map_err(|e| e.to_string())?;
        Ok(value)
    }
}

#[derive(Debug, clap::Args)]
struct Serve {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArg,
    /// The error contract to answer in.
    #[arg(long, default_value = "problem", value_parser = profile_names())]
    profile: String,
    /// Require a `Date` header within the allowed skew on every request.
    #[arg(long)]
    require_date: bool,
    /// How long access tokens live, in seconds.
    #[arg(long, default_value_t = apierr_reference::DEFAULT_TOKEN_TTL.as_secs())]
    token_ttl_secs: u64,
    /// Create the demo partners (published keys such as `acme-key`) in a new database:
    /// done by default only for the embedded quick start's `sqlite://apierr.db`.
    #[arg(long, conflicts_with = "no_demo")]
    demo: bool,
    /// Do not create the demo partners, even in the quick start's new database.
    #[arg(long)]
    no_demo: bool,
    /// Redis (`redis://127.0.0.1:6379`) for rate limits and idempotency records, shared
    /// by every replica; without it, limits are in memory and records in the database.
    #[arg(long)]
    redis_url: Option<String>,
    /// The prefix of every Redis key: replicas of one API share it.
    #[arg(long, default_value = "apierr:")]
    redis_prefix: String,
    /// Each partner's rate limit: `REQUESTS/WINDOW`, e.g. `100000/60s` (the default).
    #[arg(long, default_value = "100000/60s", value_parser = parse_rate)]
    rate_limit: (u32, Duration),
    /// Failed authentications (bad key, token or client secret) one source address, or
    /// one client id at the token endpoint, may make: `FAILURES/WINDOW`; past it, 429.
    #[arg(long, default_value = "60/60s", value_parser = parse_rate)]
    auth_failure_limit: (u32, Duration),
    /// A network of proxies in front of the server (repeatable): for requests from it,
    /// the client's address is read from `Forwarded` / `X-Forwarded-For`. Trusting a
    /// network clients can send from lets them choose their address.
    #[arg(long = "trust-proxy", value_name = "CIDR")]
    trust_proxy: Vec<apierr_axum::IpNet>,
    /// Refuse POST and PATCH without an `Idempotency-Key`.
    #[arg(long)]
    require_idempotency_key: bool,
    /// The most webhook endpoints a partner may register (1–10000).
    #[arg(long, default_value_t = apierr_reference::DEFAULT_WEBHOOK_MAX_ENDPOINTS, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    webhook_max_endpoints: u32,
    /// The most deliveries one `POST /webhooks/replay` may queue; a larger selection is
    /// a 400 asking to narrow it (1–10000000).
    #[arg(long, default_value_t = apierr_reference::DEFAULT_WEBHOOK_REPLAY_MAX, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    webhook_replay_max: u32,
    /// Serve the operator routes (`GET /admin/reconciliation`) to this bearer token (at
    /// least 32 visible characters, e.g. `openssl rand -hex 32`).
    #[arg(long, value_parser = apierr_reference::parse_admin_token)]
    admin_token: Option<String>,
    /// Do not deliver webhooks in this process (run `apierr webhooks worker` instead).
    #[arg(long)]
    no_webhook_dispatcher: bool,
    /// The base URL partners reach the API at, behind any proxy (the OpenAPI document's
    /// server). Default is http:// and the address listened on.
    #[arg(long, value_parser = apierr_reference::parse_public_url)]
    public_url: Option<String>,
    #[command(flatten)]
    keys: SecretKeyArgs,
    #[command(flatten)]
    retention: RetentionArgs,
    #[command(flatten)]
    delivery: Delivery,
    #[command(flatten)]
    connections: Connections,
    #[command(flatten)]
    telemetry: Telemetry,
}

/// What the process tells its operator beyond the log.
#[derive(Debug, Clone, clap::Args)]
struct Telemetry {
    /// Serve the metrics in Prometheus's text format at /metrics on this address (a
    /// listener of its own, never the partner port), e.g. 127.0.0.1:9464. They cover
    /// every partner's traffic: keep the address internal.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Export every span (one per request, with its route, status and catalog code as
    /// `error.type`; one per store call and webhook attempt) to this OpenTelemetry
    /// collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 (spans go to its
    /// /v1/traces, as protobuf). Off by default.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
}

impl Telemetry {
    fn apply(&self, config: &mut apierr_reference::Config) {
        config.metrics_listen = self.metrics_listen;
    }

    /// The process's tracing, installed on `runtime`: log lines, and spans exported where
    /// an OTLP endpoint is given.
    fn tracing(
        &self,
        runtime: &tokio::runtime::Runtime,
        service: &'static str,
    ) -> Result<apierr_cli::telemetry::Tracing, ExitCode> {
        let _entered = runtime.enter();
        apierr_cli::telemetry::init(self.otlp_endpoint.as_deref(), service).map_err(|e| {
            eprintln!("apierr: {e}");
            ExitCode::FAILURE
        })
    }
}

fn parse_rate(text: &str) -> Result<(u32, Duration), String> {
    let (limit, window) = text
        .split_once('/')
        .ok_or("expected REQUESTS/WINDOW, e.g. 100000/60s")?;
    let limit: u32 = limit.parse().map_err(|e| format!("{limit:?}: {e}"))?;
    let window = apierr_reference::parse_duration(window)?;
    if limit == 0 || window.is_zero() {
        return Err("a rate limit needs requests and a window above zero".into());
    }
    Ok((limit, window))
}

fn profile_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Profile::ALL.iter().map(|p| p.name()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Catalog {
            action: None,
            profile,
        } => {
            let profile = Profile::by_name(&profile).unwrap_or(Profile::PROBLEM);
            println!("{}", apierr_reference::catalog_docs(&profile));
            ExitCode::SUCCESS
        }
        Command::Catalog {
            action: Some(CatalogAction::Export { profiles }),
            ..
        } => {
            let profiles: Vec<Profile> = match profiles.is_empty() {
                true => Profile::ALL.to_vec(),
                false => profiles
                    .iter()
                    .filter_map(|p| Profile::by_name(p))
                    .collect(),
            };
            let export = apierr::CatalogExport::of(&profiles);
            match serde_json::to_string_pretty(&export) {
                Ok(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("apierr: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Catalog {
            action:
                Some(CatalogAction::Diff {
                    old,
                    new,
                    json,
                    allow,
                }),
            ..
        } => catalog_diff(&old, &new, json, &allow),
        Command::Probe(args) => probe(*args),
        Command::Plan {
            profile,
            openapi,
            format,
        } => plan(&profile, openapi.as_deref(), &format),
        Command::Openapi {
            profile,
            public_url,
        } => {
            // The document needs no database: the URL is never opened.
            let mut config = apierr_reference::Config::new("sqlite::memory:");
            config.profile = Profile::by_name(&profile).unwrap_or(Profile::PROBLEM);
            config.public_url = Some(public_url);
            let document = apierr_reference::openapi_document(&config);
            match serde_json::to_string_pretty(&document) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("apierr: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Call {
            method,
            url,
            headers,
            data,
            idempotency_key,
            max_attempts,
            deadline,
            json,
        } => {
            let Ok(method) = http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            else {
                eprintln!("apierr: {method:?} is not an HTTP method");
                return ExitCode::from(1);
            };
            let runtime = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            let report = runtime.block_on(apierr_cli::call(apierr_cli::CallRequest {
                method,
                url,
                headers,
                data,
                idempotency_key,
                max_attempts,
                deadline,
            }));
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            ExitCode::from(report.exit_code())
        }
        Command::Webhooks(command) => webhooks(*command),
        Command::Partners(command) => partners(command),
        Command::Keys(command) => keys(command),
        Command::Purge {
            database,
            older_than,
            kinds,
        } => {
            let kinds: Vec<_> = if kinds.is_empty() {
                apierr_reference::RecordKind::ALL.to_vec()
            } else {
                kinds
                    .iter()
                    .filter_map(|k| apierr_reference::RecordKind::parse(k))
                    .collect()
            };
            let runtime = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            report(
                runtime
                    .block_on(apierr_reference::purge(&database.url, older_than, &kinds))
                    .map(|purged| format!("purged: {purged}\n")),
            )
        }
        Command::Reconcile(reconcile) => reconcile_command(reconcile),
        Command::Serve(serve) => {
            let runtime = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            let _tracing = match serve.telemetry.tracing(&runtime, "apierr-serve") {
                Ok(tracing) => tracing,
                Err(code) => return code,
            };
            match runtime.block_on(serve.run()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("apierr: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

impl Serve {
    async fn run(self) -> Result<(), apierr_reference::ServeError> {
        // The quick start's file keeps its demo partners, so that the README's examples
        // work; any other database has them only when asked for.
        let seed_demo = self.demo || (!self.no_demo && self.database.url == DEFAULT_DATABASE_URL);
        let mut config = apierr_reference::Config::new(self.database.url);
        config.seed_demo = seed_demo;
        config.secret_keys = self
            .keys
            .keys()
            .map_err(apierr_reference::ServeError::Config)?;
        config.retention = self.retention.retention();
        config.profile = Profile::by_name(&self.profile).unwrap_or(Profile::PROBLEM);
        config.require_date = self.require_date;
        config.token_ttl = Duration::from_secs(self.token_ttl_secs);
        config.redis_url = self.redis_url;
        config.redis_prefix = self.redis_prefix;
        config.rate_limit = self.rate_limit;
        config.require_idempotency_key = self.require_idempotency_key;
        config.auth_failure_limit = self.auth_failure_limit;
        config.webhook_max_endpoints = self.webhook_max_endpoints;
        config.webhook_replay_max = self.webhook_replay_max;
        config.trust_proxies = self.trust_proxy;
        config.admin_token = self.admin_token;
        config.webhook_dispatcher = !self.no_webhook_dispatcher;
        config.public_url = self.public_url;
        self.delivery.apply(&mut config);
        self.telemetry.apply(&mut config);
        config.limits = self
            .connections
            .limits()
            .map_err(|e| apierr_reference::ServeError::Config(e.to_string()))?;
        let stop = stop_signal();
        let listener = tokio::net::TcpListener::bind(self.listen).await?;
        apierr_reference::run(listener, config, stop).await
    }
}

fn webhooks(command: Webhooks) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = match command {
        Webhooks::Report {
            database,
            since,
            partner,
            json,
            internal,
        } => runtime.block_on(apierr_reference::webhook_report(
            &database.url,
            since,
            partner.as_deref(),
            json,
            internal,
        )),
        Webhooks::Replay {
            database,
            message,
            endpoint,
            partner,
            since,
            until,
            state,
        } => {
            let now = std::time::SystemTime::now();
            let ago = |d: Duration| now.checked_sub(d).unwrap_or(std::time::UNIX_EPOCH);
            let filter = apierr_webhooks::Replay {
                owner: partner,
                message_id: message,
                endpoint_id: endpoint,
                since: since.map(ago),
                until: until.map(ago),
                state: state
                    .as_deref()
                    .and_then(apierr_webhooks::DeliveryState::parse),
            };
            runtime
                .block_on(apierr_reference::webhook_replay(&database.url, &filter))
                .map(|n| {
                    format!("{n} deliveries queued again (held ones wait for their endpoint)\n")
                })
        }
        Webhooks::Worker {
            database,
            keys,
            retention,
            delivery,
            grace,
            telemetry,
        } => {
            let _tracing = match telemetry.tracing(&runtime, "apierr-webhooks-worker") {
                Ok(tracing) => tracing,
                Err(code) => return code,
            };
            let mut config = apierr_reference::Config::new(database.url);
            config.secret_keys = match keys.keys() {
                Ok(keys) => keys,
                Err(e) => {
                    eprintln!("apierr: {e}");
                    return ExitCode::FAILURE;
                }
            };
            delivery.apply(&mut config);
            telemetry.apply(&mut config);
            config.retention = retention.retention();
            config.limits = match Limits::default().grace_period(grace.shutdown_grace.into()) {
                Ok(limits) => limits,
                Err(e) => {
                    eprintln!("apierr: {e}");
                    return ExitCode::FAILURE;
                }
            };
            return match runtime.block_on(async {
                let stop = stop_signal();
                apierr_reference::run_worker(config, stop).await
            }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("apierr: {e}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    report(result)
}

fn keys(command: KeysCommand) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let done = match command {
        KeysCommand::Generate { file } => apierr_reference::generate_key_file(&file)
            .map(|()| format!("wrote a new key to {}\n", file.display())),
        KeysCommand::Rotate {
            database,
            keys,
            redis_url,
            redis_prefix,
        } => match keys.keys() {
            Ok(apierr_reference::SecretKeys::Given(keyring)) => {
                runtime
                    .block_on(apierr_reference::rotate_keys(
                        &database.url,
                        keyring,
                        redis_url.as_deref().map(|url| (url, redis_prefix.as_str())),
                    ))
                    .map(|done| {
                        format!(
                            "sealed again under the current key: {} endpoint secrets, {} stored responses\n",
                            done.endpoints, done.responses
                        )
                    })
                    .map_err(|e| e.to_string())
            }
            Ok(_) => Err("keys rotate needs the new key: --secret-key-file FILE".into()),
            Err(e) => Err(e),
        },
    };
    report(done)
}

fn reconcile_command(command: Reconcile) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let done = match command.action {
        Some(ReconcileAction::Ack { seq, database }) => runtime
            .block_on(apierr_reference::reconcile_ack(&database.url, &seq))
            .map(|done| {
                seq.iter()
                    .zip(done)
                    .map(|(seq, open)| {
                        if open {
                            format!("{seq}\tacknowledged\n")
                        } else {
                            format!("{seq}\tnot open (acknowledged already, or no such entry)\n")
                        }
                    })
                    .collect::<String>()
            }),
        None => {
            let selection = if command.open {
                apierr_reference::Selection::Open
            } else {
                apierr_reference::Selection::Since(command.since)
            };
            runtime.block_on(apierr_reference::reconcile_report(
                &command.database.url,
                selection,
                command.json,
            ))
        }
    };
    report(done)
}

fn partners(command: PartnersCommand) -> ExitCode {
    use apierr_reference::{Issued, PartnerRecord, Partners, PortalLink};
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    /// What a command printed: records, or one with new credentials.
    enum Shown {
        Records(Vec<PartnerRecord>),
        One(PartnerRecord),
        Issued(Issued),
        Link(PortalLink, String),
    }
    let (output, done) = runtime.block_on(async {
        let output = match &command {
            PartnersCommand::Add { output, .. }
            | PartnersCommand::List { output }
            | PartnersCommand::Show { output, .. }
            | PartnersCommand::Revoke { output, .. }
            | PartnersCommand::RotateKey { output, .. }
            | PartnersCommand::RotateSecret { output, .. }
            | PartnersCommand::PortalLink { output, .. } => output.clone(),
        };
        let done = async {
            let partners = Partners::connect(&output.database.url).await?;
            Ok::<_, apierr_reference::PartnerError>(match &command {
                PartnersCommand::Add {
                    name, read_only, ..
                } => Shown::Issued(partners.add(name, *read_only).await?),
                PartnersCommand::List { .. } => Shown::Records(partners.list().await?),
                PartnersCommand::Show { id, .. } => Shown::One(partners.show(id).await?),
                PartnersCommand::Revoke { id, .. } => Shown::One(partners.revoke(id).await?),
                PartnersCommand::RotateKey { id, overlap, .. } => {
                    Shown::Issued(partners.rotate_key(id, overlap.overlap.into()).await?)
                }
                PartnersCommand::RotateSecret { id, overlap, .. } => {
                    Shown::Issued(partners.rotate_secret(id, overlap.overlap.into()).await?)
                }
                PartnersCommand::PortalLink {
                    id,
                    ttl,
                    public_url,
                    ..
                } => Shown::Link(
                    partners.portal_link(id, (*ttl).into()).await?,
                    format!("{}/portal/enter?link=", public_url.trim_end_matches('/')),
                ),
            })
        }
        .await;
        (output, done)
    });
    let shown = match done {
        Ok(shown) => shown,
        Err(e) => {
            eprintln!("apierr: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = match (&shown, output.json) {
        (Shown::Records(all), true) => serde_json::to_string_pretty(all),
        (Shown::One(one), true) => serde_json::to_string_pretty(one),
        (Shown::Issued(issued), true) => serde_json::to_string_pretty(issued),
        (Shown::Link(link, base), true) => serde_json::to_string_pretty(&serde_json::json!({
            "url": format!("{base}{}", link.token),
            "expires_at": link.expires_at,
        })),
        (Shown::Link(link, base), false) => Ok(format!(
            "{base}{}\n# one use, until {} (Unix {}); shown once: the database keeps only its digest\n",
            link.token,
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH
                    + Duration::from_secs(u64::try_from(link.expires_at).unwrap_or(0))
            ),
            link.expires_at,
        )),
        (Shown::Records(all), false) => {
            let mut out = String::from("ID\tNAME\tREAD_ONLY\tREVOKED\n");
            for p in all {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\n",
                    p.id,
                    p.name.escape_debug(),
                    p.read_only,
                    p.revoked
                ));
            }
            Ok(out)
        }
        (Shown::One(one), false) => Ok(apierr_reference::describe_partner(one)),
        (Shown::Issued(issued), false) => {
            let mut out = apierr_reference::describe_partner(&issued.partner);
            if let Some(key) = &issued.api_key {
                out.push_str(&format!("api_key: {key}\n"));
            }
            if let Some(secret) = &issued.client_secret {
                out.push_str(&format!("client_secret: {secret}\n"));
            }
            out.push_str("# shown once: the database keeps only digests\n");
            Ok(out)
        }
    };
    match text {
        Ok(text) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("apierr: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The runtime a command runs on, or the exit of one that could not start it.
/// `apierr probe`: the battery, the report, and the exit code.
fn probe(args: ProbeArgs) -> ExitCode {
    let fail = |e: String| {
        eprintln!("apierr: {e}");
        ExitCode::from(2)
    };
    let base = match reqwest::Url::parse(&args.base_url) {
        Ok(base) => base,
        Err(e) => return fail(format!("{}: {e}", args.base_url)),
    };
    let openapi = match args.openapi.as_deref().map(read_document).transpose() {
        Ok(openapi) => openapi,
        Err(e) => return fail(e),
    };
    let mut headers = Vec::new();
    for header in &args.headers {
        let parsed = header.split_once(':').and_then(|(name, value)| {
            Some((
                http::HeaderName::try_from(name.trim()).ok()?,
                http::HeaderValue::try_from(value.trim()).ok()?,
            ))
        });
        match parsed {
            Some(pair) => headers.push(pair),
            None => return fail(format!("-H {header:?}: not `Name: value`")),
        }
    }
    let config = apierr_cli::probe::ProbeConfig {
        base,
        openapi,
        headers,
        expired_token: args.expired_token,
        allow_writes: args.allow_writes,
        max_requests: args.max_requests,
        rate: args.rate,
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let report = match runtime.block_on(apierr_cli::probe::probe(&config)) {
        Ok(report) => report,
        Err(e) => return fail(e),
    };
    if let Some(path) = &args.html
        && let Err(e) = std::fs::write(path, report.html())
    {
        return fail(format!("{}: {e}", path.display()));
    }
    let out = if args.json {
        format!("{:#}\n", serde_json::json!(report))
    } else if args.markdown {
        report.markdown()
    } else {
        report.text()
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    match report.failing(&args.allow) {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

/// `apierr plan`: the plan of the reference server's document or of `openapi`'s.
fn plan(profile: &str, openapi: Option<&str>, format: &str) -> ExitCode {
    let profile = Profile::by_name(profile).unwrap_or(Profile::PROBLEM);
    let document = match openapi {
        None => {
            // The document needs no database: the URL is never opened.
            let mut config = apierr_reference::Config::new("sqlite::memory:");
            config.profile = profile.clone();
            Ok(apierr_reference::openapi_document(&config))
        }
        Some(source) => read_document(source),
    };
    let document = match document {
        Ok(document) => document,
        Err(e) => {
            eprintln!("apierr: {e}");
            return ExitCode::from(2);
        }
    };
    let plan = apierr::Plan::from_openapi(&document, &profile);
    let out = match format {
        "html" => plan.html(),
        "json" => format!("{:#}\n", serde_json::json!(plan)),
        _ => plan.markdown(),
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    ExitCode::SUCCESS
}

/// The most an OpenAPI document fetched or read may weigh.
const MAX_DOCUMENT: usize = 16 << 20;

/// A JSON or YAML document from a file or an http(s) URL (fetched without following redirects,
/// within 30 seconds and 16 MiB).
fn read_document(source: &str) -> Result<serde_json::Value, String> {
    let bytes = if source.starts_with("http://") || source.starts_with("https://") {
        let runtime = runtime().map_err(|_| "no runtime".to_owned())?;
        runtime.block_on(async {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| e.to_string())?;
            let mut response = client
                .get(source)
                .send()
                .await
                .map_err(|e| format!("{source}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("{source}: {}", response.status()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_DOCUMENT {
                    return Err(format!("{source}: larger than {MAX_DOCUMENT} bytes"));
                }
            }
            Ok(body)
        })?
    } else {
        let bytes = std::fs::read(source).map_err(|e| format!("{source}: {e}"))?;
        if bytes.len() > MAX_DOCUMENT {
            return Err(format!("{source}: larger than {MAX_DOCUMENT} bytes"));
        }
        bytes
    };
    parse_document(&bytes).map_err(|e| format!("{source}: {e}"))
}

/// A document in JSON, or else in YAML (as OpenAPI documents often are).
fn parse_document(bytes: &[u8]) -> Result<serde_json::Value, String> {
    serde_json::from_slice(bytes).or_else(|json| {
        // JSON is YAML too: a body that starts as JSON failed as JSON, and says why.
        let text = bytes.trim_ascii_start();
        if text.starts_with(b"{") || text.starts_with(b"[") {
            return Err(format!("not JSON: {json}"));
        }
        match yaml_serde::from_slice::<serde_json::Value>(bytes) {
            Ok(document @ serde_json::Value::Object(_)) => Ok(document),
            Ok(_) => Err("neither a JSON nor a YAML object".to_owned()),
            Err(yaml) => Err(format!("neither JSON nor YAML: {yaml}")),
        }
    })
}

/// `apierr catalog diff`: the changes, one per line or as JSON, and the exit code.
fn catalog_diff(
    old: &std::path::Path,
    new: &std::path::Path,
    json: bool,
    allow: &[String],
) -> ExitCode {
    let read = |path: &std::path::Path| -> Result<serde_json::Value, String> {
        if path.as_os_str() != "-" {
            return read_document(&path.to_string_lossy());
        }
        let text = std::io::read_to_string(std::io::stdin()).map_err(|e| format!("-: {e}"))?;
        parse_document(text.as_bytes()).map_err(|e| format!("-: {e}"))
    };
    let changes = match (read(old), read(new)) {
        (Ok(old), Ok(new)) => apierr_cli::diff::diff(&old, &new).map_err(|e| e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let changes = match changes {
        Ok(changes) => changes,
        Err(e) => {
            eprintln!("apierr: {e}");
            return ExitCode::from(2);
        }
    };
    let failing = changes
        .iter()
        .filter(|c| c.breaking && !allow.iter().any(|a| a == c.rule.name()))
        .count();
    let out = if json {
        format!(
            "{:#}\n",
            serde_json::json!({"changes": changes, "breaking": failing})
        )
    } else {
        let mut out = String::new();
        for change in &changes {
            out.push_str(&format!("{change}\n"));
        }
        out.push_str(&format!(
            "{} change(s), {} breaking{}\n",
            changes.len(),
            changes.iter().filter(|c| c.breaking).count(),
            match allow.is_empty() {
                true => String::new(),
                false => format!(", {failing} not allowed"),
            }
        ));
        out
    };
    // A reader that stopped early (`| head`) is not an error of the diff's.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    match failing {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("apierr: cannot start the runtime: {e}");
        ExitCode::FAILURE
    })
}

/// Prints what a command made, or its error: the exit code.
fn report(done: Result<String, impl std::fmt::Display>) -> ExitCode {
    match done {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("apierr: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or SIGTERM (what a container runtime or systemd sends to stop a service): the
/// server finishes its requests, a worker its deliveries in flight, and both stop. The
/// handlers are installed when this is called (inside the runtime), not when the future
/// is first polled, so a signal that comes during start-up is not lost.
fn stop_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let interrupt = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = interrupt => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = interrupt.await;
    }
}
