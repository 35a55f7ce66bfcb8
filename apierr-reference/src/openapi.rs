//! The OpenAPI 3.1 document of the reference server: every parameter typed, every request
//! body with the constraints the handlers enforce, the authentication schemes, and every
//! error response of every operation in the chosen profile's schema, with example bodies
//! rendered from its catalog. The operations' conditions are the table below, which
//! lists what each handler in `api.rs` raises.
//!
//! The document is written as JSON literals, not through utoipa: its model has no place
//! for a response header's `required`, and its derive macros describe one schema per
//! type where this document needs the profile's error dialect and envelope in every
//! response. The constraints are stated with the values the handlers check (the email
//! pattern, the page bound) so that the two cannot drift; `openapi-spec-validator` and
//! schemathesis check the result in `.ci/run`.

use std::collections::BTreeMap;

use apierr::{Condition, Dialect, FieldViolation, Profile};
use serde_json::{Value, json};

/// An HTTP method of an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "get",
            HttpMethod::Post => "post",
            HttpMethod::Put => "put",
            HttpMethod::Patch => "patch",
            HttpMethod::Delete => "delete",
        }
    }
}

/// What an operation answers on success.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Success {
    /// A JSON entity (a component schema), enveloped where the profile wraps successes.
    Entity(&'static str),
    /// A page of accounts, with its total in `X-Total-Count`.
    Page,
    /// A JSON array of entities (a component schema), enveloped where the profile wraps
    /// successes.
    List(&'static str),
    /// No body (the envelope alone where the profile wraps successes).
    Empty,
    /// The token response of RFC 6749, never enveloped.
    Token,
}

/// What an operation accepts as its body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    Json(&'static str),
    Form,
}

