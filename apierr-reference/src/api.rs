//! The endpoints of the reference Partner API.

use std::time::Duration;

use aide::OperationOutput;
use aide::generate::GenContext;
use aide::openapi::{Operation, Response as DocResponse};
use apierr::{ApiError, Condition, FieldViolation, TokenError, ViolationKind};
use apierr_axum::{
    AlreadyReported, Authenticated, ClientAddress, Clock, Created, Empty, FailureKey, Form, Json,
    Page, Path, Plain, Query, Valid,
};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::errors::{internal, invalid};
use crate::store::{Account, Child, Inserted, Start, Store, is_id, unix, unix_micros};

/// What the token and account handlers see of the application's state (through
/// `FromRef`).
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) store: Store,
    /// The clock of token expiry and record times; tests inject their own.
    pub(crate) clock: Clock,
    pub(crate) token_ttl: Duration,
    /// Failed client authentication at the token endpoint, per address and client id.
    pub(crate) failures: apierr_axum::FailureLimit,
    /// The totals of large listings.
    pub(crate) counts: std::sync::Arc<crate::counts::Counts>,
    /// The base URL partners reach the API at, for the links to next pages.
    pub(crate) public_url: Option<String>,
}

/// The largest page a client may ask for; bounds the work of one request.
pub(crate) const MAX_PER_PAGE: u32 = 100;

/// The last page a client may ask for: far past any real listing, and a bound that keeps
/// the offset's arithmetic small.
pub(crate) const MAX_PAGE: u32 = 1_000_000;

/// The page size when the client does not say.
const DEFAULT_PER_PAGE: u32 = 20;

/// An account id from a path: one not of the form the store makes names no account
/// (and never reaches the database, whatever bytes it holds).
fn account_id(id: &str) -> Result<&str, ApiError> {
    if is_id(id) {
        Ok(id)
    } else {
        Err(Condition::NotFound.into())
    }
}

/// An OAuth 2.0 client-credentials token request (RFC 6749 §4.4). The client
/// authenticates with HTTP Basic (RFC 6749 §2.3.1, which servers must support) or with
/// `client_id` and `client_secret` here, never both.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct TokenRequest {
    /// The grant: `client_credentials`.
    #[serde(default)]
    #[schemars(required, with = "String", extend("enum" = [GRANT_TYPE]))]
    grant_type: Option<String>,
    /// The client's id, unless it authenticates with HTTP Basic.
    #[serde(default)]
    #[schemars(with = "String")]
    client_id: Option<String>,
    /// The client's secret, unless it authenticates with HTTP Basic.
    #[serde(default)]
    #[schemars(with = "String")]
    client_secret: Option<String>,
    /// Accepted and ignored: every token carries the partner's whole access.
    #[serde(rename = "scope", default)]
    #[schemars(with = "String")]
    _scope: Option<String>,
}

/// The one grant the token endpoint issues tokens for.
const GRANT_TYPE: &str = "client_credentials";

/// An access token (RFC 6749 §5.1).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TokenResponse {
    /// The bearer token.
    access_token: String,
    /// `Bearer`.
    token_type: &'static str,
    /// Seconds until it expires.
    expires_in: u64,
}

/// The token endpoint's answer: the token, in no envelope, never cached (RFC 6749
/// §5.1).
pub(crate) struct TokenAnswer(TokenResponse);

impl IntoResponse for TokenAnswer {
    fn into_response(self) -> Response {
        (
            [
                (
                    http::header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ),
                (http::header::PRAGMA, HeaderValue::from_static("no-cache")),
            ],
            Plain(self.0),
        )
            .into_response()
    }
}

impl OperationOutput for TokenAnswer {
    type Inner = TokenResponse;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<DocResponse> {
        let mut response = Plain::<TokenResponse>::operation_response(ctx, operation)?;
        for (name, value) in [("Cache-Control", "no-store"), ("Pragma", "no-cache")] {
            response.headers.insert(
                name.to_owned(),
                apierr_axum::openapi::header(
                    "RFC 6749 §5.1: a token is never cached.",
                    true,
                    serde_json::json!({"type": "string", "enum": [value]}),
                ),
            );
        }
        response.description = "The access token".to_owned();
        Some(response)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, DocResponse)> {
        Self::operation_response(ctx, operation)
            .map(|response| vec![(Some(200), response)])
            .unwrap_or_default()
    }
}

