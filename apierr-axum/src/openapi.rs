//! OpenAPI documents of a router's error contract, through aide (feature `openapi`).
//!
//! Route with aide's `ApiRouter` and this crate's extractors and success types: each
//! tells aide what it takes and answers (request body, parameters, success response) and
//! records the conditions it can answer with. The router's profile decides how those
//! look, so one step after aide's `finish_api` states them: [`finish`] adds, to every
//! operation, one response per status its conditions map to in the profile's catalog,
//! with the dialect's error schema ([`Dialect::error_schema`](apierr::Dialect::error_schema))
//! and an example body per condition, and wraps success bodies where the dialect does.
//!
//! ```
//! use aide::axum::{ApiRouter, routing::get};
//! use aide::openapi::OpenApi;
//! use apierr::{ApiError, Condition, Profile};
//! use apierr_axum::{Json, Path};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct OrderId {
//!     /// The order's number.
//!     id: u64,
//! }
//!
//! async fn order(Path(OrderId { id }): Path<OrderId>) -> Result<Json<u64>, ApiError> {
//!     if id == 0 { Err(Condition::NotFound.into()) } else { Ok(Json(id)) }
//! }
//!
//! let mut api = OpenApi::default();
//! let router: axum::Router = ApiRouter::new()
//!     .api_route("/orders/{id}", get(order))
//!     .finish_api(&mut api);
//! // The layer that serves the router is the one the document states.
//! let contract = apierr_axum::ContractLayer::new(Profile::ERRORS_ARRAY);
//! apierr_axum::openapi::finish(&mut api, &contract);
//! let _app = tower_layer::Layer::layer(&contract, router);
//! let doc = serde_json::to_value(&api).unwrap();
//! // A path id that does not parse is the catalog's invalid parameter: 400.
//! assert!(doc["paths"]["/orders/{id}"]["get"]["responses"]["400"].is_object());
//! ```

use aide::generate::GenContext;
use aide::openapi::{
    Example, Header, MediaType, OpenApi, Operation, ParameterSchemaOrContent, PathItem,
    ReferenceOr, RequestBody, Response, SchemaObject, StatusCode as DocStatus,
};
use aide::operation::{ParamLocation, add_parameters, parameters_from_schema, set_body};
use aide::transform::{TransformOperation, TransformPathItem};
use aide::{OperationInput, OperationOutput};
use apierr::{Condition, Profile};
use http::Method;
use indexmap::IndexMap;
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

use crate::{
    AlreadyReported, Authenticated, ContractLayer, Created, Empty, Form, IDEMPOTENCY_KEY,
    IDEMPOTENT_REPLAYED, Json, Page, Path, Plain, Query, REQUEST_ID, RequestContract, TOTAL_COUNT,
    Valid,
};

/// The operation extension the conditions are recorded in until [`finish`] states them.
const CONDITIONS: &str = "x-apierr-conditions";

/// The response extension that marks a success body no dialect wraps ([`Plain`]).
const PLAIN: &str = "x-apierr-plain";

/// The operation extension of the headers a layer adds to every response of the
/// operation, until [`finish`] adds them.
const HEADERS: &str = "x-apierr-headers";

/// The operation extension of component schemas its errors refer to (another profile's,
/// [`answers_in`]), until [`finish`] moves them to the components.
const SCHEMAS: &str = "x-apierr-schemas";

/// The component every error response's schema refers to.
const ERROR_SCHEMA: &str = "Error";

/// The conditions any operation can answer with behind a contract layer: a panic or a
/// failure the handler does not name is the internal condition.
const EVERY_OPERATION: &[Condition] = &[Condition::Internal];

/// The conditions that come with a `Retry-After` (the rate limit's wait, a claim's).
const RETRY_AFTER: &[Condition] = &[Condition::RateLimited, Condition::IdempotencyInFlight];

