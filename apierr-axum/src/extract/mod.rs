//! Extractors whose rejections are catalog errors.

mod form;
mod json;
mod path;
mod query;
mod reading;
mod valid;
mod violations;

use apierr::{ApiError, Condition, FieldViolation, ViolationKind};

pub use self::form::Form;
pub use self::json::Json;
pub use self::path::Path;
pub use self::query::Query;
pub use self::valid::Valid;

/// The error of a condition; the contract layer resolves it in the router's catalog.
pub(crate) fn condition(condition: Condition) -> ApiError {
    ApiError::from(condition)
}

/// The error of a condition about fields; the contract layer resolves it in the
/// router's catalog (whose message may name the first field).
pub(crate) fn field_condition(
    condition: Condition,
    violations: impl IntoIterator<Item = FieldViolation>,
) -> ApiError {
    ApiError::from(condition).with_violations(violations)
}

/// Turns a data error from serde (wrong type, missing or unknown field) at `path` into
/// the invalid- or missing-parameter condition naming the field.
pub(crate) fn data_error(path: &str, message: &str, kind: ViolationKind) -> ApiError {
    // serde_json appends the position; the field name says more to a caller.
    let message = message.split(" at line ").next().unwrap_or(message);
    let join = |field: &str| {
        if path.is_empty() || path == "." {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(join)
    };
    if let Some(field) = quoted("missing field `") {
        return field_condition(
            Condition::MissingParameter,
            [FieldViolation::new(kind, field, "is required")],
        );
    }
    if let Some(field) = quoted("unknown field `") {
        return field_condition(
            Condition::InvalidParameter,
            [FieldViolation::new(kind, field, "is not a known field")],
        );
    }
    let field = if path.is_empty() || path == "." {
        "(root)".to_owned()
    } else {
        path.to_owned()
    };
    field_condition(
        Condition::InvalidParameter,
        [FieldViolation::new(kind, field, violations::plain(message))],
    )
}

/// The request body, within axum's body limit: over it is the payload-too-large
/// condition, one that did not arrive in time ([`BodyTimeout`](crate::BodyTimeout)) the
/// request-timeout one, a body that cannot be read otherwise the malformed-body one.
pub(crate) async fn body_bytes<S: Send + Sync>(
    req: axum::extract::Request,
    state: &S,
) -> Result<axum::body::Bytes, ApiError> {
    use axum::extract::FromRequest;
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                condition(Condition::PayloadTooLarge)
            } else if crate::BodyTimeout::is_cause_of(&rejection) {
                condition(Condition::RequestTimeout)
            } else {
                condition(Condition::MalformedBody)
            }
        })
}

/// Whether the request's `Content-Type` is `essence` or a `+suffix` variant of it.
pub(crate) fn has_content_type(
    headers: &http::HeaderMap,
    essence: &str,
    suffix: Option<&str>,
) -> bool {
    let Some(ct) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = ct.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case(essence)
        || suffix.is_some_and(|s| {
            starts_with_ignore_case(media, "application/") && ends_with_ignore_case(media, s)
        })
}

/// `text.starts_with(prefix)`, ignoring ASCII case.
pub(crate) fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// `text.ends_with(suffix)`, ignoring ASCII case.
pub(crate) fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len()
        .checked_sub(suffix.len())
        .is_some_and(|at| text.as_bytes()[at..].eq_ignore_ascii_case(suffix.as_bytes()))
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use http::header::CONTENT_TYPE;

    use super::has_content_type;

    fn json(ct: &'static str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, ct.parse().unwrap());
        has_content_type(&headers, "application/json", Some("+json"))
    }

    #[test]
    fn content_type_ignores_case_parameters_and_accepts_suffixes() {
        // Scenario: the media type decides, whatever its case and parameters.
        assert!(json("application/json"));
        assert!(json("Application/JSON; charset=utf-8"));
        assert!(json("application/merge-patch+json"));
        assert!(json("APPLICATION/PROBLEM+JSON"));
        assert!(!json("text/json"));
        assert!(!json("application/jsonx"));
        assert!(!json("+json"));
        assert!(!json("application/x-www-form-urlencoded"));
        assert!(!has_content_type(
            &HeaderMap::new(),
            "application/json",
            None
        ));
    }
}
