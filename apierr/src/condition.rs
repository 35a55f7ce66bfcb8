//! The fixed set of failures that the framework itself raises.

use std::fmt;

use crate::{Code, Entry};

macro_rules! conditions {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident => $status:literal, $code:literal, $message:literal;
    )*) => {
        /// A failure the framework raises on its own, before or around the application's
        /// handler: a malformed body, a missing token, a stale `Date`, a panic.
        ///
        /// A [`Catalog`](crate::Catalog) binds each condition to one of its codes; a
        /// condition it leaves out gets a default (see [`Condition::default_status`]).
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Condition {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Condition {
            /// Every condition, in declaration order.
            pub const ALL: &'static [Condition] = &[$(Condition::$variant),*];

            /// How many conditions there are.
            pub const COUNT: usize = Condition::ALL.len();

            /// The condition's position in [`Condition::ALL`].
            pub const fn index(self) -> usize {
                self as usize
            }

            /// The HTTP status a catalog that does not bind this condition answers with.
            pub const fn default_status(self) -> u16 {
                match self { $(Condition::$variant => $status,)* }
            }

            /// The text code of the general catalog for this condition, also its name in
            /// `snake_case`.
            pub const fn default_code(self) -> &'static str {
                match self { $(Condition::$variant => $code,)* }
            }

            /// The general catalog's message for this condition.
            pub const fn default_message(self) -> &'static str {
                match self { $(Condition::$variant => $message,)* }
            }

            /// What the condition means, from its documentation.
            pub const fn description(self) -> &'static str {
                match self { $(Condition::$variant => concat!($($doc),*).trim_ascii(),)* }
            }

            /// Finds a condition by its `snake_case` name.
            pub fn from_name(name: &str) -> Option<Condition> {
                Condition::ALL.iter().copied().find(|c| c.default_code() == name)
            }
        }
        /// The entries a text-coded catalog falls back to for conditions it leaves
        /// unbound; also the general catalog of the `problem` profile.
        pub(crate) static TEXT_DEFAULTS: [Entry; Condition::COUNT] = [$(
            Entry::from_parts(
                Code::text($code), $status, $message, None,
                concat!($($doc),*).trim_ascii(), None, None, None,
            ),
        )*];

        /// The entries a numeric catalog falls back to for conditions it leaves unbound:
        /// the code is the status, as seeds 003 and 004 do for failures their tables omit.
        pub(crate) static NUMERIC_DEFAULTS: [Entry; Condition::COUNT] = [$(
            Entry::from_parts(
                Code::Numeric($status), $status, $message, None,
                concat!($($doc),*).trim_ascii(), None, None, None,
            ),
        )*];
    };
}

conditions! {
    /// The request body could not be parsed (invalid JSON, wrong encoding).
    MalformedBody => 400, "malformed_body", "request body could not be parsed";
    /// A parameter or field has a value of the wrong type or form.
    InvalidParameter => 400, "invalid_parameter", "parameter does not validate";
    /// A required parameter or field is missing.
    MissingParameter => 400, "missing_parameter", "required parameter is missing";
    /// The request's `Content-Type` is missing or not one the endpoint accepts.
    UnsupportedMediaType => 415, "unsupported_media_type", "unsupported media type";
    /// The request's `Accept` excludes every format the endpoint can produce.
    NotAcceptable => 406, "not_acceptable", "no acceptable representation";
    /// The route exists but not for this method; the response carries `Allow`.
    MethodNotAllowed => 405, "method_not_allowed", "method not allowed";
    /// No resource at this path, or the resource does not exist.
    NotFound => 404, "not_found", "resource not found";
    /// The resource to create exists already (a unique field is taken).
    AlreadyExists => 409, "already_exists", "resource already exists";
    /// The request body is larger than the endpoint accepts.
    PayloadTooLarge => 413, "payload_too_large", "request body too large";
    /// No credentials were sent.
    Unauthenticated => 401, "unauthenticated", "authentication required";
    /// The credentials sent are not valid.
    InvalidToken => 401, "invalid_token", "invalid access token";
    /// The token sent was valid once and has expired.
    ExpiredToken => 401, "expired_token", "access token expired";
    /// The credentials are valid but do not allow this request.
    Forbidden => 403, "forbidden", "permission denied";
    /// The API key sent has been revoked.
    KeyRevoked => 403, "key_revoked", "API key revoked";
    /// The session the request belongs to has expired.
    SessionExpired => 401, "session_expired", "session expired";
    /// The request's date is missing or too far from the server's clock.
    StaleRequest => 401, "stale_request", "request is stale";
    /// The caller sent too many requests too quickly.
    RateLimited => 429, "rate_limited", "too many requests";
    /// The endpoint requires an `Idempotency-Key` header and none was sent.
    IdempotencyKeyMissing => 400, "idempotency_key_missing", "idempotency key required";
    /// A request with the same idempotency key is still being processed.
    IdempotencyInFlight => 409, "idempotency_in_flight", "request with this idempotency key is in progress";
    /// The idempotency key was used before with a different request.
    IdempotencyKeyReused => 422, "idempotency_key_reused", "idempotency key reused with a different request";
    /// The server failed; the cause is logged, never shown.
    Internal => 500, "internal_error", "internal server error";
    /// The handler did not finish in time.
    Timeout => 503, "timeout", "request timed out";
    /// The endpoint or method is not implemented.
    NotImplemented => 501, "not_implemented", "not implemented";
    /// The client did not send its whole request in time (its own timeout, not the
    /// server's).
    RequestTimeout => 408, "request_timeout", "request not received in time";
    /// A service the server depends on answered with an error.
    BadGateway => 502, "bad_gateway", "upstream service failed";
    /// The server cannot take the request now (overloaded or in maintenance).
    ServiceUnavailable => 503, "service_unavailable", "service unavailable";
    /// A service the server depends on did not answer in time.
    GatewayTimeout => 504, "gateway_timeout", "upstream service timed out";
}

impl Condition {
    /// The condition a bare error status stands for, when something other than apierr
    /// answered (axum's router, a tower-http layer, a proxy): always one whose default
    /// status is that status, so that redrawing a response in a contract never changes
    /// its meaning. `None` for statuses no condition has.
    pub const fn for_status(status: u16) -> Option<Condition> {
        Some(match status {
            400 => Condition::MalformedBody,
            401 => Condition::Unauthenticated,
            403 => Condition::Forbidden,
            404 => Condition::NotFound,
            405 => Condition::MethodNotAllowed,
            406 => Condition::NotAcceptable,
            408 => Condition::RequestTimeout,
            409 => Condition::AlreadyExists,
            413 => Condition::PayloadTooLarge,
            415 => Condition::UnsupportedMediaType,
            429 => Condition::RateLimited,
            500 => Condition::Internal,
            501 => Condition::NotImplemented,
            502 => Condition::BadGateway,
            503 => Condition::ServiceUnavailable,
            504 => Condition::GatewayTimeout,
            _ => return None,
        })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.default_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_maps_to_a_condition_of_that_status() {
        // Scenario: every status with a condition keeps its status, 408 and 5xx included.
        for status in 100..=599 {
            if let Some(c) = Condition::for_status(status) {
                assert_eq!(c.default_status(), status, "{c}");
            }
        }
        assert_eq!(Condition::for_status(408), Some(Condition::RequestTimeout));
        assert_eq!(
            Condition::for_status(503),
            Some(Condition::ServiceUnavailable)
        );
        assert_eq!(Condition::for_status(422), None);
    }
}
