//! [`Json`]: a JSON body, or a catalog error.

use apierr::{ApiError, Condition, ViolationKind};
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{body_bytes, condition, has_content_type, violations};

/// A JSON request body (or response). Rejections are the profile's conditions: no or
/// another `Content-Type` → unsupported media type (415); a body over axum's limit →
/// payload too large (413); bad JSON → malformed body; a wrong type → invalid parameter
/// naming the field; a missing field → missing parameter naming it.
///
/// As a response it serialises `T` as JSON.
///
/// `axum::Json` by habit still answers in the contract (the layer redraws its rejection
/// with the rejection's status), but what it knew is lost: which field, and whether it
/// was missing or of the wrong type. A workspace keeps the habit out with clippy:
///
/// ```toml
/// # clippy.toml
/// disallowed-types = [
///     { path = "axum::Json", reason = "apierr_axum::Json's rejections name the field" },
///     { path = "axum::extract::Query", reason = "apierr_axum::Query's rejections name the field" },
///     { path = "axum::extract::Path", reason = "apierr_axum::Path's rejections name the field" },
///     { path = "axum::Form", reason = "apierr_axum::Form's rejections name the field" },
/// ]
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !has_content_type(req.headers(), "application/json", Some("+json")) {
            return Err(condition(Condition::UnsupportedMediaType));
        }
        let bytes = body_bytes(req, state).await?;
        from_slice(&bytes).map(Json)
    }
}

/// Deserialises JSON, with rejections as [`Json`] describes.
///
/// A first pass runs serde_json alone; only a body of the wrong shape is read again, as
/// a JSON value, to find every violation (see `violations`). Doing that on every request
/// would cost several times the common paths: a body that fits, and one that is not JSON.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(err) if err.classify() == serde_json::error::Category::Data => read_again::<T>(bytes),
        Err(_) => Err(condition(Condition::MalformedBody)),
    }
}

/// The second reading of a JSON body of the wrong shape: whole numbers written as
/// `2003.0` are taken as integers (JSON Schema counts them as such); otherwise every
/// violation is reported (the first only for a large body).
#[cold]
fn read_again<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Err(condition(Condition::MalformedBody));
    };
    violations::integral_floats(&mut value);
    if let Ok(read) = T::deserialize(&value) {
        return Ok(read);
    }
    // A large body reports its first violation only, and the search stops there.
    let max = if bytes.len() > violations::FULL_REPORT_LIMIT {
        1
    } else {
        usize::MAX
    };
    let found = violations::json::<T>(value, ViolationKind::Body, max);
    if found.is_empty() {
        return Err(condition(Condition::MalformedBody));
    }
    Err(violations::error(found))
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        crate::success::json_response(http::StatusCode::OK, &self.0)
    }
}
