//! The route table of the reference Partner API, and from it the OpenAPI document: one
//! table, through aide's router, so that the document states exactly the routes served.
//!
//! Each handler's extractors and answer types tell aide its parameters, body, success
//! responses and the conditions they can raise (`apierr_axum::openapi`); the table adds
//! what a handler decides beyond them (not found, already exists), what the layers
//! around each group answer (authentication, rate limits, the date check, idempotency
//! keys), and the words: ids, summaries, tags, links. [`routes`] builds the router and
//! the document together; without [`Layers`] it builds the document alone (`apierr
//! openapi`), from the same table.

use aide::axum::ApiRouter;
use aide::axum::routing::{ApiMethodRouter, delete_with, get_with, post_with};
use aide::openapi::{
    Contact, License, OAuth2Flow, OAuth2Flows, OpenApi, Operation, PathItem, SecurityScheme,
    Server, Tag,
};
use aide::transform::{TransformOpenApi, TransformOperation, TransformPathItem};
use apierr::{Condition, Profile};
use apierr_axum::openapi::{
    answers_in, conditions, each_operation, finish, idempotency_keys, link, rate_limited, stale,
};
use apierr_axum::{
    ContractLayer, IdempotencyLayer, RateLimitLayer, ReconcileLayer, RequireAuthLayer,
    StalenessLayer,
};
use axum::Router;
use indexmap::IndexMap;

use crate::auth::PartnerAuth;
use crate::config::{Config, DEFAULT_PUBLIC_URL};
use crate::state::AppState;
use crate::{api, events, webhooks};

/// The layers of the served routes (the document needs none of them).
pub(crate) struct Layers {
    /// `Idempotency-Key` on the partner routes' POST and PATCH.
    pub(crate) idempotency: IdempotencyLayer,
    /// The reconciliation log of the partner routes.
    pub(crate) reconcile: ReconcileLayer,
    /// The partner's rate limit.
    pub(crate) partner_limit: RateLimitLayer,
    /// The token endpoint's, per client address.
    pub(crate) token_limit: RateLimitLayer,
    /// The partner's API key or access token.
    pub(crate) auth: RequireAuthLayer<PartnerAuth>,
    /// The date check of the routes the outer one exempts (the token endpoint's).
    pub(crate) staleness: StalenessLayer,
}

/// The contract layer around the whole router, which the document states.
pub(crate) fn contract(config: &Config) -> ContractLayer {
    ContractLayer::new(config.profile.clone())
        .timeout(config.handler_timeout)
        .body_limit(config.body_limit)
        .trust_proxies(config.trust_proxies.iter().copied())
        .challenge(http::HeaderValue::from_static(
            "Bearer realm=\"partner-api\"",
        ))
}

/// The token endpoint's own contract layer: RFC 6749's error form whatever the profile,
/// because OAuth client libraries read no other. The layer around the router checks
/// `Accept` first, so this one leaves it.
fn token_contract() -> ContractLayer {
    ContractLayer::new(Profile::OAUTH_TOKEN).check_accept(false)
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

/// The tag of a path: its part of the API.
fn tag_of(path: &str) -> &'static str {
    TAGS.iter()
        .find(|(prefix, _, _)| path.starts_with(prefix))
        .map_or("other", |(_, name, _)| name)
}

/// How a partner route authenticates.
const PARTNER_AUTH: &str = "Authenticated with the partner's API key (`X-Api-Key`) or an access \
     token from `POST /oauth/token` (`Authorization: Bearer`).";

/// How the token endpoint's client authenticates.
const CLIENT_AUTH: &str = "The client authenticates with HTTP Basic or with `client_id` and \
     `client_secret` in the form, never both.";

/// Seed 001's retry rule for GET, PUT and DELETE.
const SAFE_RETRY: &str = "Safe to retry: the same request again has the same effect.";

/// Its rule for a POST or PATCH, which the idempotency layer makes safe.
const KEYED_RETRY: &str = "Send an `Idempotency-Key` to make a retry safe: a retry with the \
     same key and body gets the first answer again instead of running twice. A 5xx without \
     one leaves the outcome unknown: read before retrying.";

/// The token endpoint's: nothing to make safe.
const TOKEN_RETRY: &str = "A retry issues another token; each is valid until it expires.";

/// The conditions of the authentication layer, beyond the missing or invalid credential
/// the `Authenticated` extractor records.
const AUTHENTICATION: &[Condition] = &[
    Condition::Unauthenticated,
    Condition::InvalidToken,
    Condition::ExpiredToken,
    Condition::Forbidden,
    Condition::KeyRevoked,
    Condition::SessionExpired,
];

/// Its description: the summary, how to authenticate, whether a retry is safe.
fn describe(operation: &mut Operation, auth: &str, retry: &str) {
    let summary = operation.summary.as_deref().unwrap_or_default();
    operation.description = Some(format!("{summary}. {auth} {retry}"));
}

