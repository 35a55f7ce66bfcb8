//! `apierr probe` against small JSON APIs written with other ecosystems' popular
//! frameworks (Flask, FastAPI on uvicorn, from PyPI, pinned in `.ci/requirements.txt`;
//! Express and Fastify from npm, pinned in `.ci/lint`), each in its default
//! configuration, started on loopback: what their defaults really do is found, and each
//! finding is asserted.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use apierr_cli::probe::{ProbeConfig, ProbeReport, probe};
use serde_json::Value;

use crate::support::free_address;

/// A framework's server process, killed when dropped.
struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn app_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/frameworks")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Starts `script` with the venv's Python (which must import `package`) on a free
/// loopback port, and waits (at most 30 s) until it answers.
async fn start(package: &str, script: &str) -> (App, String) {
    let python = apierr_testkit::python_with(package);
    start_with(Command::new(python), script).await
}

/// Starts `script` with `interpreter` on a free loopback port, and waits (at most 30 s)
/// until it answers.
async fn start_with(mut interpreter: Command, script: &str) -> (App, String) {
    let address = free_address();
    let port = address.rsplit(':').next().unwrap().to_owned();
    let child = interpreter
        .arg(app_file(script))
        .arg(&port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the interpreter");
    let mut app = App(child);
    let base = format!("http://{address}");
    for _ in 0..300 {
        if let Some(status) = app.0.try_wait().unwrap() {
            panic!("{script} exited with {status} before answering");
        }
        if reqwest::get(format!("{base}/items")).await.is_ok() {
            return (app, base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{script} did not answer at {base} within 30 s");
}

async fn run(base: &str, openapi: Value) -> ProbeReport {
    let config = ProbeConfig {
        base: base.parse().unwrap(),
        openapi: Some(openapi),
        headers: vec![("x-api-key".parse().unwrap(), "k".parse().unwrap())],
        expired_token: None,
        allow_writes: true,
        max_requests: 50,
        rate: 200.0,
    };
    probe(&config).await.unwrap()
}

fn violations(report: &ProbeReport) -> BTreeSet<&'static str> {
    report
        .findings
        .iter()
        .filter(|f| f.violation)
        .map(|f| f.rule.name())
        .collect()
}

fn status_of(report: &ProbeReport, check: &str) -> u16 {
    report
        .exchanges
        .iter()
        .find(|e| e.check == check)
        .and_then(|e| e.status)
        .unwrap_or_else(|| panic!("{check} not answered: {}", report.text()))
}

/// The items API's document (`items_openapi.json`), as the Flask, Express and Fastify
/// apps serve it.
fn items_document() -> Value {
    serde_json::from_str(&std::fs::read_to_string(app_file("items_openapi.json")).unwrap()).unwrap()
}

/// Asserts that no answer had a request id: a warning on every exchange.
fn no_request_ids(report: &ProbeReport) {
    assert_eq!(
        report
            .with_rule(apierr_cli::probe::ProbeRule::RequestId)
            .count(),
        report.exchanges.len(),
        "{}",
        report.text()
    );
}

/// The code read from the answer to `check`.
fn code_of(report: &ProbeReport, check: &str) -> String {
    report
        .exchanges
        .iter()
        .find(|e| e.check == check)
        .and_then(|e| e.code.clone())
        .unwrap_or_default()
}

fn format_of(report: &ProbeReport, check: &str) -> String {
    report
        .exchanges
        .iter()
        .find(|e| e.check == check)
        .and_then(|e| e.format.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn flasks_defaults_answer_the_routers_errors_in_html() {
    // Scenario: Flask (Werkzeug) answers its own errors (unknown route, wrong method,
    // malformed JSON, wrong content type) as HTML pages while the handlers answer JSON:
    // two formats. Its 405 carries Allow; the handler's 401 has no challenge; no request
    // ids; the 415 for a text body is not in the document.
    let (_app, base) = start("flask", "flask_app.py").await;
    let report = run(&base, items_document()).await;
    let text = report.text();
    assert_eq!(
        violations(&report),
        BTreeSet::from([
            "mixed-formats",
            "undeclared-status",
            "www-authenticate-on-401"
        ]),
        "{text}"
    );
    for check in [
        "unknown-route",
        "wrong-method",
        "wrong-path-id",
        "malformed-json",
        "wrong-content-type",
    ] {
        assert_eq!(format_of(&report, check), "html", "{check}: {text}");
    }
    assert_ne!(format_of(&report, "missing-credentials"), "html", "{text}");
    assert_eq!(status_of(&report, "wrong-method"), 405);
    assert_eq!(status_of(&report, "wrong-content-type"), 415);
    no_request_ids(&report);
    assert!(
        report
            .with_rule(apierr_cli::probe::ProbeRule::AllowOn405)
            .next()
            .is_none()
    );
    assert!(
        report
            .with_rule(apierr_cli::probe::ProbeRule::ServerError)
            .next()
            .is_none()
    );
}

#[tokio::test]
async fn fastapis_defaults_answer_in_one_format_without_request_ids() {
    // Scenario: FastAPI answers every error, its router's too, as `{"detail": …}` JSON:
    // one format, 405 with Allow, every status in its own generated document. What its
    // defaults leave out: request ids (a warning on every answer); a body of the wrong
    // content type is a 422 rather than a 415, and `Accept` is not looked at (both
    // allowed by HTTP, and reported as they are).
    let (_app, base) = start("fastapi", "fastapi_app.py").await;
    let document: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let report = run(&base, document).await;
    let text = report.text();
    assert_eq!(violations(&report), BTreeSet::new(), "{text}");
    assert_eq!(
        report.formats.keys().collect::<Vec<_>>(),
        ["fastapi"],
        "{text}"
    );
    no_request_ids(&report);
    assert_eq!(status_of(&report, "wrong-content-type"), 422);
    // Its 422s are held to the schema its document gives them (HTTPValidationError), and
    // keep to it.
    assert!(report.bodies_checked >= 3, "{text}");
    assert_eq!(status_of(&report, "unacceptable-accept"), 200);
    assert_eq!(status_of(&report, "wrong-method"), 405);
    assert_eq!(status_of(&report, "wrong-path-id"), 422);
    // No security scheme in its document: the credential checks are named as skipped.
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.starts_with("missing-credentials")),
        "{text}"
    );
}

#[tokio::test]
async fn expresss_defaults_show_stack_traces_in_html() {
    // Scenario: Express with NODE_ENV unset (its default, development) answers what its
    // body parser refuses (malformed JSON, a body over its 100 kB limit) with an HTML page
    // that shows the stack trace and file paths; its router's 404s are HTML too, beside the
    // handlers' JSON; a wrong method is a 404 (Express has no 405); the handler's 401 has
    // no challenge; the 413 is not in the document; no request ids.
    let mut node = Command::new("node");
    node.env("NODE_PATH", apierr_testkit::node_modules_with("express"))
        .env_remove("NODE_ENV");
    let (_app, base) = start_with(node, "express_app.js").await;
    let report = run(&base, items_document()).await;
    let text = report.text();
    assert_eq!(
        violations(&report),
        BTreeSet::from([
            "internal-detail",
            "mixed-formats",
            "undeclared-status",
            "www-authenticate-on-401"
        ]),
        "{text}"
    );
    let leaks: BTreeSet<&str> = report
        .with_rule(apierr_cli::probe::ProbeRule::InternalDetail)
        .map(|f| f.check)
        .collect();
    assert_eq!(
        leaks,
        BTreeSet::from(["malformed-json", "oversized-body"]),
        "{text}"
    );
    assert_eq!(status_of(&report, "wrong-method"), 404);
    assert_eq!(status_of(&report, "oversized-body"), 413);
    for check in [
        "unknown-route",
        "wrong-method",
        "malformed-json",
        "oversized-body",
    ] {
        assert_eq!(format_of(&report, check), "html", "{check}: {text}");
    }
    no_request_ids(&report);
}

#[tokio::test]
async fn fastifys_defaults_speak_one_format_and_coerce_wrong_types() {
    // Scenario: Fastify answers every error, its router's, its body parser's, its schema
    // validation's and the handlers' thrown ones, in hapi's Boom payload (`boom`, with
    // Fastify's `code`): one format. What its defaults do: a string field sent as a
    // number is coerced and the item made (201, bad input accepted); a wrong method is a
    // 404 (no 405); the 401 has no challenge; the validation 400 for a path id and the
    // 413 of its 1 MiB body limit are not in the document; no request ids.
    let mut node = Command::new("node");
    node.env("NODE_PATH", apierr_testkit::node_modules_with("fastify"));
    let (_app, base) = start_with(node, "fastify_app.js").await;
    let report = run(&base, items_document()).await;
    let text = report.text();
    assert_eq!(
        violations(&report),
        BTreeSet::from([
            "accepts-bad-input",
            "undeclared-status",
            "www-authenticate-on-401"
        ]),
        "{text}"
    );
    assert_eq!(
        report.formats.keys().collect::<Vec<_>>(),
        ["boom"],
        "{text}"
    );
    let accepted: Vec<&str> = report
        .with_rule(apierr_cli::probe::ProbeRule::AcceptsBadInput)
        .map(|f| f.check)
        .collect();
    assert_eq!(accepted, ["wrong-field-types"], "{text}");
    assert_eq!(status_of(&report, "wrong-field-types"), 201);
    assert_eq!(status_of(&report, "wrong-method"), 404);
    assert_eq!(status_of(&report, "oversized-body"), 413);
    assert_eq!(
        code_of(&report, "malformed-json"),
        "FST_ERR_CTP_INVALID_JSON_BODY",
        "{text}"
    );
    assert_eq!(
        code_of(&report, "missing-required"),
        "FST_ERR_VALIDATION",
        "{text}"
    );
    assert_eq!(
        code_of(&report, "oversized-body"),
        "FST_ERR_CTP_BODY_TOO_LARGE",
        "{text}"
    );
    no_request_ids(&report);
}

#[tokio::test]
async fn a_swagger_2_yaml_document_is_probed_under_its_base_path() {
    // Scenario: `apierr probe http://host --openapi items_swagger.yaml` (Swagger 2, YAML,
    // `basePath: /v1`, statuses as bare YAML numbers) against the Flask app: the binary
    // reads the YAML, sends every operation under /v1 (the handler's own 401, 400 and
    // 404 answer there, not the router's 404 for a path it lacks), reads the body schema
    // from the `in: body` parameter and the path id's type from the parameter itself, and
    // finds what the JSON document found at the root.
    let (_app, base) = start("flask", "flask_app.py").await;
    // The app is another process: the test may block on the probe's.
    let out = Command::new(env!("CARGO_BIN_EXE_apierr"))
        .args(["probe", &base, "--openapi", &app_file("items_swagger.yaml")])
        .args(["--allow-writes", "--json", "-H", "X-Api-Key: k"])
        .output()
        .expect("the apierr binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["base"], format!("{base}/v1"), "{report:#}");
    let exchange = |check: &str| {
        report["exchanges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["check"] == check)
            .unwrap_or_else(|| panic!("no {check}: {report:#}"))
            .clone()
    };
    // The handlers' JSON (`{"error": …}`) answers where they run; the router's HTML
    // where it refuses.
    for (check, status, format) in [
        ("missing-credentials", 401, "wrapper"),
        ("invalid-credentials", 401, "wrapper"),
        ("wrong-field-types", 400, "wrapper"),
        ("missing-required", 400, "wrapper"),
        ("wrong-path-id", 404, "html"),
        ("wrong-method", 405, "html"),
    ] {
        let e = exchange(check);
        assert_eq!(e["status"], status, "{check}: {e}");
        assert_eq!(e["format"], format, "{check}: {e}");
    }
    assert_eq!(
        exchange("wrong-path-id")["request"],
        "GET /items/apierr-probe-not-an-id"
    );
    let rules: BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["violation"] == true)
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert_eq!(
        rules,
        BTreeSet::from([
            "mixed-formats",
            "undeclared-status",
            "www-authenticate-on-401"
        ]),
        "{report:#}"
    );
}
