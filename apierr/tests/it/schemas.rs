//! Each dialect's error schema against the bodies it writes.

use apierr::{ApiError, Condition, DIALECTS, Dialect, FieldViolation, Profile};
use serde_json::Value;

/// Whether `body` has every member `schema` requires, down through objects, array items
/// and `oneOf` branches (one must hold), and each listed property of the type it names.
fn holds(schema: &Value, body: &Value) -> bool {
    if let Some(branches) = schema["oneOf"].as_array() {
        return branches.iter().any(|branch| holds(branch, body));
    }
    let typed = match schema["type"].as_str() {
        Some("object") => body.is_object(),
        Some("array") => body.is_array(),
        Some("string") => body.is_string(),
        Some("integer") => body.is_i64() || body.is_u64(),
        Some("null") => body.is_null(),
        _ => true,
    };
    if !typed {
        return false;
    }
    let required = schema["required"].as_array().into_iter().flatten();
    if !required
        .filter_map(Value::as_str)
        .all(|name| body.get(name).is_some())
    {
        return false;
    }
    let properties = schema["properties"].as_object().into_iter().flatten();
    for (name, property) in properties {
        if let Some(value) = body.get(name)
            && !holds(property, value)
        {
            return false;
        }
    }
    match (schema.get("items"), body.as_array()) {
        (Some(items), Some(values)) => values.iter().all(|value| holds(items, value)),
        _ => true,
    }
}

#[test]
fn every_dialect_writes_bodies_its_schema_describes() {
    // Scenario: the schema a dialect publishes (for an API's OpenAPI document) fits the
    // bodies it renders: a bare error, one with violations and messages, a token error.
    let errors = || {
        [
            ApiError::from(Condition::NotFound),
            ApiError::from(Condition::InvalidParameter)
                .with_violation(FieldViolation::parameter("id", "must be a whole number"))
                .with_violation(FieldViolation::body("email", "is not an email address"))
                .with_message("and one thing more")
                .with_request_id("req-1"),
            ApiError::from(Condition::InvalidToken),
        ]
    };
    for dialect in DIALECTS {
        let schema = dialect.error_schema();
        assert_ne!(
            schema,
            serde_json::json!({"type": "object"}),
            "{}: no schema of its own",
            dialect.name()
        );
        for profile in Profile::ALL.iter().chain([&Profile::OAUTH_TOKEN]) {
            for error in errors() {
                let error = profile.adopt(error);
                let rendered = dialect.render(&error);
                let body: Value = serde_json::from_slice(&rendered.body).unwrap();
                assert!(
                    holds(&schema, &body),
                    "{}: {body} does not fit {schema}",
                    dialect.name()
                );
            }
        }
    }
}

#[test]
fn the_schema_check_refuses_what_does_not_fit() {
    // Scenario: the checker above can fail: a body without a required member does not fit.
    let schema = apierr::Problem.error_schema();
    assert!(!holds(&schema, &serde_json::json!({"title": "Not Found"})));
    assert!(!holds(&schema, &serde_json::json!([])));
}
