//! Every condition, provoked the way a partner would, in every profile on both backends.

use std::time::Duration;

use apierr::{Condition, ViolationKind};
use reqwest::Method;

use crate::support::{Backend, Server, every_profile, expect_condition};

const ACME: &str = "acme-key";

#[tokio::test]
async fn malformed_json_is_the_malformed_body_condition() {
    // Scenario: a partner sends truncated JSON.
    every_profile(|s| async move {
        let r = s
            .post_json("/accounts", ACME, r#"{"email": "a@b.co", "first_na"#)
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::MalformedBody).await;
    })
    .await;
}

#[tokio::test]
async fn invalid_fields_name_the_field() {
    // Scenario: a wrong type and a rule-breaking value each name the field at fault.
    every_profile(|s| async move {
        let r = s
            .post_json(
                "/accounts",
                ACME,
                r#"{"email": 5, "first_name": "A", "last_name": "B"}"#,
            )
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::InvalidParameter).await;
        assert_eq!(
            a.error.violations()[0].field(),
            "email",
            "{}",
            s.profile.name()
        );
        let r = s
            .post_json(
                "/accounts",
                ACME,
                r#"{"email": "nope", "first_name": "", "last_name": "B"}"#,
            )
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::InvalidParameter).await;
        let fields: Vec<&str> = a.error.violations().iter().map(|v| v.field()).collect();
        // All violations, or the first only, as the dialect says.
        match s.profile.dialect().violations() {
            apierr::ViolationSupport::FirstOnly => assert_eq!(fields.len(), 1, "{fields:?}"),
            _ => assert_eq!(fields, ["email", "first_name"], "{}", s.profile.name()),
        }
    })
    .await;
}

/// The fields and messages of an answer's violations.
fn violations_of(a: &crate::support::Answer) -> Vec<(&str, &str)> {
    a.error
        .violations()
        .iter()
        .map(|v| (v.field(), v.message()))
        .collect()
}

#[tokio::test]
async fn every_missing_and_wrong_typed_field_is_listed() {
    // Scenario: seed 002's own example (no first_name, no last_name) lists both under
    // nested; two wrong-typed fields are both listed, in plain words, under every dialect
    // that reports all violations (the first under one that reports the first).
    every_profile(|s| async move {
        let r = s
            .post_json("/accounts", ACME, r#"{"email": "x@y.co"}"#)
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::MissingParameter).await;
        let listed = violations_of(&a);
        match s.profile.dialect().violations() {
            apierr::ViolationSupport::FirstOnly => assert_eq!(listed.len(), 1, "{listed:?}"),
            _ => assert_eq!(
                listed,
                [("first_name", "is required"), ("last_name", "is required")],
                "{}",
                s.profile.name()
            ),
        }
        let r = s
            .post_json(
                "/accounts",
                ACME,
                r#"{"email": 5, "first_name": ["A"], "last_name": "B"}"#,
            )
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::InvalidParameter).await;
        let body = String::from_utf8_lossy(&a.body).into_owned();
        assert!(!body.contains("invalid type"), "{body}");
        let listed = violations_of(&a);
        match s.profile.dialect().violations() {
            apierr::ViolationSupport::FirstOnly => assert_eq!(listed.len(), 1, "{listed:?}"),
            _ => assert_eq!(
                listed,
                [
                    ("email", "must be a string"),
                    ("first_name", "must be a string")
                ],
                "{}",
                s.profile.name()
            ),
        }
    })
    .await;
}

#[tokio::test]
async fn a_whole_number_written_with_a_zero_fraction_is_a_whole_number() {
    // Scenario: JSON Schema counts 2003.0 as an integer; so does the server. 2003.5 is
    // not, and is answered in plain words.
    every_profile(|s| async move {
        let r = s
            .post_json(
                "/accounts",
                ACME,
                r#"{"email": "p@q.co", "first_name": "P", "last_name": "Q"}"#,
            )
            .send()
            .await
            .unwrap();
        let account: serde_json::Value = r.json().await.unwrap();
        let id = account["id"]
            .as_str()
            .or_else(|| account["entity"]["id"].as_str())
            .unwrap()
            .to_owned();
        let path = format!("/accounts/{id}/children");
        let r = s
            .post_json(
                &path,
                ACME,
                r#"{"first_name": "Kid", "birth_year": 2003.0}"#,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let r = s
            .post_json(
                &path,
                ACME,
                r#"{"first_name": "Kid", "birth_year": 2003.5}"#,
            )
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::InvalidParameter).await;
        assert_eq!(a.error.violations()[0].message(), "must be a whole number");
    })
    .await;
}

