//! Requests that end in an error, through the full apierr-axum stack (contract layer,
//! staleness layer, extractor, catalog rendering in the profile), against bare axum
//! answering the same status and body: pre-rendered bytes (the strictest baseline), and
//! a body serialised per request with serde (what a hand-written service does). Run with
//! `cargo bench -p apierr-axum --bench stack`, or count instructions with
//! `benches/instructions.py apierr-axum stack`.

#![allow(missing_docs)]

#[path = "../../benches/cases.rs"]
mod cases;

use apierr::{ApiError, Condition, Profile};
use apierr_axum::{
    AuthFailure, Authenticator, Contract, ContractLayer, Credential, Json, RequireAuthLayer,
    Staleness, StalenessLayer, not_found,
};
use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use cases::Case;
use http::header::CONTENT_TYPE;
use http::{Request, StatusCode};
use tower::{Layer, ServiceExt};

/// The stack as the crate recommends it: the contract layer around the whole router.
fn apierr_app(profile: Profile) -> Contract<Staleness<Router>> {
    let router = Router::new()
        .route(
            "/accounts/{id}",
            get(|| async { ApiError::from(Condition::NotFound) }),
        )
        .route(
            "/accounts",
            post(|Json(v): Json<serde_json::Value>| async move { v.to_string() }),
        )
        .fallback(not_found);
    ContractLayer::new(profile).layer(StalenessLayer::new().required(false).layer(router))
}

/// The stack with telemetry on: the route recorded by `RouteLayer`, every answer counted
/// and timed by the contract layer into the installed recorder.
fn telemetry_app(profile: Profile) -> Contract<Staleness<Router>> {
    let router = Router::new()
        .route(
            "/accounts/{id}",
            get(|| async { ApiError::from(Condition::NotFound) }),
        )
        .route(
            "/accounts",
            post(|Json(v): Json<serde_json::Value>| async move { v.to_string() }),
        )
        .fallback(not_found)
        .layer(apierr_axum::telemetry::RouteLayer);
    ContractLayer::new(profile)
        .metrics(true)
        .layer(StalenessLayer::new().required(false).layer(router))
}

/// apierr as its documentation recommends it, like the peers below: the contract layer
/// around the router, nothing more.
fn contract_app(profile: Profile) -> Contract<Router> {
    let router = Router::new()
        .route(
            "/accounts/{id}",
            get(|| async { ApiError::from(Condition::NotFound) }),
        )
        .fallback(not_found);
    ContractLayer::new(profile).layer(router)
}

/// What a hand-written axum service does: the same status, content type and body bytes.
fn bare_app(profile: Profile) -> Router {
    let render = |c: Condition| {
        let e = profile
            .error(c)
            .with_request_id("0123456789abcdef0123456789abcdef");
        let r = profile.render(&e);
        // A literal, as a hand-written service would have it.
        let ct = match r.content_type.to_str() {
            Ok("application/problem+json") => "application/problem+json",
            _ => "application/json",
        };
        (r.status, ct, r.body)
    };
    let (nf_status, ct, nf_body) = render(Condition::NotFound);
    let (mb_status, _, mb_body) = render(Condition::MalformedBody);
    let nf_fallback = nf_body.clone();
    Router::new()
        .route(
            "/accounts/{id}",
            get(move || {
                let b = nf_body.clone();
                async move { (nf_status, [(CONTENT_TYPE, ct)], b) }
            }),
        )
        .route(
            "/accounts",
            post(move |body: axum::body::Bytes| {
                let b = mb_body.clone();
                async move {
                    match serde_json::from_slice::<serde_json::Value>(&body) {
                        Ok(v) => (
                            StatusCode::OK,
                            [(CONTENT_TYPE, "text/plain")],
                            v.to_string().into_bytes(),
                        ),
                        Err(_) => (mb_status, [(CONTENT_TYPE, ct)], b),
                    }
                }
            }),
        )
        .fallback(move || {
            let b = nf_fallback.clone();
            async move { (nf_status, [(CONTENT_TYPE, ct)], b) }
        })
}

