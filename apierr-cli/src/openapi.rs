//! The OpenAPI document of the reference server, with every error response of every
//! operation in the chosen profile's schema and with example bodies from its catalog.

use std::collections::BTreeMap;

use apierr::{Condition, FieldViolation, Profile};
use serde_json::{Value, json};
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder, ResponsesBuilder,
};

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
        authenticated: false,
        body: Body::Form,
        conditions: &[Condition::InvalidToken, Condition::KeyRevoked],
    },
    Operation {
        method: HttpMethod::Delete,
        path: "/oauth/token",
        id: "revokeToken",
        summary: "End the session of the bearer token used",
        success: (200, "The session has ended"),
        authenticated: true,
        body: Body::None,
        conditions: &[Condition::InvalidParameter],
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
        authenticated: true,
        body: Body::Json("NewChild"),
        conditions: &[Condition::NotFound],
    },
];

/// Conditions any request may meet.
const EVERY_REQUEST: &[Condition] = &[
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

/// The JSON Schema of an error body in `dialect`.
fn error_schema(dialect: &str) -> Value {
    let code = json!({"oneOf": [{"type": "integer"}, {"type": "string"}]});
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let violation = |message: &str| {
        json!({"type": "object", "required": ["field", message],
               "properties": {"field": {"type": "string"}, message: {"type": "string"}, "in": {"type": "string"}}})
    };
    let oauth = json!({"type": "object", "required": ["error"],
        "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}}});
    match dialect {
        "wrapper" => json!({"oneOf": [
            {"type": "object", "required": ["message", "status", "code", "validationErrors"],
             "properties": {"message": {"type": "string"}, "status": {"type": "string", "enum": ["fail"]},
                "code": code, "requestId": {"type": "string"}, "entity": {},
                "validationErrors": {"type": "array", "items": violation("message")},
                "additionalMessages": strings, "resultCount": {"type": "integer"}, "totalCount": {"type": "integer"}}},
            oauth,
        ]}),
        "oauth" => oauth,
        "nested" => json!({"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": code, "message": {"type": "string"}, "extra": {"type": "object", "properties": {
                "invalid-params": {"type": "array", "items": violation("message")},
                "messages": strings, "request_id": {"type": "string"}}}}}}}),
        "errors-array" => {
            json!({"type": "object", "required": ["errors"], "properties": {"errors": {
            "type": "array", "items": {"type": "object", "required": ["errorCode", "message"], "properties": {
                "errorCode": code, "message": {"type": "string"}, "subject": {"type": "string"},
                "subjectType": {"type": "string"}, "detail": {"type": "string"}}}}}})
        }
        "specific-code" => {
            json!({"type": "object", "required": ["errorCode", "message"], "properties": {
            "errorCode": {"type": "integer", "description": "the HTTP status"}, "message": {"type": "string"},
            "specificCode": code, "additionalMessages": strings}})
        }
        _ => {
            json!({"type": "object", "required": ["type", "title", "status", "detail", "code"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "code": code, "request_id": {"type": "string"},
            "errors": {"type": "array", "items": violation("detail")}, "messages": strings}})
        }
    }
}

/// Request body schemas.
fn body_schemas() -> Vec<(&'static str, Value)> {
    let name = json!({"type": "string", "minLength": 1, "maxLength": 100});
    let email = json!({"type": "string", "format": "email"});
    vec![
        (
            "NewAccount",
            json!({"type": "object", "required": ["email", "first_name", "last_name"],
            "properties": {"email": email, "first_name": name, "last_name": name}}),
        ),
        (
            "AccountPatch",
            json!({"type": "object",
            "properties": {"email": email, "first_name": name, "last_name": name}}),
        ),
        (
            "NewChild",
            json!({"type": "object", "required": ["first_name", "birth_year"],
            "properties": {"first_name": name, "birth_year": {"type": "integer", "minimum": 1900, "maximum": 2100}}}),
        ),
        (
            "TokenRequest",
            json!({"type": "object", "required": ["grant_type", "client_id", "client_secret"],
            "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                "client_id": {"type": "string"}, "client_secret": {"type": "string"}}}),
        ),
    ]
}

fn schema(value: Value) -> Schema {
    // The schemas above are literal JSON Schema objects, which utoipa reads back.
    serde_json::from_value(value).unwrap_or_default()
}

/// The document for a profile.
pub(crate) fn document(profile: &Profile) -> OpenApi {
    let content_type = profile.dialect().content_type();
    let error_type = content_type.to_str().unwrap_or("application/json");
    let mut paths = PathsBuilder::new();
    let mut items: BTreeMap<&str, Vec<(HttpMethod, utoipa::openapi::path::Operation)>> =
        BTreeMap::new();
    for op in OPERATIONS {
        let mut conditions: Vec<Condition> = EVERY_REQUEST.to_vec();
        if op.authenticated {
            conditions.extend_from_slice(AUTHENTICATED);
        }
        if op.body != Body::None {
            conditions.extend_from_slice(WITH_BODY);
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
        let mut responses = ResponsesBuilder::new().response(
            op.success.0.to_string(),
            ResponseBuilder::new().description(op.success.1),
        );
        for (status, conditions) in by_status {
            let names: Vec<&str> = conditions.iter().map(|c| c.default_code()).collect();
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .examples_from_iter(conditions.iter().map(|c| {
                    (
                        c.default_code(),
                        ExampleBuilder::new()
                            .summary(c.description())
                            .value(Some(example(profile, *c))),
                    )
                }))
                .build();
            responses = responses.response(
                status.to_string(),
                ResponseBuilder::new()
                    .description(format!("Error: {}", names.join(", ")))
                    .content(error_type, content),
            );
        }
        let mut operation = OperationBuilder::new()
            .operation_id(Some(op.id))
            .summary(Some(op.summary))
            .responses(responses.build());
        if op.path.contains("{id}") {
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name("id")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True),
            );
        }
        let (media, name) = match op.body {
            Body::None => (None, ""),
            Body::Json(name) => (Some("application/json"), name),
            Body::Form => (Some("application/x-www-form-urlencoded"), "TokenRequest"),
        };
        if let Some(media) = media {
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        media,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(name)))
                            .build(),
                    )
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        items
            .entry(op.path)
            .or_default()
            .push((op.method.clone(), operation.build()));
    }
    for (path, operations) in items {
        let mut item: Option<PathItem> = None;
        for (method, operation) in operations {
            item = Some(match item {
                None => PathItem::new(method, operation),
                Some(mut item) => {
                    match method {
                        HttpMethod::Get => item.get = Some(operation),
                        HttpMethod::Post => item.post = Some(operation),
                        HttpMethod::Put => item.put = Some(operation),
                        HttpMethod::Patch => item.patch = Some(operation),
                        HttpMethod::Delete => item.delete = Some(operation),
                        _ => {}
                    }
                    item
                }
            });
        }
        if let Some(item) = item {
            paths = paths.path(path, item);
        }
    }
    let mut components = ComponentsBuilder::new().schema(
        "Error",
        RefOr::T(schema(error_schema(profile.dialect().name()))),
    );
    for (name, value) in body_schemas() {
        components = components.schema(name, RefOr::T(schema(value)));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(format!(
                    "apierr reference Partner API ({} profile)",
                    profile.name()
                ))
                .version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .build()
}
