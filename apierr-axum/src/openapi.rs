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
//! let _router: axum::Router = ApiRouter::new()
//!     .api_route("/orders/{id}", get(order))
//!     .finish_api(&mut api);
//! apierr_axum::openapi::finish(&mut api, &Profile::ERRORS_ARRAY);
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
use aide::transform::TransformOperation;
use aide::{OperationInput, OperationOutput};
use apierr::{Condition, Profile};
use indexmap::IndexMap;
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

use crate::{
    AlreadyReported, Authenticated, Created, Empty, Form, Json, Page, Path, Plain, Query,
    RequestContract, TOTAL_COUNT, Valid,
};

/// The operation extension the conditions are recorded in until [`finish`] states them.
const CONDITIONS: &str = "x-apierr-conditions";

/// The response extension that marks a success body no dialect wraps ([`Plain`]).
const PLAIN: &str = "x-apierr-plain";

/// The component every error response's schema refers to.
const ERROR_SCHEMA: &str = "Error";

/// The conditions any operation can answer with behind a contract layer: a panic or a
/// failure the handler does not name is the internal condition.
const EVERY_OPERATION: &[Condition] = &[Condition::Internal];

/// The conditions of a body the extractors read: no or another `Content-Type`, over the
/// limit, not the format, a value of the wrong type, a member missing.
const BODY: &[Condition] = &[
    Condition::UnsupportedMediaType,
    Condition::PayloadTooLarge,
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

/// States in `profile` what only the profile decides, for every operation of `api`:
/// each recorded condition (and the internal one) as a response of the status the
/// catalog binds it to, unless the operation documents that status already; the
/// dialect's error schema as the `Error` component; success bodies in the dialect's
/// envelope where it wraps them. Call it once, after aide's `finish_api`.
pub fn finish(api: &mut OpenApi, profile: &Profile) {
    let content_type = profile
        .dialect()
        .content_type()
        .to_str()
        .unwrap_or("application/json")
        .to_owned();
    let wraps = profile.dialect().wraps_success();
    if let Some(paths) = api.paths.as_mut() {
        for (_, item) in paths.paths.iter_mut() {
            if let ReferenceOr::Item(item) = item {
                for operation in operations(item) {
                    errors(operation, profile, &content_type);
                    if wraps {
                        envelopes(operation);
                    }
                }
            }
        }
    }
    let components = api.components.get_or_insert_with(Default::default);
    components.schemas.insert(
        ERROR_SCHEMA.to_owned(),
        schema_object(profile.dialect().error_schema()),
    );
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

/// The operation's conditions as responses, one per status.
fn errors(operation: &mut Operation, profile: &Profile, content_type: &str) {
    let recorded = operation.extensions.shift_remove(CONDITIONS);
    let mut conditions: Vec<Condition> = recorded
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(Condition::from_name)
        .chain(EVERY_OPERATION.iter().copied())
        .collect();
    conditions.sort();
    conditions.dedup();
    let mut by_status: IndexMap<u16, Vec<Condition>> = IndexMap::new();
    for condition in conditions {
        let status = profile.catalog().condition(condition).status().as_u16();
        by_status.entry(status).or_default().push(condition);
    }
    by_status.sort_keys();
    let responses = operation.responses.get_or_insert_with(Default::default);
    for (status, conditions) in by_status {
        let key = DocStatus::Code(status);
        if responses.responses.contains_key(&key) {
            continue;
        }
        let examples = conditions
            .iter()
            .map(|&condition| {
                let rendered = profile.render(&profile.error(condition));
                let value = serde_json::from_slice(&rendered.body).unwrap_or(Value::Null);
                let example = Example {
                    summary: Some(condition.description().to_owned()),
                    value: Some(value),
                    ..Default::default()
                };
                (
                    condition.default_code().to_owned(),
                    ReferenceOr::Item(example),
                )
            })
            .collect();
        let description = conditions
            .iter()
            .map(|c| c.description())
            .collect::<Vec<_>>()
            .join(" Or: ");
        let media = MediaType {
            schema: Some(schema_object(
                json!({"$ref": format!("#/components/schemas/{ERROR_SCHEMA}")}),
            )),
            examples,
            ..Default::default()
        };
        responses.responses.insert(
            key,
            ReferenceOr::Item(Response {
                description,
                content: IndexMap::from_iter([(content_type.to_owned(), media)]),
                ..Default::default()
            }),
        );
    }
}

/// Seed 000's success envelope around every 2xx body but [`Plain`]'s.
fn envelopes(operation: &mut Operation) {
    let Some(responses) = operation.responses.as_mut() else {
        return;
    };
    for (status, response) in responses.responses.iter_mut() {
        let (DocStatus::Code(200..=299), ReferenceOr::Item(response)) = (status, response) else {
            continue;
        };
        if response.extensions.shift_remove(PLAIN).is_some() {
            continue;
        }
        let entity = response
            .content
            .get("application/json")
            .and_then(|media| media.schema.as_ref())
            .map_or(json!({"type": "null"}), |schema| {
                schema.json_schema.clone().to_value()
            });
        let envelope = json!({"type": "object",
            "required": ["message", "status", "entity", "validationErrors", "resultCount", "totalCount"],
            "properties": {"message": {"type": "string"}, "status": {"type": "string", "enum": ["success"]},
                "entity": entity, "validationErrors": {"type": "array", "maxItems": 0},
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

impl<T: JsonSchema> OperationInput for Query<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        let schema = ctx.schema.subschema_for::<T>();
        let params = parameters_from_schema(ctx, schema, ParamLocation::Query);
        add_parameters(ctx, operation, params);
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
        let schema = ctx.schema.subschema_for::<T>();
        let params = parameters_from_schema(ctx, schema, ParamLocation::Path);
        add_parameters(ctx, operation, params);
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
    let count = json!({"type": "integer", "minimum": 0});
    response.headers.insert(
        TOTAL_COUNT.as_str().to_owned(),
        ReferenceOr::Item(Header {
            description: Some("How many there are in all.".to_owned()),
            style: Default::default(),
            required: true,
            deprecated: None,
            format: ParameterSchemaOrContent::Schema(schema_object(count)),
            example: None,
            examples: IndexMap::default(),
            extensions: IndexMap::default(),
        }),
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
