//! The partner portal: server-rendered pages at `/portal` where one partner at a time
//! sees its webhook endpoints, its recent messages with every failed attempt, its
//! failure reports and its requests whose outcome is unknown (the reconciliation log),
//! and acts on its endpoints and messages as the API allows.
//!
//! # Signing in
//!
//! An operator makes a one-use link (`apierr partners portal-link ID`, valid 15 minutes
//! by default). Opening it exchanges the link for a session: a random token in a cookie
//! that is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page
//! sends it), `Secure` when the server's public URL is https, and scoped to `/portal`.
//! Link and session are stored as digests; a session lasts [`SESSION_TTL`] and ends
//! with the partner's revocation or a sign-out. The link is spent on first use, so one
//! found later (a browser history, a forwarded mail) opens nothing.
//!
//! A random token kept as a digest rather than a signed one: the server must remember a
//! link anyway to make it one-use, and a stored token needs no key (a server storing
//! secrets unsealed has none) and can be withdrawn.
//!
//! # Safety
//!
//! Every query is by the session's partner: another partner's endpoint or message is
//! "not found". Every state-changing request is a POST carrying the session's CSRF token
//! (compared in constant time) from a page of this origin (`Origin`, when the browser
//! sends it, must be the server's): a form on another site, even one on the same host
//! (another port is the same *site*, for which `SameSite` gives no protection), is
//! refused. Pages send a content security policy without scripts, are never cached, never
//! framed, and send a referrer to this origin only (the link's token is in the first
//! URL).

use std::time::{Duration, SystemTime};

use apierr::{ApiError, Condition};
use apierr_axum::store::ReconciliationLog;
use apierr_axum::{Clock, Form, Path, Query};
use apierr_webhooks::Delivery;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use sqlx::Row;

use crate::errors::internal;
use crate::events::EVENT_TYPES;
use crate::store::{Store, digest, is_id, secret_token, unix};
use crate::webhooks::{self, NewEndpoint, ReplayRequest, Webhooks};

/// How long a portal session lasts: a working session's length; a partner signs in
/// again with a new link after it.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(60 * 60);

/// The session cookie's name.
const COOKIE_NAME: &str = "apierr_portal";

/// How many recent messages the overview shows.
const RECENT_MESSAGES: i64 = 20;

/// How far back the overview's failure reports go.
const REPORT_WINDOW: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What the portal's handlers use.
#[derive(Clone)]
pub(crate) struct Portal {
    pub(crate) store: Store,
    /// The API's webhook state: the portal's actions are the API's, by the same rules.
    pub(crate) webhooks: Webhooks,
    /// The reconciliation log: the partner's requests whose outcome is unknown.
    pub(crate) log: std::sync::Arc<dyn ReconciliationLog>,
    pub(crate) clock: Clock,
    /// The server's origin (`scheme://host[:port]`): cookies are `Secure` when it is
    /// https, and a POST's `Origin` must be it.
    pub(crate) origin: String,
}

/// The portal's routes.
pub(crate) fn router<S>(portal: Portal) -> Router<S> {
    Router::new()
        .route("/portal", get(overview))
        .route("/portal/enter", get(enter))
        .route("/portal/signed-out", get(signed_out))
        .route("/portal/sign-out", post(sign_out))
        .route("/portal/messages/{id}", get(message))
        .route("/portal/messages/{id}/replay", post(replay_message))
        .route("/portal/replay", post(replay_range))
        .route("/portal/endpoints", post(create_endpoint))
        .route("/portal/endpoints/{id}", get(endpoint))
        .route("/portal/endpoints/{id}/subscription", post(subscribe))
        .route("/portal/endpoints/{id}/rotate", post(rotate))
        .route("/portal/endpoints/{id}/resume", post(resume))
        .route("/portal/endpoints/{id}/test", post(test))
        .route("/portal/endpoints/{id}/delete", post(delete))
        .with_state(portal)
}

/// A signed-in partner.
struct Session {
    /// The session's digest (its id in the table).
    digest: String,
    partner_id: String,
    partner_name: String,
    /// The partner may only read: the portal's actions are refused, as the API's
    /// writes are.
    read_only: bool,
    csrf: String,
    /// What the last action came to, shown once.
    flash: Option<Flash>,
}

/// What an action came to, for the next page.
#[derive(Debug, Clone)]
struct Flash {
    /// Whether it succeeded.
    ok: bool,
    text: String,
}

