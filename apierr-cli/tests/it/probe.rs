//! `apierr probe` against the reference server in every profile on both backends (no
//! violation, the whole battery run) and against a router broken on purpose (each break
//! found).

use apierr_cli::probe::{ProbeConfig, ProbeRule, probe};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::support::every_profile;

fn config(base: &str, openapi: Value, key: &str) -> ProbeConfig {
    ProbeConfig {
        base: base.parse().unwrap(),
        openapi: Some(openapi),
        headers: vec![("x-api-key".parse().unwrap(), key.parse().unwrap())],
        expired_token: None,
        allow_writes: true,
        max_requests: 50,
        rate: 1000.0,
    }
}

#[tokio::test]
async fn the_reference_server_keeps_its_contract_under_the_probe() {
    // Scenario: in every profile, every check runs and no answer breaks a rule (the
    // request-id warnings included).
    every_profile(|s| async move {
        let document: Value = s
            .get("/openapi.json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let report = probe(&config(&s.base, document, "acme-key")).await.unwrap();
        assert!(
            report.findings.is_empty(),
            "{}: {}",
            s.profile.name(),
            report.text()
        );
        assert_eq!(report.exchanges.len(), 14, "{}", report.text());
        // Every error body of an operation was held to the schema the document gives
        // its status (the unknown route and the wrong method are of none).
        let errors = report
            .exchanges
            .iter()
            .filter(|e| e.status.is_some_and(|s| s >= 400))
            .filter(|e| !e.check.starts_with("unknown-route") && e.check != "wrong-method")
            .count();
        assert!(errors >= 9, "{}", report.text());
        assert_eq!(report.bodies_checked, errors, "{}", report.text());
        assert_eq!(report.formats.len(), 1, "{}", report.text());
        assert_eq!(report.score, 100);
        let refused = |check: &str| {
            report
                .exchanges
                .iter()
                .find(|e| e.check == check)
                .and_then(|e| e.status)
                .unwrap_or_else(|| panic!("{check} not run"))
        };
        assert_eq!(refused("missing-credentials"), 401);
        assert_eq!(refused("wrong-method"), 405);
        assert_eq!(refused("oversized-body"), 413);
        // Its ids are free-form strings: one never issued is not found.
        assert_eq!(refused("unknown-path-id"), 404);
    })
    .await;
}

#[tokio::test]
async fn a_server_that_requires_a_date_is_probed_with_one() {
    // Scenario: under `--require-date` (seed 000: a request without a current Date is
    // refused), every check but `stale-date` is answered for what it sends, because
    // the probe dates each request; the stale date alone is refused as stale. On both
    // backends, no finding.
    for backend in crate::support::BACKENDS {
        let s = crate::support::Server::start_with(apierr::Profile::ERRORS_ARRAY, backend, |c| {
            c.require_date = true;
        })
        .await;
        let document = s.document().await;
        let report = probe(&config(&s.base, document, "acme-key")).await.unwrap();
        assert!(report.findings.is_empty(), "{backend:?}: {}", report.text());
        let code = |check: &str| {
            let e = report.exchanges.iter().find(|e| e.check == check).unwrap();
            (e.status, e.code.clone())
        };
        let stale = s
            .profile
            .catalog()
            .condition(apierr::Condition::StaleRequest);
        assert_eq!(
            code("stale-date"),
            (Some(401), Some(stale.code().to_string()))
        );
        assert_eq!(
            code("unacceptable-accept").0,
            Some(406),
            "{}",
            report.text()
        );
        assert_eq!(code("wrong-field-types").0, Some(400), "{}", report.text());
        assert_eq!(code("unknown-query").0, Some(200), "{}", report.text());
    }
}

/// A router that breaks the contract the classic ways: an HTML 404 from the router, a
/// 500 with a traceback for a bad body, a 405 without `Allow`, a 401 without a
/// challenge and with a JSON body labelled as text, and no request ids.
fn broken() -> Router {
    let problem = |status: StatusCode, code: &str| {
        (
            status,
            [("content-type", "application/problem+json")],
            json!({"type": "about:blank", "title": "x", "status": status.as_u16(), "code": code})
                .to_string(),
        )
    };
    Router::new()
        .route(
            "/accounts",
            get(move |headers: axum::http::HeaderMap| async move {
                match headers.get("x-api-key") {
                    Some(_) => (StatusCode::OK, [("content-type", "application/json")], "[]".to_owned()),
                    // Problem details, labelled as plain text.
                    None => (
                        StatusCode::UNAUTHORIZED,
                        [("content-type", "text/plain")],
                        json!({"type": "about:blank", "title": "x", "status": 401, "code": "unauthenticated"})
                            .to_string(),
                    ),
                }
            })
            .post(|| async {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Traceback (most recent call last):\n  File \"/srv/app.py\", line 12, in create\n",
                )
            }),
        )
        // A problem body without the `type` and `title` its schema requires.
        .route(
            "/accounts/{id}",
            get(|| async {
                (
                    StatusCode::NOT_FOUND,
                    [("content-type", "application/problem+json")],
                    json!({"status": 404, "code": "not_found"}).to_string(),
                )
            }),
        )
        .route(
            "/oauth/token",
            get(move || async move { problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed") })
                .post(|| async { "{}" }),
        )
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                [("content-type", "text/html")],
                "<html><head><title>404 Not Found</title></head><body>nope</body></html>",
            )
        })
}