/// A named request maker.
type Named = (&'static str, fn() -> Request<Body>);

/// A hand-written RFC 9457 body, serialised per request as a team without apierr would.
#[derive(serde::Serialize)]
struct HandProblem {
    #[serde(rename = "type")]
    type_uri: &'static str,
    title: &'static str,
    status: u16,
    detail: &'static str,
    code: &'static str,
    request_id: String,
}

/// What a hand-written axum service that serialises its error body per request does.
fn serde_app() -> Router {
    let not_found = || async {
        let body = HandProblem {
            type_uri: "about:blank",
            title: "Not Found",
            status: 404,
            detail: "resource not found",
            code: "not_found",
            request_id: "0123456789abcdef0123456789abcdef".to_owned(),
        };
        (
            StatusCode::NOT_FOUND,
            [(CONTENT_TYPE, "application/problem+json")],
            serde_json::to_vec(&body).unwrap_or_default(),
        )
    };
    Router::new()
        .route("/accounts/{id}", get(not_found))
        .fallback(not_found)
}

/// `problem_details` 0.11 as its documentation has it: a handler returning
/// `Result<_, ProblemDetails>`.
fn problem_details_app() -> Router {
    let not_found = || async {
        Err::<(), _>(
            problem_details::ProblemDetails::from_status_code(StatusCode::NOT_FOUND)
                .with_detail("resource not found"),
        )
    };
    Router::new()
        .route("/accounts/{id}", get(not_found))
        .fallback(not_found)
}

/// `http-api-problem` 0.60 as its documentation has it: a handler returning
/// `Result<_, HttpApiProblem>`.
fn http_api_problem_app() -> Router {
    let not_found = || async {
        Err::<(), _>(
            http_api_problem::HttpApiProblem::with_title(StatusCode::NOT_FOUND)
                .detail("resource not found"),
        )
    };
    Router::new()
        .route("/accounts/{id}", get(not_found))
        .fallback(not_found)
}

/// A request as it arrives over HTTP/1.1, which always names its host (RFC 9112 §3.2).
fn request(method: http::Method, path: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, "api.example.com")
}

