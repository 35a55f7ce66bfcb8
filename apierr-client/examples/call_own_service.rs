//! A partner calling a service with safe retries: what went wrong comes back as one typed
//! error, the service's code parsed from whatever dialect it answered in.
//!
//! ```sh
//! cargo run -p apierr-axum --features openapi --example own_service &
//! cargo run -p apierr-client --example call_own_service [-- http://127.0.0.1:3000]
//! ```

use std::time::Duration;

use apierr_client::{Client, Error, RetryPolicy};
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    // One deadline for each logical call, however many attempts it takes.
    let client = Client::new().with_policy(RetryPolicy::new().deadline(Duration::from_secs(10)));

    // A POST gets an Idempotency-Key, the same on every attempt, so a retry after a lost
    // answer never creates a second order.
    let created = client
        .post(format!("{base}/orders"))
        .json(&json!({"sku": "tea-01"}))
        .send_json::<Value>()
        .await;
    report("create an order", created);

    // A 4xx is the caller's to fix and is never retried; its fields are named.
    let invalid = client
        .post(format!("{base}/orders"))
        .json(&json!({"sku": ""}))
        .send_json::<Value>()
        .await;
    report("create an order without a SKU", invalid);

    // GET is safe to retry; this one fails with the service's own code.
    let sold_out = client
        .get(format!("{base}/orders/7"))
        .send_json::<Value>()
        .await;
    report("read order 7", sold_out);
}

fn report(what: &str, result: Result<Value, Error>) {
    match result {
        Ok(body) => println!("{what}: {body}"),
        Err(e) => {
            println!("{what}: {e}");
            if let Some(api) = e.api_error() {
                println!("  code {} after {} attempt(s)", api.code(), e.attempts());
                for v in api.violations() {
                    println!("  field {}: {}", v.field(), v.message());
                }
            }
        }
    }
}
