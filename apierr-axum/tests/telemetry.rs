//! The request span's OpenTelemetry fields and the HTTP server metrics, read back from a
//! real server. A test binary of its own: the span subscriber and the metrics recorder
//! are the process's, set once before any call site is reached.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use apierr::{ApiError, Condition, Profile};
use apierr_axum::telemetry::{Prometheus, RouteLayer};
use apierr_axum::{ContractLayer, Json, not_found};
use axum::Router;
use axum::routing::{get, post};
use tower_layer::Layer;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The fields of one span.
type Fields = HashMap<String, String>;

/// Every closed `request` span's fields, in order.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Fields>>>);

/// Collects a span's fields as text.
struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        ctx.span(id).unwrap().extensions_mut().insert(fields);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let mut ext = span.extensions_mut();
        values.record(&mut Collect(ext.get_mut::<Fields>().unwrap()));
    }
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        if span.name() == "request" {
            let fields = span.extensions_mut().remove::<Fields>().unwrap();
            self.0.lock().unwrap().push(fields);
        }
    }
}

/// The process's span collector and metrics recorder.
fn telemetry() -> &'static (Spans, Prometheus) {
    static ONCE: OnceLock<(Spans, Prometheus)> = OnceLock::new();
    ONCE.get_or_init(|| {
        let spans = Spans::default();
        let subscriber = tracing_subscriber::registry().with(spans.clone());
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        let metrics = Prometheus::install().expect("the only recorder");
        (spans, metrics)
    })
}

/// The reference-like router: a handler error, an extractor, a panic, the fallback.
fn app(profile: Profile) -> apierr_axum::Contract<Router> {
    let router = Router::new()
        .route(
            "/accounts/{id}",
            get(|| async { ApiError::from(Condition::NotFound) }),
        )
        .route(
            "/accounts",
            post(|Json(v): Json<serde_json::Value>| async move { v.to_string() }),
        )
        .route(
            "/panics",
            get(|| async {
                if true {
                    panic!("boom");
                }
            }),
        )
        .fallback(not_found)
        .layer(RouteLayer);
    ContractLayer::new(profile).metrics(true).layer(router)
}

async fn serve(profile: Profile) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = app(profile);
    tokio::spawn(async move { apierr_axum::serve(listener, app).await.unwrap() });
    base
}