/// One operation of the API.
struct Operation {
    method: HttpMethod,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    success: (u16, &'static str),
    answer: Success,
    authenticated: bool,
    body: Body,
    /// The conditions particular to this operation.
    conditions: &'static [Condition],
}

/// Every operation; the handlers in `api.rs` raise exactly these conditions (plus the
/// ones every request may meet, and the authentication ones where authenticated).
const OPERATIONS: &[Operation] = &[
    Operation {
        method: HttpMethod::Post,
        path: "/oauth/token",
        id: "issueToken",
        summary: "Exchange client credentials for a bearer token (RFC 6749 §4.4)",
        success: (200, "The access token"),
        answer: Success::Token,
        authenticated: false,
        body: Body::Form,
        conditions: &[Condition::Unauthenticated, Condition::InvalidToken],
    },
    Operation {
        method: HttpMethod::Delete,
        path: "/oauth/token",
        id: "revokeToken",
        summary: "End the session of the bearer token used (nothing to end for an API key)",
        success: (200, "The session has ended"),
        answer: Success::Empty,
        authenticated: true,
        body: Body::None,
        conditions: &[],
    },
    Operation {
        method: HttpMethod::Get,
        path: "/accounts",
        id: "listAccounts",
        summary: "List the partner's accounts, a page at a time",
        success: (
            200,
            "A page of accounts; the total is in X-Total-Count or the envelope",
        ),
        answer: Success::Page,
        authenticated: true,
        body: Body::None,
        conditions: &[Condition::InvalidParameter],
    },
    Operation {
        method: HttpMethod::Post,
        path: "/accounts",
        id: "createAccount",
        summary: "Register an account with a unique email",
        success: (201, "The new account"),
        answer: Success::Entity("Account"),
        authenticated: true,
        body: Body::Json("NewAccount"),
        conditions: &[Condition::AlreadyExists],
    },
    Operation {
        method: HttpMethod::Get,
        path: "/accounts/{id}",
        id: "getAccount",
        summary: "Read an account",
        success: (200, "The account"),
        answer: Success::Entity("Account"),
        authenticated: true,
        body: Body::None,
        conditions: &[Condition::NotFound],
    },
    Operation {
        method: HttpMethod::Put,
        path: "/accounts/{id}",
        id: "replaceAccount",
        summary: "Replace an account",
        success: (200, "Replaced (empty body)"),
        answer: Success::Empty,
        authenticated: true,
        body: Body::Json("NewAccount"),
        conditions: &[Condition::NotFound, Condition::AlreadyExists],
    },
    Operation {
        method: HttpMethod::Patch,
        path: "/accounts/{id}",
        id: "updateAccount",
        summary: "Change some fields of an account",
        success: (200, "Updated (empty body)"),
        answer: Success::Empty,
        authenticated: true,
        body: Body::Json("AccountPatch"),
        conditions: &[Condition::NotFound, Condition::AlreadyExists],
    },
    Operation {
        method: HttpMethod::Delete,
        path: "/accounts/{id}",
        id: "deleteAccount",
        summary: "Delete an account and its children",
        success: (200, "Deleted (empty body)"),
        answer: Success::Empty,
        authenticated: true,
        body: Body::None,
        conditions: &[Condition::NotFound],
    },
    Operation {
        method: HttpMethod::Post,
        path: "/accounts/{id}/children",
        id: "registerChild",
        summary: "Register a child under an account; the same child again is 208 with the existing record",
        success: (
            201,
            "The new child (208 Already Reported with the existing one)",
        ),
        answer: Success::Entity("Child"),
        authenticated: true,
        body: Body::Json("NewChild"),
        conditions: &[Condition::NotFound],
    },
    Operation {
        method: HttpMethod::Post,
        path: "/webhooks/endpoints",
        id: "createWebhookEndpoint",
        summary: "Register a webhook endpoint; its signing secret is in the answer, this once",
        success: (201, "The new endpoint, with its secret"),
        answer: Success::Entity("WebhookEndpointCreated"),
        authenticated: true,
        body: Body::Json("NewWebhookEndpoint"),
        conditions: &[],
    },
    Operation {
        method: HttpMethod::Get,
        path: "/webhooks/endpoints",
        id: "listWebhookEndpoints",
        summary: "List the partner's webhook endpoints",
        success: (200, "The endpoints, oldest first"),
        answer: Success::List("WebhookEndpoint"),
        authenticated: true,
        body: Body::None,
        conditions: &[],
    },
    Operation {
        method: HttpMethod::Get,
        path: "/webhooks/endpoints/{id}",
        id: "getWebhookEndpoint",
        summary: "Read a webhook endpoint (its state: active, paused or disabled)",
        success: (200, "The endpoint"),
        answer: Success::Entity("WebhookEndpoint"),
        authenticated: true,
        body: Body::None,
        conditions: &[Condition::NotFound],
    },
    Operation {
        method: HttpMethod::Delete,
        path: "/webhooks/endpoints/{id}",
        id: "deleteWebhookEndpoint",
        summary: "Delete a webhook endpoint; nothing more is sent to it",
        success: (200, "Deleted (empty body)"),
        answer: Success::Empty,
        authenticated: true,
        body: Body::None,
        conditions: &[Condition::NotFound],
    },
    Operation {
        method: HttpMethod::Post,
        path: "/webhooks/endpoints/{id}/rotate",
        id: "rotateWebhookSecret",
        summary: "Replace the endpoint's secret; the old one signs beside it for a day",
        success: (200, "The new secret"),
        answer: Success::Entity("WebhookSecret"),
        authenticated: true,
        body: Body::None,
        conditions: &[Condition::NotFound],
    },
    Operation {
        method: HttpMethod::Post,
        path: "/webhooks/endpoints/{id}/resume",
        id: "resumeWebhookEndpoint",
        summary: "Resume a paused or disabled endpoint; the messages kept for it are sent",
        success: (200, "How many kept messages were queued"),
        answer: Success::Entity("WebhookResumed"),
        authenticated: true,
        body: Body::None,
        conditions: &[Condition::NotFound],
    },
    Operation {
        method: HttpMethod::Get,
        path: "/webhooks/reports",
        id: "listWebhookReports",
        summary: "The partner's webhook failure reports, newest first",
        success: (200, "The reports"),
        answer: Success::List("WebhookReport"),
        authenticated: true,
        body: Body::None,
        conditions: &[Condition::InvalidParameter],
    },
    Operation {
        method: HttpMethod::Get,
        path: "/webhooks/reports/{id}",
        id: "getWebhookReport",
        summary: "One webhook failure report, with every attempt",
        success: (200, "The report"),
        answer: Success::Entity("WebhookReport"),
        authenticated: true,
        body: Body::None,
        conditions: &[Condition::NotFound],
    },
    Operation {
        method: HttpMethod::Post,
        path: "/webhooks/replay",
        id: "replayWebhooks",
        summary: "Send messages again (same ids): by message, endpoint, time range, state",
        success: (
            200,
            "How many deliveries were queued (or kept, for a paused endpoint)",
        ),
        answer: Success::Entity("WebhookReplayed"),
        authenticated: true,
        body: Body::Json("WebhookReplay"),
        conditions: &[],
    },
];

/// Conditions any request may meet.
const EVERY_REQUEST: &[Condition] = &[
    Condition::RateLimited,
    Condition::NotAcceptable,
    Condition::StaleRequest,
    Condition::Internal,
    Condition::Timeout,
];

/// Conditions of an authenticated request.
const AUTHENTICATED: &[Condition] = &[
    Condition::Unauthenticated,
    Condition::InvalidToken,
    Condition::ExpiredToken,
    Condition::Forbidden,
    Condition::KeyRevoked,
    Condition::SessionExpired,
];

/// Conditions of a request with a body.
const WITH_BODY: &[Condition] = &[
    Condition::UnsupportedMediaType,
    Condition::PayloadTooLarge,
    Condition::MalformedBody,
    Condition::InvalidParameter,
    Condition::MissingParameter,
];

/// Conditions of a POST or PATCH, which take an `Idempotency-Key` (a malformed key is an
/// invalid parameter; the store being down, service unavailable).
const IDEMPOTENT: &[Condition] = &[
    Condition::IdempotencyInFlight,
    Condition::IdempotencyKeyReused,
    Condition::InvalidParameter,
    Condition::ServiceUnavailable,
];

impl Operation {
    /// Whether the operation takes an `Idempotency-Key`.
    fn takes_key(&self) -> bool {
        self.authenticated && matches!(self.method, HttpMethod::Post | HttpMethod::Patch)
    }

