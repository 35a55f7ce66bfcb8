//! What makes two requests the same: method, path and query, body.

use apierr::{ApiError, Condition};
use apierr_store::Fingerprint;
use axum::body::Body;
use axum::extract::Request;
use sha2::{Digest, Sha256};

/// The fingerprint a layer already computed, so that the next one reads the body once.
#[derive(Debug, Clone, Copy)]
struct Computed(Fingerprint);

/// Axum's own default body limit, for layers not told another.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The request's fingerprint (SHA-256 of method, path and query, and body), and the
/// request with its body buffered. A body over `limit` is the payload-too-large
/// condition; one that does not arrive in time, the request-timeout one; one that breaks
/// off, a malformed body.
pub(crate) async fn fingerprint(
    req: Request,
    limit: usize,
) -> Result<(Request, Fingerprint), ApiError> {
    if let Some(&Computed(known)) = req.extensions().get::<Computed>() {
        return Ok((req, known));
    }
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::from(Condition::PayloadTooLarge)
        } else if crate::BodyTimeout::is_cause_of(&e) {
            ApiError::from(Condition::RequestTimeout)
        } else {
            ApiError::from(Condition::MalformedBody).with_source(e)
        }
    })?;
    let mut hash = Sha256::new();
    hash.update(parts.method.as_str());
    hash.update([0]);
    hash.update(parts.uri.path_and_query().map_or("/", |p| p.as_str()));
    hash.update([0]);
    hash.update(&bytes);
    let fingerprint = Fingerprint(hash.finalize().into());
    parts.extensions.insert(Computed(fingerprint));
    Ok((Request::from_parts(parts, Body::from(bytes)), fingerprint))
}
