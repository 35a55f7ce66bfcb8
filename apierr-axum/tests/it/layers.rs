//! The contract, auth and staleness layers, the extractors and the success envelopes.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use apierr::{ApiError, Code, Condition, Profile};
use apierr_axum::{
    AuthFailure, Authenticated, Authenticator, ContractLayer, Created, Credential, Json, Path,
    Query, RequireAuthLayer, StalenessLayer, not_found,
};
use axum::Router;
use axum::routing::{get, post};
use http::request::Parts;
use tower::ServiceExt;

use crate::{read, serve};

#[derive(serde::Deserialize)]
struct Params {
    limit: u8,
}

async fn panics() -> &'static str {
    panic!("secret database password in panic")
}

fn app(profile: Profile) -> Router {
    Router::new()
        .route("/panic", get(panics))
        .route(
            "/items/{id}",
            get(|Path(id): Path<u32>| async move { id.to_string() }),
        )
        .route(
            "/items",
            get(|Query(p): Query<Params>| async move { p.limit.to_string() }),
        )
        .route(
            "/echo",
            post(|Json(v): Json<serde_json::Value>| async move { Created(v) }),
        )
        .route("/empty", get(|| async { apierr_axum::Empty }))
        .route(
            "/conflict",
            get(|| async { (http::StatusCode::CONFLICT, "plain text from elsewhere") }),
        )
        .route(
            "/fails",
            get(|| async {
                Err::<(), ApiError>(
                    ApiError::from(Condition::Internal)
                        .with_source(std::io::Error::other("disk full on db-3")),
                )
            }),
        )
        .fallback(not_found)
        .layer(ContractLayer::new(profile))
}

#[tokio::test]
async fn a_panic_is_a_500_without_internal_detail() {
    // Scenario: a handler panics; the caller gets the catalog's internal error, no detail.
    for profile in Profile::ALL {
        let base = serve(app(profile.clone())).await;
        let r = reqwest::get(format!("{base}/panic")).await.unwrap();
        let (status, headers, body, error) = read(profile, r).await;
        let entry = profile.catalog().condition(Condition::Internal);
        assert_eq!(status, entry.status().as_u16());
        assert_eq!(error.code(), entry.code());
        assert!(!body.contains("secret"), "{body}");
        assert!(headers.contains_key("x-request-id"));
        // The server keeps serving.
        let r = reqwest::get(format!("{base}/items/7")).await.unwrap();
        assert_eq!(r.text().await.unwrap(), "7");
    }
}

