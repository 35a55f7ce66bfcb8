//! Successful responses, wrapped where the profile's dialect wraps them (seed 000).

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderName, StatusCode};
use serde::Serialize;

/// The header carrying a page's total when the dialect has no envelope for it.
pub const TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// `application/json`, made at compile time.
const JSON_TYPE: HeaderValue = HeaderValue::from_static("application/json");

/// A success the contract layer wraps in seed 000's envelope where the profile's dialect
/// wraps successes: the entity as JSON, and the page counts. The response body is the
/// entity alone, which is what it stays under any other dialect (or without a layer).
#[derive(Debug, Clone)]
pub(crate) struct SuccessBody {
    entity: Bytes,
    /// The page's result and total counts, for [`Page`]; zero for a single entity.
    counts: Option<(u64, u64)>,
}

impl SuccessBody {
    /// Seed 000's envelope around the entity: `{"message":"Ok","status":"success",
    /// "entity":…,"validationErrors":[],"resultCount":…,"totalCount":…}`, the bytes
    /// serde would write for the same struct.
    pub(crate) fn envelope(&self) -> Vec<u8> {
        let (result_count, total_count) = self.counts.unwrap_or((0, 0));
        let mut numbers = (itoa::Buffer::new(), itoa::Buffer::new());
        let (result_count, total_count) = (
            numbers.0.format(result_count),
            numbers.1.format(total_count),
        );
        [
            &br#"{"message":"Ok","status":"success","entity":"#[..],
            &self.entity,
            br#","validationErrors":[],"resultCount":"#,
            result_count.as_bytes(),
            br#","totalCount":"#,
            total_count.as_bytes(),
            b"}",
        ]
        .concat()
    }
}

/// A JSON response; the contract layer wraps it where the profile wraps successes. A
/// value that cannot be serialised is a server bug, answered as the internal-error
/// condition.
pub(crate) fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    respond(status, value, None)
}

fn respond<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
    counts: Option<(u64, u64)>,
) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let entity = Bytes::from(bytes);
            let mut response = plain(status, entity.clone());
            response
                .extensions_mut()
                .insert(SuccessBody { entity, counts });
            response
        }
        Err(e) => internal(e),
    }
}

/// A JSON body as a response, never wrapped.
fn plain(status: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, JSON_TYPE);
    response
}

/// The answer to a value serde could not serialise.
fn internal(e: serde_json::Error) -> Response {
    apierr::ApiError::from(apierr::Condition::Internal)
        .with_source(e)
        .into_response()
}

/// 200 OK with `T` as JSON, never wrapped: for bodies another protocol defines, such as
/// an OAuth 2.0 token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Copy)]
pub struct Plain<T>(pub T);

impl<T: Serialize> IntoResponse for Plain<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => plain(StatusCode::OK, Bytes::from(bytes)),
            Err(e) => internal(e),
        }
    }
}

/// 201 Created with the new record.
#[derive(Debug, Clone, Copy)]
pub struct Created<T>(pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        respond(StatusCode::CREATED, &self.0, None)
    }
}

/// 208 Already Reported with the existing record: the request repeated one that already
/// succeeded (seed 000: a parent registering the same child twice).
#[derive(Debug, Clone, Copy)]
pub struct AlreadyReported<T>(pub T);

impl<T: Serialize> IntoResponse for AlreadyReported<T> {
    fn into_response(self) -> Response {
        respond(StatusCode::ALREADY_REPORTED, &self.0, None)
    }
}

/// 200 OK with an empty body (seed 003's answer to PUT and PATCH), or the bare envelope
/// where the profile wraps successes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Empty;

impl IntoResponse for Empty {
    fn into_response(self) -> Response {
        let mut response = StatusCode::OK.into_response();
        response.extensions_mut().insert(SuccessBody {
            entity: Bytes::from_static(b"null"),
            counts: None,
        });
        response
    }
}

/// One page of a collection: the items, how many match in all, and where the next page
/// is. In a wrapping profile it is the envelope's `entity`, `resultCount` and
/// `totalCount`; otherwise a JSON array with the total in `X-Total-Count`. The next page
/// is in `Link: <…>; rel="next"` (RFC 8288) either way.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match the request across all pages.
    pub total: u64,
    /// The URI of the next page, if there is one.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page of `items` out of `total`, the last one.
    pub fn new(items: Vec<T>, total: u64) -> Page<T> {
        Page {
            items,
            total,
            next: None,
        }
    }

    /// The next page is at `uri`.
    #[must_use]
    pub fn next(mut self, uri: impl Into<String>) -> Page<T> {
        self.next = Some(uri.into());
        self
    }
}

impl<T: Serialize> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        let count = self.items.len() as u64;
        let mut response = respond(StatusCode::OK, &self.items, Some((count, self.total)));
        let headers = response.headers_mut();
        headers.insert(TOTAL_COUNT, HeaderValue::from(self.total));
        if let Some(next) = self.next
            && let Ok(link) = HeaderValue::try_from(format!("<{next}>; rel=\"next\""))
        {
            headers.insert(http::header::LINK, link);
        }
        response
    }
}
