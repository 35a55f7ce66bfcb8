//! Every log line of a request names its id. A test binary of its own: tracing caches
//! per call site whether anyone listens, for the whole process, so a subscriber set for
//! one test races with other tests' threads that have none. Here the subscriber is the
//! process's, set before any call site is reached.

use std::io::Write;
use std::sync::{Arc, Mutex};

use apierr::{ApiError, Condition, Profile};
use apierr_axum::ContractLayer;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use tower::ServiceExt;
use tower_layer::Layer;

/// A writer that keeps what the log subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_id() {
    // Scenario: a handler logs, then fails with an internal cause; the handler's line
    // and the layer's server-error line both name the request id.
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let app = ContractLayer::new(Profile::PROBLEM).layer(Router::new().route(
        "/fails",
        get(|| async {
            tracing::warn!("about to fail");
            Err::<(), _>(
                ApiError::from(Condition::Internal).with_source(std::io::Error::other("disk")),
            )
        }),
    ));
    let request = Request::get("/fails")
        .header("x-request-id", "log-me-1")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 500);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.iter().any(|l| l.contains("about to fail")), "{logs}");
    assert!(lines.iter().any(|l| l.contains("server error")), "{logs}");
    for line in &lines {
        assert!(line.contains("id=log-me-1"), "{line}");
    }
}
