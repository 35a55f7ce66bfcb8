//! Recognisers for the error formats of other vendors' APIs, tried when a body is in none
//! of apierr's own dialects: each reads the code, message, field violations (with their
//! location as the vendor wrote it, a JSON Pointer kept as one), request id, retry delay
//! and documentation link it can find, and names itself ([`ApiError::format`]).
//!
//! Request ids are looked for in this order: a body member the format defines, then the
//! headers [`REQUEST_ID_HEADERS`](crate::REQUEST_ID_HEADERS) in their order, then `traceparent`'s trace id.

mod tree;

use std::borrow::Cow;
use std::time::Duration;

use http::StatusCode;

use self::tree::{Json, Obj};

use crate::error::reason_phrase;
use crate::hints::HeaderFacts;
use crate::{ApiError, Category, Code, FieldViolation, ViolationKind};

/// Body members that carry a request id, in the order they are looked for.
const REQUEST_ID_MEMBERS: &[&str] = &[
    "request_id",
    "requestId",
    "RequestId",
    "traceId",
    "trace_id",
    "debug_id",
    "correlationId",
];

/// What a recogniser found, before it becomes an [`ApiError`].
#[derive(Default)]
struct Found {
    format: &'static str,
    code: Option<Code>,
    message: Option<String>,
    violations: Vec<FieldViolation>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    doc_url: Option<String>,
    rate_limited: bool,
}

fn text(v: Option<&Json<'_>>) -> Option<String> {
    match v? {
        Json::Str(s) if !s.is_empty() => Some(s.as_ref().to_owned()),
        Json::Num(n) => Some(n.to_string()),
        _ => None,
    }
}

fn code_of(v: Option<&Json<'_>>) -> Option<Code> {
    match v? {
        Json::Str(s) if !s.is_empty() => Some(Code::owned(s.as_ref().to_owned())),
        Json::Num(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Code::numeric),
        _ => None,
    }
}

/// A request id among `object`'s members.
fn request_id_in(object: &Obj<'_>) -> Option<String> {
    REQUEST_ID_MEMBERS
        .iter()
        .find_map(|name| text(object.get(name)))
}

/// A duration as Google writes it (`"30s"`, `"1.5s"`) or a number of seconds.
fn delay(v: &Json<'_>) -> Option<Duration> {
    match v {
        Json::Str(s) => s
            .strip_suffix('s')
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0 && *n < 1e9)
            .map(Duration::from_secs_f64),
        Json::Num(n) => Some(n.as_f64())
            .filter(|n| n.is_finite() && *n >= 0.0 && *n < 1e9)
            .map(Duration::from_secs_f64),
        Json::Object(o) => {
            // google.protobuf.Duration as an object.
            let secs = o.get("seconds").and_then(Json::as_u64).unwrap_or(0);
            let nanos = o.get("nanos").and_then(Json::as_u64).unwrap_or(0);
            Some(Duration::from_secs(secs) + Duration::from_nanos(nanos.min(999_999_999)))
        }
        _ => None,
    }
}

/// Google AIP-193: `{"error": {"code": 400, "message", "status": "INVALID_ARGUMENT",
/// "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest", …}]}}`.
fn google(root: &Obj<'_>) -> Option<Found> {
    let error = root.get("error")?.as_object()?;
    let status = error.get("status")?.as_str()?;
    if !error.get("code").is_some_and(Json::is_number) {
        return None;
    }
    let mut found = Found {
        format: "google",
        code: Some(Code::owned(status)),
        message: text(error.get("message")),
        ..Found::default()
    };
    for detail in error
        .get("details")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let Some(d) = detail.as_object() else {
            continue;
        };
        let kind = d.get("@type").and_then(Json::as_str).unwrap_or_default();
        let kind = kind.rsplit('/').next().unwrap_or(kind);
        match kind {
            "google.rpc.ErrorInfo" => {
                if let Some(reason) = code_of(d.get("reason")) {
                    found.code = Some(reason);
                }
            }
            "google.rpc.BadRequest" => {
                for v in d
                    .get("fieldViolations")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                {
                    found.violations.push(FieldViolation::new(
                        ViolationKind::Body,
                        text(v.get("field")).unwrap_or_default(),
                        text(v.get("description")).unwrap_or_default(),
                    ));
                }
            }
            "google.rpc.RetryInfo" => found.retry_after = d.get("retryDelay").and_then(delay),
            "google.rpc.QuotaFailure" => found.rate_limited = true,
            "google.rpc.Help" => {
                found.doc_url = d
                    .get("links")
                    .and_then(Json::as_array)
                    .and_then(|l| l.first())
                    .and_then(|l| text(l.get("url")));
            }
            "google.rpc.RequestInfo" => found.request_id = text(d.get("requestId")),
            "google.rpc.LocalizedMessage" if found.message.is_none() => {
                found.message = text(d.get("message"));
            }
            _ => {}
        }
    }
    if status == "RESOURCE_EXHAUSTED" {
        found.rate_limited = true;
    }
    Some(found)
}

