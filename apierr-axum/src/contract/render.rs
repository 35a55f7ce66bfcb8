//! Rendering at the edge: what the contract layer does to each response on its way out.

use apierr::{ApiError, Code, CodeStyle, Condition, ErrorResponse};
use axum::body::Body;
use axum::response::Response;
use http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, VARY, WWW_AUTHENTICATE};
use http::response::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::RequestContract;
use crate::success::SuccessBody;

/// The headers of a foreign error response that survive its redrawing: those that keep
/// the response's meaning (what is allowed, how to authenticate, when to come back, what
/// the answer varied on, which request it was, the caller's rate limit). Anything about
/// the old body (`Content-Encoding`, `Content-Length`, `ETag`…) goes with it.
const KEPT_ON_REDRAW: [HeaderName; 8] = [
    ALLOW,
    WWW_AUTHENTICATE,
    RETRY_AFTER,
    VARY,
    crate::REQUEST_ID,
    HeaderName::from_static("ratelimit"),
    HeaderName::from_static("ratelimit-policy"),
    HeaderName::from_static("ratelimit-reset"),
];

/// Finishes a response on its way out of the contract layer: an [`ApiError`] it carries
/// is rendered in the profile; an error response that no contract layer rendered is
/// redrawn in the contract with its status; a success is wrapped where the dialect wraps
/// successes; every response gets the request id.
pub(crate) fn finish(
    mut response: Response,
    contract: &RequestContract,
    span: Option<&tracing::Span>,
) -> Response {
    // The error's own extension, emptied, marks the response as rendered for enclosing
    // layers: one look-up, and no extension added.
    let status = response.status();
    match response.extensions_mut().get_mut::<ErrorResponse>() {
        Some(carried) => {
            if let Some(error) = carried.take() {
                let (parts, body) = response.into_parts();
                // The body shares the error's parts until it is dropped.
                drop(body);
                return render_into(parts, contract, error, Marked::Yes, span);
            }
            // Rendered by an inner contract layer.
        }
        None if status.is_client_error() || status.is_server_error() => {
            return redraw(response, contract, span);
        }
        None => {}
    }
    if status.is_success()
        && let Some(success) = response.extensions_mut().remove::<SuccessBody>()
        && contract.profile().dialect().wraps_success()
    {
        *response.body_mut() = Body::from(success.envelope());
        let headers = response.headers_mut();
        headers.remove(http::header::CONTENT_LENGTH);
        // An empty success had no body, and so no type, before it was enveloped.
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    stamp(response.headers_mut(), contract);
    response
}

/// `error` rendered in the contract into `parts`, marked as rendered for enclosing
/// contract layers (see [`render_into`]); recorded on `span`, the request's, or where
/// the caller has none at hand, on the current span.
pub(crate) fn error_response(
    parts: Parts,
    contract: &RequestContract,
    error: ApiError,
    span: Option<&tracing::Span>,
) -> Response {
    render_into(parts, contract, error, Marked::No, span)
}

/// Whether the parts of a response carry an [`ErrorResponse`] already.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Marked {
    Yes,
    No,
}

/// `error` rendered in the contract into `parts`, which then carry the mark of a
/// rendered response (with the code answered, where metrics record it): the status,
/// `Content-Type` and `Retry-After` are the rendering's, the other headers the
/// application set stay, and a server error's internal cause is logged. A bare
/// condition is answered from the layer's pre-rendered bodies.
fn render_into(
    mut parts: Parts,
    contract: &RequestContract,
    error: ApiError,
    marked: Marked,
    span: Option<&tracing::Span>,
) -> Response {
    let config = contract.config();
    if let Some(fast) = config
        .prerendered
        .render(&error, contract.request_id().header_value())
    {
        // The error was not adopted: what it answered with is the template's.
        note(
            &mut parts,
            contract,
            fast.status,
            fast.code,
            &error,
            marked,
            span,
        );
        let answer = Answer {
            status: fast.status,
            content_type: fast.content_type,
            retry_after: None,
            body: Body::from(fast.body),
        };
        return answer.into_parts(parts, contract);
    }
    let error = contract.adopt(error);
    note(
        &mut parts,
        contract,
        error.status(),
        error.code(),
        &error,
        marked,
        span,
    );
    // Adopted just now, so the dialect renders it as it is.
    let rendered = config.profile.dialect().render(&error);
    let answer = Answer {
        status: rendered.status,
        content_type: rendered.content_type,
        retry_after: rendered.retry_after,
        body: Body::from(rendered.body),
    };
    answer.into_parts(parts, contract)
}

