//! The partner's webhook routes: endpoints and their secrets, failure reports (in the
//! partner-safe form), replay; and `apierr webhooks report | replay`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use apierr::{ApiError, Condition, FieldViolation, ViolationKind};
use apierr_axum::store::{Quota, RateLimitStore};
use apierr_axum::{Authenticated, Clock, Created, Empty, Json, Path, Query};
use apierr_webhooks::{
    AddressPolicy, DeliveryState, Dispatcher, Endpoint, FailureKind, Outbox, Replay, ReportView,
    Schedule, Secret, Subscription, SubscriptionError, UrlError,
};
use axum::extract::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::errors::{internal, invalid};
use crate::events::EVENT_TYPES;
use crate::store::{is_id, unix};

/// How long a rotated-out secret keeps signing beside the new one: a day for the
/// partner to deploy the new secret without rejecting a message.
pub(crate) const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 60 * 60);

/// The endpoint URLs the API accepts, as the OpenAPI document states them: `http` or
/// `https`, a lower-case host name of letters, digits and hyphens whose last label starts
/// with a letter (so never an address literal: those are refused unless an operator
/// allows their network, and a name is checked each time it is resolved), an optional
/// port 1–65535, path and query of URL characters, and nothing else (no credentials, no
/// fragment). An international name is checked in its punycode form (`xn--…` labels),
/// as the URL is compared after parsing; every URL it matches parses and passes
/// [`AddressPolicy::check_url`].
pub(crate) const URL_PATTERN: &str = concat!(
    "^https?://(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\\.)*[a-z](?:[a-z0-9-]*[a-z0-9])?",
    "(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?",
    "(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?",
    "(?:\\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
);

static URL_REGEX: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(URL_PATTERN).expect("a valid pattern"));

/// The most reports one request returns.
pub(crate) const MAX_REPORTS: u32 = 100;

/// What the webhook handlers see of the application's state (through `FromRef`).
#[derive(Clone)]
pub(crate) struct Webhooks {
    pub(crate) outbox: Outbox,
    /// What endpoint URLs may point at.
    pub(crate) policy: Arc<AddressPolicy>,
    /// The clock of message and report times; tests inject their own.
    pub(crate) clock: Clock,
    /// The most endpoints a partner may have.
    pub(crate) max_endpoints: u32,
    /// The most deliveries one replay may queue.
    pub(crate) replay_max: u32,
    /// Sends test messages (never runs: the deliveries are another dispatcher's).
    pub(crate) tester: Dispatcher,
    /// Where the test messages of each endpoint are counted ([`TEST_SENDS`]).
    pub(crate) limits: Arc<dyn RateLimitStore>,
}

/// How many test messages an endpoint may be sent a minute: enough to try a fix a few
/// times, few enough that the API cannot be used to flood a partner's (or anyone's)
/// server.
pub(crate) const TEST_SENDS: u32 = 5;

/// Whether `id` has the form of the ids made with `prefix` (32 lower-case hex digits
/// after it): any other names nothing and never reaches the database.
fn is_prefixed_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(is_id)
}

fn endpoint_id(id: &str) -> Result<&str, ApiError> {
    if is_prefixed_id(id, "ep_") {
        Ok(id)
    } else {
        Err(Condition::NotFound.into())
    }
}

/// An endpoint as its partner sees it (never its secret).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EndpointView {
    /// Its id: `ep_` and 32 lower-case hex digits.
    id: String,
    /// Where messages are sent.
    url: String,
    /// `active`, `paused` (after a run of failed messages) or `disabled` (the receiver
    /// answered 410); the last two keep new messages until resumed.
    #[schemars(extend("enum" = ["active", "paused", "disabled"]))]
    state: &'static str,
    /// Messages in a row that failed.
    failure_run: i64,
    /// Retries, in seconds after the first attempt.
    retry_schedule: Vec<u64>,
    /// The event types it receives; null for every type.
    event_types: Option<Vec<String>>,
    /// Unix seconds.
    created_at: i64,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        EndpointView {
            retry_schedule: e.schedule.offsets().iter().map(Duration::as_secs).collect(),
            event_types: e.subscription.types().map(<[String]>::to_vec),
            id: e.id,
            url: e.url,
            state: e.state.as_str(),
            failure_run: e.failure_run,
            created_at: unix(e.created_at),
        }
    }
}

