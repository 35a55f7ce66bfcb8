//! The token endpoint answers in RFC 6749's form in every profile, on both databases.

use base64::Engine as _;
use reqwest::Method;

use crate::support::{Server, every_profile};

/// Posts a token request with `body` (form-encoded) and, if given, Basic credentials.
async fn token_request(s: &Server, body: &str, basic: Option<&str>) -> reqwest::Response {
    let mut request = s
        .request(Method::POST, "/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(credentials) = basic {
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        request = request.header("authorization", format!("Basic {encoded}"));
    }
    request.send().await.unwrap()
}

/// The RFC 6749 §5.2 body of an error response: its status, `error` and the challenge.
async fn oauth_error(r: reqwest::Response) -> (u16, String, Option<String>) {
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(r.headers().contains_key("x-request-id"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    (
        status,
        body["error"].as_str().unwrap().to_owned(),
        challenge,
    )
}

#[tokio::test]
async fn token_errors_are_rfc_6749_in_every_profile() {
    // Scenario: wrong secret, unknown client, NUL in the client id, a revoked client, an
    // unsupported grant type, a missing grant type, two ways of authenticating at once and
    // a JSON body each answer RFC 6749's code, and a 401 always carries a Basic challenge.
    every_profile(|s| async move {
        let cases: [(&str, Option<&str>, u16, &str); 8] = [
            (
                "grant_type=client_credentials&client_id=acme&client_secret=wrong",
                None,
                401,
                "invalid_client",
            ),
            (
                "grant_type=client_credentials&client_id=nobody&client_secret=x",
                None,
                401,
                "invalid_client",
            ),
            (
                "grant_type=client_credentials&client_id=%00&client_secret=x",
                None,
                401,
                "invalid_client",
            ),
            (
                "grant_type=client_credentials&client_id=retired&client_secret=retired-secret",
                None,
                401,
                "invalid_client",
            ),
            (
                "grant_type=password&client_id=acme&client_secret=acme-secret",
                None,
                400,
                "unsupported_grant_type",
            ),
            (
                "client_id=acme&client_secret=acme-secret",
                None,
                400,
                "invalid_request",
            ),
            (
                "grant_type=client_credentials&client_id=acme&client_secret=acme-secret",
                Some("acme:acme-secret"),
                400,
                "invalid_request",
            ),
            ("grant_type=client_credentials", None, 401, "invalid_client"),
        ];
        for (body, basic, status, code) in cases {
            let (got, error, challenge) = oauth_error(token_request(&s, body, basic).await).await;
            assert_eq!(
                (got, error.as_str()),
                (status, code),
                "{} {body}",
                s.profile.name()
            );
            if status == 401 {
                assert!(challenge.unwrap().starts_with("Basic realm="), "{body}");
            }
        }
        let r = s
            .request(Method::POST, "/oauth/token")
            .header("content-type", "application/json")
            .body(r#"{"grant_type":"client_credentials"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(oauth_error(r).await.1, "invalid_request");
    })
    .await;
}

#[tokio::test]
async fn basic_client_authentication_issues_a_token() {
    // Scenario: RFC 6749 §2.3.1's HTTP Basic, with the parts form-encoded, gets a token
    // that is never cached; it works as a bearer token.
    every_profile(|s| async move {
        let r = token_request(
            &s,
            "grant_type=client_credentials",
            Some("acme:acme-secret"),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        let token = body["access_token"].as_str().unwrap();
        let r = s.get("/accounts").bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn logging_out_with_an_api_key_ends_nothing_and_succeeds() {
    // Scenario: DELETE /oauth/token with an API key has no session to end: 200.
    every_profile(|s| async move {
        let r = s
            .with_key(Method::DELETE, "/oauth/token", "acme-key")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    })
    .await;
}
