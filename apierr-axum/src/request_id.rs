//! Request ids: the caller's, or one made here.

use std::convert::Infallible;
use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{HeaderMap, HeaderValue};

use crate::REQUEST_ID;

/// The longest caller-supplied request id kept; a longer one is replaced, so that ids
/// stay fit for logs and headers.
pub(crate) const MAX_LEN: usize = 128;

/// The id of a request: the caller's `X-Request-Id` when it is 1–128 visible ASCII
/// characters, otherwise a new one. [`ContractLayer`](crate::ContractLayer) gives every
/// request one; handlers extract it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub(crate) HeaderValue);

/// A random prefix per process, so that ids from different runs and replicas differ; kept
/// as its 16 hex digits.
static PREFIX: LazyLock<[u8; 16]> = LazyLock::new(|| hex(uuid::Uuid::new_v4().as_u64_pair().0));

/// A counter per process, so that making an id costs no system call.
static COUNTER: AtomicU64 = AtomicU64::new(0);

impl RequestId {
    /// The caller's id from the headers, or a new one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        RequestId::from_headers_or_new(headers).0
    }

    /// The caller's id from the headers, or a new one; true when it is new (so that the
    /// header does not hold it yet).
    pub(crate) fn from_headers_or_new(headers: &HeaderMap) -> (Self, bool) {
        match headers.get(REQUEST_ID) {
            Some(v)
                if (1..=MAX_LEN).contains(&v.len())
                    && v.as_bytes().iter().all(u8::is_ascii_graphic) =>
            {
                (RequestId(v.clone()), false)
            }
            _ => (RequestId::new(), true),
        }
    }

    /// A new id: 32 hex digits, a per-process random prefix and a counter.
    pub fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 32];
        id[..16].copy_from_slice(&*PREFIX);
        id[16..].copy_from_slice(&hex(n));
        // One allocation holding the digits and the reference count, so that the clones
        // the request contract, the error and the response header take cost no more. Hex digits are
        // always a valid header value.
        HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(id))
            .map_or_else(|_| RequestId(HeaderValue::from_static("0")), RequestId)
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII ever makes a RequestId.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
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
        f.write_str(self.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    /// The id [`ContractLayer`](crate::ContractLayer) gave the request or, outside one,
    /// the caller's or a new one.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(match parts.extensions.get::<crate::RequestContract>() {
            Some(contract) => contract.request_id().clone(),
            None => RequestId::from_headers(&parts.headers),
        })
    }
}

/// The 16 lower-case hex digits of `n`, most significant first.
fn hex(n: u64) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (i, digit) in out.iter_mut().enumerate() {
        *digit = DIGITS[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_are_the_number() {
        assert_eq!(&hex(0), b"0000000000000000");
        assert_eq!(&hex(0x0123_4567_89ab_cdef), b"0123456789abcdef");
        assert_eq!(&hex(u64::MAX), b"ffffffffffffffff");
    }

    #[test]
    fn new_ids_differ_and_share_the_prefix() {
        // Scenario: two ids in a row differ only in the counter half.
        let (a, b) = (RequestId::new(), RequestId::new());
        assert_eq!(a.as_str().len(), 32);
        assert_ne!(a, b);
        assert_eq!(a.as_str()[..16], b.as_str()[..16]);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