/// Stripe: `{"error": {"type", "code", "message", "param", "doc_url", "request_log_url"}}`.
fn stripe(root: &Obj<'_>) -> Option<Found> {
    let error = root.get("error")?.as_object()?;
    let kind = error.get("type")?.as_str()?;
    let mut found = Found {
        format: "stripe",
        code: code_of(error.get("code")).or_else(|| Some(Code::owned(kind))),
        message: text(error.get("message")),
        doc_url: text(error.get("doc_url")),
        ..Found::default()
    };
    if let Some(param) = text(error.get("param")) {
        let message = found.message.clone().unwrap_or_default();
        found.violations.push(FieldViolation::new(
            ViolationKind::Parameter,
            param,
            message,
        ));
    }
    found.request_id = text(error.get("request_log_url"))
        .and_then(|u| {
            u.rsplit('/')
                .next()
                .map(|id| id.split('?').next().unwrap_or(id).to_owned())
        })
        .filter(|id| id.starts_with("req_"));
    if kind == "rate_limit_error" {
        found.rate_limited = true;
    }
    Some(found)
}

/// Microsoft REST guidelines / OData: `{"error": {"code", "message", "target",
/// "details": [{"code", "message", "target"}], "innererror": {"code", "innererror": …}}}`.
fn odata(root: &Obj<'_>) -> Option<Found> {
    let error = root.get("error")?.as_object()?;
    let code = error.get("code")?.as_str()?;
    error.get("message")?;
    let mut found = Found {
        format: "odata",
        code: Some(Code::owned(code)),
        message: text(error.get("message")),
        ..Found::default()
    };
    // The most specific code is the innermost.
    let mut inner = error.get("innererror");
    let mut depth = 0;
    while let Some(Json::Object(o)) = inner {
        if let Some(code) = code_of(o.get("code")) {
            found.code = Some(code);
        }
        depth += 1;
        if depth > 32 {
            break;
        }
        inner = o.get("innererror");
    }
    for d in error
        .get("details")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(target) = text(d.get("target")) {
            found.violations.push(FieldViolation::new(
                ViolationKind::Body,
                target,
                text(d.get("message")).unwrap_or_default(),
            ));
        }
    }
    if found.violations.is_empty()
        && let Some(target) = text(error.get("target"))
    {
        found.violations.push(FieldViolation::new(
            ViolationKind::Body,
            target,
            found.message.clone().unwrap_or_default(),
        ));
    }
    found.request_id = request_id_in(error);
    Some(found)
}

