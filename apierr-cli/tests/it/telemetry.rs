//! The operator's view: `apierr serve --metrics-listen` read from outside, after bad
//! requests and a webhook whose receiver fails.

use std::time::Duration;

use apierr::{Condition, Profile};
use axum::routing::post;

use crate::support::{BACKENDS, acme_status_once_up, database, free_address};

/// The value of the first sample of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// A webhook receiver that answers every delivery 500.
async fn failing_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/in",
        post(|| async { http::StatusCode::INTERNAL_SERVER_ERROR }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_bad_requests_by_catalog_code_and_a_failing_webhook() {
    // Scenario: on each backend, `apierr serve --metrics-listen` answers an unknown
    // route, a malformed body and a missing key; its /metrics (on its own port, not the
    // partner's) counts them by route template and catalog code; a webhook endpoint whose
    // receiver answers 500 shows in the attempts (retry, status) and the queue's depth.
    let profile = Profile::PROBLEM;
    for backend in BACKENDS {
        let place = database(backend).await;
        let listen = free_address();
        let metrics_at = free_address();
        let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
            .args(["serve", "--demo", "--webhook-allow", "127.0.0.0/8"])
            .args(["--listen", &listen, "--database-url", place.url()])
            .args(["--metrics-listen", &metrics_at])
            .env("RUST_LOG", "error")
            .env("APIERR_SECRET_KEY", crate::support::TEST_KEY)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the apierr binary");
        assert_eq!(acme_status_once_up(&listen, &mut serve).await, 200);
        let client = reqwest::Client::new();
        let base = format!("http://{listen}");
        let receiver = failing_receiver().await;
        let registered = client
            .post(format!("{base}/webhooks/endpoints"))
            .header("x-api-key", "acme-key")
            .json(&serde_json::json!({ "url": receiver }))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), 201, "{backend:?}");
        for _ in 0..2 {
            let r = client
                .get(format!("{base}/no/such/{}", 7))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
        }
        let malformed = client
            .post(format!("{base}/accounts"))
            .header("x-api-key", "acme-key")
            .header("content-type", "application/json")
            .body("{\"email\":")
            .send()
            .await
            .unwrap();
        assert_eq!(malformed.status(), 400);
        let anonymous = client.get(format!("{base}/accounts")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        let created = client
            .post(format!("{base}/accounts"))
            .header("x-api-key", "acme-key")
            .json(
                &serde_json::json!({"email": "m@example.com", "first_name": "M", "last_name": "N"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{backend:?}");
        // The partner port has no metrics.
        let partner = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(partner.status(), 404, "{backend:?}");
        // The attempt is recorded, and the queue read, within seconds.
        let mut text = String::new();
        for _ in 0..120 {
            text = client
                .get(format!("http://{metrics_at}/metrics"))
                .header("accept", "text/plain")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let attempted = sample(
                &text,
                "apierr_webhook_attempts_total",
                &[("outcome", "retry"), ("failure", "status")],
            );
            let queued = sample(&text, "apierr_webhook_queue_depth", &[("state", "pending")]);
            if attempted.is_some_and(|n| n >= 1.0) && queued.is_some_and(|n| n >= 1.0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = serve.kill();
        let _ = serve.wait();
        let code = |c: Condition| profile.error(c).code().to_string();
        let requests = |labels: &[(&str, &str)]| {
            sample(&text, "http_server_requests_total", labels).unwrap_or(0.0)
        };
        assert!(
            requests(&[
                ("http_route", "unmatched"),
                ("http_response_status_code", "404"),
                ("error_type", &code(Condition::NotFound)),
            ]) >= 2.0,
            "{backend:?}: {text}"
        );
        assert!(
            requests(&[
                ("http_route", "/accounts"),
                ("http_request_method", "POST"),
                ("http_response_status_code", "400"),
                ("error_type", &code(Condition::MalformedBody)),
            ]) >= 1.0,
            "{backend:?}: {text}"
        );
        assert!(
            requests(&[
                ("http_route", "/accounts"),
                ("http_response_status_code", "401"),
                ("error_type", &code(Condition::Unauthenticated)),
            ]) >= 1.0,
            "{backend:?}: {text}"
        );
        assert!(
            requests(&[
                ("http_route", "/accounts"),
                ("http_response_status_code", "201"),
                ("error_type", ""),
            ]) >= 1.0,
            "{backend:?}: {text}"
        );
        assert!(
            sample(
                &text,
                "apierr_rate_limit_decisions_total",
                &[("decision", "allowed")]
            )
            .is_some_and(|n| n >= 1.0),
            "{backend:?}: {text}"
        );
        assert!(
            sample(
                &text,
                "apierr_webhook_attempts_total",
                &[("outcome", "retry"), ("failure", "status")]
            )
            .is_some_and(|n| n >= 1.0),
            "{backend:?}: {text}"
        );
        assert!(
            sample(&text, "apierr_webhook_queue_depth", &[("state", "pending")])
                .is_some_and(|n| n >= 1.0),
            "{backend:?}: {text}"
        );
        // No label carries a raw path or an id.
        assert!(!text.contains("/no/such"), "{text}");
        assert!(!text.contains("acme"), "{text}");
    }
}

/// A collector's OTLP/HTTP trace endpoint that keeps every export's body.
async fn collector() -> (String, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = received.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().extend_from_slice(&body);
                http::StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_with_the_catalog_code_as_error_type() {
    // Scenario: `apierr serve --otlp-endpoint` answers a request for an account that does
    // not exist; the collector receives (OTLP/HTTP, protobuf) the request's span, with
    // its route template, `error.type` the catalog's not-found code, the condition, and
    // the service name.
    let (endpoint, received) = collector().await;
    let place = database(crate::support::Backend::Sqlite).await;
    let listen = free_address();
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
        .args(["serve", "--demo", "--no-webhook-dispatcher"])
        .args(["--listen", &listen, "--database-url", place.url()])
        .args(["--otlp-endpoint", &endpoint])
        .env("RUST_LOG", "info")
        // Batches leave every 100 ms rather than every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("APIERR_SECRET_KEY", crate::support::TEST_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the apierr binary");
    assert_eq!(acme_status_once_up(&listen, &mut serve).await, 200);
    let missing = reqwest::Client::new()
        .get(format!("http://{listen}/accounts/acc_missing"))
        .header("x-api-key", "acme-key")
        .header("x-request-id", "otlp-probe-1")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let code = Profile::PROBLEM
        .error(Condition::NotFound)
        .code()
        .to_string();
    let wanted: [&[u8]; 7] = [
        b"otlp-probe-1",
        b"error.type",
        code.as_bytes(),
        b"apierr.condition",
        b"http.route",
        b"/accounts/{id}",
        b"apierr-serve",
    ];
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let mut got = Vec::new();
    for _ in 0..100 {
        got = received.lock().unwrap().clone();
        if wanted.iter().all(|w| contains(&got, w)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = serve.kill();
    let _ = serve.wait();
    for w in wanted {
        assert!(
            contains(&got, w),
            "the export lacks {:?} ({} bytes received)",
            String::from_utf8_lossy(w),
            got.len()
        );
    }
}
