//! [`Prometheus`]: the metrics of the layers in Prometheus's text format.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The buckets of every duration histogram, in seconds: OpenTelemetry's advice for
/// `http.server.request.duration`.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// How often histogram samples are folded into their buckets between scrapes, so that an
/// exporter nobody scrapes stays small.
const UPKEEP: Duration = Duration::from_secs(5);

/// The process's metrics recorder, rendering in Prometheus's text format, from
/// `metrics-exporter-prometheus`.
///
/// Serve [`Prometheus::router`] on a listener of its own, never on the partner port: the
/// metrics describe every partner's traffic.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = apierr_axum::telemetry::Prometheus::install()?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
/// axum::serve(listener, metrics.router()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Prometheus {
    handle: PrometheusHandle,
}

/// Why [`Prometheus::install`] failed: a recorder is installed already.
pub type InstallError = metrics_exporter_prometheus::BuildError;

impl Prometheus {
    /// The process's Prometheus recorder: installed as the metrics recorder on the first
    /// call, the same one on every later call. Inside a Tokio runtime the first call also
    /// starts the upkeep task; outside one, call [`Prometheus::render`] often (it runs the
    /// upkeep itself).
    ///
    /// # Errors
    ///
    /// When the process has another metrics recorder already.
    pub fn install() -> Result<Self, InstallError> {
        static INSTALLED: Mutex<Option<Prometheus>> = Mutex::new(None);
        let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(this) = installed.as_ref() {
            return Ok(this.clone());
        }
        let handle = PrometheusBuilder::new()
            .set_buckets(&DURATION_BUCKETS)?
            .install_recorder()?;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let upkeep = handle.clone();
            runtime.spawn(async move {
                let mut every = tokio::time::interval(UPKEEP);
                loop {
                    every.tick().await;
                    upkeep.run_upkeep();
                }
            });
        }
        let this = Prometheus { handle };
        *installed = Some(this.clone());
        Ok(this)
    }

    /// The metrics now, in Prometheus's text exposition format.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }

    /// A router answering `GET /metrics` with [`Prometheus::render`].
    pub fn router(&self) -> Router {
        let this = self.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let this = this.clone();
                async move {
                    (
                        [(
                            http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        this.render(),
                    )
                }
            }),
        )
    }
}