/// What every partner route has: its tag, the partner's credentials, the layers'
/// answers (authentication, the partner's rate limit, the date check, idempotency keys
/// on POST and PATCH) and its description.
fn partner<'t>(
    item: TransformPathItem<'t>,
    path: &str,
    keys_required: bool,
) -> TransformPathItem<'t> {
    let mut item = each_operation(item, |op| {
        let op = op
            .tag(tag_of(path))
            .security_requirement("apiKey")
            .security_requirement("oauth2");
        stale(rate_limited(conditions(op, AUTHENTICATION)))
    });
    let path_item: &mut PathItem = item.inner_mut();
    for (operation, retry) in [
        (&mut path_item.get, SAFE_RETRY),
        (&mut path_item.put, SAFE_RETRY),
        (&mut path_item.delete, SAFE_RETRY),
        (&mut path_item.post, KEYED_RETRY),
        (&mut path_item.patch, KEYED_RETRY),
    ] {
        if let Some(operation) = operation {
            describe(operation, PARTNER_AUTH, retry);
        }
    }
    idempotency_keys(item, keys_required)
}

/// An operation's id, summary, and the conditions its handler raises beyond what its
/// extractors and the layers record.
fn named<'t>(
    op: TransformOperation<'t>,
    id: &str,
    summary: &str,
    raises: &[Condition],
) -> TransformOperation<'t> {
    conditions(op.id(id).summary(summary), raises)
}

/// An operation's links from the id in its answer (at `pointer`) to the operations that
/// take it in their path.
fn links<'t>(
    mut op: TransformOperation<'t>,
    targets: &[&str],
    pointer: &str,
) -> TransformOperation<'t> {
    for target in targets {
        op = link(op, target, "id", pointer);
    }
    op
}

/// The operations that take an account's id.
const ACCOUNT_OPERATIONS: &[&str] = &[
    "getAccount",
    "replaceAccount",
    "updateAccount",
    "deleteAccount",
    "registerChild",
];

/// The operations that take an endpoint's id.
const ENDPOINT_OPERATIONS: &[&str] = &[
    "getWebhookEndpoint",
    "updateWebhookEndpoint",
    "deleteWebhookEndpoint",
    "testWebhookEndpoint",
    "rotateWebhookSecret",
    "resumeWebhookEndpoint",
];