/// Logs a server error, records what answered on the request span, and marks the
/// parts as rendered, with the code where metrics count it (the contract layer's future
/// reads it there, also for an error an inner layer or an extractor rendered): `code`
/// and `status` are the contract's, `error` the error as made (for its condition and
/// cause).
#[cfg_attr(not(feature = "telemetry"), allow(unused_variables))]
fn note(
    parts: &mut Parts,
    contract: &RequestContract,
    status: StatusCode,
    code: &Code,
    error: &ApiError,
    marked: Marked,
    span: Option<&tracing::Span>,
) {
    if status.is_server_error() {
        log_server_error(code, error);
    }
    crate::telemetry::record_error(span, code, error.condition());
    #[cfg(feature = "telemetry")]
    let counted = contract.config().metrics.then(|| code.clone());
    #[cfg(not(feature = "telemetry"))]
    let counted: Option<Code> = None;
    match (marked, counted) {
        (Marked::No, None) => {
            parts.extensions.insert(ErrorResponse::rendered());
        }
        (Marked::No, Some(code)) => {
            parts.extensions.insert(ErrorResponse::rendered_as(code));
        }
        (Marked::Yes, Some(code)) => {
            if let Some(mark) = parts.extensions.get_mut::<ErrorResponse>() {
                mark.answered_with(code);
            }
        }
        (Marked::Yes, None) => {}
    }
}

/// What an error answers with, rendered.
struct Answer {
    status: StatusCode,
    content_type: HeaderValue,
    retry_after: Option<u64>,
    body: Body,
}

impl Answer {
    /// The response of `parts` with this answer.
    fn into_parts(self, mut parts: Parts, contract: &RequestContract) -> Response {
        parts.status = self.status;
        let headers = &mut parts.headers;
        // `IntoResponse` sets `Content-Type`, and `Retry-After` when the error has one;
        // anything more the application added, and it may describe a body this one
        // replaces.
        if headers.len() > 1 + usize::from(self.retry_after.is_some()) {
            headers.remove(http::header::CONTENT_LENGTH);
            headers.remove(http::header::CONTENT_ENCODING);
        }
        // Most often `IntoResponse` set this very type (the default profile's): a look-up
        // is cheaper than replacing it.
        if headers.get(CONTENT_TYPE) != Some(&self.content_type) {
            headers.insert(CONTENT_TYPE, self.content_type);
        }
        // A `Retry-After` the application set itself stays unless the error has its own.
        if let Some(secs) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED && !headers.contains_key(WWW_AUTHENTICATE) {
            headers.insert(WWW_AUTHENTICATE, contract.config().challenge.clone());
        }
        stamp(headers, contract);
        Response::from_parts(parts, self.body)
    }
}

/// An error response that no contract layer rendered (axum's router, a tower-http
/// layer, a handler answering a bare status), redrawn in the contract. Its status never
/// changes: it becomes the condition of that status where the catalog gives the
/// condition that status, else an error with the status as its code. Only the headers
/// of [`KEPT_ON_REDRAW`] stay.
fn redraw(
    response: Response,
    contract: &RequestContract,
    span: Option<&tracing::Span>,
) -> Response {
    let (mut parts, _body) = response.into_parts();
    let status = parts.status;
    if status.is_server_error() {
        // No ApiError carries a cause here; say at least who answered what.
        tracing::error!(
            status = status.as_u16(),
            "server error from an inner service"
        );
    }
    let error = Condition::for_status(status.as_u16())
        .map(|condition| contract.profile().error(condition))
        .filter(|error| error.status() == status)
        .unwrap_or_else(|| status_error(status, contract.profile().catalog().style()));
    let mut kept = HeaderMap::with_capacity(4);
    for name in &KEPT_ON_REDRAW {
        for value in parts.headers.get_all(name) {
            kept.append(name.clone(), value.clone());
        }
    }
    parts.headers = kept;
    // A foreign `Retry-After` is among the kept headers: the redrawn answer says when to
    // come back as the foreign one did.
    error_response(parts, contract, error, span)
}

/// The error a status stands for when the catalog has no condition of that status: the
/// status as its code (as seeds 003 and 004 do, [`ApiError::from_status`]), or in a catalog
/// of text codes its reason phrase (RFC 9110's) in `snake_case`.
fn status_error(status: StatusCode, style: CodeStyle) -> ApiError {
    let error = ApiError::from_status(status);
    match style {
        CodeStyle::Text => {
            let code = Code::owned(
                error
                    .message()
                    .to_ascii_lowercase()
                    .replace([' ', '-'], "_"),
            );
            ApiError::new(status, code, error.message().to_owned())
        }
        _ => error,
    }
}

/// Puts the request id on a response.
fn stamp(headers: &mut HeaderMap, contract: &RequestContract) {
    headers.insert(
        crate::REQUEST_ID,
        contract.request_id().header_value().clone(),
    );
}

/// Logs a server error's code (the contract's) and internal cause; the request's span
/// carries its id.
fn log_server_error(code: &Code, error: &ApiError) {
    match error.internal_source() {
        Some(source) => {
            tracing::error!(code = %code, error = %source, "server error");
        }
        None => tracing::error!(code = %code, "server error"),
    }
}
