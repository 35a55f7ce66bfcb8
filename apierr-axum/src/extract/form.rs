//! [`Form`]: a URL-encoded body, or a catalog error.

use apierr::{ApiError, Condition, ViolationKind};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::query::from_urlencoded;
use super::{body_bytes, condition, has_content_type};

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
        let bytes = body_bytes(req, state).await?;
        from_urlencoded(&bytes, ViolationKind::Body).map(Form)
    }
}
