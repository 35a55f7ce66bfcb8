//! The seed documents' example bodies, reproduced byte for byte by their profiles.

use apierr::{ApiError, Condition, FieldViolation, Profile, ViolationKind};

use crate::{minify, text};

/// Renders `error` under `profile` and checks status and body against the seed's example.
fn assert_seed(profile: &Profile, error: &ApiError, status: u16, seed_body: &str) {
    let rendered = profile.render(error);
    assert_eq!(rendered.status.as_u16(), status, "status of {seed_body}");
    assert_eq!(text(&rendered.body), minify(seed_body));
}

#[test]
fn seed_000_token_error_is_in_oauth_form() {
    // Scenario: an expired access token under the wrapper profile answers seed 000's body.
    let e = Profile::WRAPPER
        .error(Condition::ExpiredToken)
        .with_message("Invalid access token: eyJhbGciOiJSUzIi.......3gZthv7Y");
    assert_seed(
        &Profile::WRAPPER,
        &e,
        401,
        r#"{
          "error": "invalid_token",
          "error_description": "Invalid access token: eyJhbGciOiJSUzIi.......3gZthv7Y"
        }"#,
    );
}

#[test]
fn seed_000_wrapper_carries_every_member() {
    // Scenario: a validation error under the wrapper profile has the seed's wrapper members.
    let e = Profile::WRAPPER.field_error(
        Condition::MissingParameter,
        [FieldViolation::body("email", "is required")],
    );
    let rendered = Profile::WRAPPER.render(&e);
    let body: serde_json::Value = serde_json::from_slice(&rendered.body).unwrap();
    for member in [
        "message",
        "status",
        "entity",
        "validationErrors",
        "resultCount",
        "totalCount",
    ] {
        assert!(body.get(member).is_some(), "{member} missing from {body}");
    }
    assert_eq!(body["status"], "fail");
    assert_eq!(body["validationErrors"][0]["field"], "email");
}

#[test]
fn seed_002_examples() {
    // Scenario: seed 002's three example responses, from its nested profile.
    let p = Profile::NESTED;
    let validation = p.field_error(
        Condition::InvalidParameter,
        [
            FieldViolation::body("first_name", "First name is required"),
            FieldViolation::body("last_name", "Last name is required"),
        ],
    );
    assert_seed(
        &p,
        &validation,
        400,
        r#"{
        "error":
        {
            "code": "validation_error",
            "message": "Validation error",
            "extra":
            {
                "invalid-params":
                [
                    {
                        "field": "first_name",
                        "message": "First name is required"
                    },
                    {
                        "field": "last_name",
                        "message": "Last name is required"
                    }
                ]
            }
        }
    }"#,
    );
    let expired = p
        .error(Condition::ExpiredToken)
        .with_message("Public token expired: 48427a36d43c4d5aa6324bc06c692456");
    assert_seed(
        &p,
        &expired,
        401,
        r#"{"error": {"code": "expired_token", "message": "Public token expired: 48427a36d43c4d5aa6324bc06c692456"}}"#,
    );
    assert_seed(
        &p,
        &p.error(Condition::InvalidToken),
        403,
        r#"{"error": {"code": "incorrect_token", "message": "Token is invalid"}}"#,
    );
    assert_eq!(p.error(Condition::SessionExpired).status().as_u16(), 410);
}

#[test]
fn seed_003_examples() {
    // Scenario: seed 003's two example bodies, from its errors-array profile.
    let p = Profile::ERRORS_ARRAY;
    assert_seed(
        &p,
        &p.error(Condition::NotFound),
        404,
        r#"{"errors":[{"errorCode":3001, "message":"entity not found"}]}"#,
    );
    let validation = p.field_error(
        Condition::InvalidParameter,
        [FieldViolation::parameter("firstName", "validation error")],
    );
    assert_seed(
        &p,
        &validation,
        400,
        r#"{"errors":[{"errorCode":5000, "message":"validation error", "subject":"firstName", "subjectType":"parameter"}]}"#,
    );
}

#[test]
fn seed_004_examples() {
    // Scenario: seed 004's three exceptions, from its specific-code profile.
    let p = Profile::SPECIFIC_CODE;
    assert_seed(
        &p,
        &p.error(Condition::StaleRequest),
        401,
        r#"{
     "errorCode": 401,
     "message": "Request is stale",
     "specificCode": 23005
}"#,
    );
    let invalid = p.field_error(
        Condition::InvalidParameter,
        [FieldViolation::parameter(
            "id",
            "Value must be a whole number",
        )],
    );
    assert_seed(
        &p,
        &invalid,
        400,
        r#"{
    "errorCode":400,
    "message":"'id' does not validate",
    "specificCode":23016,
    "additionalMessages":["Value must be a whole number"]
}"#,
    );
    let missing = p.field_error(
        Condition::MissingParameter,
        [FieldViolation::parameter("id", "is required")],
    );
    assert_seed(
        &p,
        &missing,
        400,
        r#"{
  "errorCode":400,
  "message":"'id' is required",
  "specificCode":23017
}"#,
    );
    // And back: the violation is recovered from the message and the additional message.
    let back = p.parse(
        http::StatusCode::BAD_REQUEST,
        &http::HeaderMap::new(),
        &p.render(&invalid).body,
    );
    assert_eq!(back.violations(), invalid.violations());
    assert_eq!(back.violations()[0].kind(), &ViolationKind::Parameter);
}

#[test]
fn seed_004_non_standard_statuses() {
    // Scenario: 462 and 463 are seed 004's session-expired and key-revoked answers.
    let p = Profile::SPECIFIC_CODE;
    let rendered = p.render(&p.error(Condition::KeyRevoked));
    assert_eq!(rendered.status.as_u16(), 463);
    assert_eq!(
        text(&rendered.body),
        r#"{"errorCode":463,"message":"Key Revoked","specificCode":23911}"#
    );
    assert_eq!(p.error(Condition::SessionExpired).status().as_u16(), 462);
}
