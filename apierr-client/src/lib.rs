//! The partner's side of an apierr error contract.
//!
//! - [`Client`]: one logical request, as many attempts as is safe. Every failure is an
//!   [`Error`] classified the way seeds 000 and 001 classify them (content, auth,
//!   rate-limited, server, network *not sent* or *maybe processed*, decode), with the
//!   server's error parsed from whatever dialect it answered in, the number of attempts
//!   and the [`StopReason`]. The [`RetryPolicy`] retries what is safe: idempotent methods
//!   after transient faults; POST and PATCH after an unknown outcome only with an
//!   `Idempotency-Key` (generated for a POST, the same on every attempt) or when marked
//!   idempotent; any request never sent, or refused with 429. Backoff is exponential
//!   with full jitter below a cap; `Retry-After` (seconds or HTTP-date) is honoured up to
//!   a maximum; one deadline bounds the whole call; a client-wide [`RetryBudget`] stops
//!   retry storms. Redirects are followed for GET and HEAD only, never carrying
//!   credentials to another origin.
//! - [`WebhookVerifier`]: Standard Webhooks signatures (`webhook-id`,
//!   `webhook-timestamp`, `webhook-signature: v1,<base64>`, HMAC-SHA256 with a `whsec_`
//!   secret), the form apierr's dispatcher signs in.
//!
//! ```no_run
//! # async fn demo() -> Result<(), apierr_client::Error> {
//! use apierr_client::{Client, RetryPolicy};
//! use std::time::Duration;
//!
//! let client = Client::new().with_policy(RetryPolicy::new().deadline(Duration::from_secs(10)));
//! let created: serde_json::Value = client
//!     .post("http://127.0.0.1:8080/accounts")
//!     .header("x-api-key", "acme-key")
//!     .json(&serde_json::json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "L"}))
//!     .send_json()
//!     .await?;
//! # let _ = created; Ok(()) }
//! ```
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use apierr_client::WebhookVerifier;
//! use http::HeaderMap;
//!
//! let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let sent = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! let payload = br#"{"type":"account.created"}"#;
//! let mut headers = HeaderMap::new();
//! headers.insert("webhook-id", "msg_1".parse().unwrap());
//! headers.insert("webhook-timestamp", "1800000000".parse().unwrap());
//! let signature = verifier.sign("msg_1", 1_800_000_000, payload);
//! headers.insert("webhook-signature", signature.parse().unwrap());
//! assert!(verifier.verify(&headers, payload, sent + Duration::from_secs(60)).is_ok());
//! assert!(verifier.verify(&headers, b"{}", sent).is_err());
//! ```

mod client;
mod error;
mod middleware;
mod policy;
mod webhook;

pub use crate::client::{
    AttemptEvent, Client, DEFAULT_MAX_ERROR_BODY, IDEMPOTENCY_KEY, RequestBuilder,
};
pub use crate::error::{Error, Sent, StopReason};
pub use crate::middleware::{Idempotent, RetryMiddleware};
pub use crate::policy::{RetryBudget, RetryPolicy};

pub use crate::webhook::{
    DEFAULT_TOLERANCE, SecretError, VerifyError, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
    WebhookVerifier,
};