#[tokio::test]
async fn an_internal_source_is_never_rendered() {
    // Scenario: a handler's 5xx with a cause shows the catalog message only.
    let base = serve(app(Profile::PROBLEM)).await;
    let (status, _, body, _) = read(
        &Profile::PROBLEM,
        reqwest::get(format!("{base}/fails")).await.unwrap(),
    )
    .await;
    assert_eq!(status, 500);
    assert!(!body.contains("disk"), "{body}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_handler_gets_the_timeout_condition() {
    // Scenario: a handler outlives the layer's timeout; time is paused, so no real wait.
    for profile in Profile::ALL {
        let router = Router::new()
            .route(
                "/slow",
                get(|| async { tokio::time::sleep(Duration::from_secs(3600)).await }),
            )
            .layer(ContractLayer::new(profile.clone()).timeout(Duration::from_secs(5)));
        let request = http::Request::get("/slow")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let entry = profile.catalog().condition(Condition::Timeout);
        assert_eq!(response.status(), entry.status());
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert_eq!(
            profile.parse(entry.status(), &headers, &body).code(),
            entry.code()
        );
    }
}

#[tokio::test]
async fn path_and_query_rejections_name_the_parameter() {
    // Scenario: /items/abc and ?limit=999 are invalid parameters naming id and limit.
    let base = serve(app(Profile::ERRORS_ARRAY)).await;
    let (status, _, body, error) = read(
        &Profile::ERRORS_ARRAY,
        reqwest::get(format!("{base}/items/abc")).await.unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error.code(), &Code::numeric(5000));
    assert_eq!(error.violations()[0].field(), "id", "{body}");
    let (_, _, body, error) = read(
        &Profile::ERRORS_ARRAY,
        reqwest::get(format!("{base}/items?limit=999"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(error.violations()[0].field(), "limit", "{body}");
    let (_, _, _, error) = read(
        &Profile::ERRORS_ARRAY,
        reqwest::get(format!("{base}/items")).await.unwrap(),
    )
    .await;
    assert_eq!(error.violations()[0].field(), "limit");
}

#[tokio::test]
async fn foreign_error_responses_are_rendered_in_the_contract() {
    // Scenario: a handler answering a bare 409 text gets the contract's already-exists body.
    let base = serve(app(Profile::NESTED)).await;
    let (status, headers, body, error) = read(
        &Profile::NESTED,
        reqwest::get(format!("{base}/conflict")).await.unwrap(),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(error.code(), &Code::text("already_exists"), "{body}");
}

#[tokio::test]
async fn successes_are_wrapped_only_where_the_dialect_wraps() {
    // Scenario: Created is seed 000's envelope under wrapper, the bare value elsewhere.
    for (profile, expected) in [
        (
            Profile::WRAPPER,
            r#"{"message":"Ok","status":"success","entity":{"a":1},"validationErrors":[],"resultCount":0,"totalCount":0}"#,
        ),
        (Profile::PROBLEM, r#"{"a":1}"#),
    ] {
        let base = serve(app(profile.clone())).await;
        let r = reqwest::Client::new()
            .post(format!("{base}/echo"))
            .header("content-type", "application/json")
            .body(r#"{"a":1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.text().await.unwrap(), expected);
        // An empty success is an empty body, or the envelope with its content type.
        let r = reqwest::get(format!("{base}/empty")).await.unwrap();
        let wraps = profile.dialect().wraps_success();
        assert_eq!(
            r.headers().get("content-type").is_some(),
            wraps,
            "{}",
            profile.name()
        );
        let body = r.text().await.unwrap();
        assert_eq!(body.is_empty(), !wraps, "{body}");
    }
}

#[tokio::test]
async fn outside_a_contract_layer_errors_are_problem_details() {
    // Scenario: an ApiError returned by a router without the layer still has a body.
    let router = Router::new().route(
        "/",
        get(|| async { apierr::Profile::NESTED.error(Condition::NotFound) }),
    );
    let base = serve(router).await;
    let r = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

/// Tokens: "good", "old" (expired), "ro" (read-only), "gone" (revoked key), "ended" (session).
struct Toy;

impl Authenticator for Toy {
    type Principal = String;

    async fn authenticate(
        &self,
        credential: Credential,
        parts: &Parts,
    ) -> Result<String, AuthFailure> {
        let token = match credential {
            Credential::Bearer(t) | Credential::ApiKey(t) => t,
            _ => return Err(AuthFailure::InvalidToken),
        };
        match token.as_str() {
            "good" => Ok("alice".to_owned()),
            "ro" if parts.method == http::Method::GET => Ok("reader".to_owned()),
            "ro" => Err(AuthFailure::Forbidden),
            "old" => Err(AuthFailure::ExpiredToken),
            "gone" => Err(AuthFailure::KeyRevoked),
            "ended" => Err(AuthFailure::SessionExpired),
            _ => Err(AuthFailure::InvalidToken),
        }
    }
}

#[tokio::test]
async fn auth_answers_carry_rfc_6750_challenges() {
    // Scenario: each authentication outcome maps to its condition and challenge.
    let profile = Profile::PROBLEM;
    let router = Router::new()
        .route(
            "/me",
            get(|Authenticated(who): Authenticated<String>| async move { who })
                .post(|| async { "written" }),
        )
        .route_layer(RequireAuthLayer::new(Toy))
        .layer(ContractLayer::new(profile.clone()));
    let base = serve(router).await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{base}/me"))
        .bearer_auth("good")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "alice");
    let r = client
        .get(format!("{base}/me"))
        .header("x-api-key", "good")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let (status, headers, _, error) = read(
        &profile,
        client.get(format!("{base}/me")).send().await.unwrap(),
    )
    .await;
    assert_eq!(
        (status, error.code()),
        (401, &Code::text("unauthenticated"))
    );
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"api\"");

    let (status, headers, _, error) = read(
        &profile,
        client
            .get(format!("{base}/me"))
            .bearer_auth("old")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error.code()), (401, &Code::text("expired_token")));
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    let (status, headers, _, error) = read(
        &profile,
        client
            .post(format!("{base}/me"))
            .bearer_auth("ro")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error.code()), (403, &Code::text("forbidden")));
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"insufficient_scope\"")
    );

    let (status, _, _, error) = read(
        &profile,
        client
            .get(format!("{base}/me"))
            .bearer_auth("gone")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error.code()), (403, &Code::text("key_revoked")));
    let (_, _, _, error) = read(
        &profile,
        client
            .get(format!("{base}/me"))
            .bearer_auth("ended")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(error.code(), &Code::text("session_expired"));
    let (_, _, _, error) = read(
        &profile,
        client
            .get(format!("{base}/me"))
            .header("authorization", "Basic abc")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(error.code(), &Code::text("unauthenticated"));

    // Seed 004 answers revoked keys and ended sessions with 463 and 462.
    let router = Router::new()
        .route("/me", get(|| async { "ok" }))
        .route_layer(RequireAuthLayer::new(Toy))
        .layer(ContractLayer::new(Profile::SPECIFIC_CODE));
    let base = serve(router).await;
    let r = client
        .get(format!("{base}/me"))
        .bearer_auth("gone")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 463);
    let r = client
        .get(format!("{base}/me"))
        .bearer_auth("ended")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 462);
}

#[tokio::test]
async fn staleness_uses_the_injected_clock() {
    // Scenario: a server whose clock reads 2000-06-01 00:00:00 accepts that date, and
    // refuses seed 004's request once its clock has moved 10 minutes on.
    let now = Arc::new(std::sync::Mutex::new(
        UNIX_EPOCH + Duration::from_secs(959_817_600),
    ));
    let clock_now = now.clone();
    let router = Router::new()
        .route("/", get(|| async { "fresh" }))
        .layer(
            StalenessLayer::new()
                .header(http::HeaderName::from_static("ivvydate"))
                .clock(Arc::new(move || *clock_now.lock().unwrap())),
        )
        .layer(ContractLayer::new(Profile::SPECIFIC_CODE));
    let base = serve(router).await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{base}/"))
        .header("ivvydate", "2000-06-01 00:00:00")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "fresh");
    *now.lock().unwrap() += Duration::from_secs(600);
    let (status, _, body, error) = read(
        &Profile::SPECIFIC_CODE,
        client
            .get(format!("{base}/"))
            .header("ivvydate", "2000-06-01 00:00:00")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(error.code(), &Code::numeric(23005));
    assert_eq!(
        body,
        r#"{"errorCode":401,"message":"Request is stale","specificCode":23005,"additionalMessages":["server time is Thu, 01 Jun 2000 00:10:00 GMT","ivvydate must be within 300 seconds of it"]}"#
    );
    let r = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 401, "a required date that is missing is stale");
}

