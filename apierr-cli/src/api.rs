//! The endpoints of the reference Partner API.

use std::time::Duration;

use apierr::{ApiError, Condition, FieldViolation, ViolationKind};
use apierr_axum::{
    AlreadyReported, Authenticated, Clock, Created, Empty, Form, Json, Page, Path, Plain, Query,
    Valid,
};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::store::{Account, Inserted, Store, unix, unix_micros};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) token_ttl: Duration,
}

/// The largest page a client may ask for; bounds the work of one request.
const MAX_PER_PAGE: u32 = 100;

/// The page size when the client does not say.
const DEFAULT_PER_PAGE: u32 = 20;

fn invalid(kind: ViolationKind, field: &'static str, message: &'static str) -> ApiError {
    ApiError::from(Condition::InvalidParameter)
        .with_violation(FieldViolation::new(kind, field, message))
}

/// A store failure: a 500 whose cause is logged with the request id, never shown.
fn internal(e: sqlx::Error) -> ApiError {
    ApiError::from(Condition::Internal).with_source(e)
}

/// An OAuth 2.0 client-credentials token request (RFC 6749 §4.4).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenRequest {
    grant_type: String,
    client_id: String,
    client_secret: String,
}

/// An access token (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub(crate) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

/// `POST /oauth/token`: client credentials for a bearer token.
pub(crate) async fn issue_token(
    State(state): State<AppState>,
    Form(request): Form<TokenRequest>,
) -> Result<Plain<TokenResponse>, ApiError> {
    if request.grant_type != "client_credentials" {
        return Err(invalid(
            ViolationKind::Body,
            "grant_type",
            "must be client_credentials",
        ));
    }
    let partner = state
        .store
        .partner_by_client(&request.client_id, &request.client_secret)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            ApiError::from(Condition::InvalidToken).with_message("client credentials are not valid")
        })?;
    if partner.revoked {
        return Err(Condition::KeyRevoked.into());
    }
    let ttl = state.token_ttl.as_secs();
    let expires_at = unix((state.clock)()).saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
    let token = state
        .store
        .issue_token(&partner.id, expires_at)
        .await
        .map_err(internal)?;
    // RFC 6749's own body, not the API's envelope.
    Ok(Plain(TokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: ttl,
    }))
}

/// `DELETE /oauth/token`: ends the session of the bearer token used.
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated<Principal>,
) -> Result<Empty, ApiError> {
    let Some(token) = principal.token else {
        return Err(invalid(
            ViolationKind::Header,
            "Authorization",
            "a bearer token is required to log out",
        ));
    };
    state.store.revoke_token(&token).await.map_err(internal)?;
    Ok(Empty)
}

/// A page request.
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    page: Option<u32>,
    per_page: Option<u32>,
}

/// `GET /accounts`: the partner's accounts, a page at a time.
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated<Principal>,
    Query(params): Query<ListParams>,
) -> Result<Page<Account>, ApiError> {
    let page = params.page.unwrap_or(1);
    let per_page = params.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page == 0 {
        return Err(invalid(ViolationKind::Query, "page", "must be at least 1"));
    }
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(invalid(
            ViolationKind::Query,
            "per_page",
            "must be between 1 and 100",
        ));
    }
    let offset = (i64::from(page) - 1) * i64::from(per_page);
    let (items, total) = state
        .store
        .accounts(&principal.partner.id, offset, i64::from(per_page))
        .await
        .map_err(internal)?;
    Ok(Page { items, total })
}

fn check_email(email: &str, _: &()) -> garde::Result {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(garde::Error::new("is not an email address"))
    }
}

/// A new account, or the full replacement of one.
#[derive(Debug, Deserialize, garde::Validate)]
pub(crate) struct NewAccount {
    #[garde(custom(check_email))]
    email: String,
    #[garde(length(chars, min = 1, max = 100))]
    first_name: String,
    #[garde(length(chars, min = 1, max = 100))]
    last_name: String,
}

/// Some fields of an account.
#[derive(Debug, Deserialize, garde::Validate)]
pub(crate) struct AccountPatch {
    #[garde(inner(custom(check_email)))]
    email: Option<String>,
    #[garde(inner(length(chars, min = 1, max = 100)))]
    first_name: Option<String>,
    #[garde(inner(length(chars, min = 1, max = 100)))]
    last_name: Option<String>,
}

/// `POST /accounts`: registers an account; its email must be unused.
pub(crate) async fn create_account(
    State(state): State<AppState>,
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
    State(state): State<AppState>,
    Authenticated(principal): Authenticated<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Account>, ApiError> {
    state
        .store
        .account(&principal.partner.id, &id)
        .await
        .map_err(internal)?
        .map(Json)
        .ok_or_else(|| Condition::NotFound.into())
}

async fn update(
    state: &AppState,
    principal: &Principal,
    id: &str,
    email: Option<&str>,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> Result<Empty, ApiError> {
    match state
        .store
        .update_account(&principal.partner.id, id, email, first_name, last_name)
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
    State(state): State<AppState>,
    Authenticated(principal): Authenticated<Principal>,
    Path(id): Path<String>,
    Valid(Json(new)): Valid<Json<NewAccount>>,
) -> Result<Empty, ApiError> {
    update(
        &state,
        &principal,
        &id,
        Some(&new.email),
        Some(&new.first_name),
        Some(&new.last_name),
    )
    .await
}

/// `PATCH /accounts/{id}`: changes the fields sent; 200 with an empty body, or 404.
pub(crate) async fn patch_account(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated<Principal>,
    Path(id): Path<String>,
    Valid(Json(patch)): Valid<Json<AccountPatch>>,
) -> Result<Empty, ApiError> {
    update(
        &state,
        &principal,
        &id,
        patch.email.as_deref(),
        patch.first_name.as_deref(),
        patch.last_name.as_deref(),
    )
    .await
}

/// `DELETE /accounts/{id}`: 200 with an empty body, or 404 (so a retried delete is safe
/// and tells the caller the account is gone).
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated<Principal>,
    Path(id): Path<String>,
) -> Result<Empty, ApiError> {
    if state
        .store
        .delete_account(&principal.partner.id, &id)
        .await
        .map_err(internal)?
    {
        Ok(Empty)
    } else {
        Err(Condition::NotFound.into())
    }
}

/// A child to register.
#[derive(Debug, Deserialize, garde::Validate)]
pub(crate) struct NewChild {
    #[garde(length(chars, min = 1, max = 100))]
    first_name: String,
    #[garde(range(min = 1900, max = 2100))]
    birth_year: i64,
}

/// `POST /accounts/{id}/children`: 201 with the new child, or 208 with the existing
/// record when the same child is registered again.
pub(crate) async fn register_child(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated<Principal>,
    Path(id): Path<String>,
    Valid(Json(child)): Valid<Json<NewChild>>,
) -> Result<Response, ApiError> {
    if state
        .store
        .account(&principal.partner.id, &id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(Condition::NotFound.into());
    }
    let now = unix_micros((state.clock)());
    let (child, new) = state
        .store
        .register_child(&id, &child.first_name, child.birth_year, now)
        .await
        .map_err(internal)?;
    Ok(if new {
        Created(child).into_response()
    } else {
        AlreadyReported(child).into_response()
    })
}
