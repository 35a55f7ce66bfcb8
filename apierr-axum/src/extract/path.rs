//! [`Path`]: path parameters, or a catalog error.

use apierr::{ApiError, Condition, FieldViolation, ViolationKind};
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, RawPathParams};
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::{condition, field_condition};

/// Path parameters, deserialised. A segment of the wrong form is the invalid-parameter
/// condition naming the parameter; a route that does not match its extractor is a server
/// bug, answered as an internal error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                // A single-value extractor's error does not say which parameter it was;
                // the raw parameters do.
                let raw: Vec<(String, String)> = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|params| {
                        params
                            .iter()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                Err(kind_error(e.into_kind(), &raw))
            }
            Err(other) => Err(condition(Condition::Internal).with_source(other)),
        }
    }
}

fn kind_error(kind: ErrorKind, raw: &[(String, String)]) -> ApiError {
    let key_of = |value: &str| {
        raw.iter()
            .find(|(_, v)| v == value)
            .map_or_else(|| "(path)".to_owned(), |(k, _)| k.clone())
    };
    let invalid = |field: String, message: String| {
        field_condition(
            Condition::InvalidParameter,
            [FieldViolation::new(ViolationKind::Path, field, message)],
        )
    };
    match kind {
        ErrorKind::ParseErrorAtKey {
            key,
            value: _,
            expected_type,
        } => invalid(
            key,
            format!("must be {}", super::violations::kind_of(expected_type)),
        ),
        ErrorKind::ParseErrorAtIndex {
            index,
            value: _,
            expected_type,
        } => invalid(
            index.to_string(),
            format!("must be {}", super::violations::kind_of(expected_type)),
        ),
        ErrorKind::ParseError {
            value,
            expected_type,
        } => invalid(
            key_of(&value),
            format!("must be {}", super::violations::kind_of(expected_type)),
        ),
        ErrorKind::InvalidUtf8InPathParam { key } => invalid(key, "is not valid UTF-8".to_owned()),
        ErrorKind::DeserializeError { key, message, .. } => {
            invalid(key, super::violations::plain(&message))
        }
        ErrorKind::Message(message) => invalid("(path)".to_owned(), message),
        other => {
            condition(Condition::Internal).with_source(std::io::Error::other(other.to_string()))
        }
    }
}