#[tokio::test]
async fn a_missing_field_is_the_missing_parameter_condition() {
    // Scenario: the required email is left out.
    every_profile(|s| async move {
        let r = s
            .post_json(
                "/accounts",
                ACME,
                r#"{"first_name": "A", "last_name": "B"}"#,
            )
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::MissingParameter).await;
        assert_eq!(a.error.violations()[0].field(), "email");
    })
    .await;
}

#[tokio::test]
async fn a_bad_query_parameter_is_named() {
    // Scenario: a page number that is not a number, and one out of range.
    every_profile(|s| async move {
        let r = s
            .with_key(Method::GET, "/accounts?page=two", ACME)
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::InvalidParameter).await;
        assert_eq!(a.error.violations()[0].field(), "page");
        let r = s
            .with_key(Method::GET, "/accounts?per_page=1000", ACME)
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::InvalidParameter).await;
        assert_eq!(a.error.violations()[0].field(), "per_page");
        // Seed 003 calls every request field a parameter; the others say where it was.
        let kind = if s.profile.name() == "errors-array" {
            ViolationKind::Parameter
        } else {
            ViolationKind::Query
        };
        if s.profile.dialect().name() != "specific-code" {
            assert_eq!(
                a.error.violations()[0].kind(),
                &kind,
                "{}",
                s.profile.name()
            );
        }
    })
    .await;
}

#[tokio::test]
async fn no_content_type_is_unsupported_media_type() {
    // Scenario: a JSON body sent without Content-Type, and one sent as text.
    every_profile(|s| async move {
        let body = r#"{"email": "a@b.co", "first_name": "A", "last_name": "B"}"#;
        let r = s
            .with_key(Method::POST, "/accounts", ACME)
            .body(body)
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::UnsupportedMediaType).await;
        let r = s
            .with_key(Method::POST, "/accounts", ACME)
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::UnsupportedMediaType).await;
    })
    .await;
}

#[tokio::test]
async fn an_accept_without_json_is_not_acceptable() {
    // Scenario: a browser-like Accept that excludes JSON.
    every_profile(|s| async move {
        let r = s
            .with_key(Method::GET, "/accounts", ACME)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::NotAcceptable).await;
    })
    .await;
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    // Scenario: DELETE on a read-only resource names the allowed methods.
    every_profile(|s| async move {
        let r = s
            .request(Method::DELETE, "/openapi.json")
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::MethodNotAllowed).await;
        let allow = a
            .headers
            .get("allow")
            .expect("Allow header")
            .to_str()
            .unwrap();
        assert!(allow.contains("GET"), "{allow}");
    })
    .await;
}

#[tokio::test]
async fn unknown_routes_and_records_are_not_found() {
    // Scenario: a path no route serves, and an account that does not exist.
    every_profile(|s| async move {
        let r = s.get("/no/such/path").send().await.unwrap();
        expect_condition(&s, r, Condition::NotFound).await;
        let r = s
            .with_key(Method::GET, "/accounts/does-not-exist", ACME)
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::NotFound).await;
    })
    .await;
}

#[tokio::test]
async fn a_duplicate_email_already_exists() {
    // Scenario: registering the same email twice (in any letter case).
    every_profile(|s| async move {
        let body = r#"{"email": "dup@example.com", "first_name": "A", "last_name": "B"}"#;
        let r = s.post_json("/accounts", ACME, body).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let r = s
            .post_json("/accounts", ACME, &body.replace("dup@", "DUP@"))
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::AlreadyExists).await;
    })
    .await;
}