/// The client credentials of a token request: HTTP Basic or the body's, percent-decoded
/// as RFC 6749 §2.3.1 encodes them.
fn client_credentials(
    headers: &http::HeaderMap,
    request: &TokenRequest,
) -> Result<(String, String), ApiError> {
    let basic = headers
        .get(http::header::AUTHORIZATION)
        .map(|value| basic_credentials(value).ok_or_else(invalid_client));
    match (basic, &request.client_id, &request.client_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err(ApiError::from(TokenError::InvalidRequest)
                .with_message("the client authenticated in more than one way"))
        }
        (Some(basic), None, None) => basic,
        (None, Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
        (None, _, _) => Err(invalid_client()),
    }
}

/// `Authorization: Basic base64(id:secret)`, each part form-urlencoded.
fn basic_credentials(value: &http::HeaderValue) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = value.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| {
        percent_encoding::percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// The answer to failed client authentication: 401 with a Basic challenge (RFC 6749
/// §5.2; RFC 9110 requires a challenge on every 401).
fn invalid_client() -> ApiError {
    TokenError::InvalidClient.into()
}

/// `POST /oauth/token`: client credentials for a bearer token. Its errors are RFC 6749
/// §5.2's in every profile (the route has a contract layer of its own).
pub(crate) async fn issue_token(
    State(state): State<Api>,
    client: Option<ClientAddress>,
    headers: http::HeaderMap,
    Form(request): Form<TokenRequest>,
) -> Result<TokenAnswer, TokenFailure> {
    let address = client.map(|ClientAddress(ip)| FailureKey::Address(ip));
    if let Some(wait) = address.and_then(|a| state.failures.blocked(a)) {
        return Err(TokenFailure::limited(&state.failures, wait));
    }
    match request.grant_type.as_deref() {
        Some(GRANT_TYPE) => {}
        Some(_) => return Err(TokenError::UnsupportedGrantType.into()),
        None => {
            return Err(ApiError::from(Condition::MissingParameter)
                .with_violation(FieldViolation::body("grant_type", "is required"))
                .into());
        }
    }
    let (client_id, secret) = client_credentials(&headers, &request)?;
    // Client ids are visible text; anything else names no client (and never reaches the
    // database, which may refuse some bytes).
    if client_id.is_empty() || client_id.chars().any(char::is_control) {
        return Err(invalid_client().into());
    }
    let client_key = FailureKey::Key(&client_id);
    if let Some(wait) = state.failures.blocked(client_key) {
        return Err(TokenFailure::limited(&state.failures, wait));
    }
    let Some(partner) = state
        .store
        .partner_by_client(&client_id, &secret, unix((state.clock)()))
        .await
        .map_err(internal)?
    else {
        // Counted for the address and for the client id it guessed at.
        if let Some(address) = address {
            state.failures.failed(address).await;
        }
        state.failures.failed(client_key).await;
        return Err(invalid_client().into());
    };
    if partner.revoked {
        return Err(ApiError::from(Condition::KeyRevoked)
            .with_message("the client's access has been revoked")
            .into());
    }
    let ttl = state.token_ttl.as_secs();
    let expires_at = unix((state.clock)()).saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
    let token = state
        .store
        .issue_token(&partner.id, expires_at)
        .await
        .map_err(internal)?;
    Ok(TokenAnswer(TokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: ttl,
    }))
}

/// A token endpoint error: the error, with the Basic challenge RFC 9110 requires of a
/// 401 (the status its catalog gives failed client authentication), and the headers of
/// the failure limit on a 429 it made.
pub(crate) struct TokenFailure(ApiError, Option<(apierr_axum::FailureLimit, Duration)>);

impl TokenFailure {
    /// Too many failed client authentications from here, or for this client id.
    fn limited(failures: &apierr_axum::FailureLimit, wait: Duration) -> Self {
        TokenFailure(failures.error(wait), Some((failures.clone(), wait)))
    }
}

