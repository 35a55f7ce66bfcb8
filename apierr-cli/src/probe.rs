//! `apierr probe`: a fixed, bounded battery of requests a well-behaved API answers in its
//! error contract, sent to a live server, and what its answers break.
//!
//! The battery (each request named by its check):
//!
//! | check | request | needs |
//! |---|---|---|
//! | `unknown-route` | `GET` a path no API has | — |
//! | `unknown-route-accept` | the same with `Accept: application/x-apierr-probe` | — |
//! | `wrong-method` | `GET` on a path that declares no `GET` | document |
//! | `unacceptable-accept` | a `GET` with `Accept: application/x-apierr-probe` | document |
//! | `missing-credentials` | a secured `GET` without the credential headers | document |
//! | `invalid-credentials` | the same with a credential no server issued | document |
//! | `expired-token` | the same with `--expired-token` | document, token |
//! | `stale-date` | a `GET` dated 1 June 2000 | document |
//! | `unknown-query` | a `GET` with a query parameter it does not declare | document |
//! | `wrong-path-id` | a `GET` whose integer or UUID path id is neither | document |
//! | `unknown-path-id` | where no path id is typed so: a `GET` with an id never issued | document |
//! | `malformed-json` | a JSON body cut short | document, `--allow-writes` |
//! | `wrong-content-type` | a `text/plain` body | document, `--allow-writes` |
//! | `wrong-field-types` | every declared field with a value of another type | document, `--allow-writes` |
//! | `missing-required` | `{}` where fields are required | document, `--allow-writes` |
//! | `oversized-body` | a 2 MiB JSON body | document, `--allow-writes` |
//!
//! Every request carries a current `Date` (unless `-H` gives one), so an API that requires
//! it answers each check for what the check sends.
//!
//! The rules each answer is held to are [`ProbeRule`]s. With a document, an error answer
//! of an operation must have a status it declares and, where it lists media types for
//! that status, one of them; a JSON body is validated against the declared schema with
//! the `jsonschema` crate (OpenAPI 3.1 as JSON Schema 2020-12, 3.0 and Swagger 2 as draft
//! 4), the document as the root so its references resolve; an external reference is
//! never fetched.
//!
//! Safety: only the base URL's origin is ever sent to, and only the paths and methods
//! above; a redirect off the origin is not followed; at most `--max-requests` requests
//! at `--rate` a second; no request with a body to a mutating operation unless
//! `--allow-writes` (each is built to be refused, but a broken server might not).

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

/// What to probe and how.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The API's base URL (`http://127.0.0.1:8080`).
    pub base: reqwest::Url,
    /// Its OpenAPI document, which names the operations to probe and what each declares.
    pub openapi: Option<Value>,
    /// Headers sent with every request (the credentials among them).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// An access token that has expired, for the `expired-token` check.
    pub expired_token: Option<String>,
    /// Whether requests with bodies may go to mutating operations.
    pub allow_writes: bool,
    /// The most requests to send.
    pub max_requests: usize,
    /// Requests a second.
    pub rate: f64,
}

/// A rule an answer can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProbeRule {
    /// Bad input answered with a 5xx.
    ServerError,
    /// Bad input answered with a success.
    AcceptsBadInput,
    /// Error answers come in more than one format.
    MixedFormats,
    /// An error body without a `Content-Type`, or one that does not match the body.
    ErrorContentType,
    /// A 405 without `Allow` (RFC 9110 §15.5.6).
    AllowOn405,
    /// A 401 without `WWW-Authenticate` (RFC 9110 §15.5.2).
    WwwAuthenticateOn401,
    /// A 429 or 503 without `Retry-After`.
    RetryAfter,
    /// A body showing a stack trace, SQL or a file path.
    InternalDetail,
    /// An answer without a request id header.
    RequestId,
    /// A request id header, but not the one the request sent.
    RequestIdEcho,
    /// A status the document does not declare for the operation.
    UndeclaredStatus,
    /// An error body of a media type, or of a shape, the document does not declare for
    /// the operation's status (its JSON Schema, checked with the `jsonschema` crate).
    UndeclaredBody,
    /// A response schema of the document that cannot be read (an external reference,
    /// which the probe never fetches, or one its JSON Schema draft refuses): the body
    /// was not checked.
    UnreadSchema,
    /// A request that got no answer (the connection refused, reset or timed out): a
    /// server may close on a body it refuses, but a partner's client sees a network error.
    NoAnswer,
}

impl ProbeRule {
    /// Every rule.
    pub const ALL: &'static [ProbeRule] = &[
        ProbeRule::ServerError,
        ProbeRule::AcceptsBadInput,
        ProbeRule::MixedFormats,
        ProbeRule::ErrorContentType,
        ProbeRule::AllowOn405,
        ProbeRule::WwwAuthenticateOn401,
        ProbeRule::RetryAfter,
        ProbeRule::InternalDetail,
        ProbeRule::RequestId,
        ProbeRule::RequestIdEcho,
        ProbeRule::UndeclaredStatus,
        ProbeRule::UndeclaredBody,
        ProbeRule::UnreadSchema,
        ProbeRule::NoAnswer,
    ];

    /// The rule's name, as `--allow` takes it.
    pub fn name(self) -> &'static str {
        match self {
            ProbeRule::ServerError => "server-error",
            ProbeRule::AcceptsBadInput => "accepts-bad-input",
            ProbeRule::MixedFormats => "mixed-formats",
            ProbeRule::ErrorContentType => "error-content-type",
            ProbeRule::AllowOn405 => "allow-on-405",
            ProbeRule::WwwAuthenticateOn401 => "www-authenticate-on-401",
            ProbeRule::RetryAfter => "retry-after",
            ProbeRule::InternalDetail => "internal-detail",
            ProbeRule::RequestId => "request-id",
            ProbeRule::RequestIdEcho => "request-id-echo",
            ProbeRule::UndeclaredStatus => "undeclared-status",
            ProbeRule::UndeclaredBody => "undeclared-body",
            ProbeRule::UnreadSchema => "unread-schema",
            ProbeRule::NoAnswer => "no-answer",
        }
    }

    /// A violation fails the probe; a warning lowers the score only.
    pub fn is_violation(self) -> bool {
        !matches!(
            self,
            ProbeRule::RetryAfter
                | ProbeRule::RequestId
                | ProbeRule::RequestIdEcho
                | ProbeRule::UnreadSchema
                | ProbeRule::NoAnswer
        )
    }
}