#[tokio::test]
async fn an_oversized_body_is_payload_too_large() {
    // Scenario: a body past the 64 KiB limit.
    every_profile(|s| async move {
        let body = format!(
            r#"{{"email": "a@b.co", "first_name": "{}", "last_name": "B"}}"#,
            "x".repeat(100_000)
        );
        let r = s.post_json("/accounts", ACME, &body).send().await.unwrap();
        expect_condition(&s, r, Condition::PayloadTooLarge).await;
    })
    .await;
}

#[tokio::test]
async fn credentials_missing_wrong_expired_revoked_or_insufficient() {
    // Scenario: each way authentication fails has its condition and RFC 6750 challenge.
    every_profile(|s| async move {
        let r = s.get("/accounts").send().await.unwrap();
        let a = expect_condition(&s, r, Condition::Unauthenticated).await;
        assert_eq!(
            a.headers["www-authenticate"],
            "Bearer realm=\"partner-api\""
        );

        let r = s
            .get("/accounts")
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::InvalidToken).await;
        if a.status == 401 {
            let challenge = a.headers["www-authenticate"].to_str().unwrap();
            assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        }

        let token = s.token("acme").await;
        let r = s.get("/accounts").bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        s.advance(Duration::from_secs(6 * 3600 + 1));
        let r = s.get("/accounts").bearer_auth(&token).send().await.unwrap();
        expect_condition(&s, r, Condition::ExpiredToken).await;

        let r = s
            .post_json(
                "/accounts",
                "viewer-key",
                r#"{"email": "v@b.co", "first_name": "A", "last_name": "B"}"#,
            )
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::Forbidden).await;

        let r = s
            .get("/accounts")
            .header("x-api-key", "retired-key")
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::KeyRevoked).await;

        let token = s.token("acme").await;
        let r = s
            .request(Method::DELETE, "/oauth/token")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = s.get("/accounts").bearer_auth(&token).send().await.unwrap();
        expect_condition(&s, r, Condition::SessionExpired).await;
    })
    .await;
}

#[tokio::test]
async fn a_stale_date_is_refused_with_the_server_time() {
    // Scenario: seed 004's request dated 2000-06-01, and an HTTP-date an hour off.
    every_profile(|s| async move {
        let r = s
            .with_key(Method::GET, "/accounts", ACME)
            .header("date", "2000-06-01 00:00:00")
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::StaleRequest).await;
        let body = String::from_utf8_lossy(&a.body);
        let says_time = a
            .error
            .additional_messages()
            .iter()
            .any(|m| m.starts_with("server time is"))
            || body.contains("server time is");
        // Dialects without a place for additional messages still carry the status and code.
        if !matches!(s.profile.name(), "wrapper") || !a.error.additional_messages().is_empty() {
            assert!(says_time, "{body}");
        }
        let hour_ago =
            httpdate::fmt_http_date(std::time::SystemTime::now() - Duration::from_secs(3600));
        let r = s
            .with_key(Method::GET, "/accounts", ACME)
            .header("date", hour_ago)
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::StaleRequest).await;
        let now = httpdate::fmt_http_date(std::time::SystemTime::now());
        let r = s
            .with_key(Method::GET, "/accounts", ACME)
            .header("date", now)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn a_required_date_that_is_missing_is_stale() {
    // Scenario: with --require-date, a request without Date is the stale condition.
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let s = Server::start_with(apierr::Profile::SPECIFIC_CODE, backend, |c| {
            c.require_date = true
        })
        .await;
        let r = s
            .with_key(Method::GET, "/accounts", ACME)
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::StaleRequest).await;
        assert_eq!(
            String::from_utf8_lossy(&a.body)
                .split(",\"additionalMessages\"")
                .next()
                .unwrap(),
            r#"{"errorCode":401,"message":"Request is stale","specificCode":23005"#
        );
        // RFC 9110: a 401 names a challenge, the stale answer included.
        assert!(a.headers.contains_key("www-authenticate"));
        // The public document needs no date.
        let r = s.get("/openapi.json").send().await.unwrap();
        assert_eq!(r.status(), 200);
        // The token endpoint checks it too, and answers in RFC 6749's form.
        let r = s
            .request(Method::POST, "/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=acme&client_secret=acme-secret")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "stale_request", "{body}");
        let r = s
            .with_key(Method::DELETE, "/oauth/token", ACME)
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::StaleRequest).await;
    }
}

