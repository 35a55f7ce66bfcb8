//! The reference API's event types, declared once: the names its mutations enqueue, what
//! each means, the JSON Schema of its data (from the type the data is made of) and an
//! example. They are listed at `GET /webhooks/event-types`, in the OpenAPI document's
//! `webhooks`, and checked in every subscription.

use std::sync::LazyLock;

use aide::openapi::{OpenApi, PathItem, ReferenceOr};
use apierr_webhooks::{EventType, EventTypes};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use crate::store::{Account, Child};

/// An account was registered (`POST /accounts`); the data is the account.
pub(crate) const ACCOUNT_CREATED: &str = "account.created";
/// An account was changed (`PUT` or `PATCH /accounts/{id}`); the data is the account as
/// it is after the change.
pub(crate) const ACCOUNT_UPDATED: &str = "account.updated";
/// An account and its children were deleted (`DELETE /accounts/{id}`).
pub(crate) const ACCOUNT_DELETED: &str = "account.deleted";
/// A child was registered under an account; the data is the child.
pub(crate) const CHILD_CREATED: &str = "child.created";

/// The data of [`ACCOUNT_DELETED`]: which account is gone.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Deleted<'a> {
    /// The deleted account's id.
    pub(crate) id: &'a str,
}

/// The JSON Schema (2020-12, every subschema inline) of `T`, without the `$schema` key
/// (it is embedded in documents that name their dialect).
fn schema_of<T: JsonSchema>() -> Value {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
    }
    schema
}

fn declared(name: &str, description: &str, schema: Value, example: Value) -> EventType {
    EventType::new(name, description, schema, example)
        .unwrap_or_else(|e| panic!("the reference API declares {e}"))
}

/// Every event type of the reference API, the dispatcher's own included.
pub(crate) static EVENT_TYPES: LazyLock<EventTypes> = LazyLock::new(|| {
    let account = json!({
        "id": "0123456789abcdef0123456789abcdef",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
    });
    EventTypes::new(vec![
        declared(
            ACCOUNT_CREATED,
            "An account was registered.",
            schema_of::<Account>(),
            account.clone(),
        ),
        declared(
            ACCOUNT_UPDATED,
            "An account was changed (replaced or some of its fields); the data is the account \
             after the change.",
            schema_of::<Account>(),
            account,
        ),
        declared(
            ACCOUNT_DELETED,
            "An account and its children were deleted.",
            schema_of::<Deleted<'static>>(),
            json!({"id": "0123456789abcdef0123456789abcdef"}),
        ),
        declared(
            CHILD_CREATED,
            "A child was registered under an account.",
            schema_of::<Child>(),
            json!({
                "id": "fedcba9876543210fedcba9876543210",
                "account_id": "0123456789abcdef0123456789abcdef",
                "first_name": "Byron",
                "birth_year": 2015,
            }),
        ),
    ])
    .unwrap_or_else(|e| panic!("the reference API declares {e}"))
});

/// The security scheme of the webhooks: the partner's endpoint knows the message is the
/// API's by its `webhook-signature`.
pub(crate) const SIGNATURE_SCHEME: &str = "webhookSignature";

/// What the scheme says of the signature.
pub(crate) const SIGNATURE: &str = "Standard Webhooks signatures: `v1,` and the base64 \
     HMAC-SHA256, under the endpoint's secret, of `webhook-id.webhook-timestamp.body`; one per \
     secret that signs (two while a secret is rotated), space-separated. Verify with any \
     Standard Webhooks library.";

/// The OpenAPI document's `webhooks`: one POST per event type, as a partner's endpoint
/// receives it (the Standard Webhooks headers, the body's schema and example) and what
/// its answers mean to the dispatcher.
pub(crate) fn document(doc: &mut OpenApi) {
    for t in EVENT_TYPES.all() {
        let header = |name: &str, description: &str| {
            json!({
                "name": name,
                "in": "header",
                "required": true,
                "description": description,
                "schema": {"type": "string"},
            })
        };
        let item = json!({
            "post": {
                "operationId": operation_id(&t.name),
                "summary": t.description,
                "description": format!(
                    "Sent to every endpoint of the partner that receives `{}` (see the \
                     endpoint's event_types). Verify the signature with any Standard Webhooks \
                     library and the endpoint's secret; the same webhook-id on two messages \
                     is the same message sent again.",
                    t.name
                ),
                "tags": ["webhooks"],
                "security": [{SIGNATURE_SCHEME: []}],
                "parameters": [
                    header("webhook-id", "The message's id: the same on every attempt and replay."),
                    header("webhook-timestamp", "Unix seconds when this attempt was signed."),
                ],
                "requestBody": {
                    "required": true,
                    "content": {
                        "application/json": {
                            "schema": t.body_schema(),
                            "example": t.body_example(),
                        },
                    },
                },
                "responses": {
                    "2XX": {"description": "Received: the message is delivered."},
                    "410": {"description": "Gone: the endpoint is disabled; its messages are kept until it is resumed."},
                    "default": {
                        "description": "Not received: 5xx, 408 and 429 (its Retry-After honoured) \
                                        are retried on the endpoint's schedule; other answers \
                                        and redirects are not retried. The attempt is in the \
                                        partner's failure reports.",
                    },
                },
            },
        });
        match serde_json::from_value::<PathItem>(item) {
            Ok(item) => {
                doc.webhooks.insert(t.name.clone(), ReferenceOr::Item(item));
            }
            Err(e) => {
                tracing::error!(event_type = %t.name, error = %e, "an event type's webhook could not be documented")
            }
        }
    }
}

/// The operation id of an event type's webhook: `on` and its words in camel case
/// (`account.created` → `onAccountCreated`).
fn operation_id(name: &str) -> String {
    let mut id = String::from("on");
    for word in name.split(['.', '_']) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.extend(first.to_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_is_valid_under_its_schema() {
        // Scenario: each declared type's example body (envelope and data) validates
        // against the schema the catalog publishes for it.
        for t in EVENT_TYPES.all() {
            let schema = t.body_schema();
            let validator =
                jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{}: {e}", t.name));
            let errors: Vec<String> = validator
                .iter_errors(&t.body_example())
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", t.name);
            // And a body with a wrong type is not.
            let mut wrong = t.body_example();
            wrong["type"] = json!("other.type");
            assert!(!validator.is_valid(&wrong), "{}", t.name);
        }
        assert_eq!(EVENT_TYPES.all().len(), 6);
    }

    #[test]
    fn every_event_type_is_a_documented_webhook() {
        // Scenario: the document's webhooks name each event type once, with its body's
        // schema and a unique operation id.
        let mut doc = OpenApi::default();
        document(&mut doc);
        let value = serde_json::to_value(&doc).unwrap();
        let hooks = value["webhooks"].as_object().unwrap();
        assert_eq!(hooks.len(), EVENT_TYPES.all().len());
        let mut ids = std::collections::HashSet::new();
        for t in EVENT_TYPES.all() {
            let post = &hooks[&t.name]["post"];
            assert!(ids.insert(post["operationId"].as_str().unwrap().to_owned()));
            assert_eq!(
                post["requestBody"]["content"]["application/json"]["schema"],
                t.body_schema()
            );
        }
        assert_eq!(
            operation_id("webhook.endpoint.failing"),
            "onWebhookEndpointFailing"
        );
    }
}