impl From<ApiError> for TokenFailure {
    fn from(error: ApiError) -> Self {
        TokenFailure(error, None)
    }
}

impl From<TokenError> for TokenFailure {
    fn from(code: TokenError) -> Self {
        TokenFailure(code.into(), None)
    }
}

/// Its responses are its conditions', which the route documents in OAuth's profile.
impl OperationOutput for TokenFailure {
    type Inner = ();
}

impl IntoResponse for TokenFailure {
    fn into_response(self) -> Response {
        let challenge = self.0.condition().is_some_and(|c| {
            matches!(
                c,
                Condition::Unauthenticated | Condition::InvalidToken | Condition::KeyRevoked
            )
        }) || self.0.code() == TokenError::InvalidClient.entry().code();
        let mut response = self.0.into_response();
        if let Some((failures, wait)) = self.1 {
            failures.stamp(response.headers_mut(), wait);
        }
        if challenge {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"partner-api\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

/// `DELETE /oauth/token`: ends the session of the bearer token used. A caller that
/// authenticated with an API key has no session, so there is nothing to end: 200 as well
/// (logging out is idempotent).
pub(crate) async fn revoke_token(
    State(state): State<Api>,
    Authenticated(principal): Authenticated<Principal>,
) -> Result<Empty, ApiError> {
    if let Some(token) = principal.token {
        state.store.revoke_token(&token).await.map_err(internal)?;
    }
    Ok(Empty)
}

/// A page request: by number (`page`), or after an account (`starting_after`, a cursor
/// that costs the same however deep it is).
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ListParams {
    /// The page, from 1. Default is 1. A deep page costs the rows before it: page on
    /// with `starting_after` (the `Link` header's next page) instead.
    #[serde(default)]
    #[schemars(with = "u32", range(min = 1, max = MAX_PAGE))]
    page: Option<u32>,
    /// Accounts a page, 1 to 100. Default is 20.
    #[serde(default)]
    #[schemars(with = "u32", range(min = 1, max = MAX_PER_PAGE))]
    per_page: Option<u32>,
    /// The page after this account (its id): the last one of the previous page; with
    /// `page`, pages count from it. An account the partner does not have (or deleted
    /// since) is a 404.
    #[serde(default)]
    #[schemars(regex(pattern = "^[0-9a-f]{32}$"))]
    starting_after: Option<String>,
}

/// `GET /accounts`: the partner's accounts, a page at a time, oldest first. The total is
/// exact up to 1,000 accounts; above, counted at most once a minute (see `counts`).
pub(crate) async fn list_accounts(
    State(state): State<Api>,
    Authenticated(principal): Authenticated<Principal>,
    Query(params): Query<ListParams>,
) -> Result<Page<Account>, ApiError> {
    let per_page = params.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(invalid(
            ViolationKind::Query,
            "per_page",
            "must be between 1 and 100",
        ));
    }
    let page = params.page.unwrap_or(1);
    if page == 0 || page > MAX_PAGE {
        return Err(invalid(
            ViolationKind::Query,
            "page",
            "must be between 1 and 1000000",
        ));
    }
    let offset = (i64::from(page) - 1) * i64::from(per_page);
    let start = match params.starting_after.as_deref() {
        Some(id) if !is_id(id) => {
            return Err(invalid(
                ViolationKind::Query,
                "starting_after",
                "must be an account id (32 lower-case hex digits)",
            ));
        }
        // Pages count from the cursor: page 2 is the second page after it.
        Some(id) => Start::After(id, offset),
        None => Start::Offset(offset),
    };
    let partner = &principal.partner.id;
    // One more than a page: whether there is a next one.
    let Some(mut items) = state
        .store
        .accounts(partner, start, i64::from(per_page) + 1)
        .await
        .map_err(internal)?
    else {
        // Like the account's own route: the cursor names nothing this partner has (never
        // had, another partner's, or deleted since).
        return Err(ApiError::from(Condition::NotFound)
            .with_message("starting_after names no account of yours"));
    };
    let more = items.len() > per_page as usize;
    items.truncate(per_page as usize);
    let total = state
        .counts
        .accounts(&state.store, partner)
        .await
        .map_err(internal)?;
    let page = Page::new(items, total);
    Ok(match (more, page.items.last()) {
        (true, Some(last)) => {
            let base = state.public_url.as_deref().unwrap_or("");
            let next = format!(
                "{base}/accounts?per_page={per_page}&starting_after={}",
                last.id
            );
            page.next(next)
        }
        _ => page,
    })
}

/// Text a person reads, as a regular expression: no control characters (Unicode's Cc:
/// U+0000–U+001F and U+007F–U+009F).
pub(crate) const PLAIN_TEXT: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// Names are text a person reads ([`PLAIN_TEXT`]; NUL among the refused, which
/// PostgreSQL refuses to store).
fn plain_text(text: &str, _: &()) -> garde::Result {
    static PLAIN: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(PLAIN_TEXT).expect("a valid pattern"));
    if !PLAIN.is_match(text) {
        Err(garde::Error::new("must not contain control characters"))
    } else {
        Ok(())
    }
}

/// The email rule, written once as [`EMAIL_PATTERN`] (which the OpenAPI document states
/// too, so that the document and the server accept the same addresses) and
/// [`EMAIL_MAX_LENGTH`].
fn check_email(email: &str, _: &()) -> garde::Result {
    static EMAIL: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(EMAIL_PATTERN).expect("a valid pattern"));
    if email.len() <= EMAIL_MAX_LENGTH && EMAIL.is_match(email) {
        Ok(())
    } else {
        Err(garde::Error::new("is not an email address"))
    }
}