/// The conditions of a body the extractors read: no or another `Content-Type`, over the
/// limit, not arriving in time (under [`serve`](crate::serve)'s body timeout), not the
/// format, a value of the wrong type, a member missing.
const BODY: &[Condition] = &[
    Condition::UnsupportedMediaType,
    Condition::PayloadTooLarge,
    Condition::RequestTimeout,
    Condition::MalformedBody,
    Condition::InvalidParameter,
    Condition::MissingParameter,
];

/// Records that `operation` can answer with `conditions` (each once); [`finish`] states
/// them in the profile. For the conditions of layers aide cannot see (a rate limit, an
/// idempotency key on a route), through aide's transforms:
/// `get_with(handler, |op| apierr_axum::openapi::conditions(op, &[Condition::RateLimited]))`.
pub fn can_answer(operation: &mut Operation, conditions: &[Condition]) {
    let recorded = operation
        .extensions
        .entry(CONDITIONS.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(names) = recorded {
        for condition in conditions {
            let name = Value::from(condition.default_code());
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
}

/// [`can_answer`] as an aide operation transform.
pub fn conditions<'t>(
    mut operation: TransformOperation<'t>,
    conditions: &[Condition],
) -> TransformOperation<'t> {
    can_answer(operation.inner_mut(), conditions);
    operation
}

/// States what `contract` (the layer around the router) decides, for every operation of
/// `api`: each recorded condition and the internal one as a response of the status the
/// profile's catalog binds it to, unless the operation documents that status already;
/// the contract's own answers (406 for an unacceptable `Accept`, the timeout where it
/// has one), which it gives ahead of anything inside it, at their status in any case;
/// the dialect's error schema as the `Error` component; success bodies in the dialect's
/// envelope where it wraps them; and the headers of every answer (`X-Request-Id`, a
/// 401's challenge, `Retry-After`, the layers' own). Call it once, after aide's
/// `finish_api`.
pub fn finish(api: &mut OpenApi, contract: &ContractLayer) {
    let config = contract.config();
    let profile = &config.profile;
    let layer = layer_answers(contract);
    let own = [EVERY_OPERATION, &layer].concat();
    let wraps = profile.dialect().wraps_success();
    let mut schemas = IndexMap::new();
    if let Some(paths) = api.paths.as_mut() {
        for (_, item) in paths.paths.iter_mut() {
            if let ReferenceOr::Item(item) = item {
                for operation in operations(item) {
                    can_answer(operation, &own);
                    errors(operation, profile, ERROR_SCHEMA, &layer);
                    envelopes(operation, wraps);
                    headers(operation);
                    if let Some(Value::Object(own)) = operation.extensions.shift_remove(SCHEMAS) {
                        schemas.extend(own);
                    }
                }
            }
        }
    }
    let components = api.components.get_or_insert_with(Default::default);
    for schema in components.schemas.values_mut() {
        drop_null_defaults(&mut schema.json_schema);
    }
    components.schemas.insert(
        ERROR_SCHEMA.to_owned(),
        schema_object(profile.dialect().error_schema()),
    );
    for (name, schema) in schemas {
        components.schemas.insert(name, schema_object(schema));
    }
}

/// What `contract` answers itself, before the service inside it runs: 406 for an
/// unacceptable `Accept` where it checks it, and its timeout where it has one.
fn layer_answers(contract: &ContractLayer) -> Vec<Condition> {
    let config = contract.config();
    let mut answers = Vec::new();
    if config.check_accept {
        answers.push(Condition::NotAcceptable);
    }
    if config.timeout.is_some() {
        answers.push(Condition::Timeout);
    }
    answers
}

/// The document as JSON, without the `null`s aide 0.15 writes for an OAuth flow's
/// absent `refreshUrl` (the OpenAPI 3.1 schema wants a string or nothing there).
pub fn to_json(api: &OpenApi) -> Value {
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    if let Some(Value::Object(schemes)) = doc.pointer_mut("/components/securitySchemes") {
        for scheme in schemes.values_mut() {
            if let Some(Value::Object(flows)) = scheme.get_mut("flows") {
                for flow in flows.values_mut().filter_map(Value::as_object_mut) {
                    if flow.get("refreshUrl") == Some(&Value::Null) {
                        flow.remove("refreshUrl");
                    }
                }
            }
        }
    }
    doc
}

/// States now, in `contract`'s profile and under the component `schema`, the errors
/// recorded for `operation` so far: for a route behind a contract layer of its own
/// (OAuth's token endpoint, in RFC 6749's form whatever the router's profile).
/// [`finish`] adds the outer contract's answers to the statuses still undocumented.
pub fn answers_in<'t>(
    mut operation: TransformOperation<'t>,
    contract: &ContractLayer,
    schema: &str,
) -> TransformOperation<'t> {
    let config = contract.config();
    let op = operation.inner_mut();
    can_answer(op, EVERY_OPERATION);
    can_answer(op, &layer_answers(contract));
    errors(op, &config.profile, schema, &[]);
    let own = op
        .extensions
        .entry(SCHEMAS.to_owned())
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(own) = own {
        own.insert(schema.to_owned(), config.profile.dialect().error_schema());
    }
    operation
}

