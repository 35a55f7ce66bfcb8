//! The partner's side of an apierr error contract.
//!
//! So far: [`WebhookVerifier`], which checks the signatures of the Standard Webhooks
//! specification (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`,
//! HMAC-SHA256 with a `whsec_` secret), the form apierr's dispatcher signs in. The
//! retrying client (typed errors, safe retries) is the next part of this crate.
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

mod webhook;

pub use crate::webhook::{
    DEFAULT_TOLERANCE, SecretError, VerifyError, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
    WebhookVerifier,
};
