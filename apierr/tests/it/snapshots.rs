//! Snapshots of every profile's catalog: each entry's body, and each condition's.

use std::fmt::Write;

use apierr::{Condition, FieldViolation, Profile};

use crate::text;

/// The profile's generated docs (every entry's example body) and the body every framework
/// condition renders, bound or defaulted.
fn contract(profile: Profile) -> String {
    let mut out = profile.docs();
    out.push_str("\n# Conditions\n\n");
    for &condition in Condition::ALL {
        let error = match condition {
            Condition::InvalidParameter => profile.field_error(
                condition,
                [
                    FieldViolation::parameter("id", "must be a whole number"),
                    FieldViolation::body("email", "is not an email address"),
                ],
            ),
            Condition::MissingParameter => profile.field_error(
                condition,
                [
                    FieldViolation::parameter("id", "is required"),
                    FieldViolation::header("X-Partner", "is required"),
                ],
            ),
            _ => profile.error(condition),
        };
        let rendered = profile.render(&error.with_request_id("req-42"));
        let _ = writeln!(
            out,
            "{condition} -> {} {}\n{}\n",
            rendered.status.as_u16(),
            rendered.content_type.to_str().unwrap(),
            text(&rendered.body),
        );
    }
    out
}

#[test]
fn problem_contract() {
    // Scenario: the default profile's bodies stay exactly as pinned.
    insta::assert_snapshot!(contract(Profile::PROBLEM));
}

#[test]
fn wrapper_contract() {
    // Scenario: seed 000's profile's bodies stay exactly as pinned.
    insta::assert_snapshot!(contract(Profile::WRAPPER));
}

#[test]
fn nested_contract() {
    // Scenario: seed 002's profile's bodies stay exactly as pinned.
    insta::assert_snapshot!(contract(Profile::NESTED));
}

#[test]
fn errors_array_contract() {
    // Scenario: seed 003's profile's bodies stay exactly as pinned.
    insta::assert_snapshot!(contract(Profile::ERRORS_ARRAY));
}

#[test]
fn specific_code_contract() {
    // Scenario: seed 004's profile's bodies stay exactly as pinned.
    insta::assert_snapshot!(contract(Profile::SPECIFIC_CODE));
}
