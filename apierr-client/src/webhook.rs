//! Standard Webhooks signatures: <https://www.standardwebhooks.com/>.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

/// The message's unique id; the same on every retry of one message.
pub const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
/// When the message was signed, in seconds since the Unix epoch.
pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
/// Space-separated signatures, `v1,<base64>` (several while a secret is rotated).
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

/// How far a message's timestamp may be from the receiver's clock, either way: five
/// minutes, as the specification recommends. Older messages are replays.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The secret's prefix in the specification's form.
const PREFIX: &str = "whsec_";

/// Checks (and, for tests and senders, makes) Standard Webhooks signatures with one
/// secret.
#[derive(Clone)]
pub struct WebhookVerifier {
    key: Vec<u8>,
    tolerance: Duration,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("WebhookVerifier")
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

/// The secret is not in the `whsec_<base64>` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretError;

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a webhook secret is `whsec_` followed by base64 (or the base64 alone)")
    }
}

impl std::error::Error for SecretError {}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is missing or not text.
    MissingHeader(HeaderName),
    /// `webhook-timestamp` is not a whole number of seconds.
    InvalidTimestamp,
    /// The timestamp is older than the tolerance: a replay, or a very late retry.
    TooOld,
    /// The timestamp is further in the future than the tolerance.
    TooNew,
    /// No `v1` signature in the header matches the message.
    NoMatchingSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingHeader(name) => write!(f, "missing header {name}"),
            VerifyError::InvalidTimestamp => {
                f.write_str("webhook-timestamp is not a number of seconds")
            }
            VerifyError::TooOld => f.write_str("message timestamp too old"),
            VerifyError::TooNew => f.write_str("message timestamp too far in the future"),
            VerifyError::NoMatchingSignature => f.write_str("no matching signature"),
        }
    }
}

impl std::error::Error for VerifyError {}

impl WebhookVerifier {
    /// A verifier for `secret`: `whsec_` followed by the base64 of the key, or the base64
    /// alone. The default tolerance is [`DEFAULT_TOLERANCE`].
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        let encoded = secret.strip_prefix(PREFIX).unwrap_or(secret);
        let key = STANDARD.decode(encoded).map_err(|_| SecretError)?;
        if key.is_empty() {
            return Err(SecretError);
        }
        Ok(WebhookVerifier {
            key,
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// How far a timestamp may be from `now`, either way.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    fn mac(&self, id: &str, timestamp: &str, payload: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac
    }

    /// The `webhook-signature` value for a message: `v1,` and the base64 HMAC-SHA256 of
    /// `id.timestamp.payload`.
    pub fn sign(&self, id: &str, timestamp: i64, payload: &[u8]) -> String {
        let tag = self
            .mac(id, &timestamp.to_string(), payload)
            .finalize()
            .into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }

    /// Checks a received message: its three headers, its timestamp against `now` within
    /// the tolerance, and that one of its `v1` signatures is this secret's over the exact
    /// bytes received (compared in constant time). Signatures of other versions are
    /// ignored.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        payload: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let header = |name: HeaderName| {
            headers
                .get(&name)
                .and_then(|v| v.to_str().ok())
                .ok_or(VerifyError::MissingHeader(name))
        };
        let id = header(WEBHOOK_ID)?;
        let timestamp = header(WEBHOOK_TIMESTAMP)?;
        let signatures = header(WEBHOOK_SIGNATURE)?;
        let sent: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::InvalidTimestamp)?;
        let now = match now.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        };
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        if sent < now.saturating_sub(tolerance) {
            return Err(VerifyError::TooOld);
        }
        if sent > now.saturating_add(tolerance) {
            return Err(VerifyError::TooNew);
        }
        let expected = self.mac(id, timestamp.trim(), payload);
        let matches = signatures.split(' ').any(|candidate| {
            let Some(("v1", encoded)) = candidate.split_once(',') else {
                return false;
            };
            let Ok(tag) = STANDARD.decode(encoded) else {
                return false;
            };
            // `verify_slice` compares in constant time.
            expected.clone().verify_slice(&tag).is_ok()
        });
        if matches {
            Ok(())
        } else {
            Err(VerifyError::NoMatchingSignature)
        }
    }
}