    /// The tag of its part of the API: the first segment of its path.
    fn tag(&self) -> &'static str {
        TAGS.iter()
            .find(|(prefix, _, _)| self.path.starts_with(prefix))
            .map_or("other", |(_, name, _)| name)
    }

    /// What the partner needs to know beyond the summary: how it authenticates and
    /// whether a retry is safe (seed 001's rules, as the server keeps them).
    fn description(&self) -> String {
        let auth = if self.authenticated {
            "Authenticated with the partner's API key (`X-Api-Key`) or an access token from \
             `POST /oauth/token` (`Authorization: Bearer`)."
        } else {
            "The client authenticates with HTTP Basic or with `client_id` and `client_secret` \
             in the form, never both."
        };
        let retry = match self.method {
            HttpMethod::Get | HttpMethod::Put | HttpMethod::Delete => {
                "Safe to retry: the same request again has the same effect."
            }
            _ if self.takes_key() => {
                "Send an `Idempotency-Key` to make a retry safe: a retry with the same key \
                 and body gets the first answer again instead of running twice. A 5xx \
                 without one leaves the outcome unknown: read before retrying."
            }
            _ => "A retry issues another token; each is valid until it expires.",
        };
        format!("{}. {auth} {retry}", self.summary)
    }
}

/// The parts of the API: a path prefix, its tag, and what it is for.
const TAGS: &[(&str, &str, &str)] = &[
    (
        "/oauth",
        "tokens",
        "OAuth 2.0 client-credentials tokens (RFC 6749 §4.4); errors in RFC 6749 §5.2's form in every profile.",
    ),
    (
        "/accounts",
        "accounts",
        "The partner's accounts and their children.",
    ),
    (
        "/webhooks",
        "webhooks",
        "Webhook endpoints, their secrets, failure reports and replay (Standard Webhooks signatures).",
    ),
];