/// RFC 5321's longest forward path, less its angle brackets.
pub(crate) const EMAIL_MAX_LENGTH: usize = 254;

/// A domain label (RFC 1123) as a regular expression: letters, digits and inner
/// hyphens, 1, 2, 3, 4, or 5–63 characters, with no `--` in third and fourth place
/// (reserved for IDNA's `xn--` forms, RFC 5891 §4.2.3.1, which are not accepted here).
macro_rules! label {
    () => {
        concat!(
            "[A-Za-z0-9](?:[A-Za-z0-9]|[A-Za-z0-9-][A-Za-z0-9]",
            "|[A-Za-z0-9-](?:[A-Za-z0-9][A-Za-z0-9]|-[A-Za-z0-9])",
            "|[A-Za-z0-9-](?:[A-Za-z0-9][A-Za-z0-9-]|-[A-Za-z0-9])[A-Za-z0-9-]{0,58}[A-Za-z0-9])?"
        )
    };
}

/// An email address: an RFC 5321 mailbox in ASCII, `local@domain`. The local part is a
/// dot-atom of one, two or three atoms whose lengths keep it within RFC 5321's 64
/// characters (1–64; 31 + 32; 20 + 20 + 22), a rule a regular expression can state
/// exactly; the domain has at least two labels. Its length is bounded apart
/// ([`EMAIL_MAX_LENGTH`]).
pub(crate) const EMAIL_PATTERN: &str = concat!(
    "^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}",
    "|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,31}\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,32}",
    "|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}",
    "\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,22})",
    "@",
    label!(),
    "(?:\\.",
    label!(),
    ")+$"
);

/// A new account, or the full replacement of one.
#[derive(Debug, Deserialize, garde::Validate, JsonSchema)]
pub(crate) struct NewAccount {
    /// Unique across the API.
    #[garde(custom(check_email))]
    #[schemars(email, length(max = EMAIL_MAX_LENGTH), regex(pattern = EMAIL_PATTERN))]
    email: String,
    /// The first name.
    #[garde(length(chars, min = 1, max = 100), custom(plain_text))]
    #[schemars(regex(pattern = PLAIN_TEXT))]
    first_name: String,
    /// The last name.
    #[garde(length(chars, min = 1, max = 100), custom(plain_text))]
    #[schemars(regex(pattern = PLAIN_TEXT))]
    last_name: String,
}

