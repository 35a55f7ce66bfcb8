use std::time::{Duration, SystemTime};

use apierr_client::{VerifyError, WEBHOOK_SIGNATURE, WebhookVerifier};
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

fn fixture() -> Vec<Value> {
    let text = include_str!("../fixtures/standard_webhooks.json");
    let all: Value = serde_json::from_str(text).unwrap();
    all["cases"].as_array().unwrap().clone()
}

fn headers(case: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "webhook-id",
        HeaderValue::from_str(case["id"].as_str().unwrap()).unwrap(),
    );
    headers.insert(
        "webhook-timestamp",
        HeaderValue::from(case["timestamp"].as_i64().unwrap()),
    );
    headers.insert(
        "webhook-signature",
        HeaderValue::from_str(case["signature"].as_str().unwrap()).unwrap(),
    );
    headers
}

fn at(case: &Value, offset: i64) -> SystemTime {
    let secs = case["timestamp"].as_i64().unwrap() + offset;
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
}

fn verifier(case: &Value) -> WebhookVerifier {
    WebhookVerifier::new(case["secret"].as_str().unwrap()).unwrap()
}

#[test]
fn signatures_of_the_standardwebhooks_package_verify() {
    let cases = fixture();
    assert_eq!(cases.len(), 12);
    for case in &cases {
        let payload = case["payload"].as_str().unwrap().as_bytes();
        let verifier = verifier(case);
        verifier
            .verify(&headers(case), payload, at(case, 0))
            .unwrap();
        // Within five minutes either way.
        verifier
            .verify(&headers(case), payload, at(case, 299))
            .unwrap();
        verifier
            .verify(&headers(case), payload, at(case, -299))
            .unwrap();
        // And ours are the package's, byte for byte.
        let id = case["id"].as_str().unwrap();
        let ts = case["timestamp"].as_i64().unwrap();
        assert_eq!(
            verifier.sign(id, ts, payload),
            case["signature"].as_str().unwrap()
        );
    }
}

#[test]
fn tampered_messages_are_refused() {
    for case in &fixture() {
        let payload = case["payload"].as_str().unwrap().as_bytes();
        let verifier = verifier(case);
        let now = at(case, 0);
        // Another body, one byte more, one byte less.
        let mut longer = payload.to_vec();
        longer.push(b' ');
        for body in [&b"{}"[..], &longer[..], payload.get(1..).unwrap_or(b"x")] {
            assert_eq!(
                verifier.verify(&headers(case), body, now),
                Err(VerifyError::NoMatchingSignature)
            );
        }
        // Another id or timestamp under the same signature.
        let mut other = headers(case);
        other.insert("webhook-id", HeaderValue::from_static("msg_other"));
        assert_eq!(
            verifier.verify(&other, payload, now),
            Err(VerifyError::NoMatchingSignature)
        );
        let mut other = headers(case);
        let moved = case["timestamp"].as_i64().unwrap() + 1;
        other.insert("webhook-timestamp", HeaderValue::from(moved));
        assert_eq!(
            verifier.verify(&other, payload, now),
            Err(VerifyError::NoMatchingSignature)
        );
        // Another secret.
        let stranger = WebhookVerifier::new("whsec_c3RyYW5nZXIgc2VjcmV0").unwrap();
        assert_eq!(
            stranger.verify(&headers(case), payload, now),
            Err(VerifyError::NoMatchingSignature)
        );
        // A signature of another version, or not base64, is no signature.
        for forged in [
            "v2,".to_owned() + &case["signature"].as_str().unwrap()[3..],
            "v1,%%%".into(),
            "v1".into(),
            String::new(),
        ] {
            let mut other = headers(case);
            other.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(&forged).unwrap());
            assert_eq!(
                verifier.verify(&other, payload, now),
                Err(VerifyError::NoMatchingSignature)
            );
        }
    }
}

#[test]
fn one_good_signature_among_several_is_enough() {
    // Scenario: a secret being rotated: the old and the new signature are both sent.
    let case = &fixture()[0];
    let payload = case["payload"].as_str().unwrap().as_bytes();
    let mut h = headers(case);
    let both = format!(
        "v1,b2xkIHNpZ25hdHVyZQ== {}",
        case["signature"].as_str().unwrap()
    );
    h.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(&both).unwrap());
    verifier(case).verify(&h, payload, at(case, 0)).unwrap();
}

#[test]
fn stale_early_and_unsigned_messages_are_refused() {
    let case = &fixture()[0];
    let payload = case["payload"].as_str().unwrap().as_bytes();
    let verifier = verifier(case);
    assert_eq!(
        verifier.verify(&headers(case), payload, at(case, 301)),
        Err(VerifyError::TooOld)
    );
    assert_eq!(
        verifier.verify(&headers(case), payload, at(case, -301)),
        Err(VerifyError::TooNew)
    );
    let tight = verifier.clone().tolerance(Duration::from_secs(10));
    assert_eq!(
        tight.verify(&headers(case), payload, at(case, 11)),
        Err(VerifyError::TooOld)
    );
    for missing in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut h = headers(case);
        h.remove(missing);
        assert!(
            matches!(verifier.verify(&h, payload, at(case, 0)), Err(VerifyError::MissingHeader(ref n)) if n == missing),
            "{missing}"
        );
    }
    let mut h = headers(case);
    h.insert("webhook-timestamp", HeaderValue::from_static("soon"));
    assert_eq!(
        verifier.verify(&h, payload, at(case, 0)),
        Err(VerifyError::InvalidTimestamp)
    );
}

#[test]
fn secrets_must_be_base64() {
    assert!(WebhookVerifier::new("whsec_").is_err());
    assert!(WebhookVerifier::new("whsec_not base64!").is_err());
    assert!(WebhookVerifier::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    // The key never shows in logs.
    let shown = format!(
        "{:?}",
        WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
    );
    assert!(!shown.contains("MfKQ"), "{shown}");
}
