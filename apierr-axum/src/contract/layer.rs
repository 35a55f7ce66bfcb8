//! [`ContractLayer`], the builder of [`Contract`].

use std::sync::Arc;
use std::time::Duration;

use apierr::Profile;
use tower_layer::Layer;

use super::{Config, Contract};

/// Makes every response of a router speak its error contract. Install it once, around the
/// whole router (`ContractLayer::new(profile).layer(router)`, served with
/// `axum::ServiceExt::into_make_service`): `Router::layer` would wrap each route on its own
/// and box every request once more (about 0.45 µs a request in the `stack` benchmark).
/// It:
///
/// - accepts the caller's `X-Request-Id` (or creates one), echoes it on every response and
///   in error bodies where the dialect has a place for it;
/// - renders every [`ApiError`](apierr::ApiError) and extractor rejection in the profile;
/// - answers an `Accept` that excludes JSON with 406;
/// - turns any other error response (axum's bare 405 with `Allow`, a 404 fallback, a 413
///   from a body limit) into the profile's condition for its status, keeping its headers;
/// - turns a panic into a 500 without internal detail, and a handler that runs past the
///   timeout into the catalog's timeout error; both are logged with the request id, as is
///   the internal source of every 5xx.
///
/// ```
/// use apierr::Profile;
/// use apierr_axum::ContractLayer;
/// use axum::{Router, ServiceExt, routing::get};
/// use tower_layer::Layer;
///
/// let router: Router = Router::new().route("/", get(|| async { "hello" }));
/// let app = ContractLayer::new(Profile::NESTED).layer(router);
/// # async fn serve(app: apierr_axum::Contract<Router>) {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// axum::serve(listener, app.into_make_service()).await.unwrap();
/// # }
/// ```
#[must_use]
#[derive(Debug, Clone)]
pub struct ContractLayer {
    config: Arc<Config>,
}

impl ContractLayer {
    /// A layer answering in `profile`.
    pub fn new(profile: Profile) -> Self {
        ContractLayer {
            config: Arc::new(Config {
                profile,
                timeout: None,
                check_accept: true,
            }),
        }
    }

    /// Fails a request whose handler has not answered within `timeout` with the catalog's
    /// timeout condition. Default is no timeout.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.timeout = Some(timeout))
    }

    /// Whether to answer 406 to an `Accept` that excludes JSON. Default is true.
    pub fn check_accept(self, check: bool) -> Self {
        self.with(|c| c.check_accept = check)
    }

    fn with(self, f: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config {
            profile: self.config.profile,
            timeout: self.config.timeout,
            check_accept: self.config.check_accept,
        };
        f(&mut config);
        ContractLayer {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for ContractLayer {
    type Service = Contract<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Contract {
            inner,
            config: self.config.clone(),
        }
    }
}