impl Serialize for ProbeRule {
    /// As [`ProbeRule::name`] has it, the name `--allow` takes.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// One request of the battery and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// The check it makes.
    pub check: &'static str,
    /// Method and path as sent.
    pub request: String,
    /// The status, or `None` when no answer came.
    pub status: Option<u16>,
    /// The error format that answered (`problem`, `html`, `fastapi`…), for an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The code read from the error body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why no answer came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// A rule an exchange broke.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: ProbeRule,
    /// Whether it fails the probe (and is not waived).
    pub violation: bool,
    /// The exchange's check and request.
    pub check: &'static str,
    /// What was wrong.
    pub detail: String,
}

/// What a probe found.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The base URL.
    pub base: String,
    /// Every exchange, in order.
    pub exchanges: Vec<Exchange>,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// The formats error answers came in, with how many answers each.
    pub formats: BTreeMap<String, usize>,
    /// The checks not run, and why.
    pub skipped: Vec<String>,
    /// How many error bodies were checked against a schema of the document.
    pub bodies_checked: usize,
    /// 100 less 10 for each violation and 2 for each warning, at least 0.
    pub score: u32,
}

impl ProbeReport {
    /// Violations not waived by `allow`.
    pub fn failing(&self, allow: &[String]) -> usize {
        self.findings
            .iter()
            .filter(|f| f.violation && !allow.iter().any(|a| a == f.rule.name()))
            .count()
    }

    /// The findings with this rule.
    pub fn with_rule(&self, rule: ProbeRule) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.rule == rule)
    }

    /// The report as text, one line an exchange, then the findings and the score.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "probe of {}", self.base);
        for e in &self.exchanges {
            let status = e.status.map_or_else(|| "---".to_owned(), |s| s.to_string());
            let _ = writeln!(
                out,
                "  {status} {:22} {:40} {} {}",
                e.check,
                e.request,
                e.format.as_deref().unwrap_or(""),
                e.failure.as_deref().or(e.code.as_deref()).unwrap_or("")
            );
        }
        for f in &self.findings {
            let kind = if f.violation { "VIOLATION" } else { "warning" };
            let _ = writeln!(
                out,
                "{kind:9} {:24} {}: {}",
                f.rule.name(),
                f.check,
                f.detail
            );
        }
        for s in &self.skipped {
            let _ = writeln!(out, "skipped   {s}");
        }
        let _ = writeln!(out, "error formats: {:?}", self.formats);
        let _ = writeln!(
            out,
            "error bodies checked against the document's schemas: {}",
            self.bodies_checked
        );
        let _ = writeln!(out, "score {}/100", self.score);
        out
    }

    /// The report as Markdown. What the server sent (codes, details) is written as text:
    /// its markup is escaped, its lines joined.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "# Probe of {}\n\nScore **{}/100**; error bodies checked against the document's \
             schemas: {}.\n\n",
            md_cell(&self.base),
            self.score,
            self.bodies_checked
        );
        md.push_str("| Check | Request | Status | Format | Code |\n|---|---|---|---|---|\n");
        for e in &self.exchanges {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                e.check,
                md_cell(&e.request),
                e.status
                    .map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
                md_cell(e.format.as_deref().unwrap_or("—")),
                md_cell(e.failure.as_deref().or(e.code.as_deref()).unwrap_or("—")),
            );
        }
        md.push_str("\n| Finding | Rule | Check | Detail |\n|---|---|---|---|\n");
        for f in &self.findings {
            let _ = writeln!(
                md,
                "| {} | `{}` | {} | {} |",
                if f.violation { "violation" } else { "warning" },
                f.rule.name(),
                f.check,
                md_cell(&f.detail),
            );
        }
        if !self.skipped.is_empty() {
            md.push_str("\nNot run:\n\n");
            for s in &self.skipped {
                let _ = writeln!(md, "- {}", md_cell(s));
            }
        }
        md
    }

    /// The report as an HTML page, everything the server sent escaped.
    pub fn html(&self) -> String {
        let mut page = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Probe of {0}</title>\
             <style>body{{font:16px/1.5 system-ui,sans-serif;margin:2rem}}td,th{{border:1px solid #888;padding:.2rem .4rem;text-align:left}}\
             table{{border-collapse:collapse}}</style></head><body><h1>Probe of {0}</h1><p>Score <strong>{1}/100</strong>; \
             error bodies checked against the document's schemas: {2}.</p>\
             <table><thead><tr><th scope=\"col\">Finding</th><th scope=\"col\">Rule</th><th scope=\"col\">Check</th>\
             <th scope=\"col\">Detail</th></tr></thead><tbody>",
            html_text(&self.base),
            self.score,
            self.bodies_checked
        );
        for f in &self.findings {
            let _ = write!(
                page,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                if f.violation { "violation" } else { "warning" },
                f.rule.name(),
                f.check,
                html_text(&f.detail)
            );
        }
        page.push_str("</tbody></table><h2>Requests</h2><table><thead><tr><th scope=\"col\">Check</th>\
            <th scope=\"col\">Request</th><th scope=\"col\">Status</th><th scope=\"col\">Format</th>\
            <th scope=\"col\">Code</th></tr></thead><tbody>");
        for e in &self.exchanges {
            let _ = write!(
                page,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.check,
                html_text(&e.request),
                e.status
                    .map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
                html_text(e.format.as_deref().unwrap_or("")),
                html_text(e.failure.as_deref().or(e.code.as_deref()).unwrap_or("")),
            );
        }
        page.push_str("</tbody></table>");
        if !self.skipped.is_empty() {
            page.push_str("<h2>Not run</h2><ul>");
            for s in &self.skipped {
                let _ = write!(page, "<li>{}</li>", html_text(s));
            }
            page.push_str("</ul>");
        }
        page.push_str("</body></html>\n");
        page
    }
}