fn broken_document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "broken", "version": "1"},
        "security": [{"key": []}],
        "components": {
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": {"Problem": {"type": "object", "required": ["type", "title", "status"],
                "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                    "status": {"type": "integer"}}}}
        },
        "paths": {
            "/accounts": {
                "get": {"responses": {"200": {"description": "ok"}, "401": {"description": "no",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}},
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {
                        "type": "object", "required": ["email"],
                        "properties": {"email": {"type": "string"}}}}}},
                    "responses": {"201": {"description": "made"}, "400": {"description": "bad"}}
                }
            },
            "/accounts/{id}": {"get": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "the account"}, "4XX": {"description": "no",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}}},
            "/oauth/token": {"post": {"responses": {"200": {"description": "token"}}}}
        }
    })
}

#[tokio::test]
async fn a_broken_router_has_each_break_found() {
    // Scenario: every break of the router above is a finding of its rule, and the probe
    // fails.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, broken()).await });
    let report = probe(&config(&base, broken_document(), "k")).await.unwrap();
    let text = report.text();
    for rule in [
        ProbeRule::MixedFormats,
        ProbeRule::InternalDetail,
        ProbeRule::ServerError,
        ProbeRule::AllowOn405,
        ProbeRule::WwwAuthenticateOn401,
        ProbeRule::UndeclaredStatus,
        ProbeRule::ErrorContentType,
        ProbeRule::RequestId,
        ProbeRule::UndeclaredBody,
    ] {
        assert!(
            report.with_rule(rule).next().is_some(),
            "{}: {text}",
            rule.name()
        );
    }
    // The 401 in a media type the document does not list for it; the 404 without the
    // members its schema (under `4XX`, by reference) requires.
    let bodies: Vec<(&str, &str)> = report
        .with_rule(ProbeRule::UndeclaredBody)
        .map(|f| (f.check, f.detail.as_str()))
        .collect();
    assert_eq!(bodies.len(), 3, "{text}");
    for check in ["missing-credentials", "invalid-credentials"] {
        assert!(
            bodies.iter().any(|(c, d)| *c == check
                && d.contains("as text/plain; it declares application/problem+json")),
            "{check}: {bodies:?}"
        );
    }
    assert!(
        bodies
            .iter()
            .any(|(c, d)| *c == "wrong-path-id" && d.contains("\"type\" is a required property")),
        "{bodies:?}"
    );
    // The stale date and the unknown query were answered 200: no rule says otherwise.
    assert!(
        report
            .with_rule(ProbeRule::AcceptsBadInput)
            .all(|f| f.check != "unknown-query")
    );
    assert!(report.failing(&[]) > 0 && report.score < 50, "{text}");
    assert_eq!(report.formats.get("html"), Some(&2), "{text}");
}

#[test]
fn the_command_fails_on_a_violation_and_waives_what_is_allowed() {
    // Scenario: `apierr probe` against the broken router exits 1; with every violation
    // allowed it exits 0; an unreachable address is a probe that ran, with no answers.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, broken()).await });
    let document = std::env::temp_dir().join(format!(
        "apierr-probe-{}.json",
        apierr_testkit::unique("doc")
    ));
    std::fs::write(&document, broken_document().to_string()).unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
            .args([
                "probe",
                &base,
                "--openapi",
                document.to_str().unwrap(),
                "--rate",
                "200",
            ])
            .args(extra)
            .output()
            .expect("the apierr binary")
    };
    let out = run(&["--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rules: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["violation"] == true)
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect();
    rules.sort();
    rules.dedup();
    let mut allow = Vec::new();
    for rule in &rules {
        allow.push("--allow");
        allow.push(rule.as_str());
    }
    assert_eq!(run(&allow).status.code(), Some(0));
    // Nothing listens there: no answer at all is a probe that could not run (2), never
    // a clean score.
    let closed = crate::support::free_address();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
        .args(["probe", &format!("http://{closed}"), "--rate", "200"])
        .output()
        .expect("the apierr binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no request got an answer"), "{stderr}");
    let _ = std::fs::remove_file(&document);
}