/// `Idempotency-Key`: exactly what the idempotency layer accepts.
fn idempotency_key_parameter() -> Value {
    json!({"name": "Idempotency-Key", "in": "header", "required": false,
        "description": "Makes a retry of this request safe: the first request with a key runs, later ones with the same key and payload get its response again (marked Idempotent-Replayed), for 24 hours. 1-255 visible ASCII characters, bare or as a quoted string.",
        "schema": {"type": "string", "pattern": "^(?:[!#-\\[\\]-~]{1,255}|\"[!#-\\[\\]-~]{1,255}\")$"}})
}

/// The rate-limit headers (draft-ietf-httpapi-ratelimit-headers), `required` on a 429.
fn rate_limit_headers(headers: &mut serde_json::Map<String, Value>, required: bool) {
    headers.insert(
        "RateLimit-Policy".to_owned(),
        json!({"description": "The partner's quota: its name, q (requests) and w (window, seconds).",
            "required": required, "schema": {"type": "string"}}),
    );
    headers.insert(
        "RateLimit".to_owned(),
        json!({"description": "What is left: r (requests) and t (seconds until the quota is whole).",
            "required": required, "schema": {"type": "string"}}),
    );
}

/// The example error of a condition, as the server would send it.
fn example(profile: &Profile, condition: Condition) -> Value {
    let error = match condition {
        Condition::InvalidParameter => profile.field_error(
            condition,
            [FieldViolation::body("email", "is not an email address")],
        ),
        Condition::MissingParameter => {
            profile.field_error(condition, [FieldViolation::body("email", "is required")])
        }
        _ => profile.error(condition),
    };
    serde_json::from_slice(&profile.render(&error).body).unwrap_or(Value::Null)
}

/// A string a person reads: no control characters (the handlers refuse them).
const PLAIN_TEXT: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// The request and response bodies, as JSON Schema.
fn body_schemas() -> Vec<(&'static str, Value)> {
    let name = json!({"type": "string", "minLength": 1, "maxLength": 100, "pattern": PLAIN_TEXT});
    let nullable_name = json!({"type": ["string", "null"], "minLength": 1, "maxLength": 100, "pattern": PLAIN_TEXT});
    let email = json!({"type": "string", "format": "email", "maxLength": crate::api::EMAIL_MAX_LENGTH,
        "pattern": crate::api::EMAIL_PATTERN});
    let mut nullable_email = email.clone();
    nullable_email["type"] = json!(["string", "null"]);
    let id = json!({"type": "string", "description": "An id the server made: 32 lower-case hex digits."});
    vec![
        (
            "NewAccount",
            json!({"type": "object", "required": ["email", "first_name", "last_name"],
            "properties": {"email": email, "first_name": name, "last_name": name}}),
        ),
        (
            "AccountPatch",
            json!({"type": "object",
            "properties": {"email": nullable_email, "first_name": nullable_name, "last_name": nullable_name}}),
        ),
        (
            "NewChild",
            json!({"type": "object", "required": ["first_name", "birth_year"],
            "properties": {"first_name": name, "birth_year": {"type": "integer", "minimum": 1900, "maximum": 2100}}}),
        ),
        (
            "TokenRequest",
            json!({"type": "object", "required": ["grant_type"],
            "description": "The client authenticates with HTTP Basic or with client_id and client_secret here, never both.",
            "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                "client_id": {"type": "string"}, "client_secret": {"type": "string"},
                "scope": {"type": "string"}}}),
        ),
        (
            "Account",
            json!({"type": "object", "required": ["id", "email", "first_name", "last_name"],
            "properties": {"id": id, "email": {"type": "string"}, "first_name": {"type": "string"},
                "last_name": {"type": "string"}}}),
        ),
        (
            "Child",
            json!({"type": "object", "required": ["id", "account_id", "first_name", "birth_year"],
            "properties": {"id": id, "account_id": id, "first_name": {"type": "string"},
                "birth_year": {"type": "integer"}}}),
        ),
        (
            "NewWebhookEndpoint",
            json!({"type": "object", "required": ["url"],
            "properties": {
                "url": {"type": "string", "maxLength": apierr_webhooks::MAX_URL_LEN,
                    "pattern": crate::webhooks::URL_PATTERN,
                    "description": "http or https, a host name (addresses are resolved and checked when delivered to: private, loopback, link-local and metadata ranges are refused), an optional port, path and query; no credentials, no fragment."},
                "retry_schedule": {"type": "array", "maxItems": apierr_webhooks::MAX_RETRIES,
                    "description": "Retries, in seconds after the first attempt (sorted; repeats count once). Default is [5, 15, 40].",
                    "items": {"type": "integer", "minimum": 1, "maximum": 86400}},
            }}),
        ),
        ("WebhookEndpoint", webhook_endpoint(false)),
        ("WebhookEndpointCreated", webhook_endpoint(true)),
        (
            "WebhookSecret",
            json!({"type": "object", "required": ["secret", "previous_valid_until"],
            "properties": {"secret": {"type": "string", "pattern": "^whsec_"},
                "previous_valid_until": {"type": "integer", "description": "Unix seconds until which the old secret also signs."}}}),
        ),
        (
            "WebhookResumed",
            json!({"type": "object", "required": ["requeued"],
            "properties": {"requeued": {"type": "integer", "minimum": 0}}}),
        ),
        (
            "WebhookReplay",
            json!({"type": "object",
            "description": "Every condition given must hold; none replays all of the partner's delivered, failed and held messages.",
            "properties": {
                "message_id": {"type": "string"},
                "endpoint_id": {"type": "string"},
                "since": {"type": "integer", "minimum": 0, "maximum": crate::webhooks::MAX_UNIX, "description": "Unix seconds: messages written at or after."},
                "until": {"type": "integer", "minimum": 0, "maximum": crate::webhooks::MAX_UNIX, "description": "Unix seconds: messages written before."},
                "state": {"type": "string", "enum": ["delivered", "failed", "held"]},
            }}),
        ),
        (
            "WebhookReplayed",
            json!({"type": "object", "required": ["replayed"],
            "properties": {"replayed": {"type": "integer", "minimum": 0}}}),
        ),
        ("WebhookReport", webhook_report()),
        (
            "Token",
            json!({"type": "object", "required": ["access_token", "token_type", "expires_in"],
            "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"},
                "expires_in": {"type": "integer", "minimum": 0}}}),
        ),
    ]
}

