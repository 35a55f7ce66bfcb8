//! Authentication: the application checks credentials, the layer answers in the contract.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use apierr::{ApiError, Condition};
use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderName, HeaderValue};
use tower_layer::Layer;
use tower_service::Service;

use crate::{Caller, ClientAddress, FailureKey, FailureLimit, RequestContract};

/// The header an API key travels in unless configured otherwise.
pub const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Credentials a request presented.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer <token>` (RFC 6750).
    Bearer(String),
    /// An API key in the API-key header.
    ApiKey(String),
}

/// Why credentials were refused; each becomes its condition in the profile.
#[non_exhaustive]
#[derive(Debug)]
pub enum AuthFailure {
    /// The token or key is not known.
    InvalidToken,
    /// The token was valid and has expired.
    ExpiredToken,
    /// The credentials are valid but do not allow this request.
    Forbidden,
    /// The API key has been revoked.
    KeyRevoked,
    /// The session the token belongs to has ended.
    SessionExpired,
    /// The check itself failed (its store is down): answered with this error as is.
    Error(ApiError),
}

impl AuthFailure {
    fn into_error(self) -> ApiError {
        let condition = match self {
            AuthFailure::InvalidToken => Condition::InvalidToken,
            AuthFailure::ExpiredToken => Condition::ExpiredToken,
            AuthFailure::Forbidden => Condition::Forbidden,
            AuthFailure::KeyRevoked => Condition::KeyRevoked,
            AuthFailure::SessionExpired => Condition::SessionExpired,
            AuthFailure::Error(error) => return error,
        };
        condition.into()
    }

    /// The `WWW-Authenticate` challenge this failure calls for.
    fn challenge(&self) -> Challenge {
        match self {
            AuthFailure::Forbidden => Challenge::Error("insufficient_scope"),
            AuthFailure::Error(_) => Challenge::None,
            _ => Challenge::Error("invalid_token"),
        }
    }
}

/// The application's check of credentials.
pub trait Authenticator: Send + Sync + 'static {
    /// Who the credentials belong to; handlers get it through [`Authenticated`].
    type Principal: Clone + Send + Sync + 'static;

    /// Checks the credentials of a request with the given method and path.
    fn authenticate(
        &self,
        credential: Credential,
        parts: &Parts,
    ) -> impl Future<Output = Result<Self::Principal, AuthFailure>> + Send;

    /// The identity rate limits and idempotency keys are scoped to, put on the request as
    /// a [`Caller`]. None by default: the layers then key by peer address, or not at all.
    fn caller(&self, principal: &Self::Principal) -> Option<Caller> {
        let _ = principal;
        None
    }
}

/// Requires credentials on every request of the routes it wraps, checked by an
/// [`Authenticator`]. Missing credentials are the unauthenticated condition; each
/// [`AuthFailure`] its own. A 401 carries an RFC 6750 `WWW-Authenticate` challenge.
#[must_use]
#[derive(Debug)]
pub struct RequireAuthLayer<A> {
    authenticator: Arc<A>,
    realm: HeaderValue,
    api_key: HeaderName,
    failures: Option<FailureLimit>,
}

impl<A> Clone for RequireAuthLayer<A> {
    fn clone(&self) -> Self {
        RequireAuthLayer {
            authenticator: self.authenticator.clone(),
            realm: self.realm.clone(),
            api_key: self.api_key.clone(),
            failures: self.failures.clone(),
        }
    }
}

impl<A: Authenticator> RequireAuthLayer<A> {
    /// A layer checking credentials with `authenticator`.
    pub fn new(authenticator: A) -> Self {
        RequireAuthLayer {
            authenticator: Arc::new(authenticator),
            realm: HeaderValue::from_static("api"),
            api_key: API_KEY,
            failures: FailureLimit::in_memory(),
        }
    }

    /// The realm of the `WWW-Authenticate` challenge. Default is `api`.
    pub fn realm(mut self, realm: &'static str) -> Self {
        self.realm = HeaderValue::from_static(realm);
        self
    }

    /// Limits failed authentication per source address ([`ClientAddress`]): an
    /// invalid, expired or revoked credential counts as a failure, and an address past
    /// the limit is answered 429 before its credentials are checked. Missing credentials
    /// are not counted (they guess nothing). Default (with the `memory` feature, on by
    /// default) is [`DEFAULT_FAILURE_QUOTA`](crate::DEFAULT_FAILURE_QUOTA) counted in this
    /// process's memory; give one on a shared store (Redis) when replicas should count
    /// together.
    pub fn failure_limit(mut self, limit: FailureLimit) -> Self {
        self.failures = Some(limit);
        self
    }

    /// Does not limit failed authentication: every guess is checked. Only for a layer
    /// behind another that limits it, since otherwise credentials can be guessed at the
    /// speed of the server.
    pub fn without_failure_limit(mut self) -> Self {
        self.failures = None;
        self
    }

    /// The header API keys travel in. Default is `X-Api-Key`.
    pub fn api_key_header(mut self, name: HeaderName) -> Self {
        self.api_key = name;
        self
    }
}

impl<A, S> Layer<S> for RequireAuthLayer<A> {
    type Service = RequireAuth<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireAuth {
            inner,
            layer: RequireAuthLayer::clone(self),
        }
    }
}

/// The middleware of [`RequireAuthLayer`].
#[derive(Debug)]
pub struct RequireAuth<S, A> {
    inner: S,
    layer: RequireAuthLayer<A>,
}

impl<S: Clone, A> Clone for RequireAuth<S, A> {
    fn clone(&self) -> Self {
        RequireAuth {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

/// The future of [`RequireAuth`]: boxed, since it awaits the application's check.
pub type AuthFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S, A> Service<Request> for RequireAuth<S, A>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    A: Authenticator,
{
    type Response = Response;
    type Error = S::Error;
    type Future = AuthFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        crate::boxed::call(
            &mut self.inner,
            &self.layer,
            |mut inner, layer| async move {
                let Some(credential) = credential(req.headers(), &layer.api_key) else {
                    let contract = RequestContract::of(req.extensions(), req.headers());
                    let error = Condition::Unauthenticated.into();
                    return Ok(challenge(&contract, error, &layer.realm, Challenge::Bare));
                };
                let source = layer
                    .failures
                    .as_ref()
                    .and_then(|_| ClientAddress::of(req.extensions()));
                if let (Some(failures), Some(ip)) = (&layer.failures, source)
                    && let Some(wait) = failures.blocked(FailureKey::Address(ip))
                {
                    return Ok(failures.response(wait));
                }
                let (mut parts, body) = req.into_parts();
                // Kept shortened, for a message that names the credential refused (seeds
                // 000 and 002 do) without ever echoing or logging it whole.
                let shown = shorten(match &credential {
                    Credential::Bearer(text) | Credential::ApiKey(text) => text,
                });
                match layer.authenticator.authenticate(credential, &parts).await {
                    Ok(principal) => {
                        if let Some(caller) = layer.authenticator.caller(&principal) {
                            parts.extensions.insert(caller);
                        }
                        parts.extensions.insert(Authenticated(principal));
                        inner.call(Request::from_parts(parts, body)).await
                    }
                    Err(failure) => {
                        let guessed = matches!(
                            failure,
                            AuthFailure::InvalidToken
                                | AuthFailure::ExpiredToken
                                | AuthFailure::KeyRevoked
                                | AuthFailure::SessionExpired
                        );
                        if let (Some(failures), Some(ip), true) = (&layer.failures, source, guessed)
                        {
                            failures.failed(FailureKey::Address(ip)).await;
                        }
                        let contract = RequestContract::of(&parts.extensions, &parts.headers);
                        let kind = failure.challenge();
                        let names_credential = matches!(
                            failure,
                            AuthFailure::InvalidToken | AuthFailure::ExpiredToken
                        );
                        let mut error = contract.profile().adopt(failure.into_error());
                        if names_credential {
                            let message = format!("{}: {shown}", error.message());
                            error = error.with_message(message);
                        }
                        Ok(challenge(&contract, error, &layer.realm, kind))
                    }
                }
            },
        )
    }
}

/// A credential cut in the middle, as seed 000 shows a refused token
/// (`eyJhbGciOiJSUzIi.......3gZthv7Y`): at most a quarter of it from the start and an
/// eighth from the end, so that no message or log line holds the whole credential.
fn shorten(credential: &str) -> String {
    let chars: Vec<char> = credential.chars().collect();
    let head = (chars.len() / 4).min(16);
    let tail = (chars.len() / 8).min(8);
    let start: String = chars[..head].iter().collect();
    let end: String = chars[chars.len() - tail..].iter().collect();
    format!("{start}.......{end}")
}

/// The credentials of a request: a bearer token, or else an API key.
fn credential(headers: &http::HeaderMap, api_key: &HeaderName) -> Option<Credential> {
    if let Some(auth) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = auth.trim().split_once(' ').unwrap_or((auth, ""));
        let token = token.trim();
        // RFC 7235: the scheme is case-insensitive. Another scheme, or none, is no bearer
        // token (and is answered as missing credentials, with the Bearer challenge).
        if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
            return Some(Credential::Bearer(token.to_owned()));
        }
    }
    headers
        .get(api_key)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| Credential::ApiKey(k.to_owned()))
}

/// The RFC 6750 challenge an authentication answer carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Challenge {
    /// None (the check itself failed).
    None,
    /// `Bearer realm="…"`: no credentials were sent.
    Bare,
    /// `Bearer realm="…", error="…", error_description="…"`.
    Error(&'static str),
}

/// The error with its `WWW-Authenticate` challenge when the contract answers it with a
/// 401, or it is an insufficient scope.
fn challenge(
    contract: &RequestContract,
    error: ApiError,
    realm: &HeaderValue,
    challenge: Challenge,
) -> Response {
    // Resolved here, not at the edge: whether a challenge is due depends on the status
    // the router's catalog gives the condition (seed 002 answers an expired token 410).
    let error = contract.profile().adopt(error);
    let status = error.status();
    let description = error.message().replace(['"', '\\'], "'");
    let mut response = error.into_response();
    if challenge == Challenge::None {
        return response;
    }
    if status == http::StatusCode::UNAUTHORIZED
        || challenge == Challenge::Error("insufficient_scope")
    {
        let realm = realm.to_str().unwrap_or("api");
        let value = match challenge {
            Challenge::Error(code) => format!(
                "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{description}\""
            ),
            _ => format!("Bearer realm=\"{realm}\""),
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// Who made the request, as the [`Authenticator`] said. Extracting it on a route that is
/// not behind [`RequireAuthLayer`] is the unauthenticated condition.
#[derive(Debug, Clone)]
pub struct Authenticated<P>(pub P);

impl<P, S> FromRequestParts<S> for Authenticated<P>
where
    P: Clone + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Authenticated<P>>()
            .cloned()
            .ok_or_else(|| Condition::Unauthenticated.into())
    }
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn a_shortened_credential_never_holds_the_whole() {
        // Scenario: seed 000's token keeps its 16 first and 8 last characters; a short
        // key keeps a quarter and an eighth; an empty one shows nothing.
        let token =
            "eyJhbGciOiJSUzIiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxMjMiLCJuYW1lIjoiSm9obiJ9.3gZthv7Y";
        assert_eq!(shorten(token), "eyJhbGciOiJSUzIi.......3gZthv7Y");
        assert_eq!(shorten("not-a-token"), "no.......n");
        assert_eq!(shorten(""), ".......");
        for len in 0..64 {
            let key: String = "k".repeat(len);
            let shown = shorten(&key).replace('.', "");
            assert!(shown.len() < len.max(1), "{len}: {shown}");
        }
    }
}
