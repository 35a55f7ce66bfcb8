//! Errors rendered at the edge: the router's catalog code and the request's id wherever
//! the error was built, and foreign responses redrawn without changing their meaning.

use apierr::{ApiError, Code, Condition, Profile};
use apierr_axum::{ContractLayer, RequestContract, not_found};
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{Request, StatusCode};
use tower::ServiceExt;
use tower_layer::Layer;

use crate::{read, serve};

/// A handler that builds its not-found error on another thread and hands it back.
async fn from_spawned_task() -> Result<(), ApiError> {
    let error = tokio::spawn(async { ApiError::from(Condition::NotFound) })
        .await
        .unwrap();
    Err(error)
}

/// A handler that builds its not-found error in a blocking task.
async fn from_blocking_task() -> Result<(), ApiError> {
    let error = tokio::task::spawn_blocking(|| ApiError::from(Condition::NotFound))
        .await
        .unwrap();
    Err(error)
}

/// A handler whose body is streamed after the response has left the contract layer; its
/// last chunk is an error rendered through the request's contract.
async fn streaming(contract: RequestContract) -> Body {
    let chunks = async_stream(contract);
    Body::from_stream(chunks)
}

/// One chunk, made when the body is first polled (on the connection's task, outside
/// the handler and the layer).
fn async_stream(
    contract: RequestContract,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    struct Once(Option<RequestContract>);
    impl futures_core::Stream for Once {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(
                self.0
                    .take()
                    .map(|contract| Ok(contract.render(ApiError::from(Condition::NotFound)).body)),
            )
        }
    }
    Once(Some(contract))
}

fn routes() -> Router {
    let nested = Router::new().route(
        "/missing",
        get(|| async { ApiError::from(Condition::NotFound) }),
    );
    Router::new()
        .route("/spawned", get(from_spawned_task))
        .route("/blocking", get(from_blocking_task))
        .route("/streaming", get(streaming))
        .nest("/nested", nested)
        .fallback(not_found)
}

#[tokio::test]
async fn errors_built_anywhere_get_the_routers_code_and_the_requests_id() {
    // Scenario: a spawned task, a blocking task, a nested router and a streaming body
    // all answer with seed 003's 3001 under errors-array, and under nested (which has a
    // place for it) with the caller's request id in the body as in the header.
    for (profile, code) in [
        (Profile::ERRORS_ARRAY, Code::numeric(3001)),
        (Profile::NESTED, Code::text("not_found")),
    ] {
        let base = serve(ContractLayer::new(profile.clone()).layer(routes())).await;
        for path in ["/spawned", "/blocking", "/nested/missing", "/streaming"] {
            let id = format!("req{}", path.replace('/', "-"));
            let r = reqwest::Client::new()
                .get(format!("{base}{path}"))
                .header("x-request-id", &id)
                .send()
                .await
                .unwrap();
            let streamed = path == "/streaming";
            let (status, headers, body, error) = read(&profile, r).await;
            if !streamed {
                // A streamed body's status was sent before the error was made.
                assert_eq!(status, 404, "{path}: {body}");
            }
            assert_eq!(error.code(), &code, "{} {path}: {body}", profile.name());
            assert_eq!(headers["x-request-id"], id.as_str());
            if profile.name() == "nested" {
                assert_eq!(error.request_id(), Some(id.as_str()), "{path}: {body}");
            }
        }
    }
}