/// Some fields of an account: those sent change.
#[derive(Debug, Deserialize, garde::Validate, JsonSchema)]
pub(crate) struct AccountPatch {
    /// Unique across the API.
    #[garde(inner(custom(check_email)))]
    #[schemars(email, length(max = EMAIL_MAX_LENGTH), regex(pattern = EMAIL_PATTERN))]
    email: Option<String>,
    /// The first name.
    #[garde(inner(length(chars, min = 1, max = 100), custom(plain_text)))]
    #[schemars(length(min = 1, max = 100), regex(pattern = PLAIN_TEXT))]
    first_name: Option<String>,
    /// The last name.
    #[garde(inner(length(chars, min = 1, max = 100), custom(plain_text)))]
    #[schemars(length(min = 1, max = 100), regex(pattern = PLAIN_TEXT))]
    last_name: Option<String>,
}

/// `POST /accounts`: registers an account; its email must be unused.
pub(crate) async fn create_account(
    State(state): State<Api>,
    Authenticated(principal): Authenticated<Principal>,
    Valid(Json(new)): Valid<Json<NewAccount>>,
) -> Result<Created<Account>, ApiError> {
    let now = unix_micros((state.clock)());
    match state
        .store
        .create_account(
            &principal.partner.id,
            &new.email,
            &new.first_name,
            &new.last_name,
            now,
        )
        .await
        .map_err(internal)?
    {
        Inserted::New(account) => Ok(Created(account)),
        Inserted::Exists => Err(email_taken()),
    }
}

fn email_taken() -> ApiError {
    ApiError::from(Condition::AlreadyExists)
        .with_violation(FieldViolation::body("email", "is registered already"))
}

/// `GET /accounts/{id}`: 200 with the account, or 404.
pub(crate) async fn get_account(
    State(state): State<Api>,
    Authenticated(principal): Authenticated<Principal>,
    Path(AccountId { id }): Path<AccountId>,
) -> Result<Json<Account>, ApiError> {
    let id = account_id(&id)?;
    state
        .store
        .account(&principal.partner.id, id)
        .await
        .map_err(internal)?
        .map(Json)
        .ok_or_else(|| Condition::NotFound.into())
}

async fn update(
    state: &Api,
    principal: &Principal,
    id: &str,
    email: Option<&str>,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> Result<Empty, ApiError> {
    match state
        .store
        .update_account(
            &principal.partner.id,
            id,
            email,
            first_name,
            last_name,
            unix_micros((state.clock)()),
        )
        .await
        .map_err(internal)?
    {
        None => Err(Condition::NotFound.into()),
        Some(Inserted::Exists) => Err(email_taken()),
        Some(Inserted::New(())) => Ok(Empty),
    }
}

/// `PUT /accounts/{id}`: replaces the account; 200 with an empty body, or 404.
pub(crate) async fn put_account(
    State(state): State<Api>,
    Authenticated(principal): Authenticated<Principal>,
    Path(AccountId { id }): Path<AccountId>,
    Valid(Json(new)): Valid<Json<NewAccount>>,
) -> Result<Empty, ApiError> {
    let id = account_id(&id)?;
    update(
        &state,
        &principal,
        id,
        Some(&new.email),
        Some(&new.first_name),
        Some(&new.last_name),
    )
    .await
}

/// `PATCH /accounts/{id}`: changes the fields sent; 200 with an empty body, or 404.
pub(crate) async fn patch_account(
    State(state): State<Api>,
    Authenticated(principal): Authenticated<Principal>,
    Path(AccountId { id }): Path<AccountId>,
    Valid(Json(patch)): Valid<Json<AccountPatch>>,
) -> Result<Empty, ApiError> {
    let id = account_id(&id)?;
    update(
        &state,
        &principal,
        id,
        patch.email.as_deref(),
        patch.first_name.as_deref(),
        patch.last_name.as_deref(),
    )
    .await
}

/// `DELETE /accounts/{id}`: 200 with an empty body, or 404 (so a retried delete is safe
/// and tells the caller the account is gone).
pub(crate) async fn delete_account(
    State(state): State<Api>,
    Authenticated(principal): Authenticated<Principal>,
    Path(AccountId { id }): Path<AccountId>,
) -> Result<Empty, ApiError> {
    let id = account_id(&id)?;
    if state
        .store
        .delete_account(&principal.partner.id, id, unix_micros((state.clock)()))
        .await
        .map_err(internal)?
    {
        Ok(Empty)
    } else {
        Err(Condition::NotFound.into())
    }
}

/// A child to register.
#[derive(Debug, Deserialize, garde::Validate, JsonSchema)]
pub(crate) struct NewChild {
    /// The first name.
    #[garde(length(chars, min = 1, max = 100), custom(plain_text))]
    #[schemars(regex(pattern = PLAIN_TEXT))]
    first_name: String,
    /// The year of birth.
    #[garde(range(min = 1900, max = 2100))]
    birth_year: i64,
}

/// An account's id in a path.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct AccountId {
    /// The account's id.
    #[schemars(length(min = 1))]
    id: String,
}