/// The router of every documented route with `layers` (none: for the document alone),
/// and the document of what it serves in `config`'s profile. The caller adds the
/// undocumented routes (`/openapi.json`, the operator's) and the layers around the whole.
pub(crate) fn routes(config: &Config, layers: Option<Layers>) -> (Router<AppState>, OpenApi) {
    let keys = config.require_idempotency_key;
    let revoke = delete_with(api::revoke_token, |op| {
        named(
            op,
            "revokeToken",
            "End the session of the bearer token used (nothing to end for an API key)",
            &[],
        )
    });
    // The token routes' date check is their own (the layer around the router exempts
    // their path, for the token endpoint's sake).
    let revoke = match &layers {
        Some(layers) => revoke.route_layer(layers.staleness.clone()),
        None => revoke,
    };
    // Keys on each route's own methods: a method the route lacks stays 405, whatever key
    // it carries (a layer around the whole router would see it first).
    let keyed = |route: ApiMethodRouter<AppState>| match &layers {
        Some(layers) => route.route_layer(layers.idempotency.clone()),
        None => route,
    };
    let protected = ApiRouter::new()
        .api_route_with("/oauth/token", revoke, |item| {
            partner(item, "/oauth/token", keys)
        })
        .api_route_with(
            "/accounts",
            keyed(get_with(api::list_accounts, |op| {
                let op = named(
                    op,
                    "listAccounts",
                    "List the partner's accounts, a page at a time",
                    &[Condition::NotFound],
                );
                links(op, &["getAccount"], "/0/id")
            })
            .post_with(api::create_account, |op| {
                let op = named(
                    op,
                    "createAccount",
                    "Register an account with a unique email",
                    &[Condition::AlreadyExists],
                );
                links(op, ACCOUNT_OPERATIONS, "/id")
            })),
            |item| partner(item, "/accounts", keys),
        )
        .api_route_with(
            "/accounts/{id}",
            keyed(get_with(api::get_account, |op| {
                named(op, "getAccount", "Read an account", &[Condition::NotFound])
            })
            .put_with(api::put_account, |op| {
                named(
                    op,
                    "replaceAccount",
                    "Replace an account",
                    &[Condition::NotFound, Condition::AlreadyExists],
                )
            })
            .patch_with(api::patch_account, |op| {
                named(
                    op,
                    "updateAccount",
                    "Change some fields of an account",
                    &[Condition::NotFound, Condition::AlreadyExists],
                )
            })
            .delete_with(api::delete_account, |op| {
                named(
                    op,
                    "deleteAccount",
                    "Delete an account and its children",
                    &[Condition::NotFound],
                )
            })),
            |item| partner(item, "/accounts/{id}", keys),
        )
        .api_route_with(
            "/accounts/{id}/children",
            keyed(post_with(api::register_child, |op| {
                named(
                    op,
                    "registerChild",
                    "Register a child under an account; the same child again is 208 with \
                         the existing record",
                    &[Condition::NotFound],
                )
            })),
            |item| partner(item, "/accounts/{id}/children", keys),
        )
        .api_route_with(
            "/webhooks/endpoints",
            keyed(get_with(webhooks::list_endpoints, |op| {
                let op = named(
                    op,
                    "listWebhookEndpoints",
                    "List the partner's webhook endpoints",
                    &[],
                );
                links(op, &["getWebhookEndpoint"], "/0/id")
            })
            .post_with(webhooks::create_endpoint, |op| {
                let op = named(
                    op,
                    "createWebhookEndpoint",
                    "Register a webhook endpoint; its signing secret is in the answer, this once",
                    &[],
                );
                links(op, ENDPOINT_OPERATIONS, "/id")
            })),
            |item| partner(item, "/webhooks/endpoints", keys),
        )
        .api_route_with(
            "/webhooks/endpoints/{id}",
            keyed(get_with(webhooks::get_endpoint, |op| {
                named(
                    op,
                    "getWebhookEndpoint",
                    "Read a webhook endpoint (its state: active, paused or disabled)",
                    &[Condition::NotFound],
                )
            })
            .patch_with(webhooks::update_endpoint, |op| {
                named(
                    op,
                    "updateWebhookEndpoint",
                    "Change which event types a webhook endpoint receives, from the next \
                     message on",
                    &[Condition::NotFound],
                )
            })
            .delete_with(webhooks::delete_endpoint, |op| {
                named(
                    op,
                    "deleteWebhookEndpoint",
                    "Delete a webhook endpoint; its waiting messages are cancelled (attempts already under way may still arrive)",
                    &[Condition::NotFound],
                )
            })),
            |item| partner(item, "/webhooks/endpoints/{id}", keys),
        )
        .api_route_with(
            "/webhooks/endpoints/{id}/rotate",
            keyed(post_with(webhooks::rotate_secret, |op| {
                named(
                    op,
                    "rotateWebhookSecret",
                    "Replace the endpoint's secret; the old one signs beside it for a day",
                    &[Condition::NotFound],
                )
            })),
            |item| partner(item, "/webhooks/endpoints/{id}/rotate", keys),
        )
        .api_route_with(
            "/webhooks/endpoints/{id}/test",
            keyed(post_with(webhooks::test_endpoint, |op| {
                named(
                    op,
                    "testWebhookEndpoint",
                    "Send a signed webhook.test message to the endpoint now; the answer is the \
                     attempt (at most five an endpoint a minute)",
                    &[Condition::NotFound, Condition::RateLimited],
                )
            })),
            |item| partner(item, "/webhooks/endpoints/{id}/test", keys),
        )
        .api_route_with(
            "/webhooks/event-types",
            keyed(get_with(webhooks::list_event_types, |op| {
                named(
                    op,
                    "listWebhookEventTypes",
                    "The event types the API sends, each with its body's JSON Schema and an \
                     example (also in this document's webhooks)",
                    &[],
                )
            })),
            |item| partner(item, "/webhooks/event-types", keys),
        )
        .api_route_with(
            "/webhooks/endpoints/{id}/resume",
            keyed(post_with(webhooks::resume_endpoint, |op| {
                named(
                    op,
                    "resumeWebhookEndpoint",
                    "Resume a paused or disabled endpoint; the messages kept for it are sent",
                    &[Condition::NotFound],
                )
            })),
            |item| partner(item, "/webhooks/endpoints/{id}/resume", keys),
        )
        .api_route_with(
            "/webhooks/reports",
            keyed(get_with(webhooks::list_reports, |op| {
                let op = named(
                    op,
                    "listWebhookReports",
                    "The partner's webhook failure reports, newest first",
                    &[],
                );
                links(op, &["getWebhookReport"], "/0/id")
            })),
            |item| partner(item, "/webhooks/reports", keys),
        )
        .api_route_with(
            "/webhooks/reports/{id}",
            keyed(get_with(webhooks::get_report, |op| {
                named(
                    op,
                    "getWebhookReport",
                    "One webhook failure report, with every attempt",
                    &[Condition::NotFound],
                )
            })),
            |item| partner(item, "/webhooks/reports/{id}", keys),
        )
        .api_route_with(
            "/webhooks/replay",
            keyed(post_with(webhooks::replay, |op| {
                named(
                    op,
                    "replayWebhooks",
                    "Send messages again (same ids): by message, endpoint, time range, state",
                    &[],
                )
            })),
            |item| partner(item, "/webhooks/replay", keys),
        );
    let issue = post_with(api::issue_token, |op| {
        let mut op = named(
            op,
            "issueToken",
            "Exchange client credentials for a bearer token (RFC 6749 §4.4)",
            &[],
        )
        .tag(tag_of("/oauth/token"))
        // No credentials in the scheme's sense: they may be in the form.
        .security_requirement_multi([] as [&str; 0])
        .security_requirement("clientBasic");
        describe(op.inner_mut(), CLIENT_AUTH, TOKEN_RETRY);
        let op = stale(rate_limited(conditions(
            op,
            &[
                Condition::Unauthenticated,
                Condition::InvalidToken,
                Condition::KeyRevoked,
            ],
        )));
        answers_in(op, &token_contract(), "TokenError")
    });
    let (protected, issue) = match layers {
        // The last is the outermost: authentication, the partner's limit, the log (then
        // keys, on each route above).
        Some(layers) => (
            protected
                .route_layer(layers.reconcile)
                .route_layer(layers.partner_limit)
                .route_layer(layers.auth),
            // Its date check and limit (per client address: no partner is known yet)
            // run inside its own contract, so that their answers are in its form.
            issue
                .route_layer(layers.staleness)
                .route_layer(layers.token_limit)
                .route_layer(token_contract()),
        ),
        None => (protected, issue),
    };
    let router = protected.merge(ApiRouter::new().api_route("/oauth/token", issue));
    let mut doc = OpenApi::default();
    let router = router.finish_api_with(&mut doc, |doc| describe_api(doc, config));
    finish(&mut doc, &contract(config));
    events::document(&mut doc);
    (router, doc)
}