/// What [`RateLimitLayer`](crate::RateLimitLayer) adds to an operation: 429 with
/// `Retry-After`, 503 when its store is down and it refuses, and its `RateLimit-Policy`
/// and `RateLimit` headers.
pub fn rate_limited(mut operation: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = operation.inner_mut();
    can_answer(op, &[Condition::RateLimited, Condition::ServiceUnavailable]);
    // On every answer that passes the layer; a refusal always has them.
    sends(
        op,
        RATELIMIT_POLICY_NAME,
        "The quota: its name, q (requests) and w (window, seconds).",
        json!({"type": "string"}),
        &[Condition::RateLimited],
    );
    sends(
        op,
        RATELIMIT_NAME,
        "What is left of it: r (requests) and t (seconds until it is whole again).",
        json!({"type": "string"}),
        &[Condition::RateLimited],
    );
    operation
}

/// What [`StalenessLayer`](crate::StalenessLayer) adds to an operation: the stale
/// request condition, for a `Date` too far from the server's clock (or missing, where
/// one is required).
pub fn stale(operation: TransformOperation<'_>) -> TransformOperation<'_> {
    conditions(operation, &[Condition::StaleRequest])
}

/// What [`IdempotencyLayer`](crate::IdempotencyLayer) adds to a POST or PATCH (the
/// methods it acts on; see [`idempotency_keys`]): the `Idempotency-Key` parameter
/// (`required` as the layer is configured), its conditions, and `Idempotent-Replayed` on
/// a replayed success.
pub fn idempotent(mut operation: TransformOperation<'_>, required: bool) -> TransformOperation<'_> {
    let op = operation.inner_mut();
    let mut answers = vec![
        Condition::IdempotencyInFlight,
        Condition::IdempotencyKeyReused,
        Condition::InvalidParameter,
        Condition::ServiceUnavailable,
    ];
    if required {
        answers.push(Condition::IdempotencyKeyMissing);
    }
    can_answer(op, &answers);
    let schema = json!({"type": "string", "pattern": crate::idempotency::KEY_PATTERN});
    op.parameters
        .push(ReferenceOr::Item(aide::openapi::Parameter::Header {
            parameter_data: aide::openapi::ParameterData {
                name: header_name(&IDEMPOTENCY_KEY),
                description: Some(
                    "Makes a retry safe: the first request with a key runs; later ones with the \
                 same key and payload get its answer again (marked Idempotent-Replayed). \
                 1-255 visible ASCII characters, bare or as a quoted string."
                        .to_owned(),
                ),
                required,
                deprecated: None,
                format: ParameterSchemaOrContent::Schema(schema_object(schema)),
                example: None,
                examples: IndexMap::default(),
                explode: None,
                extensions: IndexMap::default(),
            },
            style: Default::default(),
        }));
    if let Some(responses) = op.responses.as_mut() {
        for (status, response) in responses.responses.iter_mut() {
            if let (DocStatus::Code(200..=299), ReferenceOr::Item(response)) = (status, response) {
                response.headers.insert(
                    header_name(&IDEMPOTENT_REPLAYED),
                    header(
                        "true when this is the stored answer of an earlier request with the \
                         same Idempotency-Key.",
                        false,
                        json!({"type": "string", "enum": ["true"]}),
                    ),
                );
            }
        }
    }
    operation
}

/// [`idempotent`] on each operation of a path item that the idempotency layer acts on
/// (POST and PATCH), for a layer on a whole route or router.
pub fn idempotency_keys(mut item: TransformPathItem<'_>, required: bool) -> TransformPathItem<'_> {
    let item_mut = item.inner_mut();
    for method in crate::idempotency::KEYED {
        let operation = match method {
            Method::POST => item_mut.post.as_mut(),
            Method::PATCH => item_mut.patch.as_mut(),
            _ => None,
        };
        if let Some(operation) = operation {
            let _ = idempotent(TransformOperation::new(operation), required);
        }
    }
    item
}

/// `transform` on every operation of a path item: the documentation of a layer on a
/// whole route or router.
pub fn each_operation<'t>(
    mut item: TransformPathItem<'t>,
    transform: impl Fn(TransformOperation<'_>) -> TransformOperation<'_>,
) -> TransformPathItem<'t> {
    for operation in operations(item.inner_mut()) {
        let _ = transform(TransformOperation::new(operation));
    }
    item
}

/// Links every success response of `operation` to the operation `target`, whose
/// parameter `parameter` takes the value at `pointer` (a JSON Pointer) in the success
/// body, so that clients and fuzzers follow real ids. Where the profile wraps successes,
/// [`finish`] points into the envelope's entity.
pub fn link<'t>(
    mut operation: TransformOperation<'t>,
    target: &str,
    parameter: &str,
    pointer: &str,
) -> TransformOperation<'t> {
    if let Some(responses) = operation.inner_mut().responses.as_mut() {
        for (status, response) in responses.responses.iter_mut() {
            if let (DocStatus::Code(200..=299), ReferenceOr::Item(response)) = (status, response) {
                let link = aide::openapi::Link {
                    description: None,
                    operation: aide::openapi::LinkOperation::OperationId(target.to_owned()),
                    request_body: None,
                    parameters: IndexMap::from_iter([(
                        parameter.to_owned(),
                        Value::from(format!("{BODY_EXPRESSION}{pointer}")),
                    )]),
                    server: None,
                    extensions: IndexMap::default(),
                };
                response
                    .links
                    .insert(target.to_owned(), ReferenceOr::Item(link));
            }
        }
    }
    operation
}