/// GraphQL: `{"errors": [{"message", "locations", "path", "extensions": {"code"}}]}`.
fn graphql(root: &Obj<'_>) -> Option<Found> {
    let errors = root.get("errors")?.as_array()?;
    let first = errors.first()?.as_object()?;
    first.get("message")?.as_str()?;
    if !["extensions", "locations", "path"]
        .iter()
        .any(|k| first.contains_key(k))
        && !root.contains_key("data")
    {
        return None;
    }
    let extensions = first.get("extensions").and_then(Json::as_object);
    let mut found = Found {
        format: "graphql",
        code: extensions.and_then(|e| code_of(e.get("code"))),
        message: text(first.get("message")),
        request_id: extensions.and_then(request_id_in),
        ..Found::default()
    };
    if found.code.as_ref().and_then(Code::as_text) == Some("RATE_LIMITED") {
        found.rate_limited = true;
    }
    for e in errors {
        let field = e.get("path").and_then(Json::as_array).map(|p| {
            p.iter()
                .map(|s| match s {
                    Json::Str(s) => s.as_ref().to_owned(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
        });
        if let Some(field) = field.filter(|f| !f.is_empty()) {
            found.violations.push(FieldViolation::new(
                ViolationKind::Other(Cow::Borrowed("path")),
                field,
                text(e.get("message")).unwrap_or_default(),
            ));
        }
    }
    Some(found)
}

/// JSON:API: `{"errors": [{"status": "422", "code", "title", "detail", "source":
/// {"pointer" | "parameter" | "header"}}]}`.
fn jsonapi(root: &Obj<'_>) -> Option<Found> {
    let errors = root.get("errors")?.as_array()?;
    let first = errors.first()?.as_object()?;
    if !["title", "detail", "source", "status"]
        .iter()
        .any(|k| first.contains_key(k))
    {
        return None;
    }
    let mut found = Found {
        format: "jsonapi",
        code: code_of(first.get("code")),
        message: text(first.get("detail")).or_else(|| text(first.get("title"))),
        ..Found::default()
    };
    for e in errors {
        let Some(source) = e.get("source").and_then(Json::as_object) else {
            continue;
        };
        let message = text(e.get("detail"))
            .or_else(|| text(e.get("title")))
            .unwrap_or_default();
        let (kind, field) = if let Some(p) = text(source.get("pointer")) {
            (ViolationKind::Body, p)
        } else if let Some(p) = text(source.get("parameter")) {
            (ViolationKind::Query, p)
        } else if let Some(h) = text(source.get("header")) {
            (ViolationKind::Header, h)
        } else {
            continue;
        };
        found
            .violations
            .push(FieldViolation::new(kind, field, message));
    }
    Some(found)
}

/// GitHub: `{"message", "errors": [{"resource", "field", "code"}], "documentation_url"}`.
fn github(root: &Obj<'_>) -> Option<Found> {
    let doc = text(root.get("documentation_url"))?;
    let mut found = Found {
        format: "github",
        message: text(root.get("message")),
        doc_url: Some(doc),
        ..Found::default()
    };
    for e in root
        .get("errors")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(field) = text(e.get("field")) {
            found.violations.push(FieldViolation::new(
                ViolationKind::Body,
                field,
                text(e.get("message"))
                    .or_else(|| text(e.get("code")))
                    .unwrap_or_default(),
            ));
        }
        if found.code.is_none() {
            found.code = code_of(e.get("code"));
        }
    }
    if found
        .message
        .as_deref()
        .is_some_and(|m| find_ignoring_case(m, "rate limit").is_some())
    {
        found.rate_limited = true;
    }
    Some(found)
}

/// AWS's throttling codes: the request was refused for its rate, not its content.
const AWS_THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "LimitExceededException",
];

/// AWS JSON protocols: `{"__type": "com.amazon.coral.validate#ValidationException",
/// "message" | "Message"}`.
fn aws_json(root: &Obj<'_>) -> Option<Found> {
    let kind = root.get("__type")?.as_str()?;
    let code = kind.rsplit('#').next().unwrap_or(kind);
    let code = code.split(':').next().unwrap_or(code);
    Some(Found {
        format: "aws-json",
        rate_limited: AWS_THROTTLING.contains(&code),
        code: Some(Code::owned(code)),
        message: text(root.get("message")).or_else(|| text(root.get("Message"))),
        ..Found::default()
    })
}

/// FastAPI / pydantic: `{"detail": [{"loc": ["body", "email"], "msg", "type"}]}` or
/// `{"detail": "Not Found"}`.
fn fastapi(root: &Obj<'_>) -> Option<Found> {
    if root.len() != 1 {
        return None;
    }
    match root.get("detail")? {
        Json::Str(message) => Some(Found {
            format: "fastapi",
            message: Some(message.as_ref().to_owned()),
            ..Found::default()
        }),
        Json::Array(items) => {
            let mut found = Found {
                format: "fastapi",
                ..Found::default()
            };
            for item in items {
                let loc = item.get("loc")?.as_array()?;
                let mut parts = loc.iter().map(|p| match p {
                    Json::Str(s) => s.as_ref().to_owned(),
                    other => other.to_string(),
                });
                let first = parts.next().unwrap_or_default();
                let (kind, rest): (ViolationKind, Vec<String>) = match first.as_str() {
                    "body" => (ViolationKind::Body, parts.collect()),
                    "query" => (ViolationKind::Query, parts.collect()),
                    "path" => (ViolationKind::Path, parts.collect()),
                    "header" => (ViolationKind::Header, parts.collect()),
                    _ => (
                        ViolationKind::Body,
                        std::iter::once(first).chain(parts).collect(),
                    ),
                };
                found.violations.push(FieldViolation::new(
                    kind,
                    rest.join("."),
                    text(item.get("msg")).unwrap_or_default(),
                ));
                if found.code.is_none() {
                    found.code = code_of(item.get("type"));
                }
            }
            found.message = found.violations.first().map(|v| summary(v, ": "));
            Some(found)
        }
        _ => None,
    }
}

/// Spring Boot's default: `{"timestamp", "status", "error", "message", "path"}`.
fn spring(root: &Obj<'_>) -> Option<Found> {
    root.get("timestamp")?;
    root.get("path")?;
    let error = text(root.get("error"))?;
    let mut found = Found {
        format: "spring",
        message: text(root.get("message")).or(Some(error)),
        request_id: text(root.get("requestId")),
        ..Found::default()
    };
    for e in root
        .get("errors")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(field) = text(e.get("field")) {
            found.violations.push(FieldViolation::new(
                ViolationKind::Body,
                field,
                text(e.get("defaultMessage")).unwrap_or_default(),
            ));
        }
    }
    Some(found)
}

