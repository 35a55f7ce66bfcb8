//! The partner portal: server-rendered pages at `/portal` where one partner at a time
//! sees its webhook endpoints, its recent messages with every failed attempt, and its
//! failure reports.
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
//! framed, and never send a referrer (the link's token is in the first URL).

use std::time::{Duration, SystemTime};

use apierr::{ApiError, Condition};
use apierr_axum::{Clock, Form, Path, Query};
use apierr_webhooks::{Delivery, Outbox};
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
use crate::store::{Store, digest, is_id, new_id, unix};

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
    pub(crate) outbox: Outbox,
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
        .with_state(portal)
}

/// A signed-in partner.
struct Session {
    /// The session's digest (its id in the table).
    digest: String,
    partner_id: String,
    partner_name: String,
    csrf: String,
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
    headers.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
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
            "SELECT s.digest, s.partner_id, s.csrf, p.name FROM portal_sessions s
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
                csrf: row.try_get("csrf")?,
            })
        })
        .transpose()
        .map_err(internal)
    }

    /// The session, or the way to the signed-out page.
    async fn signed_in(&self, headers: &HeaderMap) -> Result<Result<Session, Response>, ApiError> {
        Ok(self
            .session(headers)
            .await?
            .ok_or_else(|| Redirect::to("/portal/signed-out").into_response()))
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

/// A random token: two v4 UUIDs (244 random bits), hex.
fn token() -> String {
    format!("{}{}", new_id(), new_id())
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
    let session = token();
    let expires_at = now.saturating_add(i64::try_from(SESSION_TTL.as_secs()).unwrap_or(0));
    sqlx::query(
        "INSERT INTO portal_sessions (digest, partner_id, csrf, expires_at, created_at)
         SELECT $1, id, $2, $3, $4 FROM partners WHERE id = $5 AND revoked = 0",
    )
    .bind(digest(&session))
    .bind(token())
    .bind(expires_at)
    .bind(now)
    .bind(&partner)
    .execute(portal.store.pool())
    .await
    .map_err(internal)?;
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
    link: Option<&'a str>,
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
        link: None,
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
    Form(Csrf { csrf }): Form<Csrf>,
) -> Result<Response, ApiError> {
    let session = match portal.signed_in(&headers).await? {
        Ok(session) => session,
        Err(away) => return Ok(away),
    };
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

#[derive(Template)]
#[template(path = "portal/overview.html")]
struct Overview {
    partner: String,
    csrf: String,
    endpoints: Vec<EndpointRow>,
    messages: Vec<MessageRow>,
    reports: Vec<ReportRow>,
}

/// `GET /portal`: the partner's endpoints, recent messages and failure reports.
async fn overview(State(portal): State<Portal>, headers: HeaderMap) -> Result<Response, ApiError> {
    let session = match portal.signed_in(&headers).await? {
        Ok(session) => session,
        Err(away) => return Ok(away),
    };
    let partner = &session.partner_id;
    let endpoints = portal.outbox.endpoints(partner).await.map_err(internal)?;
    let messages = portal
        .outbox
        .messages(partner, RECENT_MESSAGES)
        .await
        .map_err(internal)?;
    let since = portal
        .now()
        .checked_sub(REPORT_WINDOW)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let reports = portal
        .outbox
        .reports(Some(partner), since, 50)
        .await
        .map_err(internal)?;
    render(&Overview {
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
    endpoint_id: String,
    state: &'static str,
    attempts: i64,
    last_status: Option<u16>,
    failed: Vec<AttemptRow>,
}

#[derive(Template)]
#[template(path = "portal/detail.html")]
struct MessageDetail {
    partner: String,
    csrf: String,
    id: String,
    event_type: String,
    created_at: String,
    deliveries: Vec<DeliveryDetail>,
}

/// `GET /portal/messages/{id}`: one message of the partner's, each delivery with every
/// failed attempt.
async fn message(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let session = match portal.signed_in(&headers).await? {
        Ok(session) => session,
        Err(away) => return Ok(away),
    };
    if !id.strip_prefix("msg_").is_some_and(is_id) {
        return Err(Condition::NotFound.into());
    }
    let message = portal
        .outbox
        .message(&session.partner_id, &id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::from(Condition::NotFound))?;
    let mut deliveries = Vec::with_capacity(message.deliveries.len());
    for d in &message.deliveries {
        let failed = portal
            .outbox
            .attempts(&message.id, &d.endpoint_id)
            .await
            .map_err(internal)?;
        deliveries.push(DeliveryDetail {
            endpoint_id: d.endpoint_id.clone(),
            state: d.state.as_str(),
            attempts: d.attempts,
            last_status: d.last_status,
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
        partner: session.partner_name,
        csrf: session.csrf,
        id: message.id,
        event_type: message.event_type,
        created_at: time(message.created_at),
        deliveries,
    })
}