/// The rate-limit headers as the draft spells them (the layer's names, in its case).
const RATELIMIT_NAME: &str = "RateLimit";
const RATELIMIT_POLICY_NAME: &str = "RateLimit-Policy";

/// The runtime expression of a value in the response body, before its JSON Pointer.
const BODY_EXPRESSION: &str = "$response.body#";

/// Records that the responses of `operation` may carry the header `name` (a layer's),
/// and always do where every condition of the response is one of `required_with`.
fn sends(
    operation: &mut Operation,
    name: &str,
    description: &str,
    schema: Value,
    required_with: &[Condition],
) {
    let recorded = operation
        .extensions
        .entry(HEADERS.to_owned())
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(headers) = recorded {
        let required_with: Vec<&str> = required_with.iter().map(|c| c.default_code()).collect();
        headers.insert(
            name.to_owned(),
            json!({"description": description, "schema": schema, "required_with": required_with}),
        );
    }
}

/// Whether a response whose conditions are `answers` always has what comes with
/// `conditions`: it answers with some condition, all of them among `conditions`.
fn always(answers: &[Condition], conditions: impl Fn(Condition) -> bool) -> bool {
    !answers.is_empty() && answers.iter().all(|&c| conditions(c))
}

/// A header name as documents spell it (`x-request-id` as `X-Request-Id`).
fn header_name(name: &http::HeaderName) -> String {
    name.as_str()
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A response header for a document: what it says, whether every such response has it,
/// and its value's schema.
pub fn header(description: &str, required: bool, schema: Value) -> ReferenceOr<Header> {
    ReferenceOr::Item(Header {
        description: Some(description.to_owned()),
        style: Default::default(),
        required,
        deprecated: None,
        format: ParameterSchemaOrContent::Schema(schema_object(schema)),
        example: None,
        examples: IndexMap::default(),
        extensions: IndexMap::default(),
    })
}

/// The headers of every response: `X-Request-Id`, the layers' recorded ones, a 401's
/// challenge and `Retry-After` where the status's conditions bring one.
fn headers(operation: &mut Operation) {
    let recorded = operation.extensions.shift_remove(HEADERS);
    let Some(responses) = operation.responses.as_mut() else {
        return;
    };
    for (status, response) in responses.responses.iter_mut() {
        let ReferenceOr::Item(response) = response else {
            continue;
        };
        response.headers.insert(
            header_name(&REQUEST_ID),
            header(
                "The request's id: the caller's X-Request-Id (1-128 visible ASCII \
                 characters) or one the server made.",
                true,
                json!({"type": "string", "minLength": 1, "maxLength": crate::request_id::MAX_LEN}),
            ),
        );
        let answers = names(response.extensions.shift_remove(ANSWERS).as_ref());
        if let Some(Value::Object(recorded)) = &recorded {
            for (name, spec) in recorded {
                let required_with = names(spec.get("required_with"));
                response.headers.insert(
                    name.clone(),
                    header(
                        spec["description"].as_str().unwrap_or_default(),
                        always(&answers, |c| required_with.contains(&c)),
                        spec["schema"].clone(),
                    ),
                );
            }
        }
        if *status == DocStatus::Code(401) {
            response.headers.insert(
                "WWW-Authenticate".to_owned(),
                header(
                    "The challenge RFC 9110 requires of every 401.",
                    true,
                    json!({"type": "string"}),
                ),
            );
        }
        if answers.iter().any(|c| RETRY_AFTER.contains(c)) {
            response.headers.insert(
                "Retry-After".to_owned(),
                header(
                    "Seconds to wait before sending the request again.",
                    always(&answers, |c| RETRY_AFTER.contains(&c)),
                    json!({"type": "string", "pattern": "^[0-9]+$"}),
                ),
            );
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn schema_object(value: Value) -> SchemaObject {
    SchemaObject {
        json_schema: Schema::try_from(value).unwrap_or_else(|_| Schema::default()),
        example: None,
        external_docs: None,
    }
}

/// The response extension of the conditions an error response stands for, until
/// [`finish`] states the headers that come with them.
const ANSWERS: &str = "x-apierr-answers";

/// The conditions named in a recorded list.
fn names(list: Option<&Value>) -> Vec<Condition> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(Condition::from_name)
        .collect()
}

/// The operation's conditions as responses in `profile`, one per status, whose bodies
/// are the component `schema`. A status documented before (by an answer type, or by an
/// inner contract through [`answers_in`]) is left as it is, but for the conditions in
/// `own`: the contract layer answers those itself, ahead of anything inside it, so they
/// are added to that response in this profile's form.
fn errors(operation: &mut Operation, profile: &Profile, schema: &str, own: &[Condition]) {
    let content_type = profile
        .dialect()
        .content_type()
        .to_str()
        .unwrap_or("application/json")
        .to_owned();
    let mut conditions = names(operation.extensions.shift_remove(CONDITIONS).as_ref());
    conditions.sort();
    conditions.dedup();
    let mut by_status: IndexMap<u16, Vec<Condition>> = IndexMap::new();
    for condition in conditions {
        let status = profile.catalog().condition(condition).status().as_u16();
        by_status.entry(status).or_default().push(condition);
    }
    by_status.sort_keys();
    let reference = json!({"$ref": format!("#/components/schemas/{schema}")});
    let responses = operation.responses.get_or_insert_with(Default::default);
    for (status, mut conditions) in by_status {
        let response = match responses.responses.entry(DocStatus::Code(status)) {
            indexmap::map::Entry::Vacant(vacant) => vacant.insert(ReferenceOr::Item(Response {
                extensions: IndexMap::from_iter([(ANSWERS.to_owned(), Value::Array(Vec::new()))]),
                ..Default::default()
            })),
            indexmap::map::Entry::Occupied(occupied) => {
                conditions.retain(|c| own.contains(c));
                if conditions.is_empty() {
                    continue;
                }
                occupied.into_mut()
            }
        };
        let ReferenceOr::Item(response) = response else {
            continue;
        };
        for condition in &conditions {
            if !response.description.is_empty() {
                response.description.push_str(" Or: ");
            }
            response.description.push_str(condition.description());
        }
        if let Some(Value::Array(answers)) = response.extensions.get_mut(ANSWERS) {
            answers.extend(conditions.iter().map(|c| Value::from(c.default_code())));
        }
        let media = response.content.entry(content_type.clone()).or_default();
        media.schema = Some(match media.schema.take() {
            None => schema_object(reference.clone()),
            Some(before) if before.json_schema.as_value() == &reference => before,
            // Another contract's body at the same status and media type: either.
            Some(before) => {
                schema_object(json!({"anyOf": [before.json_schema.to_value(), reference.clone()]}))
            }
        });
        for &condition in &conditions {
            let rendered = profile.render(&profile.error(condition));
            let value = serde_json::from_slice(&rendered.body).unwrap_or(Value::Null);
            let example = Example {
                summary: Some(condition.description().to_owned()),
                value: Some(value),
                ..Default::default()
            };
            media.examples.insert(
                condition.default_code().to_owned(),
                ReferenceOr::Item(example),
            );
        }
    }
}

/// Seed 000's success envelope around every 2xx body but [`Plain`]'s, where the
/// dialect `wraps` successes.
fn envelopes(operation: &mut Operation, wraps: bool) {
    let Some(responses) = operation.responses.as_mut() else {
        return;
    };
    for (status, response) in responses.responses.iter_mut() {
        let (DocStatus::Code(200..=299), ReferenceOr::Item(response)) = (status, response) else {
            continue;
        };
        if response.extensions.shift_remove(PLAIN).is_some() || !wraps {
            continue;
        }
        let entity = response
            .content
            .get("application/json")
            .and_then(|media| media.schema.as_ref())
            .map_or(json!({"type": "null"}), |schema| {
                schema.json_schema.clone().to_value()
            });
        for link in response.links.values_mut() {
            let ReferenceOr::Item(link) = link else {
                continue;
            };
            for value in link.parameters.values_mut() {
                if let Some(pointer) = value.as_str().and_then(|v| v.strip_prefix(BODY_EXPRESSION))
                {
                    *value = Value::from(format!("{BODY_EXPRESSION}/entity{pointer}"));
                }
            }
        }
        let envelope = json!({"type": "object",
            "required": ["message", "status", "entity", "validationErrors", "resultCount", "totalCount"],
            "properties": {"message": {"type": "string"}, "status": {"type": "string", "enum": ["success"]},
                "entity": entity, "validationErrors": {"type": "array", "items": {"type": "object"}, "maxItems": 0},
                "resultCount": {"type": "integer"}, "totalCount": {"type": "integer"}}});
        response.content.insert(
            "application/json".to_owned(),
            json_media(schema_object(envelope)),
        );
    }
}

fn json_media(schema: SchemaObject) -> MediaType {
    MediaType {
        schema: Some(schema),
        ..Default::default()
    }
}

/// Removes, from `schema` and the schemas inside it, the `"default": null` that schemars
/// writes for an `Option` field with `#[serde(default)]` whose schema is not nullable
/// (`#[schemars(with = "String")]`): such a field is simply optional, and a default its
/// own type refuses makes the document invalid.
fn drop_null_defaults(schema: &mut Schema) {
    fn walk(object: &mut serde_json::Map<String, Value>) {
        let nullable = match object.get("type") {
            Some(Value::String(t)) => t == "null",
            Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
            _ => true,
        };
        if !nullable && object.get("default") == Some(&Value::Null) {
            object.remove("default");
        }
        for value in object.values_mut() {
            match value {
                Value::Object(inner) => walk(inner),
                Value::Array(items) => items
                    .iter_mut()
                    .filter_map(Value::as_object_mut)
                    .for_each(walk),
                _ => {}
            }
        }
    }
    if let Some(object) = schema.as_object_mut() {
        walk(object);
    }
}

/// A JSON (or form) request body of `T`.
fn body<T: JsonSchema>(ctx: &mut GenContext, operation: &mut Operation, media: &str) {
    let json_schema = ctx.schema.subschema_for::<T>();
    let description = ctx
        .resolve_schema(&json_schema)
        .get("description")
        .and_then(Value::as_str)
        .map(String::from);
    set_body(
        ctx,
        operation,
        RequestBody {
            description,
            content: IndexMap::from_iter([(
                media.to_owned(),
                json_media(SchemaObject {
                    json_schema,
                    example: None,
                    external_docs: None,
                }),
            )]),
            required: true,
            extensions: IndexMap::default(),
        },
    );
}

impl<T: JsonSchema> OperationInput for Json<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        body::<T>(ctx, operation, "application/json");
        can_answer(operation, BODY);
    }
}

impl<T: JsonSchema> OperationInput for Form<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        body::<T>(ctx, operation, "application/x-www-form-urlencoded");
        can_answer(operation, BODY);
    }
}