/// hapi's Boom payload, which Fastify and NestJS answer too: `{"statusCode", "error",
/// "message"}`, the `error` the status's reason phrase. Fastify adds its `code`
/// (`FST_ERR_VALIDATION`) and names a field in its validation message (`body/name must
/// be string`); NestJS's validation pipe lists its messages, each starting with the
/// property it is about (`email must be an email`).
fn boom(root: &Obj<'_>) -> Option<Found> {
    if !matches!(root.get("statusCode")?, Json::Num(_)) {
        return None;
    }
    text(root.get("error"))?;
    let mut found = Found {
        format: "boom",
        code: code_of(root.get("code")),
        ..Found::default()
    };
    match root.get("message")? {
        Json::Str(message) => {
            if let Some((kind, field)) = fastify_field(message) {
                found.violations.push(FieldViolation::new(
                    kind,
                    field,
                    message.as_ref().to_owned(),
                ));
            }
            found.message = Some(message.as_ref().to_owned());
        }
        Json::Array(messages) => {
            let messages: Vec<String> = messages.iter().filter_map(|m| text(Some(m))).collect();
            for message in &messages {
                if let Some((property, _)) = message.split_once(' ') {
                    found.violations.push(FieldViolation::new(
                        ViolationKind::Body,
                        property.to_owned(),
                        message.clone(),
                    ));
                }
            }
            found.message = Some(messages.join("; "));
        }
        _ => return None,
    }
    Some(found)
}

/// The place and field a Fastify validation message names: `body/name must be string`
/// (`querystring/`, `params/`, `headers/` likewise; a nested member as `body/a/b`).
fn fastify_field(message: &str) -> Option<(ViolationKind, String)> {
    let (path, _) = message.split_once(' ')?;
    let (place, field) = path.split_once('/')?;
    let kind = match place {
        "body" => ViolationKind::Body,
        "querystring" => ViolationKind::Query,
        "params" => ViolationKind::Path,
        "headers" => ViolationKind::Header,
        _ => return None,
    };
    (!field.is_empty()).then(|| (kind, field.replace('/', ".")))
}

/// `{"ok": false, "error": "invalid_auth"}` (Slack and others).
fn ok_false(root: &Obj<'_>) -> Option<Found> {
    if !matches!(root.get("ok")?, Json::Bool(false)) {
        return None;
    }
    let error = root.get("error");
    let (code, message) = match error {
        Some(Json::Str(s)) => (
            Some(Code::owned(s.as_ref().to_owned())),
            Some(s.as_ref().to_owned()),
        ),
        Some(Json::Object(o)) => (
            code_of(o.get("code")),
            text(o.get("message")).or_else(|| text(root.get("description"))),
        ),
        _ => (
            code_of(root.get("error_code")),
            text(root.get("description")),
        ),
    };
    Some(Found {
        format: "ok-false",
        rate_limited: code.as_ref().and_then(Code::as_text) == Some("ratelimited"),
        code,
        message,
        ..Found::default()
    })
}

/// A message made of a violation's field and reason (`email: is invalid`), for formats
/// whose body has no message of its own. Built by hand: `format!` costs a tenth of the
/// whole recognition of such a body.
fn summary(v: &FieldViolation, separator: &str) -> String {
    let (field, reason) = (v.field(), v.message());
    let mut out = String::with_capacity(field.len() + separator.len() + reason.len());
    out.push_str(field);
    out.push_str(separator);
    out.push_str(reason);
    out
}

