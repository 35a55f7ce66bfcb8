//! Request ids: the caller's, or one made here.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::FromRequestParts;
use http::HeaderMap;
use http::request::Parts;

use crate::REQUEST_ID;

/// The longest caller-supplied request id kept; a longer one is replaced, so that ids
/// stay fit for logs and headers.
const MAX_LEN: usize = 128;

/// The id of a request: the caller's `X-Request-Id` when it is 1–128 visible ASCII
/// characters, otherwise a new one. [`ContractLayer`](crate::ContractLayer) puts it in the
/// request's extensions; handlers extract it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub(crate) Arc<str>);

/// A random prefix per process, so that ids from different runs and replicas differ.
static PREFIX: LazyLock<u64> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);

/// A counter per process, so that making an id costs no system call.
static COUNTER: AtomicU64 = AtomicU64::new(0);

impl RequestId {
    /// The caller's id from the headers, or a new one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| (1..=MAX_LEN).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()))
            .map_or_else(RequestId::new, |v| RequestId(Arc::from(v)))
    }

    /// A new id: 32 hex digits, a per-process random prefix and a counter.
    pub fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        RequestId(Arc::from(format!("{:016x}{n:016x}", *PREFIX)))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::from_headers(&parts.headers)))
    }
}