/// The parameters of `T`'s fields at `location`, each schema inline: a parameter
/// struct is no component of the document (nothing would refer to it).
fn parameters<T: JsonSchema>(
    ctx: &mut GenContext,
    operation: &mut Operation,
    location: ParamLocation,
) {
    let schema = ctx
        .schema
        .settings()
        .clone()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator()
        .subschema_for::<T>();
    let mut params = parameters_from_schema(ctx, schema, location);
    for param in &mut params {
        if let ParameterSchemaOrContent::Schema(schema) = &mut param.parameter_data_mut().format {
            drop_null_defaults(&mut schema.json_schema);
        }
    }
    add_parameters(ctx, operation, params);
}

impl<T: JsonSchema> OperationInput for Query<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        parameters::<T>(ctx, operation, ParamLocation::Query);
        can_answer(
            operation,
            &[Condition::InvalidParameter, Condition::MissingParameter],
        );
    }
}

/// Path parameters come from `T`'s fields (a struct named after the route's segments);
/// a path that does not parse, whatever `T`, is the invalid parameter condition.
impl<T: JsonSchema> OperationInput for Path<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        parameters::<T>(ctx, operation, ParamLocation::Path);
        can_answer(operation, &[Condition::InvalidParameter]);
    }
}

impl<E: OperationInput> OperationInput for Valid<E> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        E::operation_input(ctx, operation);
        can_answer(operation, &[Condition::InvalidParameter]);
    }
}

