//! The profile and request id of the request being handled, for code that renders an
//! error without being handed them (an `IntoResponse` impl has no access to the request).

use std::cell::{Cell, RefCell};

use http::HeaderValue;

use crate::Profile;

/// What a server layer knows about the request whose handler is running.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The contract the router answers in.
    pub profile: Profile,
    /// The request id as it travels in `X-Request-Id` (visible ASCII), echoed in error
    /// bodies where the dialect has a place for it. Kept in its header form so that
    /// echoing it costs no copy.
    pub request_id: Option<HeaderValue>,
}

thread_local! {
    static CURRENT: RefCell<Option<Scope>> = const { RefCell::new(None) };
    /// Set when an `ApiError` is turned into a response inside a scope.
    static RENDERED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with `scope` as the current scope, restoring the previous one afterwards
/// (even if `f` panics). A server layer wraps each poll of the inner service in this, so
/// that the handler's errors render in the router's profile.
pub fn in_scope<R>(scope: &Scope, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Scope>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|c| c.borrow_mut().replace(scope.clone()));
    let _restore = Restore(previous);
    f()
}

/// Like [`in_scope`], and also says whether an [`ApiError`](crate::ApiError) was turned
/// into a response (with the `axum` feature's `IntoResponse`) while `f` ran. A server
/// layer uses it to tell its own error responses from foreign ones without marking each
/// response, which would cost an allocation per error.
pub fn in_scope_tracking<R>(scope: &Scope, f: impl FnOnce() -> R) -> (R, bool) {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            RENDERED.with(|r| r.set(self.0));
        }
    }
    let restore = Restore(RENDERED.with(|r| r.replace(false)));
    let result = in_scope(scope, f);
    let rendered = RENDERED.with(Cell::get);
    drop(restore);
    (result, rendered)
}

/// The profile of the current scope, or [`Profile::PROBLEM`] outside any.
pub fn current_profile() -> Profile {
    CURRENT.with(|c| c.borrow().as_ref().map_or(Profile::PROBLEM, |s| s.profile))
}

/// The request id of the current scope, if any.
pub fn current_request_id() -> Option<HeaderValue> {
    CURRENT.with(|c| c.borrow().as_ref().and_then(|s| s.request_id.clone()))
}

#[cfg(feature = "axum")]
mod axum_response {
    use std::sync::Arc;

    use axum_core::body::Body;
    use axum_core::response::{IntoResponse, Response};
    use http::HeaderValue;
    use http::header::{CONTENT_TYPE, RETRY_AFTER};

    use super::{CURRENT, RENDERED};
    use crate::{ApiError, Profile};

    /// Keeps a 5xx error on its response, for the layer that logs its internal cause.
    #[derive(Debug, Clone)]
    pub struct RenderedError(pub Arc<ApiError>);

    impl IntoResponse for ApiError {
        /// Renders in the profile of the current [`Scope`](super::Scope) (the router's),
        /// or in [`Profile::PROBLEM`] outside any, with the scope's request id.
        fn into_response(mut self) -> Response {
            let profile = CURRENT.with(|c| {
                let scope = c.borrow();
                let scope = scope.as_ref()?;
                RENDERED.with(|r| r.set(true));
                if self.request_id().is_none()
                    && let Some(id) = scope.request_id.as_ref()
                {
                    self.set_request_id_header(id);
                }
                Some(scope.profile)
            });
            let rendered = profile.unwrap_or(Profile::PROBLEM).render(&self);
            let mut response = Response::new(Body::from(rendered.body));
            *response.status_mut() = rendered.status;
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(rendered.content_type),
            );
            if let Some(secs) = rendered.retry_after {
                headers.insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            // Only a server error's cause is wanted downstream (for the log); a client
            // error keeps no extension, which saves the extension map's allocation.
            if rendered.status.is_server_error() {
                response
                    .extensions_mut()
                    .insert(RenderedError(Arc::new(self)));
            }
            response
        }
    }
}

#[cfg(feature = "axum")]
pub use self::axum_response::RenderedError;