/// What `POST /accounts/{id}/children` answers: 201 with a new child, or 208 with the
/// record of the same child registered before.
pub(crate) enum Registered {
    New(Child),
    Again(Child),
}

impl IntoResponse for Registered {
    fn into_response(self) -> Response {
        match self {
            Registered::New(child) => Created(child).into_response(),
            Registered::Again(child) => AlreadyReported(child).into_response(),
        }
    }
}

impl OperationOutput for Registered {
    type Inner = Child;

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, DocResponse)> {
        let mut responses = Created::<Child>::inferred_responses(ctx, operation);
        responses.extend(AlreadyReported::<Child>::inferred_responses(ctx, operation));
        responses
    }
}

/// `POST /accounts/{id}/children`: 201 with the new child, or 208 with the existing
/// record when the same child is registered again.
pub(crate) async fn register_child(
    State(state): State<Api>,
    Authenticated(principal): Authenticated<Principal>,
    Path(AccountId { id }): Path<AccountId>,
    Valid(Json(child)): Valid<Json<NewChild>>,
) -> Result<Registered, ApiError> {
    let id = account_id(&id)?;
    if state
        .store
        .account(&principal.partner.id, id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(Condition::NotFound.into());
    }
    let now = unix_micros((state.clock)());
    let (child, new) = state
        .store
        .register_child(
            &principal.partner.id,
            id,
            &child.first_name,
            child.birth_year,
            now,
        )
        .await
        .map_err(internal)?
        // The account was deleted since it was looked up.
        .ok_or_else(|| ApiError::from(Condition::NotFound))?;
    Ok(if new {
        Registered::New(child)
    } else {
        Registered::Again(child)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_rule_keeps_rfc_5321s_lengths() {
        // Scenario: the one email rule at its edges, as the document's pattern states them.
        let ok = |e: &str| check_email(e, &()).is_ok();
        assert!(ok("lee@example.com"));
        assert!(ok(&format!("{}@example.com", "a".repeat(64))));
        assert!(!ok(&format!("{}@example.com", "a".repeat(65))));
        assert!(ok(&format!(
            "{}.{}@example.com",
            "a".repeat(31),
            "b".repeat(32)
        )));
        assert!(!ok(&format!(
            "{}.{}@example.com",
            "a".repeat(32),
            "b".repeat(32)
        )));
        // 64 + "@" + 63 + "." + 58 + "." + 63 + ".co" is 254; one more label character, 255.
        let address = |third: usize| {
            format!(
                "{}@{}.{}.{}.co",
                "a".repeat(64),
                "d".repeat(63),
                "e".repeat(third),
                "f".repeat(63)
            )
        };
        assert_eq!(address(58).len(), 254);
        assert!(ok(&address(58)));
        assert!(!ok(&address(59)));
        for bad in [
            "no-at.example.com",
            "lee@localhost",
            "lee@-example.com",
            "lee@xn--bcher-kva.ch",
            "a..b@example.com",
            "lee @example.com",
            "lee@example.com\n",
        ] {
            assert!(!ok(bad), "{bad:?}");
        }
    }
}