/// A page: HTML that is never cached, framed or given a referrer, and runs no script.
fn page(html: String) -> Response {
    let mut response = (StatusCode::OK, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    // A referrer for this origin only: none leaves for another site (the first URL
    // holds the link's token), and a form's `Origin` is sent (under `no-referrer` a
    // browser sends `Origin: null`, which the CSRF check refuses).
    headers.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn render(template: &impl Template) -> Result<Response, ApiError> {
    template
        .render()
        .map(page)
        .map_err(|e| ApiError::from(Condition::Internal).with_source(e))
}

/// A time as RFC 3339 text in UTC, to the second.
fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl Portal {
    fn now(&self) -> SystemTime {
        (self.clock)()
    }

    fn secure(&self) -> bool {
        self.origin.starts_with("https://")
    }

    /// The `Set-Cookie` of a session token (or of its removal, with `None`).
    fn cookie(&self, token: Option<&str>) -> HeaderValue {
        let (value, age) = match token {
            Some(token) => (token, SESSION_TTL.as_secs()),
            None => ("", 0),
        };
        let secure = if self.secure() { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{COOKIE_NAME}={value}; Path=/portal; Max-Age={age}; HttpOnly; SameSite=Strict{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("apierr_portal=; Max-Age=0"))
    }

    /// The session the request's cookie names, if it is current and its partner is not
    /// revoked.
    async fn session(&self, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
        let Some(token) = cookie_value(headers) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT s.digest, s.partner_id, s.csrf, s.flash, p.name, p.read_only
             FROM portal_sessions s
             JOIN partners p ON p.id = s.partner_id
             WHERE s.digest = $1 AND s.expires_at > $2 AND p.revoked = 0",
        )
        .bind(digest(token))
        .bind(unix(self.now()))
        .fetch_optional(self.store.pool())
        .await
        .map_err(internal)?;
        row.map(|row| {
            Ok(Session {
                digest: row.try_get("digest")?,
                partner_id: row.try_get("partner_id")?,
                partner_name: row.try_get("name")?,
                read_only: row.try_get::<i64, _>("read_only")? != 0,
                csrf: row.try_get("csrf")?,
                flash: row.try_get::<Option<String>, _>("flash")?.map(|f| {
                    match f.strip_prefix("ok:") {
                        Some(text) => Flash {
                            ok: true,
                            text: text.to_owned(),
                        },
                        None => Flash {
                            ok: false,
                            text: f.strip_prefix("error:").unwrap_or(&f).to_owned(),
                        },
                    }
                }),
            })
        })
        .transpose()
        .map_err(internal)
    }

    /// Keeps what an action came to for the next page of the session.
    async fn set_flash(&self, session: &Session, ok: bool, text: &str) -> Result<(), ApiError> {
        let flash = format!("{}:{text}", if ok { "ok" } else { "error" });
        sqlx::query("UPDATE portal_sessions SET flash = $1 WHERE digest = $2")
            .bind(flash)
            .bind(&session.digest)
            .execute(self.store.pool())
            .await
            .map_err(internal)?;
        Ok(())
    }

    /// Takes the session's flash: shown once.
    async fn take_flash(&self, session: &Session) -> Result<Option<Flash>, ApiError> {
        if session.flash.is_some() {
            sqlx::query("UPDATE portal_sessions SET flash = NULL WHERE digest = $1")
                .bind(&session.digest)
                .execute(self.store.pool())
                .await
                .map_err(internal)?;
        }
        Ok(session.flash.clone())
    }

    /// Whether a state-changing request comes from one of this portal's own pages: its
    /// form's CSRF token is the session's, and its `Origin` (when sent) is this server's.
    fn same_origin_form(&self, headers: &HeaderMap, session: &Session, csrf: &str) -> bool {
        let origin_ok = headers
            .get(http::header::ORIGIN)
            .is_none_or(|o| o.as_bytes() == self.origin.as_bytes());
        // Digests of equal length compared: no early exit on the token itself.
        !csrf.is_empty() && origin_ok && digest(csrf) == digest(&session.csrf)
    }
}

/// A page's session: without one, the way to the signed-out page.
impl axum::extract::FromRequestParts<Portal> for Session {
    /// The redirect, or an error in the profile's contract.
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        portal: &Portal,
    ) -> Result<Self, Response> {
        match portal.session(&parts.headers).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) => Err(Redirect::to("/portal/signed-out").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The session token the request's `Cookie` header carries.
fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// The query of `GET /portal/enter`.
#[derive(Debug, Deserialize)]
struct Enter {
    link: String,
}

/// `GET /portal/enter?link=…`: spends the link and opens a session. The answer is a page
/// that moves on to `/portal` by itself: a redirect would carry on the navigation from
/// the mail or chat the link was opened from, which is another site's, and a
/// `SameSite=Strict` cookie is not sent on it.
async fn enter(
    State(portal): State<Portal>,
    Query(Enter { link }): Query<Enter>,
) -> Result<Response, ApiError> {
    let now = unix(portal.now());
    let partner: Option<String> = sqlx::query_scalar(
        "DELETE FROM portal_links WHERE digest = $1 AND expires_at > $2 RETURNING partner_id",
    )
    .bind(digest(&link))
    .bind(now)
    .fetch_optional(portal.store.pool())
    .await
    .map_err(internal)?;
    let Some(partner) = partner else {
        return Ok(Redirect::to("/portal/signed-out?why=link").into_response());
    };
    let session = secret_token("");
    let expires_at = now.saturating_add(i64::try_from(SESSION_TTL.as_secs()).unwrap_or(0));
    let opened = sqlx::query(
        "INSERT INTO portal_sessions (digest, partner_id, csrf, expires_at, created_at)
         SELECT $1, id, $2, $3, $4 FROM partners WHERE id = $5 AND revoked = 0",
    )
    .bind(digest(&session))
    .bind(secret_token(""))
    .bind(expires_at)
    .bind(now)
    .bind(&partner)
    .execute(portal.store.pool())
    .await
    .map_err(internal)?
    .rows_affected();
    if opened == 0 {
        // The partner was revoked since the link was made: it opens nothing.
        return Ok(Redirect::to("/portal/signed-out?why=link").into_response());
    }
    let mut response = render(&EnterPage)?;
    response
        .headers_mut()
        .insert(SET_COOKIE, portal.cookie(Some(&session)));
    Ok(response)
}

#[derive(Template)]
#[template(path = "portal/enter.html")]
struct EnterPage;

#[derive(Template)]
#[template(path = "portal/message.html")]
struct MessagePage<'a> {
    heading: &'a str,
    text: &'a str,
}

/// The query of `GET /portal/signed-out`.
#[derive(Debug, Deserialize)]
struct SignedOut {
    why: Option<String>,
}

/// `GET /portal/signed-out`: how to get in.
async fn signed_out(Query(SignedOut { why }): Query<SignedOut>) -> Result<Response, ApiError> {
    let text = if why.as_deref() == Some("link") {
        "This sign-in link cannot be used: it has expired, or it was used already. Ask your \
         contact at the API for a new one."
    } else {
        "You are not signed in. Open the sign-in link your contact at the API sent you."
    };
    render(&MessagePage {
        heading: "Not signed in",
        text,
    })
}

/// A state-changing form's CSRF field.
#[derive(Debug, Deserialize)]
struct Csrf {
    csrf: String,
}

/// `POST /portal/sign-out`: ends the session.
async fn sign_out(
    State(portal): State<Portal>,
    headers: HeaderMap,
    session: Session,
    Form(Csrf { csrf }): Form<Csrf>,
) -> Result<Response, ApiError> {
    if !portal.same_origin_form(&headers, &session, &csrf) {
        return Err(cross_site());
    }
    sqlx::query("DELETE FROM portal_sessions WHERE digest = $1")
        .bind(&session.digest)
        .execute(portal.store.pool())
        .await
        .map_err(internal)?;
    let mut response = Redirect::to("/portal/signed-out").into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, portal.cookie(None));
    Ok(response)
}

/// The refusal of a form that did not come from the portal's own page.
fn cross_site() -> ApiError {
    ApiError::from(Condition::Forbidden)
        .with_message("the form did not come from this portal's own page: reload it and try again")
}

/// An endpoint's row on the overview.
struct EndpointRow {
    id: String,
    url: String,
    state: &'static str,
    event_types: String,
    failure_run: i64,
    created_at: String,
}

/// A delivery's line.
struct DeliveryRow {
    endpoint_id: String,
    state: &'static str,
    attempts: i64,
    last_status: Option<u16>,
}

impl From<&Delivery> for DeliveryRow {
    fn from(d: &Delivery) -> Self {
        DeliveryRow {
            endpoint_id: d.endpoint_id.clone(),
            state: d.state.as_str(),
            attempts: d.attempts,
            last_status: d.last_status,
        }
    }
}

/// A message's row on the overview.
struct MessageRow {
    id: String,
    event_type: String,
    created_at: String,
    deliveries: Vec<DeliveryRow>,
}

/// A report's row.
struct ReportRow {
    created_at: String,
    kind: &'static str,
    endpoint_id: String,
    summary: String,
}

/// How many of the partner's reconciliation entries the overview shows.
const RECONCILIATION_ENTRIES: u32 = 20;

/// A reconciliation entry's row.
struct EntryRow {
    at: String,
    method: String,
    route: String,
    status: u16,
    outcome: &'static str,
    idempotency_key: String,
    request_id: String,
    acknowledged: bool,
}

#[derive(Template)]
#[template(path = "portal/overview.html")]
struct Overview {
    entries: Vec<EntryRow>,
    partner: String,
    csrf: String,
    flash: Option<Flash>,
    event_types: Vec<&'static str>,
    endpoints: Vec<EndpointRow>,
    messages: Vec<MessageRow>,
    reports: Vec<ReportRow>,
}

/// `GET /portal`: the partner's endpoints, recent messages and failure reports.
async fn overview(State(portal): State<Portal>, session: Session) -> Result<Response, ApiError> {
    let partner = &session.partner_id;
    let endpoints = portal
        .webhooks
        .outbox
        .endpoints(partner)
        .await
        .map_err(internal)?;
    let messages = portal
        .webhooks
        .outbox
        .messages(partner, RECENT_MESSAGES)
        .await
        .map_err(internal)?;
    let since = portal
        .now()
        .checked_sub(REPORT_WINDOW)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let reports = portal
        .webhooks
        .outbox
        .reports(Some(partner), since, 50)
        .await
        .map_err(internal)?;
    let entries = portal
        .log
        .recent_for(partner, RECONCILIATION_ENTRIES)
        .await
        .map_err(|e| ApiError::from(Condition::ServiceUnavailable).with_source(e))?;
    render(&Overview {
        entries: entries
            .into_iter()
            .map(|e| EntryRow {
                at: time(e.at),
                status: e.status,
                outcome: e.outcome.as_str(),
                idempotency_key: e.idempotency_key.unwrap_or_else(|| "—".to_owned()),
                acknowledged: e.acknowledged_at.is_some(),
                method: e.method,
                route: e.route,
                request_id: e.request_id,
            })
            .collect(),
        flash: portal.take_flash(&session).await?,
        event_types: event_type_names(),
        partner: session.partner_name.clone(),
        csrf: session.csrf.clone(),
        endpoints: endpoints
            .into_iter()
            .map(|e| EndpointRow {
                event_types: e
                    .subscription
                    .types()
                    .map_or_else(|| "every type".to_owned(), |t| t.join(", ")),
                state: e.state.as_str(),
                failure_run: e.failure_run,
                created_at: time(e.created_at),
                url: e.url,
                id: e.id,
            })
            .collect(),
        messages: messages
            .into_iter()
            .map(|m| MessageRow {
                deliveries: m.deliveries.iter().map(DeliveryRow::from).collect(),
                created_at: time(m.created_at),
                event_type: m.event_type,
                id: m.id,
            })
            .collect(),
        reports: reports
            .into_iter()
            .map(|r| ReportRow {
                created_at: time(r.created_at),
                kind: r.kind.as_str(),
                endpoint_id: r.endpoint_id,
                summary: r.summary,
            })
            .collect(),
    })
}

/// A failed attempt's row.
struct AttemptRow {
    at: String,
    status: String,
    latency_ms: u128,
    failure: &'static str,
    head: Option<String>,
}

/// A delivery with its failed attempts.
struct DeliveryDetail {
    delivery: DeliveryRow,
    failed: Vec<AttemptRow>,
}

#[derive(Template)]
#[template(path = "portal/detail.html")]
struct MessageDetail {
    partner: String,
    csrf: String,
    flash: Option<Flash>,
    id: String,
    event_type: String,
    created_at: String,
    deliveries: Vec<DeliveryDetail>,
}

/// `GET /portal/messages/{id}`: one message of the partner's, each delivery with every
/// failed attempt.
async fn message(
    State(portal): State<Portal>,
    Path(id): Path<String>,
    session: Session,
) -> Result<Response, ApiError> {
    if !id.strip_prefix("msg_").is_some_and(is_id) {
        return Err(Condition::NotFound.into());
    }
    let message = portal
        .webhooks
        .outbox
        .message(&session.partner_id, &id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::from(Condition::NotFound))?;
    let mut deliveries = Vec::with_capacity(message.deliveries.len());
    for d in &message.deliveries {
        let failed = portal
            .webhooks
            .outbox
            .attempts(&message.id, &d.endpoint_id)
            .await
            .map_err(internal)?;
        deliveries.push(DeliveryDetail {
            delivery: d.into(),
            failed: failed
                .into_iter()
                .map(|a| AttemptRow {
                    at: time(a.at),
                    status: a.status.map_or_else(|| "—".to_owned(), |s| s.to_string()),
                    latency_ms: a.latency.as_millis(),
                    failure: a.kind.as_str(),
                    head: a.response_head,
                })
                .collect(),
        });
    }
    render(&MessageDetail {
        flash: portal.take_flash(&session).await?,
        partner: session.partner_name,
        csrf: session.csrf,
        id: message.id,
        event_type: message.event_type,
        created_at: time(message.created_at),
        deliveries,
    })
}

/// Every event type's name, for the subscription forms.
fn event_type_names() -> Vec<&'static str> {
    EVENT_TYPES.all().iter().map(|t| t.name.as_str()).collect()
}