/// A map from field to messages: Rails' `{"errors": {"email": ["is invalid"]}}`, Django
/// REST framework's `{"email": ["Enter a valid email address."]}` and ASP.NET's
/// ValidationProblemDetails `errors` member.
fn field_map(map: &Obj<'_>, kind: ViolationKind) -> Option<Vec<FieldViolation>> {
    let mut out = Vec::new();
    for (field, messages) in map.iter() {
        let messages = messages.as_array()?;
        for m in messages {
            out.push(FieldViolation::new(
                kind.clone(),
                field.to_owned(),
                text(Some(m)).unwrap_or_default(),
            ));
        }
    }
    (!out.is_empty()).then_some(out)
}

fn rails(root: &Obj<'_>) -> Option<Found> {
    let errors = root.get("errors")?.as_object()?;
    let violations = field_map(errors, ViolationKind::Body)?;
    Some(Found {
        format: "rails",
        message: violations.first().map(|v| summary(v, " ")),
        violations,
        ..Found::default()
    })
}

fn drf(root: &Obj<'_>) -> Option<Found> {
    if let Some(Json::Str(detail)) = root.get("detail")
        && root.len() <= 2
    {
        return Some(Found {
            format: "drf",
            message: Some(detail.as_ref().to_owned()),
            code: code_of(root.get("code")),
            ..Found::default()
        });
    }
    let violations = field_map(root, ViolationKind::Body)?;
    Some(Found {
        format: "drf",
        message: violations.first().map(|v| summary(v, ": ")),
        violations,
        ..Found::default()
    })
}

/// RFC 9457 / 7807 bodies that apierr's own `problem` dialect does not read whole:
/// extension members, an `errors` map (ValidationProblemDetails) or list.
fn rfc9457(root: &Obj<'_>, problem_type: bool) -> Option<Found> {
    let marked = problem_type
        || (root.contains_key("title")
            && (root.contains_key("type") || root.contains_key("status")));
    if !marked {
        return None;
    }
    let type_uri = text(root.get("type")).filter(|t| t != "about:blank");
    let mut found = Found {
        format: "rfc9457",
        message: text(root.get("detail")).or_else(|| text(root.get("title"))),
        code: code_of(root.get("code"))
            .or_else(|| code_of(root.get("errorCode")))
            .or_else(|| type_uri.as_deref().map(|t| Code::owned(t.to_owned()))),
        doc_url: type_uri.filter(|t| t.starts_with("http")),
        request_id: request_id_in(root),
        ..Found::default()
    };
    match root.get("errors").or_else(|| root.get("invalid-params")) {
        Some(Json::Object(map)) => {
            found.violations = field_map(map, ViolationKind::Body).unwrap_or_default();
        }
        Some(Json::Array(items)) => {
            for item in items {
                let field = text(item.get("pointer"))
                    .or_else(|| text(item.get("field")))
                    .or_else(|| text(item.get("name")))
                    .or_else(|| text(item.get("param")));
                if let Some(field) = field {
                    found.violations.push(FieldViolation::new(
                        ViolationKind::Body,
                        field,
                        text(item.get("detail"))
                            .or_else(|| text(item.get("reason")))
                            .or_else(|| text(item.get("message")))
                            .unwrap_or_default(),
                    ));
                }
            }
        }
        _ => {}
    }
    Some(found)
}

/// The first of a few members a message is found in, for a JSON body of no known
/// format.
fn generic(root: &Obj<'_>) -> Found {
    let error = root.get("error");
    let nested = error.and_then(Json::as_object);
    Found {
        format: "json",
        message: [
            "message",
            "Message",
            "error_description",
            "detail",
            "description",
            "title",
        ]
        .iter()
        .find_map(|k| text(root.get(k)))
        .or_else(|| nested.and_then(|e| text(e.get("message"))))
        .or_else(|| text(error)),
        code: ["code", "error_code", "errorCode", "Code"]
            .iter()
            .find_map(|k| code_of(root.get(k)))
            .or_else(|| nested.and_then(|e| code_of(e.get("code")))),
        request_id: request_id_in(root),
        ..Found::default()
    }
}