#[tokio::test]
async fn a_handler_called_directly_renders_in_any_profile() {
    // Scenario: a unit test calls the handler itself, with no server and no layer: the
    // error knows its condition, so each profile renders its own code for it.
    let error = from_spawned_task().await.unwrap_err();
    assert_eq!(error.condition(), Some(Condition::NotFound));
    let rendered = Profile::ERRORS_ARRAY.render(&error);
    assert_eq!(rendered.status, StatusCode::NOT_FOUND);
    assert_eq!(
        rendered.body,
        br#"{"errors":[{"errorCode":3001,"message":"entity not found"}]}"#
    );
    let rendered = Profile::SPECIFIC_CODE.render(&error.with_request_id("unit-1"));
    assert_eq!(rendered.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn nested_contract_layers_agree_on_one_request_id() {
    // Scenario: a router under the nested profile's layer, mounted in an app under the
    // problem profile's layer; a request without an id gets one id, the same in the
    // header and in the inner contract's body.
    let inner = ContractLayer::new(Profile::NESTED)
        .layer(Router::new().route("/x", get(|| async { ApiError::from(Condition::NotFound) })));
    let app = Router::new()
        .nest_service("/inner", inner)
        .fallback(not_found);
    let base = serve(ContractLayer::new(Profile::PROBLEM).layer(app)).await;
    let r = reqwest::get(format!("{base}/inner/x")).await.unwrap();
    let (status, headers, body, error) = read(&Profile::NESTED, r).await;
    assert_eq!(status, 404);
    assert_eq!(error.code(), &Code::text("not_found"), "{body}");
    let id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(headers.get_all("x-request-id").iter().count(), 1);
    assert_eq!(error.request_id(), Some(id), "{body}");
    // The inner contract answered; the outer one passed its body on untouched.
    assert_eq!(headers[CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn redrawn_responses_keep_their_status_and_retry_after() {
    // Scenario: an inner service answers 408, 502, 503 and 504 with a Retry-After and a
    // gzip Content-Encoding; each is redrawn in the contract with the same status, the
    // same Retry-After, and no Content-Encoding on the new plain body.
    for profile in Profile::ALL {
        let app = Router::new().route(
            "/upstream/{status}",
            get(
                |axum::extract::Path(status): axum::extract::Path<u16>| async move {
                    (
                        StatusCode::from_u16(status).unwrap(),
                        [(RETRY_AFTER, "7"), (CONTENT_ENCODING, "gzip")],
                        [0x1f_u8, 0x8b, 0x08, 0x00],
                    )
                },
            ),
        );
        let base = serve(ContractLayer::new(profile.clone()).layer(app)).await;
        for (status, condition) in [
            (408, Condition::RequestTimeout),
            (502, Condition::BadGateway),
            (503, Condition::ServiceUnavailable),
            (504, Condition::GatewayTimeout),
        ] {
            let r = reqwest::get(format!("{base}/upstream/{status}"))
                .await
                .unwrap();
            let (got, headers, body, error) = read(profile, r).await;
            assert_eq!(got, status, "{}: {body}", profile.name());
            assert_eq!(headers[RETRY_AFTER], "7");
            assert!(headers.get(CONTENT_ENCODING).is_none(), "{headers:?}");
            assert_eq!(
                error.code(),
                profile.catalog().condition(condition).code(),
                "{}: {body}",
                profile.name()
            );
        }
    }
}

#[tokio::test]
async fn a_status_the_catalog_has_no_condition_for_keeps_its_status() {
    // Scenario: a bare 422 and a bare 418 are redrawn with their own status, the status
    // as code in a numeric catalog and the reason phrase in a text one.
    let app = Router::new()
        .route("/422", get(|| async { StatusCode::UNPROCESSABLE_ENTITY }))
        .route("/418", get(|| async { StatusCode::IM_A_TEAPOT }));
    for (profile, code) in [
        (Profile::ERRORS_ARRAY, Code::numeric(422)),
        (Profile::PROBLEM, Code::text("unprocessable_content")),
    ] {
        let base = serve(ContractLayer::new(profile.clone()).layer(app.clone())).await;
        let (status, _, body, error) =
            read(&profile, reqwest::get(format!("{base}/422")).await.unwrap()).await;
        assert_eq!((status, error.code()), (422, &code), "{body}");
        let (status, _, _, _) =
            read(&profile, reqwest::get(format!("{base}/418")).await.unwrap()).await;
        assert_eq!(status, 418);
    }
}

#[tokio::test]
async fn outside_a_contract_layer_an_error_has_a_problem_body() {
    // Scenario: no layer at all; the error is still a full RFC 9457 body, never empty.
    let app = Router::new().route("/", get(|| async { ApiError::from(Condition::NotFound) }));
    let response = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let error = Profile::PROBLEM.parse(StatusCode::NOT_FOUND, &http::HeaderMap::new(), &body);
    assert_eq!(error.code(), &Code::text("not_found"));
}

#[tokio::test]
async fn a_request_without_a_contract_layer_is_logged_once() {
    // Scenario: a request contract taken on a router with no ContractLayer is `problem`'s,
    // and the first such request (only the first) logs a warning that says so. The
    // warning is once per process, so the requests run in a child process of this
    // test binary where no other test has made one.
    const CHILD: &str = "APIERR_TEST_WARN_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let subscriber = tracing_subscriber::fmt().with_ansi(false).finish();
        let _default = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        // A streaming handler's way: render through the request's contract.
        let app = Router::new().route(
            "/",
            get(|contract: RequestContract| async move {
                let rendered = contract.render(ApiError::from(Condition::NotFound));
                (rendered.status, rendered.body)
            }),
        );
        for _ in 0..3 {
            let request = Request::get("/").body(Body::empty()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 404);
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            assert!(body.starts_with(b"{\"type\""), "not a problem body");
        }
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "edge::a_request_without_a_contract_layer_is_logged_once",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child ran nothing: {text}");
    assert_eq!(text.matches("without a ContractLayer").count(), 1, "{text}");
}