/// An event type on a subscription form.
struct TypeChoice {
    name: &'static str,
    /// Whether the endpoint receives it.
    on: bool,
}

#[derive(Template)]
#[template(path = "portal/endpoint.html")]
struct EndpointPage {
    partner: String,
    csrf: String,
    flash: Option<Flash>,
    id: String,
    url: String,
    state: &'static str,
    failure_run: i64,
    retry_schedule: String,
    created_at: String,
    /// Every event type, and whether the endpoint receives it.
    event_types: Vec<TypeChoice>,
    /// Whether it receives every type.
    every: bool,
}

/// `GET /portal/endpoints/{id}`: one endpoint, and what can be done with it.
async fn endpoint(
    State(portal): State<Portal>,
    Path(id): Path<String>,
    session: Session,
) -> Result<Response, ApiError> {
    if !id.strip_prefix("ep_").is_some_and(is_id) {
        return Err(Condition::NotFound.into());
    }
    let e = portal
        .webhooks
        .outbox
        .endpoint(&session.partner_id, &id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::from(Condition::NotFound))?;
    render(&EndpointPage {
        flash: portal.take_flash(&session).await?,
        partner: session.partner_name,
        csrf: session.csrf,
        every: e.subscription.types().is_none(),
        event_types: event_type_names()
            .into_iter()
            .map(|name| TypeChoice {
                on: e
                    .subscription
                    .types()
                    .is_some_and(|t| t.iter().any(|x| x == name)),
                name,
            })
            .collect(),
        retry_schedule: e
            .schedule
            .offsets()
            .iter()
            .map(|o| format!("{} s", o.as_secs()))
            .collect::<Vec<_>>()
            .join(", "),
        state: e.state.as_str(),
        failure_run: e.failure_run,
        created_at: time(e.created_at),
        url: e.url,
        id: e.id,
    })
}