/// A new endpoint, with its secret: shown this once.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CreatedEndpoint {
    #[serde(flatten)]
    endpoint: EndpointView,
    /// The Standard Webhooks signing secret (`whsec_…`); shown this once.
    secret: String,
}

impl CreatedEndpoint {
    /// The new endpoint's id.
    pub(crate) fn id(&self) -> &str {
        &self.endpoint.id
    }

    /// Its secret, shown this once.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }
}

/// An endpoint to register.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct NewEndpoint {
    /// http or https, a host name (its addresses are checked each time it is resolved:
    /// private, loopback, link-local and metadata ranges are refused), an optional
    /// port, path and query; no credentials, no fragment.
    #[schemars(length(max = apierr_webhooks::MAX_URL_LEN), regex(pattern = URL_PATTERN))]
    pub(crate) url: String,
    /// Retries, in seconds after the first attempt (sorted; repeats count once).
    /// Default is [5, 15, 40].
    #[schemars(length(max = apierr_webhooks::MAX_RETRIES), inner(range(min = 1, max = 86400)))]
    pub(crate) retry_schedule: Option<Vec<u64>>,
    /// The event types to receive (`GET /webhooks/event-types` lists them; repeats count
    /// once). Default is every type, those added later included.
    // `default` tells schemars (whose `schema_with` hides the `Option`) it is optional.
    #[serde(default)]
    #[schemars(schema_with = "event_type_list")]
    pub(crate) event_types: Option<Vec<String>>,
}

/// A change of an endpoint's subscription.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct EndpointPatch {
    /// The event types to receive from the next message on; null for every type. Left
    /// out, the subscription stays as it is.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "event_type_list")]
    event_types: Option<Option<Vec<String>>>,
}

/// A field that is present, even as null: `Some(None)` (serde's default for a missing
/// field gives `None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The schema of a subscription: null, or one to all of the catalog's names.
fn event_type_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&str> = EVENT_TYPES.all().iter().map(|t| t.name.as_str()).collect();
    schemars::json_schema!({
        "type": ["array", "null"],
        "items": {"type": "string", "enum": names},
        "minItems": 1,
        "maxItems": names.len(),
    })
}

/// The subscription a request names: every type when it names none, else the catalog's
/// check (known names, at least one, at most as many as there are types).
fn subscription(types: Option<Vec<String>>) -> Result<Subscription, ApiError> {
    let Some(types) = types else {
        return Ok(Subscription::All);
    };
    let refuse = |message: String| {
        ApiError::from(Condition::InvalidParameter)
            .with_violation(FieldViolation::body("event_types", message))
    };
    let known = EVENT_TYPES.all().len();
    if types.len() > known {
        return Err(refuse(format!(
            "names {} event types; there are {known} (GET /webhooks/event-types lists them)",
            types.len()
        )));
    }
    EVENT_TYPES.subscription(&types).map_err(|e| match e {
        SubscriptionError::Unknown(..) => {
            refuse(format!("{e} (GET /webhooks/event-types lists them)"))
        }
        e => refuse(e.to_string()),
    })
}

/// An endpoint's id in a path.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct EndpointId {
    /// The endpoint's id.
    #[schemars(length(min = 1))]
    id: String,
}

/// A report's id in a path.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ReportId {
    /// The report's id.
    #[schemars(length(min = 1))]
    id: String,
}

/// An endpoint's new secret.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Rotated {
    /// The new signing secret (`whsec_…`).
    secret: String,
    /// Unix seconds until which the old secret also signs.
    previous_valid_until: i64,
}

impl Rotated {
    /// The new secret, shown this once.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }
}