/// What [`RequireAuthLayer`](crate::RequireAuthLayer) answers for a request it lets no
/// further: no credential, or one that is not valid.
impl<P> OperationInput for Authenticated<P> {
    fn operation_input(_: &mut GenContext, operation: &mut Operation) {
        can_answer(
            operation,
            &[Condition::Unauthenticated, Condition::InvalidToken],
        );
    }
}

impl OperationInput for RequestContract {}

/// Read from the connection and trusted headers: nothing a client documents.
impl OperationInput for crate::ClientAddress {}

/// A success response of `T` as JSON with `status`.
fn success<T: JsonSchema>(ctx: &mut GenContext, description: &str) -> Response {
    let schema = ctx.schema.subschema_for::<T>();
    Response {
        description: description.to_owned(),
        content: IndexMap::from_iter([(
            "application/json".to_owned(),
            json_media(SchemaObject {
                json_schema: schema,
                example: None,
                external_docs: None,
            }),
        )]),
        ..Default::default()
    }
}

/// The response aide infers for an output: its own, at `status`.
fn at(status: u16, response: Option<Response>) -> Vec<(Option<u16>, Response)> {
    response
        .map(|r| vec![(Some(status), r)])
        .unwrap_or_default()
}

/// [`Plain`]'s response: marked, so that [`finish`] wraps it in no envelope.
fn plain(mut response: Response) -> Response {
    response
        .extensions
        .insert(PLAIN.to_owned(), Value::Bool(true));
    response
}

