//! Who is calling, as the rate-limit, idempotency and reconciliation layers key it.

use std::fmt;
use std::sync::Arc;

use http::Extensions;

/// The identity a request's limits and idempotency keys are scoped to: a partner, an
/// API key, a tenant. [`RequireAuthLayer`](crate::RequireAuthLayer) puts it on the
/// request when its [`Authenticator::caller`](crate::Authenticator::caller) names one;
/// any layer of the application's own may insert it instead.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Caller(Arc<str>);

impl Caller {
    /// A caller by its identity.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Caller(id.into())
    }

    /// The identity.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The caller of a request: its [`Caller`] extension, else its
    /// [`ClientAddress`](crate::ClientAddress) when the server was started with connect
    /// info, else `None`.
    pub(crate) fn of(extensions: &Extensions) -> Option<Caller> {
        if let Some(caller) = extensions.get::<Caller>() {
            return Some(caller.clone());
        }
        let ip = crate::ClientAddress::of(extensions)?;
        Some(Caller::new(format!("ip:{ip}")))
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