/// What resuming an endpoint queued.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Resumed {
    /// How many kept messages were queued.
    requeued: u64,
}

impl Resumed {
    /// How many kept messages were queued.
    pub(crate) fn requeued(&self) -> u64 {
        self.requeued
    }
}

/// What a replay queued.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Replayed {
    /// How many deliveries were queued (or kept, for a paused endpoint).
    replayed: u64,
}

impl Replayed {
    /// How many deliveries were queued.
    pub(crate) fn replayed(&self) -> u64 {
        self.replayed
    }
}

fn url_violation(e: &UrlError) -> ApiError {
    ApiError::from(Condition::InvalidParameter)
        .with_violation(FieldViolation::body("url", e.to_string()))
}

/// `POST /webhooks/endpoints`: registers an endpoint; 201 with its secret.
pub(crate) async fn create_endpoint(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
    Json(new): Json<NewEndpoint>,
) -> Result<Created<CreatedEndpoint>, ApiError> {
    register(&state, &principal.partner.id, new)
        .await
        .map(Created)
}

/// Registers an endpoint of `partner` (the API's and the portal's way).
pub(crate) async fn register(
    state: &Webhooks,
    partner: &str,
    new: NewEndpoint,
) -> Result<CreatedEndpoint, ApiError> {
    // The documented form, or an address literal in a network the operator allowed.
    let url = state
        .policy
        .check_url(&new.url)
        .map_err(|e| url_violation(&e))?;
    let literal = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)));
    // The parsed form: an international name in punycode, a default port dropped.
    if !literal && !URL_REGEX.is_match(url.as_str()) {
        return Err(invalid(
            ViolationKind::Body,
            "url",
            "must be an http or https URL with a lower-case host name, optional port, path and query",
        ));
    }
    let schedule = match new.retry_schedule {
        None => Schedule::default(),
        Some(mut secs) => {
            // Any order; a repeated offset counts once.
            secs.sort_unstable();
            secs.dedup();
            Schedule::new(secs.into_iter().map(Duration::from_secs).collect()).map_err(|e| {
                ApiError::from(Condition::InvalidParameter)
                    .with_violation(FieldViolation::body("retry_schedule", e.to_string()))
            })?
        }
    };
    let subscription = subscription(new.event_types)?;
    let registered = state
        .outbox
        .endpoint_count(partner)
        .await
        .map_err(internal)?;
    if registered >= u64::from(state.max_endpoints) {
        return Err(ApiError::from(Condition::Forbidden).with_message(format!(
            "a partner may have {} webhook endpoints; delete one before registering another",
            state.max_endpoints
        )));
    }
    let secret = Secret::generate();
    let endpoint = state
        .outbox
        .register(
            partner,
            url.as_str(),
            &secret,
            &schedule,
            &subscription,
            (state.clock)(),
        )
        .await
        .map_err(internal)?;
    Ok(CreatedEndpoint {
        endpoint: endpoint.into(),
        secret: secret.expose().to_owned(),
    })
}

/// `GET /webhooks/endpoints`: the partner's endpoints.
pub(crate) async fn list_endpoints(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
) -> Result<Json<Vec<EndpointView>>, ApiError> {
    let endpoints = state
        .outbox
        .endpoints(&principal.partner.id)
        .await
        .map_err(internal)?;
    Ok(Json(endpoints.into_iter().map(Into::into).collect()))
}

/// `GET /webhooks/endpoints/{id}`.
pub(crate) async fn get_endpoint(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
    Path(EndpointId { id }): Path<EndpointId>,
) -> Result<Json<EndpointView>, ApiError> {
    let id = endpoint_id(&id)?;
    state
        .outbox
        .endpoint(&principal.partner.id, id)
        .await
        .map_err(internal)?
        .map(|e| Json(e.into()))
        .ok_or_else(|| Condition::NotFound.into())
}