#[tokio::test]
async fn an_unknown_method_is_not_implemented() {
    // Scenario: RFC 9110 §9.1: a method the server does not know is 501 (seed 004 lists
    // it), a known one a route does not take 405 with Allow.
    every_profile(|s| async move {
        let foo = Method::from_bytes(b"FOO").unwrap();
        let r = s.with_key(foo, "/accounts", ACME).send().await.unwrap();
        expect_condition(&s, r, Condition::NotImplemented).await;
        let r = s
            .with_key(Method::PUT, "/accounts", ACME)
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::MethodNotAllowed).await;
        assert!(a.headers.contains_key("allow"));
    })
    .await;
}

#[tokio::test]
async fn request_ids_are_echoed() {
    // Scenario: the caller's X-Request-Id comes back in the header and, where the dialect
    // has a place, in the body; a bad one is replaced.
    every_profile(|s| async move {
        let r = s
            .get("/nowhere")
            .header("x-request-id", "partner-req-17")
            .send()
            .await
            .unwrap();
        let a = expect_condition(&s, r, Condition::NotFound).await;
        assert_eq!(a.headers["x-request-id"], "partner-req-17");
        if matches!(s.profile.name(), "problem" | "wrapper" | "nested") {
            assert_eq!(
                a.error.request_id(),
                Some("partner-req-17"),
                "{}",
                s.profile.name()
            );
        }
        let r = s
            .get("/nowhere")
            .header("x-request-id", "has space")
            .send()
            .await
            .unwrap();
        assert_ne!(r.headers()["x-request-id"], "has space");
    })
    .await;
}

#[tokio::test]
async fn nul_and_control_characters_are_a_4xx_on_every_backend() {
    // Scenario: the inputs that made PostgreSQL answer 500 (NUL in an id, in an email, in
    // a name, in a client id) are each a catalog 4xx, on SQLite and PostgreSQL alike.
    every_profile(|s| async move {
        let r = s
            .with_key(Method::GET, "/accounts/%00", ACME)
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::NotFound).await;
        let r = s
            .with_key(Method::DELETE, "/accounts/a%00b", ACME)
            .send()
            .await
            .unwrap();
        expect_condition(&s, r, Condition::NotFound).await;
        for body in [
            r#"{"email": "a\u0000@b.co", "first_name": "A", "last_name": "B"}"#,
            r#"{"email": "a@b.co", "first_name": "A\u0000", "last_name": "B\u0085"}"#,
        ] {
            let r = s.post_json("/accounts", ACME, body).send().await.unwrap();
            let a = expect_condition(&s, r, Condition::InvalidParameter).await;
            assert!(!a.error.violations().is_empty(), "{body}");
        }
        let r = s
            .request(Method::POST, "/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=%00&client_secret=%00")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = s
            .get("/accounts")
            .header(
                "authorization",
                http::HeaderValue::from_bytes(b"Bearer tok\xffen").unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
    })
    .await;
}

#[tokio::test]
async fn deleting_an_account_while_a_child_is_registered_never_fails() {
    // Scenario: a delete and a child registration for the same account race, many times,
    // on both databases: the delete is 200 and the registration 201 or 404 (the account
    // vanished), never a 500 from the foreign key.
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let s = Server::start(apierr::Profile::PROBLEM, backend).await;
        for round in 0..25 {
            let r = s
                .post_json(
                    "/accounts",
                    ACME,
                    &format!(
                        r#"{{"email": "race{round}@b.co", "first_name": "R", "last_name": "C"}}"#
                    ),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            let id = r.json::<serde_json::Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let children = format!("/accounts/{id}/children");
            let register = s
                .post_json(
                    &children,
                    ACME,
                    r#"{"first_name": "Kid", "birth_year": 2010}"#,
                )
                .send();
            let delete = s
                .with_key(Method::DELETE, &format!("/accounts/{id}"), ACME)
                .send();
            let (registered, deleted) = tokio::join!(register, delete);
            let (registered, deleted) = (registered.unwrap().status(), deleted.unwrap().status());
            assert_eq!(deleted, 200, "round {round}");
            assert!(
                registered == 201 || registered == 404,
                "round {round}: registration answered {registered}"
            );
        }
    }
}
