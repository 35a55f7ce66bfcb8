//! A webhook sender and a receiver that verifies, in one program: the sender writes an
//! event to its outbox in the transaction of its change, the dispatcher delivers it
//! signed (Standard Webhooks), and the receiver checks the signature with
//! `apierr_client::WebhookVerifier` before it believes a byte.
//!
//! ```sh
//! cargo run -p apierr-webhooks --example send_and_verify
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use apierr_client::WebhookVerifier;
use apierr_webhooks::{AddressPolicy, Dispatcher, Outbox, Schedule, Secret, Subscription};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// The receiver's state: the partner's verifier, and the payloads it accepted.
type Inbox = (Arc<WebhookVerifier>, Arc<Mutex<Vec<String>>>);

/// The receiver: 204 for a signed delivery, 401 for anything else.
async fn receive(
    State((verifier, got)): State<Inbox>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    match verifier.verify(&headers, &body, SystemTime::now()) {
        Ok(()) => {
            got.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            StatusCode::NO_CONTENT
        }
        Err(e) => {
            eprintln!("receiver: refused: {e}");
            StatusCode::UNAUTHORIZED
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The sender's database, here a scratch SQLite file.
    let file = std::env::temp_dir().join(format!("apierr-example-{}.db", std::process::id()));
    let outbox = Outbox::connect(&format!("sqlite://{}", file.display())).await?;

    // The partner registers an endpoint and keeps the secret it is shown once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    // Loopback is outside the public internet: allowed here, for this example only.
    let policy = AddressPolicy::new().allow("127.0.0.0/8".parse()?);
    let secret = Secret::generate();
    let endpoint = policy.check_url(&url)?;
    outbox
        .register(
            "acme",
            endpoint.as_str(),
            &secret,
            &Schedule::default(),
            &Subscription::All,
            SystemTime::now(),
        )
        .await?;
    let verifier = Arc::new(WebhookVerifier::new(secret.expose())?);
    let got = Arc::new(Mutex::new(Vec::new()));
    let receiver = axum::Router::new()
        .route("/hooks", post(receive))
        .with_state((verifier, got.clone()));
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    // The application's change and its event commit together, or neither does.
    let mut tx = outbox.pool().begin().await?;
    let data = serde_json::json!({"id": "acc_1", "email": "ada@example.com"});
    let id = outbox
        .enqueue(&mut tx, "acme", "account.created", &data, SystemTime::now())
        .await?;
    tx.commit().await?;

    let dispatcher = Dispatcher::builder(outbox).policy(policy).build()?;
    for _ in 0..50 {
        dispatcher.tick(SystemTime::now()).await?;
        if !got.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::fs::remove_file(&file);
    let got = got.lock().unwrap();
    println!(
        "sent {id}; the receiver verified {} delivery: {:?}",
        got.len(),
        got.first()
    );
    if got.is_empty() {
        return Err("the receiver got nothing".into());
    }
    Ok(())
}