/// `PATCH /webhooks/endpoints/{id}`: changes which event types the endpoint receives,
/// from the next message on (messages already queued for it stay queued).
pub(crate) async fn update_endpoint(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
    Path(EndpointId { id }): Path<EndpointId>,
    Json(patch): Json<EndpointPatch>,
) -> Result<Json<EndpointView>, ApiError> {
    match patch.event_types {
        Some(types) => subscribe(&state, &principal.partner.id, &id, types)
            .await
            .map(Json),
        None => state
            .outbox
            .endpoint(&principal.partner.id, endpoint_id(&id)?)
            .await
            .map_err(internal)?
            .map(|e| Json(e.into()))
            .ok_or_else(|| Condition::NotFound.into()),
    }
}

/// Sets which event types an endpoint of `partner` receives (`None`: every type).
pub(crate) async fn subscribe(
    state: &Webhooks,
    partner: &str,
    id: &str,
    types: Option<Vec<String>>,
) -> Result<EndpointView, ApiError> {
    let id = endpoint_id(id)?;
    let subscription = subscription(types)?;
    let found = state
        .outbox
        .subscribe(partner, id, &subscription, (state.clock)())
        .await
        .map_err(internal)?;
    if !found {
        return Err(Condition::NotFound.into());
    }
    state
        .outbox
        .endpoint(partner, id)
        .await
        .map_err(internal)?
        .map(Into::into)
        .ok_or_else(|| Condition::NotFound.into())
}

/// An event type as `GET /webhooks/event-types` lists it.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EventTypeView {
    /// Its name, as in a message's `type` and a subscription.
    name: String,
    /// When it is sent.
    description: String,
    /// The JSON Schema (2020-12) of a message body of this type.
    schema: serde_json::Value,
    /// An example body.
    example: serde_json::Value,
}

/// `GET /webhooks/event-types`: every event type the API sends, with the schema of its
/// body and an example.
pub(crate) async fn list_event_types(
    Authenticated(_): Authenticated<Principal>,
) -> Json<Vec<EventTypeView>> {
    Json(
        EVENT_TYPES
            .all()
            .iter()
            .map(|t| EventTypeView {
                name: t.name.clone(),
                description: t.description.clone(),
                schema: t.body_schema(),
                example: t.body_example(),
            })
            .collect(),
    )
}

/// What a test message came to.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TestSent {
    /// The test message's id (its `webhook-id`).
    message_id: String,
    /// Whether the endpoint answered with a 2xx.
    delivered: bool,
    /// The endpoint's status, if it answered.
    status: Option<u16>,
    /// Milliseconds from sending to the first bytes of the answer (or the failure).
    latency_ms: u64,
    /// The first KiB of the answer, as text.
    response_head: Option<String>,
    /// Why it failed, if it did.
    failure: Option<FailureKind>,
}

impl TestSent {
    /// The attempt in a sentence, for a page.
    pub(crate) fn describe(&self) -> String {
        let outcome = match (self.delivered, self.status) {
            (true, Some(status)) => {
                format!("Test message delivered: the endpoint answered {status}")
            }
            (false, Some(status)) => {
                format!("Test message not delivered: the endpoint answered {status}")
            }
            (_, None) => format!(
                "Test message not delivered: {}",
                self.failure.map_or("no answer", FailureKind::as_str)
            ),
        };
        let head = self
            .response_head
            .as_deref()
            .map(|h| format!("; it began: {}", h.chars().take(200).collect::<String>()))
            .unwrap_or_default();
        format!("{outcome} in {} ms{head}", self.latency_ms)
    }
}

/// `POST /webhooks/endpoints/{id}/test`: sends a signed `webhook.test` message at once
/// and answers with the attempt; at most [`TEST_SENDS`] an endpoint a minute.
pub(crate) async fn test_endpoint(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
    Path(EndpointId { id }): Path<EndpointId>,
) -> Result<Json<TestSent>, ApiError> {
    send_test(&state, &principal.partner.id, &id)
        .await
        .map(Json)
}

