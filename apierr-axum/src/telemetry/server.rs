//! [`ServerMetrics`]: the HTTP server metrics of a contract layer, with each label set's
//! handles registered once.
//!
//! Registering a metric through the `metrics` macros builds its key (a vector of labels,
//! the route copied into it, the status formatted) and looks it up in the recorder's
//! registry: about 5,500 instructions for the two metrics of a request, four times what
//! the rest of the contract layer costs (`benches/instructions.py apierr-axum stack
//! telemetry`). Label sets are few (methods, routes, statuses and catalog codes are all
//! bounded), so the layer keeps the handles of each, looked up by the borrowed labels.

use std::hash::BuildHasher;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use apierr::Code;
use hashbrown::{DefaultHashBuilder, HashTable};
use metrics::{Counter, Histogram, SharedString};

/// The label sets kept at most: far above what a router's routes, statuses and codes
/// make, so reached only if labels were unbounded; past it each answer registers its
/// metrics as the macros do, still counted, only slower.
const MAX_LABEL_SETS: usize = 4096;

/// The route label of an answer no route matched.
const UNMATCHED: &str = "unmatched";

/// The handles of `http_server_requests_total` and `http_server_request_duration_seconds`
/// by label set, registered with the recorder installed when a label set is first seen
/// (install it before serving, as [`Prometheus::install`](super::Prometheus) is).
#[derive(Debug, Default)]
pub(crate) struct ServerMetrics {
    handles: RwLock<HashTable<Handles>>,
    hasher: DefaultHashBuilder,
}

/// One label set's handles.
#[derive(Debug)]
struct Handles {
    labels: Labels,
    requests: Counter,
    duration: Histogram,
}

/// One answer's labels, owned.
#[derive(Debug)]
struct Labels {
    method: &'static str,
    route: Option<Box<str>>,
    status: u16,
    error_type: Option<Code>,
}

/// One answer's labels, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key<'a> {
    method: &'static str,
    route: Option<&'a str>,
    status: u16,
    error_type: Option<&'a Code>,
}

impl Labels {
    fn key(&self) -> Key<'_> {
        Key {
            method: self.method,
            route: self.route.as_deref(),
            status: self.status,
            error_type: self.error_type.as_ref(),
        }
    }
}

impl ServerMetrics {
    /// Counts and times one answer.
    pub(crate) fn record(
        &self,
        method: &'static str,
        route: Option<&str>,
        status: u16,
        error_type: Option<&Code>,
        elapsed: Duration,
    ) {
        let key = Key {
            method,
            route,
            status,
            error_type,
        };
        let hash = self.hasher.hash_one(key);
        let seconds = elapsed.as_secs_f64();
        {
            let handles = self.handles.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = handles.find(hash, |h| h.labels.key() == key) {
                found.requests.increment(1);
                found.duration.record(seconds);
                return;
            }
        }
        let registered = register(key);
        registered.requests.increment(1);
        registered.duration.record(seconds);
        let mut handles = self.handles.write().unwrap_or_else(PoisonError::into_inner);
        if handles.len() < MAX_LABEL_SETS && handles.find(hash, |h| h.labels.key() == key).is_none()
        {
            handles.insert_unique(hash, registered, |h| self.hasher.hash_one(h.labels.key()));
        }
    }
}

/// Registers the metrics of a label set with the recorder installed now.
fn register(key: Key<'_>) -> Handles {
    let route = match key.route {
        Some(route) => SharedString::from(route.to_owned()),
        None => SharedString::const_str(UNMATCHED),
    };
    let error_type = match key.error_type {
        Some(Code::Text(text)) => SharedString::from(text.clone()),
        Some(code) => SharedString::from(code.to_string()),
        None => SharedString::const_str(""),
    };
    let requests = metrics::counter!(
        "http_server_requests_total",
        "http_request_method" => key.method,
        "http_route" => route.clone(),
        "http_response_status_code" => key.status.to_string(),
        "error_type" => error_type,
    );
    let duration = metrics::histogram!(
        "http_server_request_duration_seconds",
        "http_request_method" => key.method,
        "http_route" => route,
    );
    Handles {
        labels: Labels {
            method: key.method,
            route: key.route.map(Box::from),
            status: key.status,
            error_type: key.error_type.cloned(),
        },
        requests,
        duration,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use metrics::{Key as MetricKey, KeyName, Metadata, Recorder, SharedString, Unit};

    use super::*;

    /// A recorder that counts registrations.
    #[derive(Debug, Default)]
    struct Registrations(AtomicUsize);

    impl Recorder for Registrations {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, _: &MetricKey, _: &Metadata<'_>) -> Counter {
            self.0.fetch_add(1, Ordering::Relaxed);
            Counter::noop()
        }
        fn register_gauge(&self, _: &MetricKey, _: &Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::noop()
        }
        fn register_histogram(&self, _: &MetricKey, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn each_label_set_registers_once() {
        // Scenario: the same answer twice registers once; another route, status or code
        // is a label set of its own, and an unmatched answer is one too.
        let recorder = Arc::new(Registrations::default());
        let metrics = ServerMetrics::default();
        let not_found = Code::text("not_found");
        metrics::with_local_recorder(&*recorder, || {
            for _ in 0..3 {
                metrics.record(
                    "GET",
                    Some("/a/{id}"),
                    404,
                    Some(&not_found),
                    Duration::ZERO,
                );
            }
            metrics.record("GET", Some("/b"), 404, Some(&not_found), Duration::ZERO);
            metrics.record("GET", Some("/a/{id}"), 200, None, Duration::ZERO);
            metrics.record("GET", None, 404, Some(&Code::numeric(3001)), Duration::ZERO);
        });
        assert_eq!(recorder.0.load(Ordering::Relaxed), 4);
        assert_eq!(metrics.handles.read().unwrap().len(), 4);
    }
}