/// [`Page`]'s response: the items, and their total in `X-Total-Count`.
fn page<T: JsonSchema>(ctx: &mut GenContext) -> Response {
    let mut response = success::<Vec<T>>(ctx, "A page; the total is in X-Total-Count");
    response.headers.insert(
        header_name(&TOTAL_COUNT),
        header(
            "How many there are in all.",
            true,
            json!({"type": "integer", "minimum": 0}),
        ),
    );
    response.headers.insert(
        "Link".to_owned(),
        header(
            "The next page, as `<URI>; rel=\"next\"` (RFC 8288); absent on the last.",
            false,
            json!({"type": "string"}),
        ),
    );
    response
}

/// A success type's `OperationOutput` (`@T`: generic over a `T: JsonSchema`): its
/// response, which aide also infers at `status`.
macro_rules! output {
    ($(@$t:ident)? $ty:ty, $inner:ty, $status:literal, |$ctx:ident| $response:expr) => {
        impl$(<$t: JsonSchema>)? OperationOutput for $ty {
            type Inner = $inner;

            fn operation_response($ctx: &mut GenContext, _: &mut Operation) -> Option<Response> {
                Some($response)
            }

            fn inferred_responses(
                ctx: &mut GenContext,
                operation: &mut Operation,
            ) -> Vec<(Option<u16>, Response)> {
                at($status, Self::operation_response(ctx, operation))
            }
        }
    };
}

output!(@T Json<T>, T, 200, |ctx| success::<T>(ctx, "The result"));
output!(@T Created<T>, T, 201, |ctx| success::<T>(ctx, "Created"));
output!(@T AlreadyReported<T>, T, 208, |ctx| success::<T>(
    ctx,
    "Registered before: the existing record"
));
output!(@T Plain<T>, T, 200, |ctx| plain(success::<T>(
    ctx,
    "The result, in no envelope"
)));
output!(@T Page<T>, Vec<T>, 200, |ctx| page::<T>(ctx));
output!(Empty, (), 200, |_ctx| Response {
    description: "Done".to_owned(),
    ..Default::default()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_spell_the_rate_limit_headers_as_the_layer_sends_them() {
        // Scenario: the document's header names are the layer's, in the draft's case.
        assert!(RATELIMIT_NAME.eq_ignore_ascii_case(crate::RATELIMIT.as_str()));
        assert!(RATELIMIT_POLICY_NAME.eq_ignore_ascii_case(crate::RATELIMIT_POLICY.as_str()));
        assert_eq!(header_name(&REQUEST_ID), "X-Request-Id");
    }
}