/// Sends a test message to an endpoint of `partner`, within [`TEST_SENDS`] a minute.
pub(crate) async fn send_test(
    state: &Webhooks,
    partner: &str,
    id: &str,
) -> Result<TestSent, ApiError> {
    let id = endpoint_id(id)?;
    let now = (state.clock)();
    // Found first, so that a made-up id never takes a place in the rate-limit store.
    if state
        .outbox
        .endpoint(partner, id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(Condition::NotFound.into());
    }
    let quota = Quota::new(TEST_SENDS, Duration::from_secs(60)).ok_or_else(|| {
        ApiError::from(Condition::Internal).with_message("the test message quota")
    })?;
    let decision = state
        .limits
        .check(&format!("webhook-test:{id}"), quota, now)
        .await
        .map_err(|e| ApiError::from(Condition::ServiceUnavailable).with_source(e))?;
    if !decision.allowed {
        return Err(ApiError::from(Condition::RateLimited)
            .with_message(format!(
                "an endpoint may be sent {TEST_SENDS} test messages a minute"
            ))
            // Whole seconds, at least one: `Retry-After` has no fractions, and a
            // zero would say "now".
            .with_retry_after(Duration::from_secs(
                (decision.retry_after.as_secs()
                    + u64::from(decision.retry_after.subsec_nanos() > 0))
                .max(1),
            )));
    }
    let sent = state
        .tester
        .send_test(partner, id, now)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::from(Condition::NotFound))?;
    Ok(TestSent {
        message_id: sent.message_id,
        delivered: sent.delivered,
        status: sent.status,
        latency_ms: u64::try_from(sent.latency.as_millis()).unwrap_or(u64::MAX),
        response_head: sent.response_head,
        failure: sent.failure,
    })
}

/// `DELETE /webhooks/endpoints/{id}`: its waiting messages are cancelled; only attempts
/// already under way may still arrive.
pub(crate) async fn delete_endpoint(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
    Path(EndpointId { id }): Path<EndpointId>,
) -> Result<Empty, ApiError> {
    remove(&state, &principal.partner.id, &id)
        .await
        .map(|()| Empty)
}

/// Deletes an endpoint of `partner`.
pub(crate) async fn remove(state: &Webhooks, partner: &str, id: &str) -> Result<(), ApiError> {
    let id = endpoint_id(id)?;
    if state
        .outbox
        .delete_endpoint(partner, id, (state.clock)())
        .await
        .map_err(internal)?
    {
        Ok(())
    } else {
        Err(Condition::NotFound.into())
    }
}

/// `POST /webhooks/endpoints/{id}/rotate`: a new secret; the old one keeps signing
/// beside it for [`ROTATION_OVERLAP`].
pub(crate) async fn rotate_secret(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
    Path(EndpointId { id }): Path<EndpointId>,
) -> Result<Json<Rotated>, ApiError> {
    rotate(&state, &principal.partner.id, &id).await.map(Json)
}

/// Gives an endpoint of `partner` a new secret.
pub(crate) async fn rotate(state: &Webhooks, partner: &str, id: &str) -> Result<Rotated, ApiError> {
    let id = endpoint_id(id)?;
    let secret = Secret::generate();
    let now = (state.clock)();
    if !state
        .outbox
        .rotate_secret(partner, id, &secret, ROTATION_OVERLAP, now)
        .await
        .map_err(internal)?
    {
        return Err(Condition::NotFound.into());
    }
    Ok(Rotated {
        secret: secret.expose().to_owned(),
        previous_valid_until: unix(now + ROTATION_OVERLAP),
    })
}

/// `POST /webhooks/endpoints/{id}/resume`: a paused or disabled endpoint receives
/// again, starting with the messages kept for it.
pub(crate) async fn resume_endpoint(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
    Path(EndpointId { id }): Path<EndpointId>,
) -> Result<Json<Resumed>, ApiError> {
    resume(&state, &principal.partner.id, &id).await.map(Json)
}

/// Resumes an endpoint of `partner`.
pub(crate) async fn resume(state: &Webhooks, partner: &str, id: &str) -> Result<Resumed, ApiError> {
    let id = endpoint_id(id)?;
    let queued = state
        .outbox
        .resume(partner, id, (state.clock)())
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::from(Condition::NotFound))?;
    Ok(Resumed { requeued: queued })
}