/// Text safe in HTML, in an element or an attribute.
fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Text from a server, safe in a Markdown table cell: its lines joined, its pipes,
/// backticks and markup escaped (a renderer would otherwise take them as Markdown or
/// raw HTML).
fn md_cell(text: &str) -> String {
    html_text(&text.split_whitespace().collect::<Vec<_>>().join(" "))
        .replace('|', "\\|")
        .replace('`', "\\`")
        .replace('*', "\\*")
        .replace('_', "\\_")
        .replace('[', "\\[")
}

/// A request of the battery, before it is sent.
struct Planned {
    check: &'static str,
    method: Method,
    /// The path and query, concrete.
    target: String,
    /// The operation's path template and method in the document, if it is one.
    operation: Option<(String, String)>,
    /// Whether the answer must be an error (bad input).
    must_refuse: bool,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Credential headers the request goes without.
    drop_credentials: bool,
    body: Option<(&'static str, Vec<u8>)>,
}

const PROBE_MEDIA: &str = "application/x-apierr-probe";
const STALE_DATE: &str = "Thu, 01 Jun 2000 00:00:00 GMT";
const OVERSIZED: usize = 2 << 20;
/// More than the oversized body, which some frameworks echo back in their error.
const MAX_BODY_READ: usize = 8 << 20;

/// Sends the battery and reports what the answers break.
pub async fn probe(config: &ProbeConfig) -> Result<ProbeReport, String> {
    if !matches!(config.base.scheme(), "http" | "https") {
        return Err(format!("{}: not an http(s) URL", config.base));
    }
    let origin = config.base.origin();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.url().origin() == origin && attempt.previous().len() < 3 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .build()
        .map_err(|e| e.to_string())?;
    let credentials = credential_headers(config);
    let (battery, skipped) = battery(config);
    let base = under_document_prefix(&config.base, config.openapi.as_ref());
    let mut report = ProbeReport {
        base: base.to_string(),
        exchanges: Vec::new(),
        findings: Vec::new(),
        formats: BTreeMap::new(),
        skipped,
        bodies_checked: 0,
        score: 0,
    };
    let pause = Duration::from_secs_f64(1.0 / config.rate.max(0.01));
    let mut error_formats: Vec<(usize, String)> = Vec::new();
    let mut schemas = Schemas::default();
    for (n, planned) in battery.into_iter().enumerate() {
        if n >= config.max_requests {
            report.skipped.push(format!(
                "{}: the request budget (--max-requests {}) is spent",
                planned.check, config.max_requests
            ));
            continue;
        }
        if n > 0 {
            tokio::time::sleep(pause).await;
        }
        let url = join(&base, &planned.target);
        let id = format!("apierr-probe-{n}");
        let mut request = client
            .request(planned.method.clone(), url)
            .header("x-request-id", &id);
        for (name, value) in &config.headers {
            let replaced = planned.headers.iter().any(|(n, _)| n == name);
            if (planned.drop_credentials && credentials.contains(name)) || replaced {
                continue;
            }
            request = request.header(name, value);
        }
        for (name, value) in &planned.headers {
            request = request.header(name, value);
        }
        // A current Date on every request (RFC 9110 lets a client send one), so that an
        // API that requires it (seed 000's 300-second window) answers each check for
        // what the check sends, not for a missing date; `stale-date` sends its own.
        let dated = planned
            .headers
            .iter()
            .chain(&config.headers)
            .any(|(n, _)| n == http::header::DATE);
        if !dated {
            request = request.header(
                http::header::DATE,
                httpdate::fmt_http_date(std::time::SystemTime::now()),
            );
        }
        if let Some((content_type, body)) = planned.body.clone() {
            request = request.header("content-type", content_type).body(body);
        }
        let request_line = format!("{} {}", planned.method, planned.target);
        let answer = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                // Full chain: "error sending request" alone does not say what broke.
                let e = e.without_url();
                let mut failure = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    let _ = write!(failure, ": {cause}");
                    source = cause.source();
                }
                report.findings.push(Finding {
                    rule: ProbeRule::NoAnswer,
                    violation: ProbeRule::NoAnswer.is_violation(),
                    check: planned.check,
                    detail: format!("{request_line}: {failure}"),
                });
                report.exchanges.push(Exchange {
                    check: planned.check,
                    request: request_line,
                    status: None,
                    format: None,
                    code: None,
                    failure: Some(failure),
                });
                continue;
            }
        };
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = read_bounded(answer).await;
        let mut exchange = Exchange {
            check: planned.check,
            request: request_line,
            status: Some(status.as_u16()),
            format: None,
            code: None,
            failure: None,
        };
        let mut find = |rule: ProbeRule, detail: String| {
            report.findings.push(Finding {
                rule,
                violation: rule.is_violation(),
                check: planned.check,
                detail,
            });
        };
        if status.is_client_error() || status.is_server_error() {
            let error = apierr::parse_any(status, &headers, &body);
            let format = apierr::format_of(&error, status, &headers, &body).unwrap_or("unknown");
            exchange.format = Some(format.to_owned());
            exchange.code = Some(error.code().to_string());
            error_formats.push((report.exchanges.len(), format.to_owned()));
            check_error_answer(status, &headers, &body, format, &mut find);
        } else if planned.must_refuse {
            find(
                ProbeRule::AcceptsBadInput,
                format!("answered {status} to {}", exchange.request),
            );
        }
        if status.is_server_error() {
            find(
                ProbeRule::ServerError,
                format!("answered {status} to {}", exchange.request),
            );
        }
        check_request_id(&headers, &id, &mut find);
        if let (Some(document), Some((path, method))) = (&config.openapi, &planned.operation) {
            check_declared(document, path, method, status, &mut find);
            if status.is_client_error() || status.is_server_error() {
                let checked = check_body(
                    document,
                    path,
                    method,
                    status,
                    &headers,
                    &body,
                    &mut schemas,
                    &mut find,
                );
                report.bodies_checked += usize::from(checked);
            }
        }
        report.exchanges.push(exchange);
    }
    for (_, format) in &error_formats {
        *report.formats.entry(format.clone()).or_default() += 1;
    }
    if report.formats.len() > 1 {
        let formats: Vec<String> = report
            .formats
            .iter()
            .map(|(f, n)| format!("{f} ({n})"))
            .collect();
        report.findings.push(Finding {
            rule: ProbeRule::MixedFormats,
            violation: true,
            check: "all",
            detail: format!("error answers come in {}", formats.join(", ")),
        });
    }
    // A server that answered nothing was not probed: no score says it keeps a contract.
    if !report.exchanges.is_empty() && report.exchanges.iter().all(|e| e.status.is_none()) {
        let why = report.exchanges[0].failure.clone().unwrap_or_default();
        return Err(format!("{}: no request got an answer ({why})", report.base));
    }
    let violations = report.findings.iter().filter(|f| f.violation).count() as u32;
    let warnings = report.findings.len() as u32 - violations;
    report.score = 100u32.saturating_sub(10 * violations + 2 * warnings);
    Ok(report)
}

