//! `apierr`: the reference Partner API and the catalog tools.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use apierr::Profile;
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
    Serve(Serve),
    /// Print a profile's catalog as Markdown, with an example body per code.
    Catalog {
        /// The profile.
        #[arg(long, default_value = "problem", value_parser = profile_names())]
        profile: String,
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
        #[arg(long, value_parser = apierr_cli::parse_duration)]
        deadline: Option<Duration>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the mutations whose outcome is unknown (5xx, panics, timeouts), for
    /// reconciliation: a table, or JSON lines with `--json`.
    Reconcile {
        /// The server's database: `sqlite://FILE` or `postgres://…`.
        #[arg(long, default_value = "sqlite://apierr.db")]
        database_url: String,
        /// How far back: `90s`, `24h`, `7days`.
        #[arg(long, default_value = "24h", value_parser = apierr_cli::parse_duration)]
        since: Duration,
        /// One JSON object a line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct Serve {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// `sqlite://FILE` (created on first run) or `postgres://…`.
    #[arg(long, default_value = "sqlite://apierr.db")]
    database_url: String,
    /// The error contract to answer in.
    #[arg(long, default_value = "problem", value_parser = profile_names())]
    profile: String,
    /// Require a `Date` header within the allowed skew on every request.
    #[arg(long)]
    require_date: bool,
    /// How long access tokens live, in seconds.
    #[arg(long, default_value_t = apierr_cli::DEFAULT_TOKEN_TTL.as_secs())]
    token_ttl_secs: u64,
    /// Do not create the demo partners in a new database.
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
    /// Refuse POST and PATCH without an `Idempotency-Key`.
    #[arg(long)]
    require_idempotency_key: bool,
    /// Serve the operator routes (`GET /admin/reconciliation`) to this bearer token.
    #[arg(long)]
    admin_token: Option<String>,
}

fn parse_rate(text: &str) -> Result<(u32, Duration), String> {
    let (limit, window) = text
        .split_once('/')
        .ok_or("expected REQUESTS/WINDOW, e.g. 100000/60s")?;
    let limit: u32 = limit.parse().map_err(|e| format!("{limit:?}: {e}"))?;
    let window = apierr_cli::parse_duration(window)?;
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
        Command::Catalog { profile } => {
            let profile = Profile::by_name(&profile).unwrap_or(Profile::PROBLEM);
            println!("{}", apierr_cli::catalog_docs(&profile));
            ExitCode::SUCCESS
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
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("apierr: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
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
        Command::Reconcile {
            database_url,
            since,
            json,
        } => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("apierr: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(apierr_cli::reconcile_report(&database_url, since, json)) {
                Ok(report) => {
                    print!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("apierr: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve(serve) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .init();
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("apierr: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
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
    async fn run(self) -> Result<(), apierr_cli::ServeError> {
        let mut config = apierr_cli::Config::new(self.database_url);
        config.profile = Profile::by_name(&self.profile).unwrap_or(Profile::PROBLEM);
        config.require_date = self.require_date;
        config.token_ttl = Duration::from_secs(self.token_ttl_secs);
        config.seed_demo = !self.no_demo;
        config.redis_url = self.redis_url;
        config.redis_prefix = self.redis_prefix;
        config.rate_limit = self.rate_limit;
        config.require_idempotency_key = self.require_idempotency_key;
        config.admin_token = self.admin_token;
        let listener = tokio::net::TcpListener::bind(self.listen).await?;
        apierr_cli::run(listener, config, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }
}