/// The query of `GET /webhooks/reports`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ReportParams {
    /// Reports written at or after this time, in Unix seconds. Default is a day ago.
    #[serde(default)]
    #[schemars(with = "u64", range(max = MAX_UNIX))]
    since: Option<u64>,
    /// At most this many, 1 to 100. Default is 50.
    #[serde(default)]
    #[schemars(with = "u32", range(min = 1, max = MAX_REPORTS))]
    limit: Option<u32>,
}

/// `GET /webhooks/reports`: the partner's failure reports, newest first, in the form
/// that can be shared with it (no internal details).
pub(crate) async fn list_reports(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
    Query(params): Query<ReportParams>,
) -> Result<Json<Vec<ReportView>>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_REPORTS {
        return Err(invalid(
            ViolationKind::Query,
            "limit",
            "must be between 1 and 100",
        ));
    }
    let now = (state.clock)();
    let since = match params.since {
        None => now
            .checked_sub(Duration::from_secs(24 * 60 * 60))
            .unwrap_or(SystemTime::UNIX_EPOCH),
        Some(secs) => unix_time(secs, "since", ViolationKind::Query)?,
    };
    let reports = state
        .outbox
        .reports(Some(&principal.partner.id), since, i64::from(limit))
        .await
        .map_err(internal)?;
    Ok(Json(reports.iter().map(|r| r.view(true)).collect()))
}

/// The latest time a request may name: the end of year 9999, as RFC 3339 allows.
pub(crate) const MAX_UNIX: u64 = 253_402_300_799;

fn unix_time(secs: u64, field: &'static str, kind: ViolationKind) -> Result<SystemTime, ApiError> {
    if secs > MAX_UNIX {
        return Err(invalid(
            kind,
            field,
            "must be Unix seconds up to 253402300799",
        ));
    }
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// `GET /webhooks/reports/{id}`: one report, partner-safe.
pub(crate) async fn get_report(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
    Path(ReportId { id }): Path<ReportId>,
) -> Result<Json<ReportView>, ApiError> {
    if !is_prefixed_id(&id, "rpt_") {
        return Err(Condition::NotFound.into());
    }
    state
        .outbox
        .report(Some(&principal.partner.id), &id)
        .await
        .map_err(internal)?
        .map(|r| Json(r.view(true)))
        .ok_or_else(|| Condition::NotFound.into())
}

/// What to replay: every condition given must hold; none replays all of the partner's
/// delivered, failed and held messages.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ReplayRequest {
    /// One message.
    pub(crate) message_id: Option<String>,
    /// The messages of one endpoint.
    pub(crate) endpoint_id: Option<String>,
    /// Unix seconds: messages written at or after.
    #[schemars(range(max = MAX_UNIX))]
    pub(crate) since: Option<u64>,
    /// Unix seconds: messages written before.
    #[schemars(range(max = MAX_UNIX))]
    pub(crate) until: Option<u64>,
    /// The messages in this state.
    #[schemars(extend("enum" = ["delivered", "failed", "held", null]))]
    pub(crate) state: Option<String>,
}

/// `POST /webhooks/replay`: sends the partner's chosen deliveries again (same message
/// ids); to paused endpoints they are kept until resumed.
pub(crate) async fn replay(
    State(state): State<Webhooks>,
    Authenticated(principal): Authenticated<Principal>,
    Json(request): Json<ReplayRequest>,
) -> Result<Json<Replayed>, ApiError> {
    replay_for(&state, &principal.partner.id, request)
        .await
        .map(Json)
}