/// The base URL, with the path the document serves its operations under (OpenAPI 3's
/// first server, Swagger 2's `basePath`) when the URL names no path of its own: the
/// probe of `http://host` with the Swagger Petstore's document (`servers: [{url:
/// "/api/v3"}]`) sends to `http://host/api/v3/pet/…`, as a client of the document would.
/// A server URL with variables is not expanded (no prefix).
fn under_document_prefix(base: &reqwest::Url, document: Option<&Value>) -> reqwest::Url {
    let prefix = document.and_then(|document| {
        let path = match document.get("basePath").and_then(Value::as_str) {
            Some(base_path) => base_path.to_owned(),
            None => {
                let server = document.pointer("/servers/0/url")?.as_str()?;
                if server.starts_with('/') {
                    server.to_owned()
                } else {
                    reqwest::Url::parse(server).ok()?.path().to_owned()
                }
            }
        };
        let path = path.trim_end_matches('/');
        (!path.is_empty() && !path.contains('{')).then(|| path.to_owned())
    });
    match prefix {
        Some(prefix) if base.path().trim_end_matches('/').is_empty() => {
            let mut base = base.clone();
            base.set_path(&prefix);
            base
        }
        _ => base.clone(),
    }
}

/// `path_and_query` under the base URL's path.
fn join(base: &reqwest::Url, path_and_query: &str) -> reqwest::Url {
    let mut url = base.clone();
    let (path, query) = path_and_query
        .split_once('?')
        .map_or((path_and_query, None), |(p, q)| (p, Some(q)));
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(query);
    url
}

async fn read_bounded(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_BODY_READ.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    body
}

/// The checks every error answer is held to.
fn check_error_answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    format: &str,
    find: &mut impl FnMut(ProbeRule, String),
) {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    match &content_type {
        None if !body.is_empty() => find(
            ProbeRule::ErrorContentType,
            format!("a {status} body with no Content-Type"),
        ),
        Some(ct) if is_json_format(format) && !is_json_type(ct) => find(
            ProbeRule::ErrorContentType,
            format!("a {format} (JSON) body sent as {ct}"),
        ),
        _ => {}
    }
    if status == StatusCode::METHOD_NOT_ALLOWED && !headers.contains_key(http::header::ALLOW) {
        find(ProbeRule::AllowOn405, "405 without Allow".into());
    }
    if status == StatusCode::UNAUTHORIZED && !headers.contains_key(http::header::WWW_AUTHENTICATE) {
        find(
            ProbeRule::WwwAuthenticateOn401,
            "401 without WWW-Authenticate".into(),
        );
    }
    if matches!(status.as_u16(), 429 | 503) && !headers.contains_key(http::header::RETRY_AFTER) {
        find(
            ProbeRule::RetryAfter,
            format!("{status} without Retry-After"),
        );
    }
    if let Some(leak) = internal_detail(body) {
        find(
            ProbeRule::InternalDetail,
            format!("the {status} body shows {leak}"),
        );
    }
}

/// Whether a format is written in JSON (all but the markup and text ones).
fn is_json_format(format: &str) -> bool {
    !matches!(format, "html" | "text" | "empty" | "aws-xml" | "unknown")
}

/// Whether a `Content-Type` (lower-case) is JSON's.
fn is_json_type(content_type: &str) -> bool {
    content_type.starts_with("application/json") || content_type.contains("+json")
}

/// What in a body looks like a stack trace, SQL or a file path.
fn internal_detail(body: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(body);
    const SIGNS: [(&str, &str); 14] = [
        ("Traceback (most recent call last)", "a Python traceback"),
        ("panicked at", "a Rust panic"),
        ("stack backtrace", "a backtrace"),
        ("    at ", "a stack trace"),
        ("&nbsp; &nbsp;at ", "a stack trace"),
        ("node_modules/", "a file path"),
        ("SQLSTATE", "an SQL error"),
        ("syntax error at or near", "an SQL error"),
        ("SQLITE_", "an SQL error"),
        ("sqlx::", "an SQL error"),
        ("/home/", "a file path"),
        ("/usr/lib/", "a file path"),
        (".py\", line ", "a Python traceback"),
        ("java.lang.", "a Java exception"),
    ];
    SIGNS
        .iter()
        .find(|(sign, _)| text.contains(sign))
        .map(|(_, what)| *what)
}

fn check_request_id(headers: &HeaderMap, sent: &str, find: &mut impl FnMut(ProbeRule, String)) {
    let ids: Vec<&str> = apierr::REQUEST_ID_HEADERS
        .iter()
        .filter_map(|name| headers.get(*name))
        .filter_map(|v| v.to_str().ok())
        .collect();
    if ids.is_empty() {
        find(ProbeRule::RequestId, "no request id header".into());
    } else if !ids.contains(&sent) {
        find(
            ProbeRule::RequestIdEcho,
            format!("sent X-Request-Id {sent}, got {}", ids.join(", ")),
        );
    }
}