/// A recogniser of one format: what it found, if the body is in it.
type Recogniser = fn(&Obj<'_>) -> Option<Found>;

fn json(root: &Obj<'_>, problem_type: bool) -> Found {
    let recognisers: [Recogniser; 12] = [
        google, stripe, odata, graphql, jsonapi, github, aws_json, fastapi, spring, boom, ok_false,
        rails,
    ];
    if let Some(found) = rfc9457(root, problem_type) {
        return found;
    }
    recognisers
        .iter()
        .find_map(|r| r(root))
        .or_else(|| drf(root))
        .unwrap_or_else(|| generic(root))
}

/// The text of the first `<tag>…</tag>` element (`open` and `close` are the tags),
/// trimmed; `None` when it is missing or empty.
fn element<'a>(body: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = find_tag(body, open)? + open.len();
    let end = find_tag(&body[start..], close)? + start;
    let inner = body[start..end].trim();
    (!inner.is_empty()).then_some(inner)
}

/// Where the tag `tag` (`<Code>`) first occurs: each `<`, found with `memchr`, compared
/// with it. A substring search (`str::find`) sets up a two-way searcher per call, which
/// cost half of reading a small XML error.
fn find_tag(hay: &str, tag: &str) -> Option<usize> {
    let bytes = hay.as_bytes();
    memchr::memchr_iter(b'<', bytes).find(|&i| bytes[i..].starts_with(tag.as_bytes()))
}

/// Where `needle` (lower-case ASCII) first occurs in `hay`, ignoring ASCII case; without
/// the copy that lower-casing the whole body would take.
fn find_ignoring_case(hay: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// An HTML page's `<title>`, its white space collapsed.
fn title_of_html(body: &str) -> Option<String> {
    let start = find_ignoring_case(body, "<title")?;
    let start = start + body[start..].find('>')? + 1;
    let end = start + find_ignoring_case(&body[start..], "</title")?;
    let mut title = String::with_capacity(end - start);
    for word in body[start..end].split_whitespace() {
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    (!title.is_empty()).then_some(title)
}

fn not_json(body: &[u8]) -> Found {
    // Valid UTF-8, the usual case, is checked faster than `from_utf8_lossy` walks it.
    let text =
        std::str::from_utf8(body).map_or_else(|_| String::from_utf8_lossy(body), Cow::Borrowed);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Found {
            format: "empty",
            ..Found::default()
        };
    }
    let xml = trimmed.starts_with("<?xml")
        || trimmed.starts_with("<Error")
        || find_tag(trimmed, "<Code>").is_some();
    if xml && let Some(code) = element(trimmed, "<Code>", "</Code>") {
        return Found {
            format: "aws-xml",
            rate_limited: AWS_THROTTLING.contains(&code),
            code: Some(Code::owned(code.to_owned())),
            message: element(trimmed, "<Message>", "</Message>").map(str::to_owned),
            request_id: element(trimmed, "<RequestId>", "</RequestId>")
                .or_else(|| element(trimmed, "<RequestID>", "</RequestID>"))
                .map(str::to_owned),
            ..Found::default()
        };
    }
    if trimmed.starts_with('<') {
        return Found {
            format: "html",
            message: title_of_html(trimmed),
            ..Found::default()
        };
    }
    let first = trimmed.lines().next().unwrap_or_default().trim();
    Found {
        format: "text",
        message: Some(first.chars().take(300).collect()),
        ..Found::default()
    }
}

/// Reads a body in none of apierr's dialects, with what its headers say.
pub(crate) fn recognise(status: StatusCode, facts: &HeaderFacts<'_>, body: &[u8]) -> ApiError {
    let found = match Json::parse(body) {
        Ok(Json::Object(root)) => json(&root, facts.problem),
        Ok(Json::Str(s)) => Found {
            format: "text",
            message: Some(s.into_owned()),
            ..Found::default()
        },
        Ok(_) => Found {
            format: "json",
            ..Found::default()
        },
        Err(_) => not_json(body),
    };
    let message = found
        .message
        .map_or_else(|| Cow::Borrowed(reason_phrase(status)), Cow::Owned);
    let code = found
        .code
        .unwrap_or_else(|| Code::Numeric(u32::from(status.as_u16())));
    let mut error = ApiError::new(status, code, message).with_format(found.format);
    if !found.violations.is_empty() {
        error = error.with_violations(found.violations);
    }
    // A spent quota in the headers is read for every body of no dialect of apierr's
    // (`dialect::fill`).
    if found.rate_limited && !status.is_server_error() {
        error = error.with_category(Category::RateLimited);
    }
    if let Some(after) = found.retry_after {
        error = error.with_retry_after(after);
    }
    if let Some(url) = found.doc_url {
        error = error.with_doc_url(url);
    }
    if let Some(id) = found.request_id {
        error = error.with_request_id(id);
    }
    error
}
