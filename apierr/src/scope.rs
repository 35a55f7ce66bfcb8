//! The profile and request id of the request being handled, for code that renders an
//! error without being handed them (an `IntoResponse` impl has no access to the request).

use std::cell::RefCell;

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

/// The thread's current scope and whether an error was rendered in it, in one
/// thread-local so that entering and leaving a scope touches it once each way.
#[derive(Default)]
struct Current {
    scope: Option<Scope>,
    /// Set when an `ApiError` is turned into a response inside a scope.
    rendered: bool,
}

thread_local! {
    static CURRENT: RefCell<Current> = const {
        RefCell::new(Current {
            scope: None,
            rendered: false,
        })
    };
}

/// Runs `f` with `scope` as the current scope, restoring the previous one afterwards
/// (even if `f` panics). A server layer wraps each poll of the inner service in this, so
/// that the handler's errors render in the router's profile.
pub fn in_scope<R>(scope: &Scope, f: impl FnOnce() -> R) -> R {
    in_scope_tracking(scope, f).0
}

/// Like [`in_scope`], and also says whether an [`ApiError`](crate::ApiError) was turned
/// into a response (with the `axum` feature's `IntoResponse`) while `f` ran. A server
/// layer uses it to tell its own error responses from foreign ones without marking each
/// response, which would cost an allocation per error.
pub fn in_scope_tracking<R>(scope: &Scope, f: impl FnOnce() -> R) -> (R, bool) {
    /// Puts the previous scope back, also when `f` panics. What was rendered in the
    /// scope being left was rendered in the enclosing one too.
    struct Restore(Current);
    impl Drop for Restore {
        fn drop(&mut self) {
            let mut previous = std::mem::take(&mut self.0);
            // The scope being left is dropped outside the borrow.
            let _left = CURRENT.with(|c| {
                let mut current = c.borrow_mut();
                previous.rendered |= current.rendered;
                std::mem::replace(&mut *current, previous)
            });
        }
    }
    let entered = Current {
        scope: Some(scope.clone()),
        rendered: false,
    };
    let restore = Restore(CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), entered)));
    let result = f();
    let rendered = CURRENT.with(|c| c.borrow().rendered);
    drop(restore);
    (result, rendered)
}

/// The profile of the current scope, or [`Profile::PROBLEM`] outside any.
pub fn current_profile() -> Profile {
    CURRENT.with(|c| {
        c.borrow()
            .scope
            .as_ref()
            .map_or(Profile::PROBLEM, |s| s.profile)
    })
}

/// The request id of the current scope, if any.
pub fn current_request_id() -> Option<HeaderValue> {
    CURRENT.with(|c| c.borrow().scope.as_ref().and_then(|s| s.request_id.clone()))
}

#[cfg(feature = "axum")]
mod axum_response {
    use std::sync::Arc;

    use axum_core::body::Body;
    use axum_core::response::{IntoResponse, Response};
    use http::HeaderValue;
    use http::header::{CONTENT_TYPE, RETRY_AFTER};

    use super::CURRENT;
    use crate::{ApiError, Profile};

    /// Keeps a 5xx error on its response, for the layer that logs its internal cause.
    #[derive(Debug, Clone)]
    pub struct RenderedError(pub Arc<ApiError>);

    impl IntoResponse for ApiError {
        /// Renders in the profile of the current [`Scope`](super::Scope) (the router's),
        /// or in [`Profile::PROBLEM`] outside any, with the scope's request id.
        fn into_response(mut self) -> Response {
            let profile = CURRENT.with(|c| {
                let mut current = c.borrow_mut();
                let scope = current.scope.as_ref()?;
                if self.request_id().is_none()
                    && let Some(id) = scope.request_id.as_ref()
                {
                    self.set_request_id_header(id);
                }
                let profile = scope.profile;
                current.rendered = true;
                Some(profile)
            });
            let mut rendered = profile.unwrap_or(Profile::PROBLEM).render(&self);
            let content_type = rendered.content_type_value();
            let mut response = Response::new(Body::from(std::mem::take(&mut rendered.body)));
            *response.status_mut() = rendered.status;
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, content_type);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(id: &'static str) -> Scope {
        Scope {
            profile: Profile::NESTED,
            request_id: Some(HeaderValue::from_static(id)),
        }
    }

    #[test]
    fn scopes_nest_and_restore_even_on_panic() {
        // Scenario: the inner scope is current inside, the outer one again after, and
        // nothing after a panic that unwound out of a scope.
        assert_eq!(current_request_id(), None);
        in_scope(&scope("outer"), || {
            in_scope(&scope("inner"), || {
                assert_eq!(current_request_id().unwrap(), "inner");
            });
            assert_eq!(current_request_id().unwrap(), "outer");
            assert_eq!(current_profile().name(), "nested");
        });
        let unwound = std::panic::catch_unwind(|| in_scope(&scope("x"), || panic!("boom")));
        assert!(unwound.is_err());
        assert_eq!(current_request_id(), None);
        assert_eq!(current_profile().name(), "problem");
    }

    #[cfg(feature = "axum")]
    #[test]
    fn rendering_in_a_nested_scope_counts_for_the_enclosing_one() {
        use axum_core::response::IntoResponse;

        use crate::Condition;

        let ((), outer) = in_scope_tracking(&scope("outer"), || {
            let (_, inner) = in_scope_tracking(&scope("inner"), || {
                Profile::NESTED.error(Condition::NotFound).into_response()
            });
            assert!(inner);
        });
        assert!(outer);
        let ((), untouched) = in_scope_tracking(&scope("quiet"), || ());
        assert!(!untouched);
    }
}
