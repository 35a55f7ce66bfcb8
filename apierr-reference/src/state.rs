//! The application's state, split with axum's `FromRef`: each group of handlers takes
//! its own part ([`Api`], [`Webhooks`]), so no handler module sees the whole state or
//! imports the composition root.

use axum::extract::FromRef;

use crate::api::Api;
use crate::webhooks::Webhooks;

/// What the router holds.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) api: Api,
    pub(crate) webhooks: Webhooks,
}

impl FromRef<AppState> for Api {
    fn from_ref(state: &AppState) -> Api {
        state.api.clone()
    }
}

impl FromRef<AppState> for Webhooks {
    fn from_ref(state: &AppState) -> Webhooks {
        state.webhooks.clone()
    }
}
