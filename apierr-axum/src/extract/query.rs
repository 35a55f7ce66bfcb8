//! [`Query`]: the query string, or a catalog error.

use apierr::{ApiError, ViolationKind};
use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::de::DeserializeOwned;

/// The query string, deserialised. A wrong type is the invalid-parameter condition
/// naming the parameter; a missing one is the missing-parameter condition.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        from_urlencoded(
            parts.uri.query().unwrap_or_default().as_bytes(),
            ViolationKind::Query,
        )
        .map(Query)
    }
}

/// Deserialises `application/x-www-form-urlencoded` data, naming the field at fault.
pub(crate) fn from_urlencoded<T: DeserializeOwned>(
    data: &[u8],
    kind: ViolationKind,
) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(data));
    serde_path_to_error::deserialize(de).map_err(|err| {
        // Read again for every violation, not only the first.
        let pairs = form_urlencoded::parse(data).into_owned().collect();
        let found = super::violations::urlencoded::<T>(pairs, kind.clone());
        if found.is_empty() {
            let path = err.path().to_string();
            super::data_error(&path, &err.into_inner().to_string(), kind)
        } else {
            super::violations::error(found)
        }
    })
}
