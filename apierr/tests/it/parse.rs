//! Parsing: dialect detection, fallbacks, headers, catalog knowledge.

use std::time::Duration;

use apierr::{Category, Code, Profile, dialect, parse_any};
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

#[test]
fn each_dialect_is_detected_from_its_shape() {
    // Scenario: bodies of every dialect, sent as plain JSON, are read without being told which.
    let none = HeaderMap::new();
    let cases: &[(&str, u16, Code, &str)] = &[
        (
            r#"{"error":"invalid_token","error_description":"bad token"}"#,
            401,
            Code::text("invalid_token"),
            "bad token",
        ),
        (
            r#"{"error":{"code":"expired_token","message":"Public token expired"}}"#,
            401,
            Code::text("expired_token"),
            "Public token expired",
        ),
        (
            r#"{"errors":[{"errorCode":3001,"message":"entity not found"}]}"#,
            404,
            Code::numeric(3001),
            "entity not found",
        ),
        (
            r#"{"errorCode":401,"message":"Request is stale","specificCode":23005}"#,
            401,
            Code::numeric(23005),
            "Request is stale",
        ),
        (
            r#"{"errorCode":3001,"message":"entity not found"}"#,
            404,
            Code::numeric(3001),
            "entity not found",
        ),
        (
            r#"{"message":"Forbidden","status":"fail","code":"forbidden","entity":null,"validationErrors":[],"resultCount":0,"totalCount":0}"#,
            403,
            Code::text("forbidden"),
            "Forbidden",
        ),
        (
            r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"no such order","code":"not_found"}"#,
            404,
            Code::text("not_found"),
            "no such order",
        ),
    ];
    for (body, st, code, message) in cases {
        let e = parse_any(status(*st), &none, body.as_bytes());
        assert_eq!(e.status().as_u16(), *st, "{body}");
        assert_eq!(e.code(), code, "{body}");
        assert_eq!(e.message(), *message, "{body}");
    }
}

#[test]
fn problem_content_type_wins_over_shape() {
    // Scenario: an application/problem+json body is read as problem details even if sparse.
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json; charset=utf-8"),
    );
    let e = parse_any(
        status(409),
        &headers,
        br#"{"title":"Conflict","code":"already_exists"}"#,
    );
    assert_eq!(e.code(), &Code::text("already_exists"));
    assert_eq!(e.message(), "Conflict");
}

#[test]
fn unknown_bodies_fall_back_to_the_status() {
    // Scenario: empty, non-JSON, non-object and unknown-shape bodies give the status as code.
    let none = HeaderMap::new();
    for body in [
        &b""[..],
        b"<html>502 Bad Gateway</html>",
        b"[]",
        b"42",
        b"{\"foo\":1}",
        b"{\"detail\":5}",
        b"\xff\xfe",
    ] {
        let e = parse_any(status(502), &none, body);
        assert_eq!(e.code(), &Code::numeric(502), "{body:?}");
        assert_eq!(e.category(), Category::Server);
    }
    // A lone message is kept, since it is all the server said.
    let e = parse_any(status(400), &none, br#"{"message":"bad date"}"#);
    assert_eq!((e.code(), e.message()), (&Code::numeric(400), "bad date"));
}

#[test]
fn headers_fill_retry_after_and_request_id() {
    // Scenario: Retry-After seconds and X-Request-Id come from headers when the body lacks them.
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("30"));
    headers.insert("x-request-id", HeaderValue::from_static("req-7"));
    let e = parse_any(status(429), &headers, b"");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(e.request_id(), Some("req-7"));
    assert_eq!(e.category(), Category::RateLimited);
}

#[test]
fn retry_after_renders_rounded_up() {
    // Scenario: a 1.2 s wait is sent as 2 so that a client never returns early.
    let e = Profile::PROBLEM
        .error(apierr::Condition::RateLimited)
        .with_retry_after(Duration::from_millis(1200));
    let r = Profile::PROBLEM.render(&e);
    assert_eq!(r.headers()[RETRY_AFTER], "2");
}

#[test]
fn sub_codes_are_understood_through_their_parent() {
    // Scenario: a client knowing seed 003's catalog reads an unlisted sub-code 200699 as 2006.
    let body = br#"{"errors":[{"errorCode":200699,"message":"entity saving error: new rule"}]}"#;
    let e = Profile::ERRORS_ARRAY.parse(status(400), &HeaderMap::new(), body);
    assert_eq!(e.code(), &Code::numeric(200699));
    assert_eq!(e.title(), Some("entity saving error"));
    assert_eq!(e.category(), Category::Content);
}

#[test]
fn catalog_category_overrides_the_status() {
    // Scenario: seed 004's stale request is a 401 but fixed by the clock, not credentials.
    let body = br#"{"errorCode":401,"message":"Request is stale","specificCode":23005}"#;
    let e = Profile::SPECIFIC_CODE.parse(status(401), &HeaderMap::new(), body);
    assert_eq!(e.category(), Category::Content);
    let e = parse_any(status(401), &HeaderMap::new(), body);
    assert_eq!(e.category(), Category::Auth);
}

#[test]
fn a_dialect_refuses_another_dialects_body() {
    // Scenario: asking one dialect to read another's body yields None, not a wrong error.
    let nested = dialect("nested").unwrap();
    let body = br#"{"errors":[{"errorCode":3001,"message":"entity not found"}]}"#;
    assert!(nested.parse(status(404), &HeaderMap::new(), body).is_none());
    let wrapper = dialect("wrapper").unwrap();
    let oauth = br#"{"error":"invalid_token","error_description":"x"}"#;
    assert!(
        wrapper
            .parse(status(401), &HeaderMap::new(), oauth)
            .is_some()
    );
}

#[test]
fn unknown_null_and_repeated_members_are_tolerated() {
    // Scenario: extra members of any type are skipped, null reads as absent, and a
    // repeated member keeps its last value, as a lenient reader of others' bodies should.
    let none = HeaderMap::new();
    let body = br#"{"trace":{"deep":[1,{"x":null}]},"title":null,
        "errors":[{"errorCode":3001,"message":"first","extra":[true]}],
        "errors":[{"errorCode":3002,"message":"entity not found"}],"more":"x"}"#;
    let e = parse_any(StatusCode::NOT_FOUND, &none, body);
    assert_eq!(e.code(), &Code::numeric(3002));
    assert_eq!(e.message(), "entity not found");

    // A member of the wrong type is not a body of any known shape: the status speaks.
    let e = parse_any(
        StatusCode::NOT_FOUND,
        &none,
        br#"{"errors":"oops","detail":5}"#,
    );
    assert_eq!(e.code(), &Code::numeric(404));
    // Nor is a JSON value that is not an object, or an object followed by more.
    let e = parse_any(StatusCode::CONFLICT, &none, br#"[{"errorCode":1}]"#);
    assert_eq!(e.code(), &Code::numeric(409));
    let e = parse_any(StatusCode::CONFLICT, &none, br#"{"errorCode":1} {}"#);
    assert_eq!(e.code(), &Code::numeric(409));
}