/// What the document says of the API as a whole: who serves it, where, its parts and
/// its credentials.
fn describe_api<'t>(doc: TransformOpenApi<'t>, config: &Config) -> TransformOpenApi<'t> {
    let mut doc = doc
        .title(&format!(
            "apierr reference Partner API ({} profile)",
            config.profile.name()
        ))
        .version(env!("CARGO_PKG_VERSION"))
        .description(
            "Every answer, good or bad, is in the profile's error contract; every response \
             carries X-Request-Id.",
        )
        .contact(Contact {
            name: Some("apierr".to_owned()),
            url: Some(env!("CARGO_PKG_REPOSITORY").to_owned()),
            ..Default::default()
        })
        .license(License {
            name: env!("CARGO_PKG_LICENSE").to_owned(),
            identifier: Some(env!("CARGO_PKG_LICENSE").to_owned()),
            ..Default::default()
        })
        .server(Server {
            url: config
                .public_url
                .as_deref()
                .unwrap_or(DEFAULT_PUBLIC_URL)
                .to_owned(),
            description: Some("This deployment".to_owned()),
            ..Default::default()
        });
    for (_, name, description) in TAGS {
        doc = doc.tag(Tag {
            name: (*name).to_owned(),
            description: Some((*description).to_owned()),
            ..Default::default()
        });
    }
    doc.security_scheme(
        "apiKey",
        SecurityScheme::ApiKey {
            location: aide::openapi::ApiKeyLocation::Header,
            name: "X-Api-Key".to_owned(),
            description: Some("A partner's API key.".to_owned()),
            extensions: IndexMap::default(),
        },
    )
    .security_scheme(
        events::SIGNATURE_SCHEME,
        SecurityScheme::ApiKey {
            location: aide::openapi::ApiKeyLocation::Header,
            name: "webhook-signature".to_owned(),
            description: Some(events::SIGNATURE.to_owned()),
            extensions: IndexMap::default(),
        },
    )
    .security_scheme(
        "clientBasic",
        SecurityScheme::Http {
            scheme: "basic".to_owned(),
            bearer_format: None,
            description: Some(
                "Client credentials for the token endpoint (RFC 6749 §2.3.1).".to_owned(),
            ),
            extensions: IndexMap::default(),
        },
    )
    .security_scheme(
        "oauth2",
        SecurityScheme::OAuth2 {
            flows: OAuth2Flows {
                client_credentials: Some(OAuth2Flow::ClientCredentials {
                    refresh_url: None,
                    token_url: "/oauth/token".to_owned(),
                    scopes: IndexMap::default(),
                }),
                ..Default::default()
            },
            description: Some(
                "An access token from POST /oauth/token (client credentials), sent as a \
                 bearer token."
                    .to_owned(),
            ),
            extensions: IndexMap::default(),
        },
    )
}
