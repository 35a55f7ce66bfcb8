//! Who is calling: partners by API key or by OAuth access token.

use apierr::{ApiError, Condition};
use apierr_axum::{AuthFailure, Authenticator, Caller, Clock, Credential};
use http::Method;
use http::request::Parts;

use crate::store::{Partner, Store, unix};

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The partner.
    pub partner: Partner,
    /// The access token used, if the caller sent one (rather than an API key).
    pub token: Option<String>,
}

/// Checks API keys and access tokens against the store.
pub(crate) struct PartnerAuth {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
}

impl std::fmt::Debug for PartnerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerAuth")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: sqlx::Error) -> AuthFailure {
    AuthFailure::Error(ApiError::from(Condition::Internal).with_source(e))
}

impl Authenticator for PartnerAuth {
    type Principal = Principal;

    async fn authenticate(
        &self,
        credential: Credential,
        parts: &Parts,
    ) -> Result<Principal, AuthFailure> {
        let principal = match credential {
            Credential::Bearer(token) => {
                let found = self.store.token(&token).await.map_err(unavailable)?;
                let Some(found) = found else {
                    return Err(AuthFailure::InvalidToken);
                };
                if found.partner.revoked {
                    return Err(AuthFailure::KeyRevoked);
                }
                if found.revoked {
                    return Err(AuthFailure::SessionExpired);
                }
                if found.expires_at <= unix((self.clock)()) {
                    return Err(AuthFailure::ExpiredToken);
                }
                Principal {
                    partner: found.partner,
                    token: Some(token),
                }
            }
            Credential::ApiKey(key) => {
                let partner = self
                    .store
                    .partner_by_key(&key, unix((self.clock)()))
                    .await
                    .map_err(unavailable)?;
                let Some(partner) = partner else {
                    return Err(AuthFailure::InvalidToken);
                };
                if partner.revoked {
                    return Err(AuthFailure::KeyRevoked);
                }
                Principal {
                    partner,
                    token: None,
                }
            }
            _ => return Err(AuthFailure::InvalidToken),
        };
        let reads = parts.method == Method::GET || parts.method == Method::HEAD;
        // Logging out is allowed to every partner.
        let logs_out = parts.method == Method::DELETE && parts.uri.path() == "/oauth/token";
        if principal.partner.read_only && !reads && !logs_out {
            return Err(AuthFailure::Forbidden);
        }
        Ok(principal)
    }

    /// Limits and idempotency keys are the partner's, whichever credential it used.
    fn caller(&self, principal: &Principal) -> Option<Caller> {
        Some(Caller::new(principal.partner.id.as_str()))
    }
}