fn check_declared(
    document: &Value,
    path: &str,
    method: &str,
    status: StatusCode,
    find: &mut impl FnMut(ProbeRule, String),
) {
    let responses = document
        .pointer(&format!(
            "/paths/{}/{method}/responses",
            pointer_escape(path)
        ))
        .and_then(Value::as_object);
    let Some(responses) = responses else { return };
    if declared_response(document, path, method, status).is_none() {
        find(
            ProbeRule::UndeclaredStatus,
            format!(
                "{} {path} answered {status}; it declares {}",
                method.to_uppercase(),
                responses.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
    }
}

/// The document's response object for `status` of an operation: the exact status, its
/// range (`4XX`), or `default`; with its JSON pointer.
fn declared_response<'d>(
    document: &'d Value,
    path: &str,
    method: &str,
    status: StatusCode,
) -> Option<(String, &'d Value)> {
    let at = format!("/paths/{}/{method}/responses", pointer_escape(path));
    let responses = document.pointer(&at)?.as_object()?;
    let range = format!("{}XX", status.as_str().chars().next().unwrap_or('0'));
    let key = [status.as_str(), &range, "default"]
        .into_iter()
        .find(|k| responses.contains_key(*k))?;
    let response = responses.get(key)?;
    // A response by reference: its pointer is the target's.
    let pointer = match response.get("$ref").and_then(Value::as_str) {
        Some(target) => target.strip_prefix('#')?.to_owned(),
        None => format!("{at}/{}", pointer_escape(key)),
    };
    Some((pointer, apierr::export::resolve(response, document)))
}

/// What a JSON pointer in a URI fragment has percent-encoded: all but RFC 3986's
/// unreserved characters, sub-delimiters, `:`, `@` and `/`.
const FRAGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'/');

/// The JSON Schema validators of the document's response bodies, built once each.
#[derive(Default)]
struct Schemas {
    built: BTreeMap<String, Result<jsonschema::Validator, String>>,
}

impl Schemas {
    /// The validator of the schema at `pointer` in `document`, or why it does not build
    /// (an external reference, which is never fetched, or a schema the draft refuses).
    fn at(&mut self, document: &Value, pointer: &str) -> &Result<jsonschema::Validator, String> {
        self.built.entry(pointer.to_owned()).or_insert_with(|| {
            // The whole document as the root resource, so that its references
            // (`#/components/schemas/…`, `#/definitions/…`) resolve; the root refers to
            // the one schema wanted. Its other members are no keywords.
            let openapi_31 = document
                .get("openapi")
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with("3.1"));
            let mut root = document.clone();
            // OpenAPI 3.1 schemas are JSON Schema 2020-12; 3.0's and Swagger 2's are an
            // extended subset of draft 4, whose one extension that changes what is valid,
            // 3.0's `nullable`, is written as draft 4 says it.
            let draft = if openapi_31 {
                jsonschema::Draft::Draft202012
            } else {
                nullable_as_types(&mut root, 0);
                jsonschema::Draft::Draft4
            };
            let Value::Object(members) = &mut root else {
                return Err("the document is not an object".into());
            };
            // A pointer in a URI fragment is percent-encoded (RFC 6901 §6): a path
            // template's braces are no URI characters.
            let fragment = percent_encoding::utf8_percent_encode(pointer, FRAGMENT);
            members.insert("$ref".into(), Value::String(format!("#{fragment}")));
            members.remove("$schema");
            members.remove("$id");
            jsonschema::options()
                .with_draft(draft)
                .offline()
                .build(&root)
                .map_err(|e| e.to_string())
        })
    }
}

/// OpenAPI 3.0's `"nullable": true` beside a `type`, as draft 4 writes it: `null` among
/// the types (an `enum` then admits `null` too). Depth-bounded like the document's other
/// walks.
fn nullable_as_types(value: &mut Value, depth: usize) {
    if depth > 64 {
        return;
    }
    match value {
        Value::Object(members) => {
            if members.get("nullable") == Some(&Value::Bool(true)) {
                match members.get_mut("type") {
                    Some(Value::String(kind)) => {
                        let kind = std::mem::take(kind);
                        members.insert("type".into(), json!([kind, "null"]));
                    }
                    Some(Value::Array(kinds)) if !kinds.contains(&json!("null")) => {
                        kinds.push(json!("null"));
                    }
                    _ => {}
                }
                if let Some(Value::Array(values)) = members.get_mut("enum")
                    && !values.contains(&Value::Null)
                {
                    values.push(Value::Null);
                }
            }
            for member in members.values_mut() {
                nullable_as_types(member, depth + 1);
            }
        }
        Value::Array(items) => {
            for item in items {
                nullable_as_types(item, depth + 1);
            }
        }
        _ => {}
    }
}