#[tokio::test]
async fn failed_authentication_is_limited_per_address_before_the_check() {
    // Scenario: with 5 failures a minute allowed, an address that sends wrong tokens gets
    // 401s, then 429 with Retry-After in the profile, even for the right token (checked
    // no more); missing credentials are not counted; on the injected clock, a minute
    // later the right token passes again.
    let now = Arc::new(std::sync::Mutex::new(
        UNIX_EPOCH + Duration::from_secs(1_000_000),
    ));
    let clock_now = now.clone();
    let clock: apierr_axum::Clock = Arc::new(move || *clock_now.lock().unwrap());
    let store = Arc::new(apierr_store::MemoryRateLimiter::new(100));
    let quota = apierr_store::Quota::new(5, Duration::from_secs(60)).unwrap();
    let limit = apierr_axum::FailureLimit::new(store, quota).clock(clock);
    let router = Router::new()
        .route("/me", get(|| async { "me" }))
        .layer(RequireAuthLayer::new(Toy).failure_limit(limit));
    let base = serve(tower::Layer::layer(
        &ContractLayer::new(Profile::PROBLEM),
        router,
    ))
    .await;
    let client = reqwest::Client::new();
    let send = |token: Option<&'static str>| {
        let mut request = client.get(format!("{base}/me"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    for _ in 0..10 {
        assert_eq!(
            send(None).await.unwrap().status(),
            401,
            "missing is not counted"
        );
    }
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(send(Some("wrong")).await.unwrap().status().as_u16());
    }
    let first = statuses.iter().position(|s| *s == 429);
    assert!(first.is_some_and(|at| at <= 6), "{statuses:?}");
    assert!(
        statuses[first.unwrap()..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );
    let r = send(Some("good")).await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    *now.lock().unwrap() += Duration::from_secs(61);
    assert_eq!(send(Some("good")).await.unwrap().status(), 200);
}