fn requests() -> Vec<Named> {
    vec![
        ("handler-404", || {
            request(http::Method::GET, "/accounts/42")
                .body(Body::empty())
                .unwrap()
        }),
        ("fallback-404", || {
            request(http::Method::GET, "/nowhere")
                .body(Body::empty())
                .unwrap()
        }),
        ("malformed-json", || {
            request(http::Method::POST, "/accounts")
                .header(CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"email": "a@b.co", "first_na"#))
                .unwrap()
        }),
    ]
}

fn main() {
    // Only with the telemetry cases: a recorder and a registry change how every other
    // case allocates, and so its count. Installed outside the runtime, so that no upkeep
    // task runs between iterations.
    let telemetry = wanted("stack/telemetry");
    if telemetry {
        apierr_axum::telemetry::Prometheus::install().expect("the bench's metrics recorder");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = &rt;
    let mut cases = Vec::new();
    for profile in [Profile::PROBLEM, Profile::ERRORS_ARRAY] {
        let apierr = apierr_app(profile.clone());
        let bare = bare_app(profile.clone());
        for (name, request) in requests() {
            // Both answer the same status.
            let a = rt.block_on(apierr.clone().oneshot(request())).unwrap();
            let b = rt.block_on(bare.clone().oneshot(request())).unwrap();
            assert_eq!(a.status(), b.status(), "{name}");
            let group = format!("stack/{}/{name}", profile.name());
            let app = apierr.clone();
            cases.push(Case::new(format!("{group}/apierr"), move || {
                rt.block_on(app.clone().oneshot(request())).unwrap()
            }));
            let app = bare.clone();
            cases.push(Case::new(format!("{group}/axum"), move || {
                rt.block_on(app.clone().oneshot(request())).unwrap()
            }));
        }
    }
    // With telemetry on: metrics into the Prometheus recorder, and then spans into a
    // `tracing` registry too (the subscriber an OpenTelemetry pipeline is built on).
    for (name, request) in requests().into_iter().filter(|_| telemetry) {
        let apierr = telemetry_app(Profile::PROBLEM);
        let registry = tracing::Dispatch::new(tracing_subscriber::registry());
        for spans in [false, true] {
            let group = match spans {
                false => format!("stack/telemetry-metrics/{name}"),
                true => format!("stack/telemetry-spans/{name}"),
            };
            let (app, registry) = (apierr.clone(), registry.clone());
            cases.push(Case::new(format!("{group}/apierr"), move || match spans {
                false => rt.block_on(app.clone().oneshot(request())).unwrap(),
                true => tracing::dispatcher::with_default(&registry, || {
                    rt.block_on(app.clone().oneshot(request())).unwrap()
                }),
            }));
            let bare = bare_app(Profile::PROBLEM);
            cases.push(Case::new(format!("{group}/axum"), move || {
                rt.block_on(bare.clone().oneshot(request())).unwrap()
            }));
        }
    }
    // The problem profile's 404 against a handler serialising the same body per request.
    let request = || {
        request(http::Method::GET, "/accounts/42")
            .body(Body::empty())
            .unwrap()
    };
    let apierr = apierr_app(Profile::PROBLEM);
    cases.push(Case::new(
        "stack/problem-vs-serde/handler-404/apierr",
        move || rt.block_on(apierr.clone().oneshot(request())).unwrap(),
    ));
    let serde = serde_app();
    cases.push(Case::new(
        "stack/problem-vs-serde/handler-404/axum",
        move || rt.block_on(serde.clone().oneshot(request())).unwrap(),
    ));
    // The same 404 from a handler through the RFC 9457 crates a user might pick instead,
    // each used as its documentation recommends, as apierr is here (the contract layer
    // around the router, as the README has it): they add no request id or catalog.
    let apierr = contract_app(Profile::PROBLEM);
    cases.push(Case::new("stack/peers/handler-404/apierr", move || {
        rt.block_on(apierr.clone().oneshot(request())).unwrap()
    }));
    for (name, app) in [
        ("problem_details", problem_details_app()),
        ("http_api_problem", http_api_problem_app()),
    ] {
        let r = rt.block_on(app.clone().oneshot(request())).unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{name}");
        cases.push(Case::new(
            format!("stack/peers/handler-404/{name}"),
            move || rt.block_on(app.clone().oneshot(request())).unwrap(),
        ));
    }
    // A successful authenticated GET, with the failure limit and without it: what the
    // limit costs a request that passes (one lookup in its map of blocked addresses).
    let authenticated = |limit: bool| {
        // The default layer limits failures in memory.
        let auth = match limit {
            true => RequireAuthLayer::new(Keys),
            false => RequireAuthLayer::new(Keys).without_failure_limit(),
        };
        let router = Router::new()
            .route("/accounts", get(|| async { "[]" }))
            .layer(auth);
        ContractLayer::new(Profile::PROBLEM).layer(router)
    };
    let get_request = || {
        let mut r = crate::request(http::Method::GET, "/accounts")
            .header("x-api-key", "acme-key")
            .body(Body::empty())
            .unwrap();
        r.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [203, 0, 113, 7],
                40000,
            ))));
        r
    };
    for (name, limit) in [("apierr", true), ("no-failure-limit", false)] {
        let app = authenticated(limit);
        let answered = rt.block_on(app.clone().oneshot(get_request())).unwrap();
        assert_eq!(answered.status(), StatusCode::OK);
        cases.push(Case::new(format!("stack/auth/get-200/{name}"), move || {
            rt.block_on(app.clone().oneshot(get_request())).unwrap()
        }));
    }
    cases::main(cases);
}

/// Whether cases named from `prefix` may run: false when one case was asked for
/// (`APIERR_BENCH_CASE`, as `benches/instructions.py` does) and it is not one of them.
fn wanted(prefix: &str) -> bool {
    std::env::var("APIERR_BENCH_CASE").map_or(true, |case| case.starts_with(prefix))
}

/// The benchmark's credentials: one key.
struct Keys;

impl Authenticator for Keys {
    type Principal = ();

    async fn authenticate(
        &self,
        credential: Credential,
        _parts: &http::request::Parts,
    ) -> Result<(), AuthFailure> {
        match credential {
            Credential::ApiKey(key) if key == "acme-key" => Ok(()),
            _ => Err(AuthFailure::InvalidToken),
        }
    }
}
