//! [`Form`]: a URL-encoded body, or a catalog error.

use apierr::{ApiError, Condition, ViolationKind};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::query::from_urlencoded;
use super::{condition, has_content_type};

/// An `application/x-www-form-urlencoded` body (the OAuth 2.0 token request's format).
/// Rejections as for [`Json`](super::Json), with the field kind `body`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !has_content_type(req.headers(), "application/x-www-form-urlencoded", None) {
            return Err(condition(Condition::UnsupportedMediaType));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                condition(Condition::PayloadTooLarge)
            } else {
                condition(Condition::MalformedBody)
            }
        })?;
        from_urlencoded(&bytes, ViolationKind::Body).map(Form)
    }
}
