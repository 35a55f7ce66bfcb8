//! [`Json`]: a JSON body, or a catalog error.

use apierr::{ApiError, Condition, ViolationKind};
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{body_bytes, condition, data_error, has_content_type};

/// A JSON request body (or response). Rejections are the profile's conditions: no or
/// another `Content-Type` → unsupported media type (415); a body over axum's limit →
/// payload too large (413); bad JSON → malformed body; a wrong type → invalid parameter
/// naming the field; a missing field → missing parameter naming it.
///
/// As a response it serialises `T` as JSON.
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
/// A first pass runs serde_json alone; only a body of the wrong shape is read again with
/// `serde_path_to_error` to name the field. Tracking the path on every request would cost
/// a third more on the common paths: a body that fits, and a body that is not JSON.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(err) if err.classify() == serde_json::error::Category::Data => {
            Err(located_data_error::<T>(bytes))
        }
        Err(_) => Err(condition(Condition::MalformedBody)),
    }
}

/// The invalid- or missing-parameter error for a body that is JSON of the wrong shape,
/// naming the field where deserialisation stopped.
#[cold]
fn located_data_error<T: DeserializeOwned>(bytes: &[u8]) -> ApiError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    data_error(&path, &inner.to_string(), ViolationKind::Body)
                }
                _ => condition(Condition::MalformedBody),
            }
        }
        // Deserialisation is deterministic, so the second pass fails as the first did;
        // should a `Deserialize` impl not be, the body is still not what was expected.
        Ok(_) => condition(Condition::MalformedBody),
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        crate::success::json_response(http::StatusCode::OK, &self.0)
    }
}