/// The span of the request whose id is `id`.
fn span_of(spans: &Spans, id: &str) -> Fields {
    // The span closes when the connection task drops the response future, just after
    // the response was written.
    for _ in 0..200 {
        if let Some(f) = spans.0.lock().unwrap().iter().find(|f| f["id"] == id) {
            return f.clone();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("no span for request {id}");
}

#[tokio::test]
async fn each_failure_is_a_span_with_its_catalog_code_as_error_type() {
    // Scenario: requests failing with six conditions, in two profiles whose catalogs name
    // them differently; each request's span has the OpenTelemetry HTTP fields, the code
    // the body carries as `error.type`, and the condition beside it.
    let (spans, _) = telemetry();
    let client = reqwest::Client::new();
    for profile in [Profile::PROBLEM, Profile::ERRORS_ARRAY] {
        let base = serve(profile.clone()).await;
        let cases: [(&str, reqwest::RequestBuilder, Condition, Option<&str>); 6] = [
            (
                "nf",
                client.get(format!("{base}/accounts/7")),
                Condition::NotFound,
                Some("/accounts/{id}"),
            ),
            (
                "route",
                client.get(format!("{base}/no/such/route")),
                Condition::NotFound,
                None,
            ),
            (
                "malformed",
                client
                    .post(format!("{base}/accounts"))
                    .header("content-type", "application/json")
                    .body("{\"a\":"),
                Condition::MalformedBody,
                Some("/accounts"),
            ),
            (
                "method",
                client.delete(format!("{base}/accounts")),
                Condition::MethodNotAllowed,
                Some("/accounts"),
            ),
            (
                "accept",
                client
                    .get(format!("{base}/accounts/7"))
                    .header("accept", "text/html"),
                Condition::NotAcceptable,
                None,
            ),
            (
                "panic",
                client.get(format!("{base}/panics")),
                Condition::Internal,
                Some("/panics"),
            ),
        ];
        for (name, request, condition, route) in cases {
            let id = format!("{}-{name}", profile.name());
            let response = request.header("x-request-id", &id).send().await.unwrap();
            let status = response.status().as_u16();
            let expected = profile.error(condition);
            assert_eq!(status, expected.status().as_u16(), "{id}");
            let span = span_of(spans, &id);
            assert_eq!(
                span["error.type"],
                expected.code().to_string(),
                "{id}: {span:?}"
            );
            assert_eq!(span["apierr.condition"], condition.default_code(), "{id}");
            assert_eq!(
                span["http.response.status_code"],
                status.to_string(),
                "{id}"
            );
            assert_eq!(span["url.scheme"], "http", "{id}");
            assert_eq!(span["otel.kind"], "server", "{id}");
            assert_eq!(span.get("http.route").map(String::as_str), route, "{id}");
            assert_eq!(span["otel.name"], span["http.request.method"], "{id}");
            let failed = (status >= 500).then_some("ERROR");
            assert_eq!(
                span.get("otel.status_code").map(String::as_str),
                failed,
                "{id}"
            );
        }
    }
    // A success has no error type.
    let base = serve(Profile::PROBLEM).await;
    let ok = client
        .post(format!("{base}/accounts"))
        .header("content-type", "application/json")
        .header("x-request-id", "ok-1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let span = span_of(spans, "ok-1");
    assert!(!span.contains_key("error.type"), "{span:?}");
    assert_eq!(span["http.response.status_code"], "200");
}

/// The value of one sample line of `text`: `name{labels} value`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_answers_by_route_status_and_catalog_code_with_bounded_labels() {
    // Scenario: bad requests of three kinds, then four hundred requests to random paths
    // (a scan); the counters are labelled with catalog codes and route templates, and the
    // scan adds no label value: the route label stays within the router's routes.
    let (_, metrics) = telemetry();
    let profile = Profile::ERRORS_ARRAY;
    let base = serve(profile.clone()).await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let r = client
            .get(format!("{base}/accounts/9"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    let r = client
        .post(format!("{base}/accounts"))
        .header("content-type", "application/json")
        .body("[")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A seeded generator of paths: segments, ids, escapes, dots, long runs.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..400 {
        let n = next();
        let path = match n % 5 {
            0 => format!("/x{n}"),
            1 => format!("/accounts/{n}/children/{i}"),
            2 => format!("/%{:02X}/{}", n % 256, "a".repeat((n % 300) as usize)),
            3 => format!("/{n}/../{i}"),
            _ => format!("/accounts/{n}?q={i}"),
        };
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
    }
    let text = metrics.render();
    let not_found = profile.error(Condition::NotFound).code().to_string();
    let malformed = profile.error(Condition::MalformedBody).code().to_string();
    let count = |labels: &[(&str, &str)]| sample(&text, "http_server_requests_total", labels);
    assert!(
        count(&[
            ("http_route", "/accounts/{id}"),
            ("http_response_status_code", "404"),
            ("error_type", &not_found),
        ])
        .is_some_and(|n| n >= 3.0),
        "{text}"
    );
    assert!(
        count(&[
            ("http_route", "/accounts"),
            ("http_request_method", "POST"),
            ("error_type", &malformed),
        ])
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        count(&[("http_route", "unmatched"), ("error_type", &not_found)])
            .is_some_and(|n| n >= 300.0),
        "{text}"
    );
    let routes: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_server_request"))
        .filter_map(|l| l.split("http_route=\"").nth(1)?.split('"').next())
        .collect();
    let allowed: BTreeSet<&str> = ["/accounts/{id}", "/accounts", "/panics", "unmatched"].into();
    assert!(routes.is_subset(&allowed), "{routes:?}");
    assert!(
        sample(
            &text,
            "http_server_request_duration_seconds_count",
            &[("http_route", "/accounts/{id}")]
        )
        .is_some_and(|n| n >= 3.0),
        "{text}"
    );
}
