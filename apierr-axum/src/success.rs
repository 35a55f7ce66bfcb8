//! Successful responses, wrapped where the profile's dialect wraps them (seed 000).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderName, StatusCode};
use serde::Serialize;

/// The header carrying a page's total when the dialect has no envelope for it.
pub const TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// `application/json`, made at compile time.
const JSON_TYPE: HeaderValue = HeaderValue::from_static("application/json");

/// Seed 000's success envelope.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a, T: ?Sized> {
    message: &'a str,
    status: &'static str,
    entity: &'a T,
    validation_errors: [(); 0],
    result_count: u64,
    total_count: u64,
}

/// The body of a success: `value` itself, or the envelope when the profile wraps successes.
fn body<T: Serialize + ?Sized>(
    value: &T,
    counts: Option<(u64, u64)>,
) -> Result<Vec<u8>, serde_json::Error> {
    if apierr::current_profile().dialect().wraps_success() {
        let (result_count, total_count) = counts.unwrap_or((0, 0));
        serde_json::to_vec(&Envelope {
            message: "Ok",
            status: "success",
            entity: value,
            validation_errors: [],
            result_count,
            total_count,
        })
    } else {
        serde_json::to_vec(value)
    }
}

/// A JSON response in the current profile. A value that cannot be serialised is a server
/// bug, answered as the internal-error condition.
pub(crate) fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    respond(status, value, None)
}

fn respond<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
    counts: Option<(u64, u64)>,
) -> Response {
    json(status, body(value, counts))
}

/// A JSON body as a response, or the internal-error condition if it could not be made.
fn json(status: StatusCode, body: Result<Vec<u8>, serde_json::Error>) -> Response {
    match body {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            response.headers_mut().insert(CONTENT_TYPE, JSON_TYPE);
            response
        }
        Err(e) => apierr::current_profile()
            .error(apierr::Condition::Internal)
            .with_source(e)
            .into_response(),
    }
}

/// 200 OK with `T` as JSON, never wrapped: for bodies another protocol defines, such as
/// an OAuth 2.0 token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Copy)]
pub struct Plain<T>(pub T);

impl<T: Serialize> IntoResponse for Plain<T> {
    fn into_response(self) -> Response {
        json(StatusCode::OK, serde_json::to_vec(&self.0))
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
        if apierr::current_profile().dialect().wraps_success() {
            respond(StatusCode::OK, &(), None)
        } else {
            StatusCode::OK.into_response()
        }
    }
}

/// One page of a collection: the items, and how many match in all. In a wrapping profile
/// it is the envelope's `entity`, `resultCount` and `totalCount`; otherwise a JSON array
/// with the total in `X-Total-Count`.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match the request across all pages.
    pub total: u64,
}

impl<T: Serialize> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        let count = self.items.len() as u64;
        let mut response = respond(StatusCode::OK, &self.items, Some((count, self.total)));
        response
            .headers_mut()
            .insert(TOTAL_COUNT, HeaderValue::from(self.total));
        response
    }
}