/// Sends `partner`'s chosen deliveries again, within the replay bound.
pub(crate) async fn replay_for(
    state: &Webhooks,
    partner: &str,
    request: ReplayRequest,
) -> Result<Replayed, ApiError> {
    let filter = Replay {
        owner: Some(partner.to_owned()),
        message_id: request.message_id,
        endpoint_id: request.endpoint_id,
        since: request
            .since
            .map(|s| unix_time(s, "since", ViolationKind::Body))
            .transpose()?,
        until: request
            .until
            .map(|s| unix_time(s, "until", ViolationKind::Body))
            .transpose()?,
        state: match request.state.as_deref() {
            None => None,
            Some(s) => Some(
                DeliveryState::parse(s)
                    .filter(|s| {
                        matches!(
                            s,
                            DeliveryState::Delivered | DeliveryState::Failed | DeliveryState::Held
                        )
                    })
                    .ok_or_else(|| {
                        invalid(
                            ViolationKind::Body,
                            "state",
                            "must be delivered, failed or held",
                        )
                    })?,
            ),
        },
    };
    // Every field checked first; then an id not of the form the outbox makes names
    // nothing (and never reaches the database, whatever bytes it holds).
    let names_nothing = filter
        .message_id
        .as_deref()
        .is_some_and(|id| !is_prefixed_id(id, "msg_"))
        || filter
            .endpoint_id
            .as_deref()
            .is_some_and(|id| !is_prefixed_id(id, "ep_"));
    if names_nothing {
        return Ok(Replayed { replayed: 0 });
    }
    let selected = state.outbox.replay_count(&filter).await.map_err(internal)?;
    if selected > u64::from(state.replay_max) {
        return Err(ApiError::from(Condition::InvalidParameter).with_violation(
            FieldViolation::body(
                "since",
                format!(
                    "the replay selects {selected} deliveries, more than the {} one replay may send: \
                     narrow it with since and until, endpoint_id, message_id or state",
                    state.replay_max
                ),
            ),
        ));
    }
    let n = state
        .outbox
        .replay(&filter, (state.clock)())
        .await
        .map_err(internal)?;
    Ok(Replayed { replayed: n })
}

/// `apierr webhooks report`: the reports written since `since`, as text or JSON lines;
/// partner-safe unless `internal` (the operator's view with error details).
pub async fn webhook_report(
    database_url: &str,
    since: Duration,
    partner: Option<&str>,
    json: bool,
    internal: bool,
) -> Result<String, sqlx::Error> {
    let outbox = Outbox::connect(database_url).await?;
    let since = SystemTime::now()
        .checked_sub(since)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let reports = outbox.reports(partner, since, i64::MAX).await?;
    let mut out = String::new();
    for report in &reports {
        let view = report.to_json(!internal);
        if json {
            out.push_str(&view.to_string());
            out.push('\n');
            continue;
        }
        out.push_str(&format!(
            "{}  {}  {}  endpoint {}  {}\n  {}\n",
            view["created_at"].as_str().unwrap_or(""),
            view["id"].as_str().unwrap_or(""),
            view["kind"].as_str().unwrap_or(""),
            view["endpoint_id"].as_str().unwrap_or(""),
            view["endpoint_url"].as_str().unwrap_or(""),
            report.summary,
        ));
        if let Some(message) = &report.message_id {
            out.push_str(&format!(
                "  message {message} ({})\n",
                report.event_type.as_deref().unwrap_or("")
            ));
        }
        for a in &report.attempts {
            let status = a.status.map_or("-".to_owned(), |s| s.to_string());
            out.push_str(&format!(
                "    {}  status {status}  {} ms  {}",
                humantime::format_rfc3339_millis(a.at),
                a.latency.as_millis(),
                a.kind.as_str(),
            ));
            if internal && let Some(detail) = &a.detail {
                out.push_str(&format!("  {detail}"));
            }
            out.push('\n');
        }
    }
    if reports.is_empty() && !json {
        out.push_str("no webhook failure reports in that time\n");
    }
    Ok(out)
}

/// `apierr webhooks replay`: queues the chosen deliveries again; how many.
pub async fn webhook_replay(database_url: &str, filter: &Replay) -> Result<u64, sqlx::Error> {
    let outbox = Outbox::connect(database_url).await?;
    outbox.replay(filter, SystemTime::now()).await
}
