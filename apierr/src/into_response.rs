//! `IntoResponse` for [`ApiError`]: the error travels out with its response, and a server
//! layer at the edge renders it in the router's contract.
//!
//! An `IntoResponse` impl cannot see the request, so it cannot know the router's profile
//! or the request id. Rather than reading them from ambient state (which code running
//! outside the handler's poll never sees), the error rides on the response as an
//! [`ErrorResponse`] extension; `apierr-axum`'s `ContractLayer` takes it off and renders
//! it. A response that meets no such layer still carries a body: RFC 9457 problem
//! details in the default profile, rendered when the body is first read.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderValue;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http_body::{Frame, SizeHint};

use crate::catalog::GENERAL_STATIC;
use crate::{ApiError, Code, Dialect, Problem, Profile};

/// The extension an [`ApiError`] turned into a response carries, for the layer that
/// renders it in the router's contract; once rendered, it marks the response as done so
/// that an enclosing layer passes it on.
///
/// ```
/// use apierr::{ApiError, Condition, ErrorResponse};
/// use axum_core::response::IntoResponse;
///
/// let mut response = ApiError::from(Condition::NotFound).into_response();
/// let carried = response.extensions_mut().get_mut::<ErrorResponse>().unwrap();
/// let error = carried.take().unwrap();
/// assert_eq!(error.condition(), Some(Condition::NotFound));
/// assert!(carried.is_rendered());
/// ```
#[derive(Debug)]
pub struct ErrorResponse(State);

#[derive(Debug)]
enum State {
    /// Waiting for a layer to render it.
    Pending(ApiError),
    /// Rendered, with the code it was answered with when the layer said it.
    Rendered(Option<Code>),
}

impl Clone for ErrorResponse {
    fn clone(&self) -> Self {
        ErrorResponse(match &self.0 {
            State::Pending(error) => State::Pending(error.share()),
            State::Rendered(code) => State::Rendered(code.clone()),
        })
    }
}

impl ErrorResponse {
    /// The mark of a response whose body a contract layer has rendered.
    pub fn rendered() -> Self {
        ErrorResponse(State::Rendered(None))
    }

    /// The mark of a response a contract layer has rendered with `code`, the catalog code
    /// of its answer (what telemetry records as the response's `error.type`).
    ///
    /// ```
    /// use apierr::{Code, ErrorResponse};
    ///
    /// let mark = ErrorResponse::rendered_as(Code::text("not_found"));
    /// assert!(mark.is_rendered());
    /// assert_eq!(mark.code(), Some(&Code::text("not_found")));
    /// assert_eq!(ErrorResponse::rendered().code(), None);
    /// ```
    pub fn rendered_as(code: Code) -> Self {
        ErrorResponse(State::Rendered(Some(code)))
    }

    /// The error, until a layer takes it to render it.
    pub fn error(&self) -> Option<&ApiError> {
        match &self.0 {
            State::Pending(error) => Some(error),
            State::Rendered(_) => None,
        }
    }

    /// Takes the error to render it, leaving the response marked as rendered. The error
    /// shares its parts with the response's body until the body is dropped; changing it
    /// before then costs a copy of them.
    pub fn take(&mut self) -> Option<ApiError> {
        match std::mem::replace(&mut self.0, State::Rendered(None)) {
            State::Pending(error) => Some(error),
            State::Rendered(code) => {
                self.0 = State::Rendered(code);
                None
            }
        }
    }

    /// The catalog code the response was answered with, once a layer has rendered it and
    /// said so ([`ErrorResponse::rendered_as`], [`ErrorResponse::answered_with`]).
    pub fn code(&self) -> Option<&Code> {
        match &self.0 {
            State::Rendered(code) => code.as_ref(),
            State::Pending(_) => None,
        }
    }

    /// Marks the response as rendered with `code` (the error it carried, if any, is
    /// dropped).
    pub fn answered_with(&mut self, code: Code) {
        self.0 = State::Rendered(Some(code));
    }

    /// Whether a contract layer has rendered the error into the response's body.
    pub fn is_rendered(&self) -> bool {
        matches!(self.0, State::Rendered(_))
    }
}

impl IntoResponse for ApiError {
    /// A response with the error's status, `Retry-After` when it has one, and the error
    /// as an [`ErrorResponse`] extension. Its body is the error in the default profile
    /// (RFC 9457), rendered only if the body is read, which a contract layer's response
    /// never is: the layer renders the error in the router's profile instead.
    fn into_response(self) -> Response {
        let error = if GENERAL_STATIC.speaks(&self) {
            self
        } else {
            GENERAL_STATIC.adopt(self)
        };
        let status = error.status();
        let retry_after = error.retry_after();
        let mut response = Response::new(Body::new(DefaultBody(Some(error.share()))));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, Problem.content_type());
        if let Some(after) = retry_after {
            headers.insert(
                RETRY_AFTER,
                HeaderValue::from(crate::dialect::retry_after_secs(after)),
            );
        }
        response
            .extensions_mut()
            .insert(ErrorResponse(State::Pending(error)));
        response
    }
}

/// The body of an error response that no contract layer rendered: the error in the
/// default profile, written when the body is first polled.
struct DefaultBody(Option<ApiError>);

impl http_body::Body for DefaultBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.take().map(|error| {
            let rendered = Profile::PROBLEM.render(&error);
            Ok(Frame::data(Bytes::from(rendered.body)))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        // Unknown until rendered; a contract layer replaces this body unread.
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;

    use super::*;
    use crate::Condition;

    #[test]
    fn without_a_layer_the_body_is_problem_details() {
        // Scenario: an error built from a condition, read with no layer around it, is a
        // problem+json body with the general catalog's code and the same status.
        let response = ApiError::from(Condition::NotFound).into_response();
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
        let mut body = DefaultBody(
            response
                .extensions()
                .get::<ErrorResponse>()
                .and_then(ErrorResponse::error)
                .map(ApiError::share),
        );
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let frame = match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap(),
            other => panic!("no frame: {other:?}"),
        };
        assert!(frame.starts_with(br#"{"type":"about:blank","title":"Not Found","status":404"#));
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(None)
        ));
    }

    #[test]
    fn an_error_of_another_catalog_keeps_status_and_body_consistent() {
        // Scenario: seed 002's expired token is a 410; outside a layer the general
        // catalog's 401 is used for both the status and the body.
        let response = Profile::NESTED
            .error(Condition::ExpiredToken)
            .into_response();
        let carried = response.extensions().get::<ErrorResponse>().unwrap();
        assert_eq!(response.status(), carried.error().unwrap().status());
        assert_eq!(response.status(), 401);
    }
}
