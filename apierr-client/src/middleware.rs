//! The same policy as a `reqwest-middleware` middleware, for clients built that way.

use apierr::Profile;
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::client::{Client, Transport, network_error};
use crate::error::{Error, Kind, Sent};
use crate::policy::{RetryBudget, RetryPolicy};

/// Marks a request as safe to repeat (a POST creating a resource with a unique field):
/// `.with_extension(Idempotent)` on reqwest-middleware's request builder.
#[derive(Debug, Clone, Copy, Default)]
pub struct Idempotent;

/// [`RetryPolicy`] as a middleware: the same classification, retries, budget, deadline
/// and `Idempotency-Key` generation as [`Client`], around the rest of the chain.
///
/// A call that ends in failure, an error status included, comes back as
/// `reqwest_middleware::Error::Middleware` holding an [`Error`]: downcast it
/// (`err.downcast_ref::<apierr_client::Error>()`) for the category, the parsed error,
/// the attempts and the stop reason. Redirects are the inner client's to follow; build it
/// with `redirect::Policy::none()` to keep them to GET and HEAD.
#[derive(Debug, Clone)]
pub struct RetryMiddleware {
    client: Client,
}

impl RetryMiddleware {
    /// The middleware with `policy` and its own default budget.
    pub fn new(policy: RetryPolicy) -> Self {
        RetryMiddleware {
            client: Client::new().with_policy(policy),
        }
    }

    /// Shares `budget` with other clients instead of its own.
    #[must_use]
    pub fn with_budget(mut self, budget: RetryBudget) -> Self {
        self.client = self.client.with_budget(budget);
        self
    }

    /// Reads error bodies as `profile`'s.
    #[must_use]
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.client = self.client.with_profile(profile);
        self
    }
}

/// The rest of the chain, as one attempt's transport.
struct Chain<'a> {
    next: Next<'a>,
    extensions: &'a mut Extensions,
}

impl Transport for Chain<'_> {
    fn send<'s>(
        &'s mut self,
        request: Request,
        _template: Option<&'s Request>,
    ) -> impl Future<Output = Result<Response, (Error, bool)>> + Send + 's {
        let next = self.next.clone();
        let extensions = &mut *self.extensions;
        async move {
            next.run(request, extensions).await.map_err(|e| match e {
                reqwest_middleware::Error::Reqwest(e) => {
                    let timed_out = e.is_timeout();
                    (network_error(e), timed_out)
                }
                // Another middleware failed: whether the request left is unknown.
                reqwest_middleware::Error::Middleware(e) => (
                    Error::new(Kind::Network(Sent::MaybeProcessed), Some(e.into())),
                    false,
                ),
            })
        }
    }
}

#[async_trait::async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let idempotent = extensions.get::<Idempotent>().is_some();
        let mut chain = Chain { next, extensions };
        self.client
            .run(request, idempotent, &mut chain)
            .await
            .map_err(|e| reqwest_middleware::Error::Middleware(anyhow::Error::new(e)))
    }
}