/// The error body against what the document declares for its status: a media type it
/// lists (where it lists any), and for JSON a body its schema accepts. Whether a schema
/// checked the body.
#[allow(clippy::too_many_arguments)]
fn check_body(
    document: &Value,
    path: &str,
    method: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    schemas: &mut Schemas,
    find: &mut impl FnMut(ProbeRule, String),
) -> bool {
    let Some((pointer, response)) = declared_response(document, path, method, status) else {
        return false;
    };
    let media = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let schema_at = match response.get("content").and_then(Value::as_object) {
        // OpenAPI 3: the media types it lists, exactly or by a range (`application/*`).
        Some(content) if !content.is_empty() => {
            let listed = content.keys().find(|m| {
                let m = m.to_ascii_lowercase();
                m == media
                    || m == "*/*"
                    || m.strip_suffix("/*")
                        .is_some_and(|kind| media.starts_with(&format!("{kind}/")))
            });
            let Some(listed) = listed else {
                if !body.is_empty() {
                    find(
                        ProbeRule::UndeclaredBody,
                        format!(
                            "{} {path} answered {status} as {}; it declares {}",
                            method.to_uppercase(),
                            if media.is_empty() {
                                "no media type"
                            } else {
                                &media
                            },
                            content.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
                return false;
            };
            content
                .get(listed)
                .and_then(|c| c.get("schema"))
                .map(|_| format!("{pointer}/content/{}/schema", pointer_escape(listed)))
        }
        // Swagger 2: one schema, for the JSON it produces.
        _ => response.get("schema").map(|_| format!("{pointer}/schema")),
    };
    let Some(schema_at) = schema_at else {
        return false;
    };
    if !is_json_type(&media) {
        return false;
    }
    let Ok(instance) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let validator = match schemas.at(document, &schema_at) {
        Ok(validator) => validator,
        Err(why) => {
            find(
                ProbeRule::UnreadSchema,
                format!("the schema at {schema_at} does not build: {why}"),
            );
            return false;
        }
    };
    if let Some(error) = validator.iter_errors(&instance).next() {
        let at = error.instance_path().to_string();
        find(
            ProbeRule::UndeclaredBody,
            format!(
                "{} {path} answered {status} with a body its schema refuses: {}{error}",
                method.to_uppercase(),
                if at.is_empty() {
                    String::new()
                } else {
                    format!("at {at}: ")
                },
            ),
        );
    }
    true
}

fn pointer_escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// The headers that carry credentials: `Authorization`, `X-API-Key`, and the header
/// of every API-key scheme the document declares.
fn credential_headers(config: &ProbeConfig) -> HashSet<HeaderName> {
    let mut names: HashSet<HeaderName> = [
        http::header::AUTHORIZATION,
        HeaderName::from_static("x-api-key"),
    ]
    .into_iter()
    .collect();
    // OpenAPI 3's schemes, Swagger 2's definitions.
    let schemes = ["/components/securitySchemes", "/securityDefinitions"]
        .into_iter()
        .filter_map(|pointer| config.openapi.as_ref()?.pointer(pointer)?.as_object());
    for scheme in schemes.flatten().map(|(_, s)| s) {
        if scheme.get("type").and_then(Value::as_str) == Some("apiKey")
            && scheme.get("in").and_then(Value::as_str) == Some("header")
            && let Some(name) = scheme.get("name").and_then(Value::as_str)
            && let Ok(name) = HeaderName::try_from(name)
        {
            names.insert(name);
        }
    }
    names
}

/// An operation of the document.
struct Operation<'a> {
    path: &'a str,
    method: &'a str,
    item: &'a Value,
    operation: &'a Value,
}

impl Operation<'_> {
    fn has_path_params(&self) -> bool {
        self.path.contains('{')
    }

    fn secured(&self, document: &Value) -> bool {
        match self
            .operation
            .get("security")
            .or_else(|| document.get("security"))
        {
            Some(Value::Array(schemes)) => schemes
                .iter()
                .any(|s| s.as_object().is_some_and(|o| !o.is_empty())),
            _ => false,
        }
    }

    /// The declared parameters of the operation and its path.
    fn parameters<'d>(&'d self, document: &'d Value) -> impl Iterator<Item = &'d Value> + 'd {
        [
            self.item.get("parameters"),
            self.operation.get("parameters"),
        ]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .map(move |p| apierr::export::resolve(p, document))
    }

    /// The JSON schema of the request body, where it takes JSON (OpenAPI 3's
    /// `requestBody`, Swagger 2's `in: body` parameter).
    fn json_body<'d>(&'d self, document: &'d Value) -> Option<&'d Value> {
        let Some(body) = self.operation.get("requestBody") else {
            let parameter = self
                .parameters(document)
                .find(|p| p.get("in").and_then(Value::as_str) == Some("body"))?;
            return Some(apierr::export::resolve(parameter.get("schema")?, document));
        };
        let body = apierr::export::resolve(body, document);
        let content = body.get("content")?.as_object()?;
        let (_, media) = content
            .iter()
            .find(|(m, _)| m.starts_with("application/json") || m.contains("+json"))?;
        Some(apierr::export::resolve(media.get("schema")?, document))
    }
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn operations(document: &Value) -> Vec<Operation<'_>> {
    let mut found = Vec::new();
    let paths = document.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push(Operation {
                    path,
                    method,
                    item,
                    operation,
                });
            }
        }
    }
    found
}

fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("invalid")),
    )
}