/// A form posted to an action: from a signed-in session's own page, its fields, and
/// whether the caller wants JSON (a script) or a page (a browser).
struct Posted {
    session: Session,
    fields: Vec<(String, String)>,
    json: bool,
}

impl Posted {
    /// The first value of `name`.
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (checkboxes).
    fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Reads an action's form: the session (else the way to the signed-out page), then the
/// CSRF token and origin (else 403), as `application/x-www-form-urlencoded` (else 415).
async fn posted(
    portal: &Portal,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Result<Posted, Response>, ApiError> {
    let Some(session) = portal.session(headers).await? else {
        return Ok(Err(Redirect::to("/portal/signed-out").into_response()));
    };
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(Condition::UnsupportedMediaType.into());
    }
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    if !portal.same_origin_form(headers, &session, csrf) {
        return Err(cross_site());
    }
    if session.read_only {
        return Err(ApiError::from(Condition::Forbidden)
            .with_message("this partner may only read: ask your contact at the API to change it"));
    }
    let json = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    Ok(Ok(Posted {
        session,
        fields,
        json,
    }))
}

impl axum::extract::FromRequest<Portal> for Posted {
    /// The way to the signed-out page, or an error in the profile's contract.
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, portal: &Portal) -> Result<Self, Response> {
        let headers = req.headers().clone();
        // Within the router's body limit.
        let body = axum::body::Bytes::from_request(req, portal)
            .await
            .map_err(IntoResponse::into_response)?;
        match posted(portal, &headers, &body).await {
            Ok(Ok(posted)) => Ok(posted),
            Ok(Err(away)) => Err(away),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// An error as one line for a page: its message and each field's problem.
fn error_text(e: &ApiError) -> String {
    let mut text = e.message().to_owned();
    for v in e.violations() {
        text.push_str(&format!("; {}: {}", v.field(), v.message()));
    }
    text
}

/// Ends an action: JSON for a script (an error in the profile's contract), or for a
/// browser what it came to kept for the next page and a redirect to `back`.
async fn finish<T: serde::Serialize>(
    portal: &Portal,
    posted: &Posted,
    done: Result<T, ApiError>,
    back: &str,
    said: impl FnOnce(&T) -> String,
) -> Result<Response, ApiError> {
    if posted.json {
        return done.map(|t| apierr_axum::Json(t).into_response());
    }
    match &done {
        Ok(t) => portal.set_flash(&posted.session, true, &said(t)).await?,
        Err(e) if e.status().is_server_error() => {
            return Err(done.err().unwrap_or_else(|| Condition::Internal.into()));
        }
        Err(e) => {
            portal
                .set_flash(&posted.session, false, &error_text(e))
                .await?
        }
    }
    Ok(Redirect::to(back).into_response())
}

/// The way back to an endpoint's page (a known id's, else the overview).
fn endpoint_page(id: &str) -> String {
    if id.strip_prefix("ep_").is_some_and(is_id) {
        format!("/portal/endpoints/{id}")
    } else {
        "/portal".to_owned()
    }
}

#[derive(Template)]
#[template(path = "portal/secret.html")]
struct SecretPage<'a> {
    heading: &'a str,
    id: &'a str,
    secret: &'a str,
}

/// The subscription a form names: every type, or the checked ones (none checked is the
/// API's 400).
fn chosen_types(posted: &Posted) -> Option<Vec<String>> {
    (posted.field("every") != Some("on")).then(|| posted.all("event_types"))
}

/// `POST /portal/endpoints`: registers an endpoint; the page shows its secret once.
async fn create_endpoint(
    State(portal): State<Portal>,
    posted: Posted,
) -> Result<Response, ApiError> {
    let new = NewEndpoint {
        url: posted.field("url").unwrap_or_default().trim().to_owned(),
        retry_schedule: None,
        event_types: chosen_types(&posted),
    };
    let done = webhooks::register(&portal.webhooks, &posted.session.partner_id, new).await;
    match (done, posted.json) {
        (Ok(created), false) => render(&SecretPage {
            heading: "Endpoint added",
            id: created.id(),
            secret: created.secret(),
        }),
        (done, _) => finish(&portal, &posted, done, "/portal", |_| String::new()).await,
    }
}

/// `POST /portal/endpoints/{id}/rotate`: a new secret, shown once.
async fn rotate(
    State(portal): State<Portal>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ApiError> {
    let done = webhooks::rotate(&portal.webhooks, &posted.session.partner_id, &id).await;
    match (done, posted.json) {
        (Ok(rotated), false) => render(&SecretPage {
            heading: "Secret rotated: the old one also signs for a day",
            id: &id,
            secret: rotated.secret(),
        }),
        (done, _) => {
            finish(&portal, &posted, done, &endpoint_page(&id), |_| {
                String::new()
            })
            .await
        }
    }
}

/// `POST /portal/endpoints/{id}/subscription`: which event types it receives.
async fn subscribe(
    State(portal): State<Portal>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ApiError> {
    let types = chosen_types(&posted);
    let done = webhooks::subscribe(&portal.webhooks, &posted.session.partner_id, &id, types).await;
    finish(&portal, &posted, done, &endpoint_page(&id), |_| {
        "Subscription saved: it applies from the next message.".to_owned()
    })
    .await
}

/// `POST /portal/endpoints/{id}/resume`.
async fn resume(
    State(portal): State<Portal>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ApiError> {
    let done = webhooks::resume(&portal.webhooks, &posted.session.partner_id, &id).await;
    finish(&portal, &posted, done, &endpoint_page(&id), |r| {
        format!("Resumed: {} kept messages are on their way.", r.requeued())
    })
    .await
}

/// `POST /portal/endpoints/{id}/test`.
async fn test(
    State(portal): State<Portal>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ApiError> {
    let done = webhooks::send_test(&portal.webhooks, &posted.session.partner_id, &id).await;
    finish(&portal, &posted, done, &endpoint_page(&id), |t| {
        t.describe()
    })
    .await
}

/// `POST /portal/endpoints/{id}/delete`: from a browser, a confirmation page first.
async fn delete(
    State(portal): State<Portal>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ApiError> {
    // A browser confirms first, on a page of its own: a deleted endpoint's waiting
    // messages are cancelled, and it cannot be brought back.
    if !posted.json && posted.field("confirm") != Some("yes") {
        let endpoint = portal
            .webhooks
            .outbox
            .endpoint(&posted.session.partner_id, &id)
            .await
            .map_err(internal)?;
        return match endpoint {
            Some(e) => render(&ConfirmDelete {
                csrf: &posted.session.csrf,
                id: &e.id,
                url: &e.url,
            }),
            None => {
                finish(
                    &portal,
                    &posted,
                    Err::<(), _>(Condition::NotFound.into()),
                    "/portal",
                    |_| String::new(),
                )
                .await
            }
        };
    }
    let done = webhooks::remove(&portal.webhooks, &posted.session.partner_id, &id)
        .await
        .map(|()| serde_json::json!({"deleted": id}));
    let back = if done.is_ok() {
        "/portal".to_owned()
    } else {
        endpoint_page(&id)
    };
    finish(&portal, &posted, done, &back, |_| {
        "Endpoint deleted: its waiting messages are cancelled. Attempts already under way may still arrive.".to_owned()
    })
    .await
}

#[derive(Template)]
#[template(path = "portal/confirm.html")]
struct ConfirmDelete<'a> {
    csrf: &'a str,
    id: &'a str,
    url: &'a str,
}

/// `POST /portal/messages/{id}/replay`: sends one message again.
async fn replay_message(
    State(portal): State<Portal>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ApiError> {
    let request = ReplayRequest {
        message_id: Some(id.clone()),
        endpoint_id: None,
        since: None,
        until: None,
        state: None,
    };
    let done = webhooks::replay_for(&portal.webhooks, &posted.session.partner_id, request).await;
    let back = if id.strip_prefix("msg_").is_some_and(is_id) {
        format!("/portal/messages/{id}")
    } else {
        "/portal".to_owned()
    };
    finish(&portal, &posted, done, &back, |r| {
        format!("Replayed: {} deliveries queued again.", r.replayed())
    })
    .await
}

/// A form's time, `YYYY-MM-DDTHH:MM` (a `datetime-local` input, read as UTC), in Unix
/// seconds.
fn form_time(text: &str) -> Option<u64> {
    let full = if text.len() == 16 {
        format!("{text}:00Z")
    } else {
        format!("{text}Z")
    };
    humantime::parse_rfc3339(&full)
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}

/// `POST /portal/replay`: sends the messages of a time range again.
async fn replay_range(State(portal): State<Portal>, posted: Posted) -> Result<Response, ApiError> {
    let time_of = |name: &'static str| -> Result<Option<u64>, ApiError> {
        match posted.field(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => form_time(text).map(Some).ok_or_else(|| {
                crate::errors::invalid(
                    apierr::ViolationKind::Body,
                    name,
                    "must be a date and time, YYYY-MM-DDTHH:MM in UTC",
                )
            }),
        }
    };
    let done = match (time_of("since"), time_of("until")) {
        (Ok(since), Ok(until)) => {
            let request = ReplayRequest {
                message_id: None,
                endpoint_id: None,
                since,
                until,
                state: None,
            };
            webhooks::replay_for(&portal.webhooks, &posted.session.partner_id, request).await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    finish(&portal, &posted, done, "/portal", |r| {
        format!("Replayed: {} deliveries queued again.", r.replayed())
    })
    .await
}