/// A webhook endpoint as the partner sees it; with its secret when just created.
fn webhook_endpoint(with_secret: bool) -> Value {
    let mut schema = json!({"type": "object",
    "required": ["id", "url", "state", "failure_run", "retry_schedule", "created_at"],
    "properties": {
        "id": {"type": "string", "pattern": "^ep_[0-9a-f]{32}$"},
        "url": {"type": "string"},
        "state": {"type": "string", "enum": ["active", "paused", "disabled"]},
        "failure_run": {"type": "integer", "minimum": 0, "description": "Messages in a row that failed."},
        "retry_schedule": {"type": "array", "items": {"type": "integer"}},
        "created_at": {"type": "integer", "description": "Unix seconds."},
    }});
    if with_secret {
        if let Some(required) = schema["required"].as_array_mut() {
            required.push(json!("secret"));
        }
        schema["properties"]["secret"] = json!({"type": "string", "pattern": "^whsec_",
            "description": "The Standard Webhooks signing secret; shown this once."});
    }
    schema
}

/// A webhook failure report in the form the partner sees.
fn webhook_report() -> Value {
    let text_or_null = json!({"type": ["string", "null"]});
    json!({"type": "object",
    "required": ["id", "kind", "endpoint_id", "endpoint_url", "message_id", "event_type", "summary", "created_at", "attempts"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "enum": ["message_failed", "endpoint_paused", "endpoint_disabled"]},
        "endpoint_id": {"type": "string"},
        "endpoint_url": {"type": "string", "description": "Without its query."},
        "message_id": text_or_null,
        "event_type": text_or_null,
        "summary": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "attempts": {"type": "array", "items": {"type": "object",
            "required": ["at", "status", "latency_ms", "failure", "response_head"],
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "status": {"type": ["integer", "null"]},
                "latency_ms": {"type": "integer", "minimum": 0},
                "failure": {"type": "string", "enum": ["status", "timeout", "connection", "redirect", "address_not_allowed", "retry_after_too_long"]},
                "response_head": {"type": ["string", "null"], "description": "The first KiB of the endpoint's answer."},
            }}},
    }})
}