/// The battery for `config`, and the checks it cannot run.
fn battery(config: &ProbeConfig) -> (Vec<Planned>, Vec<String>) {
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    let base = |check, method, target: &str, must_refuse| Planned {
        check,
        method,
        target: target.to_owned(),
        operation: None,
        must_refuse,
        headers: Vec::new(),
        drop_credentials: false,
        body: None,
    };
    let unknown = "/apierr-probe/no-such-route";
    planned.push(base("unknown-route", Method::GET, unknown, true));
    let mut with_accept = base("unknown-route-accept", Method::GET, unknown, true);
    with_accept.headers.push(header("accept", PROBE_MEDIA));
    planned.push(with_accept);
    let Some(document) = &config.openapi else {
        skipped.push("every check of an operation: no --openapi document".into());
        return (planned, skipped);
    };
    let operations = operations(document);
    let of = |op: &Operation<'_>| Some((op.path.to_owned(), op.method.to_owned()));
    let simple_get = operations
        .iter()
        .find(|o| o.method == "get" && !o.has_path_params());
    // A path that declares no GET: GET is safe to send to it.
    let paths = document.get("paths").and_then(Value::as_object);
    match paths
        .into_iter()
        .flatten()
        .find(|(path, item)| item.get("get").is_none() && !path.contains('{'))
    {
        Some((path, _)) => planned.push(base("wrong-method", Method::GET, path, true)),
        None => skipped.push("wrong-method: every plain path declares GET".into()),
    }
    match simple_get {
        Some(op) => {
            let mut accept = base("unacceptable-accept", Method::GET, op.path, false);
            accept.operation = of(op);
            accept.headers.push(header("accept", PROBE_MEDIA));
            planned.push(accept);
            let mut stale = base("stale-date", Method::GET, op.path, false);
            stale.operation = of(op);
            stale.headers.push(header("date", STALE_DATE));
            planned.push(stale);
            let mut query = base(
                "unknown-query",
                Method::GET,
                &format!("{}?apierr_probe_unknown=1", op.path),
                false,
            );
            query.operation = of(op);
            planned.push(query);
        }
        None => skipped.push(
            "unacceptable-accept, stale-date, unknown-query: no GET without path parameters".into(),
        ),
    }
    match operations
        .iter()
        .find(|o| o.method == "get" && !o.has_path_params() && o.secured(document))
    {
        Some(op) => {
            let mut missing = base("missing-credentials", Method::GET, op.path, true);
            missing.operation = of(op);
            missing.drop_credentials = true;
            planned.push(missing);
            let mut invalid = base("invalid-credentials", Method::GET, op.path, true);
            invalid.operation = of(op);
            invalid.drop_credentials = true;
            invalid
                .headers
                .push(header("authorization", "Bearer apierr-probe-invalid"));
            planned.push(invalid);
            match &config.expired_token {
                Some(token) => {
                    let mut expired = base("expired-token", Method::GET, op.path, true);
                    expired.operation = of(op);
                    expired.drop_credentials = true;
                    expired
                        .headers
                        .push(header("authorization", &format!("Bearer {token}")));
                    planned.push(expired);
                }
                None => skipped.push("expired-token: no --expired-token".into()),
            }
        }
        None => skipped.push(
            "missing-credentials, invalid-credentials: no secured GET without path parameters"
                .into(),
        ),
    }
    let id_op = operations.iter().find_map(|o| {
        (o.method == "get").then_some(())?;
        let param = o.parameters(document).find(|p| {
            p.get("in").and_then(Value::as_str) == Some("path") && {
                // OpenAPI 3 types a parameter in its schema, Swagger 2 on itself.
                let schema = p
                    .get("schema")
                    .map_or(*p, |s| apierr::export::resolve(s, document));
                let kind = schema.get("type").and_then(Value::as_str);
                let format = schema.get("format").and_then(Value::as_str);
                matches!(kind, Some("integer" | "number")) || format == Some("uuid")
            }
        })?;
        Some((o, param.get("name")?.as_str()?.to_owned()))
    });
    match id_op {
        Some((op, name)) => {
            let target = fill_path(op.path, Some(&name));
            let mut wrong = base("wrong-path-id", Method::GET, &target, true);
            wrong.operation = of(op);
            planned.push(wrong);
        }
        None => {
            skipped.push("wrong-path-id: no GET with an integer or UUID path id".into());
            // Ids of free form: one the API never issued must be refused (a 404 in the
            // contract, most often).
            let any_id = operations.iter().find_map(|o| {
                (o.method == "get").then_some(())?;
                let param = o
                    .parameters(document)
                    .find(|p| p.get("in").and_then(Value::as_str) == Some("path"))?;
                Some((o, param.get("name")?.as_str()?.to_owned()))
            });
            if let Some((op, name)) = any_id {
                let target = fill_path(op.path, Some(&name));
                let mut unknown = base("unknown-path-id", Method::GET, &target, true);
                unknown.operation = of(op);
                planned.push(unknown);
            }
        }
    }
    if !config.allow_writes {
        skipped.push("malformed-json, wrong-content-type, wrong-field-types, missing-required, oversized-body: they send bodies to mutating operations (--allow-writes)".into());
        return (planned, skipped);
    }
    let Some((op, schema)) = operations
        .iter()
        .filter(|o| matches!(o.method, "post" | "put" | "patch"))
        .find_map(|o| Some((o, o.json_body(document)?)))
    else {
        skipped.push("body checks: no operation takes a JSON body".into());
        return (planned, skipped);
    };
    let method = Method::from_bytes(op.method.to_uppercase().as_bytes()).unwrap_or(Method::POST);
    let target = fill_path(op.path, None);
    let mut with_body = |check, content_type, body: Vec<u8>| {
        let mut p = base(check, method.clone(), &target, true);
        p.operation = of(op);
        p.body = Some((content_type, body));
        planned.push(p);
    };
    with_body(
        "malformed-json",
        "application/json",
        br#"{"apierr-probe": "#.to_vec(),
    );
    with_body("wrong-content-type", "text/plain", b"apierr probe".to_vec());
    let properties = schema.get("properties").and_then(Value::as_object);
    let wrong: serde_json::Map<String, Value> = properties
        .into_iter()
        .flatten()
        .map(|(name, p)| {
            let p = apierr::export::resolve(p, document);
            let value = match p.get("type").and_then(Value::as_str) {
                Some("string") => json!(12345),
                Some("integer" | "number") => json!("not a number"),
                Some("boolean") => json!("not a boolean"),
                Some("array") => json!({"not": "an array"}),
                _ => json!([]),
            };
            (name.clone(), value)
        })
        .collect();
    with_body(
        "wrong-field-types",
        "application/json",
        serde_json::to_vec(&wrong).unwrap_or_default(),
    );
    if schema
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
    {
        with_body("missing-required", "application/json", b"{}".to_vec());
    } else {
        skipped.push("missing-required: the body requires no field".into());
    }
    let mut oversized = br#"{"apierr-probe": ""#.to_vec();
    oversized.resize(OVERSIZED, b'x');
    oversized.extend_from_slice(br#""}"#);
    with_body("oversized-body", "application/json", oversized);
    (planned, skipped)
}

/// A path template with every parameter filled: `wrong` with a value of the wrong form,
/// the others with `1`.
fn fill_path(template: &str, wrong: Option<&str>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + end];
        out.push_str(if Some(name) == wrong {
            "apierr-probe-not-an-id"
        } else {
            "1"
        });
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_filled_and_joined_under_the_base() {
        // Scenario: a template's parameters are filled, and the base URL's own path
        // stays in front.
        assert_eq!(
            fill_path("/a/{id}/b/{x}", Some("id")),
            "/a/apierr-probe-not-an-id/b/1"
        );
        let base = reqwest::Url::parse("http://127.0.0.1:9/api/").unwrap();
        assert_eq!(
            join(&base, "/x?y=1").as_str(),
            "http://127.0.0.1:9/api/x?y=1"
        );
    }

    #[test]
    fn the_document_s_server_path_is_used_when_the_base_url_has_none() {
        // Scenario: OpenAPI 3's relative and absolute servers and Swagger 2's basePath
        // put the operations under their path; a base URL with a path of its own, a
        // server at the root, or one with variables leave the base as given.
        let at = |base: &str, document: Value| {
            let base = reqwest::Url::parse(base).unwrap();
            under_document_prefix(&base, Some(&document)).to_string()
        };
        let root = "http://127.0.0.1:9";
        let relative = json!({"servers": [{"url": "/api/v3/"}]});
        assert_eq!(at(root, relative.clone()), "http://127.0.0.1:9/api/v3");
        assert_eq!(
            at("http://127.0.0.1:9/v1", relative),
            "http://127.0.0.1:9/v1"
        );
        let absolute = json!({"servers": [{"url": "https://api.example.com/v2"}]});
        assert_eq!(at(root, absolute), "http://127.0.0.1:9/v2");
        assert_eq!(
            at(root, json!({"basePath": "/v2"})),
            "http://127.0.0.1:9/v2"
        );
        let plain = json!({"servers": [{"url": "http://127.0.0.1:8080"}]});
        assert_eq!(at(root, plain), "http://127.0.0.1:9/");
        let variables = json!({"servers": [{"url": "/{version}"}]});
        assert_eq!(at(root, variables), "http://127.0.0.1:9/");
        assert_eq!(at(root, json!({})), "http://127.0.0.1:9/");
    }

    #[test]
    fn swagger_2_bodies_path_ids_and_key_headers_are_read() {
        // Scenario: a Swagger 2 operation's `in: body` parameter is its JSON body, its
        // integer path id is typed on the parameter, and its API-key header counts as a
        // credential.
        let document = json!({
            "swagger": "2.0",
            "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Token"}},
            "definitions": {"Pet": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
            "paths": {
                "/pet": {"post": {"parameters": [{"in": "body", "name": "body", "schema": {"$ref": "#/definitions/Pet"}}], "responses": {"405": {}}}},
                "/pet/{petId}": {"get": {"parameters": [{"in": "path", "name": "petId", "type": "integer", "required": true}], "responses": {"404": {}}}}
            }
        });
        let config = ProbeConfig {
            base: reqwest::Url::parse("http://127.0.0.1:9").unwrap(),
            openapi: Some(document),
            headers: Vec::new(),
            expired_token: None,
            allow_writes: true,
            max_requests: 100,
            rate: 10.0,
        };
        assert!(credential_headers(&config).contains(&HeaderName::from_static("x-token")));
        let (battery, _) = battery(&config);
        let target = |check| {
            battery
                .iter()
                .find(|p| p.check == check)
                .map(|p| p.target.clone())
        };
        assert_eq!(
            target("wrong-path-id").as_deref(),
            Some("/pet/apierr-probe-not-an-id")
        );
        assert_eq!(target("missing-required").as_deref(), Some("/pet"));
        let wrong = battery
            .iter()
            .find(|p| p.check == "wrong-field-types")
            .unwrap();
        assert_eq!(wrong.body.as_ref().unwrap().1, br#"{"name":12345}"#);
    }

    #[test]
    fn bodies_are_held_to_the_declared_schema_with_openapi_3_0_s_nullable() {
        // Scenario: an OpenAPI 3.0 error schema with a `nullable` member (by reference,
        // under a path template with braces): `null` there is valid, a number is not,
        // a missing required member is not, and a media type it does not list is a
        // finding of its own.
        let document = json!({"openapi": "3.0.3", "paths": {"/a/{id}": {"get": {"responses": {
            "404": {"description": "gone", "content": {"application/json": {"schema":
                {"$ref": "#/components/schemas/Error"}}}}}}}},
            "components": {"schemas": {"Error": {"type": "object", "required": ["code"],
                "properties": {"code": {"type": "string"},
                    "hint": {"type": "string", "nullable": true}}}}}});
        let mut schemas = Schemas::default();
        let mut check = |media: &str, body: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_str(media).unwrap(),
            );
            let mut found = Vec::new();
            let checked = check_body(
                &document,
                "/a/{id}",
                "get",
                StatusCode::NOT_FOUND,
                &headers,
                body.as_bytes(),
                &mut schemas,
                &mut |rule, detail| found.push((rule, detail)),
            );
            (checked, found)
        };
        assert_eq!(
            check("application/json", r#"{"code":"x","hint":null}"#),
            (true, vec![])
        );
        let (checked, found) = check("application/json", r#"{"code":"x","hint":5}"#);
        assert!(
            checked && found.len() == 1 && found[0].0 == ProbeRule::UndeclaredBody,
            "{found:?}"
        );
        let (_, found) = check("application/json", r#"{"hint":"h"}"#);
        assert!(
            found[0].1.contains("\"code\" is a required property"),
            "{found:?}"
        );
        let (checked, found) = check("text/html", "<p>gone</p>");
        assert!(!checked && found[0].1.contains("as text/html"), "{found:?}");
    }

    #[test]
    fn what_a_server_sent_is_text_in_the_reports() {
        // Scenario: a hostile server's code and detail, with markup and table syntax,
        // come out escaped in the HTML page and as one plain cell in Markdown.
        let hostile = "<script>alert(1)</script> | `x` [a](javascript:b)\nnext";
        let report = ProbeReport {
            base: "http://127.0.0.1:9/".into(),
            exchanges: vec![Exchange {
                check: "unknown-route",
                request: "GET /x".into(),
                status: Some(404),
                format: Some("json".into()),
                code: Some(hostile.into()),
                failure: None,
            }],
            findings: vec![Finding {
                rule: ProbeRule::InternalDetail,
                violation: true,
                check: "unknown-route",
                detail: hostile.into(),
            }],
            formats: BTreeMap::new(),
            skipped: vec![hostile.into()],
            bodies_checked: 0,
            score: 90,
        };
        let html = report.html();
        assert!(
            !html.contains("<script>") && html.contains("&lt;script&gt;"),
            "{html}"
        );
        let md = report.markdown();
        // No raw markup, and the link's bracket escaped: no link.
        assert!(!md.contains("<script>") && !md.contains(" [a]("), "{md}");
        // Every `|` of the server's text is escaped: each row keeps its cells (five in
        // the requests' table, four in the findings').
        for (start, pipes) in [("| unknown-route", 6), ("| violation", 5)] {
            let line = md.lines().find(|l| l.starts_with(start)).unwrap();
            assert_eq!(
                line.replace("\\|", "").matches('|').count(),
                pipes,
                "{line}"
            );
        }
    }

    #[test]
    fn internal_details_are_recognised() {
        // Scenario: a traceback, an SQL error and a clean body.
        assert!(
            internal_detail(b"Traceback (most recent call last):\n  File \"a.py\", line 3")
                .is_some()
        );
        assert!(internal_detail(b"error: SQLSTATE 42P01").is_some());
        assert!(internal_detail(br#"{"code":"not_found"}"#).is_none());
    }
}