/// A success body's schema: `entity` itself, or seed 000's envelope around it where the
/// profile wraps successes.
fn success_schema(profile: &Profile, entity: Value) -> Value {
    if profile.dialect().wraps_success() {
        json!({"type": "object",
            "required": ["message", "status", "entity", "validationErrors", "resultCount", "totalCount"],
            "properties": {"message": {"type": "string"}, "status": {"type": "string", "enum": ["success"]},
                "entity": entity, "validationErrors": {"type": "array", "items": {"type": "object"}, "maxItems": 0},
                "resultCount": {"type": "integer"}, "totalCount": {"type": "integer"}}})
    } else {
        entity
    }
}

/// `X-Request-Id`, on every response.
fn request_id_header() -> Value {
    json!({"description": "The request's id: the caller's X-Request-Id (1-128 visible ASCII characters) or one the server made.",
        "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 128}})
}

/// Where the id an operation answers with can be used next, so that clients and fuzzers
/// follow real ids: the operation, the ones taking that id in their path, and the id's
/// place in the answer (`/0/id`: the first of a list).
const LINKS: &[(&str, &[&str], &str)] = &[
    (
        "createAccount",
        &[
            "getAccount",
            "replaceAccount",
            "updateAccount",
            "deleteAccount",
            "registerChild",
        ],
        "/id",
    ),
    ("listAccounts", &["getAccount"], "/0/id"),
    (
        "createWebhookEndpoint",
        &[
            "getWebhookEndpoint",
            "deleteWebhookEndpoint",
            "rotateWebhookSecret",
            "resumeWebhookEndpoint",
        ],
        "/id",
    ),
    ("listWebhookEndpoints", &["getWebhookEndpoint"], "/0/id"),
    ("listWebhookReports", &["getWebhookReport"], "/0/id"),
];

/// The links of an operation's success response (see [`LINKS`]), with the id's pointer
/// inside the profile's success envelope where it has one.
fn links(profile: &Profile, op: &Operation) -> Option<Value> {
    let (_, targets, pointer) = LINKS.iter().find(|(from, _, _)| *from == op.id)?;
    let envelope = if profile.dialect().wraps_success() {
        "/entity"
    } else {
        ""
    };
    let links: serde_json::Map<String, Value> = targets
        .iter()
        .map(|target| {
            (
                (*target).to_owned(),
                json!({"operationId": target,
                    "parameters": {"id": format!("$response.body#{envelope}{pointer}")}}),
            )
        })
        .collect();
    Some(Value::Object(links))
}

/// The success response of an operation.
fn success_response(profile: &Profile, op: &Operation) -> Value {
    let mut headers = serde_json::Map::new();
    headers.insert("X-Request-Id".to_owned(), request_id_header());
    let schema_ref = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let content = match op.answer {
        Success::Entity(name) => Some(success_schema(profile, schema_ref(name))),
        Success::Page => {
            headers.insert(
                "X-Total-Count".to_owned(),
                json!({"description": "How many accounts there are in all.", "required": true,
                    "schema": {"type": "integer", "minimum": 0}}),
            );
            Some(success_schema(
                profile,
                json!({"type": "array", "items": schema_ref("Account")}),
            ))
        }
        Success::List(name) => Some(success_schema(
            profile,
            json!({"type": "array", "items": schema_ref(name)}),
        )),
        Success::Empty => profile
            .dialect()
            .wraps_success()
            .then(|| success_schema(profile, json!({"type": "null"}))),
        Success::Token => {
            for (name, value) in [("Cache-Control", "no-store"), ("Pragma", "no-cache")] {
                headers.insert(
                    name.to_owned(),
                    json!({"required": true, "schema": {"type": "string", "enum": [value]}}),
                );
            }
            Some(schema_ref("Token"))
        }
    };
    rate_limit_headers(&mut headers, false);
    if op.takes_key() {
        headers.insert(
            "Idempotent-Replayed".to_owned(),
            json!({"description": "true when this is the stored response of an earlier request with the same Idempotency-Key.",
                "required": false, "schema": {"type": "string", "enum": ["true"]}}),
        );
    }
    let mut response = json!({"description": op.success.1, "headers": headers});
    if let Some(schema) = content {
        response["content"] = json!({"application/json": {"schema": schema}});
    }
    if let Some(links) = links(profile, op) {
        response["links"] = links;
    }
    response
}

/// The error responses of an operation, one per status, each with an example per
/// condition rendered from the profile's catalog.
fn error_responses(
    profile: &Profile,
    op: &Operation,
    responses: &mut serde_json::Map<String, Value>,
) {
    // The token endpoint answers RFC 6749's form in every profile.
    let (profile, schema, content_type) = if op.id == "issueToken" {
        (
            Profile::OAUTH_TOKEN,
            "TokenError",
            "application/json".to_owned(),
        )
    } else {
        let content_type = profile.dialect().content_type();
        (
            profile.clone(),
            "Error",
            content_type
                .to_str()
                .unwrap_or("application/json")
                .to_owned(),
        )
    };
    let mut conditions: Vec<Condition> = EVERY_REQUEST.to_vec();
    if op.authenticated {
        conditions.extend_from_slice(AUTHENTICATED);
    }
    if op.body != Body::None {
        conditions.extend_from_slice(WITH_BODY);
    }
    // A page out of range; a path id that is not UTF-8 (the path extractor's rejection).
    if op.id == "listAccounts" || op.path.contains("{id}") {
        conditions.push(Condition::InvalidParameter);
    }
    if op.takes_key() {
        conditions.extend_from_slice(IDEMPOTENT);
    }
    conditions.extend_from_slice(op.conditions);
    conditions.sort();
    conditions.dedup();
    let mut by_status: BTreeMap<u16, Vec<Condition>> = BTreeMap::new();
    for c in conditions {
        by_status
            .entry(profile.catalog().condition(c).status().as_u16())
            .or_default()
            .push(c);
    }
    for (status, conditions) in by_status {
        let names: Vec<&str> = conditions.iter().map(|c| c.default_code()).collect();
        let examples: serde_json::Map<String, Value> = conditions
            .iter()
            .map(|c| {
                (
                    c.default_code().to_owned(),
                    json!({"summary": c.description(), "value": example(&profile, *c)}),
                )
            })
            .collect();
        let mut headers = serde_json::Map::new();
        headers.insert("X-Request-Id".to_owned(), request_id_header());
        if conditions.contains(&Condition::RateLimited) {
            rate_limit_headers(&mut headers, true);
            headers.insert(
                "Retry-After".to_owned(),
                json!({"description": "Seconds until a request would be allowed.", "required": true,
                    "schema": {"type": "string", "pattern": "^[0-9]+$"}}),
            );
        }
        if status == 401 {
            headers.insert(
                "WWW-Authenticate".to_owned(),
                json!({"description": "The challenge RFC 9110 requires of every 401.", "required": true,
                    "schema": {"type": "string"}}),
            );
        }
        responses.insert(
            status.to_string(),
            json!({
                "description": format!("Error: {}", names.join(", ")),
                "headers": headers,
                "content": {content_type.clone(): {
                    "schema": {"$ref": format!("#/components/schemas/{schema}")},
                    "examples": examples,
                }},
            }),
        );
    }
}

/// The document for a profile, as JSON, for a deployment reached at `server` (its
/// public base URL).
pub(crate) fn document(profile: &Profile, server: &str) -> Value {
    let mut paths: BTreeMap<&str, serde_json::Map<String, Value>> = BTreeMap::new();
    for op in OPERATIONS {
        let mut responses = serde_json::Map::new();
        responses.insert(op.success.0.to_string(), success_response(profile, op));
        if op.id == "registerChild" {
            let mut again = success_response(profile, op);
            again["description"] = json!("The same child registered before: the existing record");
            responses.insert("208".to_owned(), again);
        }
        error_responses(profile, op, &mut responses);
        let mut operation = json!({
            "operationId": op.id,
            "summary": op.summary,
            "description": op.description(),
            "tags": [op.tag()],
            "responses": responses,
        });
        operation["security"] = if op.authenticated {
            json!([{"apiKey": []}, {"oauth2": []}])
        } else {
            json!([{}, {"clientBasic": []}])
        };
        let mut parameters = Vec::new();
        if op.path.contains("{id}") {
            let of = if op.path.starts_with("/webhooks/endpoints") {
                "The endpoint's id."
            } else if op.path.starts_with("/webhooks/reports") {
                "The report's id."
            } else {
                "The account's id."
            };
            parameters.push(json!({"name": "id", "in": "path", "required": true,
                "description": of, "schema": {"type": "string", "minLength": 1}}));
        }
        if op.id == "listWebhookReports" {
            parameters.push(json!({"name": "since", "in": "query", "required": false,
                "description": "Reports written at or after this time, in Unix seconds. Default is a day ago.",
                "schema": {"type": "integer", "minimum": 0, "maximum": crate::webhooks::MAX_UNIX}}));
            parameters.push(json!({"name": "limit", "in": "query", "required": false,
                "description": "At most this many, 1 to 100. Default is 50.",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100}}));
        }
        if op.id == "listAccounts" {
            parameters.push(json!({"name": "page", "in": "query", "required": false,
                "description": "The page, from 1. Default is 1.",
                "schema": {"type": "integer", "minimum": 1, "maximum": crate::api::MAX_PAGE}}));
            parameters.push(json!({"name": "per_page", "in": "query", "required": false,
                "description": "Accounts a page, 1 to 100. Default is 20.",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100}}));
        }
        if op.takes_key() {
            parameters.push(idempotency_key_parameter());
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        let body = match op.body {
            Body::None => None,
            Body::Json(name) => Some(("application/json", name)),
            Body::Form => Some(("application/x-www-form-urlencoded", "TokenRequest")),
        };
        if let Some((media, name)) = body {
            operation["requestBody"] = json!({"required": true, "content": {
                media: {"schema": {"$ref": format!("#/components/schemas/{name}")}}}});
        }
        paths
            .entry(op.path)
            .or_default()
            .insert(op.method.as_str().to_owned(), operation);
    }
    let mut schemas = serde_json::Map::new();
    // Each dialect states its own error body's schema.
    schemas.insert("Error".to_owned(), profile.dialect().error_schema());
    schemas.insert("TokenError".to_owned(), apierr::OAuth.error_schema());
    for (name, value) in body_schemas() {
        schemas.insert(name.to_owned(), value);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("apierr reference Partner API ({} profile)", profile.name()),
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every answer, good or bad, is in the profile's error contract; every response carries X-Request-Id.",
            "contact": {"name": "apierr", "url": env!("CARGO_PKG_REPOSITORY")},
            "license": {"name": env!("CARGO_PKG_LICENSE"), "identifier": env!("CARGO_PKG_LICENSE")},
        },
        "servers": [{"url": server, "description": "This deployment"}],
        "tags": TAGS.iter().map(|(_, name, description)| json!({"name": name, "description": description})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key",
                    "description": "A partner's API key."},
                "clientBasic": {"type": "http", "scheme": "basic",
                    "description": "Client credentials for the token endpoint (RFC 6749 §2.3.1)."},
                "oauth2": {"type": "oauth2",
                    "description": "An access token from POST /oauth/token (client credentials), sent as a bearer token.",
                    "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}}},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_joins_operations_that_exist_by_an_id_they_take() {
        // Scenario: a link to an operation that does not exist, or that takes no id, would
        // send clients and fuzzers nowhere.
        let op = |id: &str| OPERATIONS.iter().find(|op| op.id == id);
        for (from, targets, _) in LINKS {
            assert!(op(from).is_some(), "{from}");
            for target in *targets {
                let target = op(target).unwrap_or_else(|| panic!("{target}"));
                assert!(target.path.contains("{id}"), "{}", target.id);
            }
        }
    }
}
