//! How apierr-client classifies each kind of failure, against the reference server
//! started in this process (SQLite in a temporary file, the `nested` profile, a rate limit
//! of 3 a minute so that the fourth call is refused).
//!
//! `cargo run -p apierr-cli --example classify`

use std::time::Duration;

use apierr::Profile;
use apierr_client::{Client, Error, RetryPolicy};

fn show(what: &str, result: Result<reqwest::Response, Error>) {
    match result {
        Ok(response) => println!("{what:<34} success {}", response.status()),
        Err(e) => {
            let category = e.category().map_or("none", |c| c.as_str());
            let api = e.api_error();
            println!(
                "{what:<34} {category:<13} status={:<4} dialect={:<13} code={:<20} attempts={} stopped={}",
                e.status()
                    .map_or(String::from("-"), |s| s.as_u16().to_string()),
                e.dialect().unwrap_or("-"),
                api.map_or(String::from("-"), |a| a.code().to_string()),
                e.attempts(),
                e.stop_reason(),
            );
            let kinds = [
                ("content", e.is_content()),
                ("auth", e.is_auth()),
                ("rate-limited", e.is_rate_limited()),
                ("server", e.is_server()),
                ("not-sent", e.is_not_sent()),
                ("maybe-processed", e.is_maybe_processed()),
                ("indeterminate", e.is_indeterminate()),
            ];
            let on: Vec<&str> = kinds
                .iter()
                .filter(|(_, on)| *on)
                .map(|(k, _)| *k)
                .collect();
            println!("{:<34} is: {}", "", on.join(", "));
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::temp_dir().join(format!("apierr-classify-{}.db", std::process::id()));
    let mut config = apierr_reference::Config::new(format!("sqlite://{}", file.display()));
    config.profile = Profile::NESTED;
    // It signs in as the demo partner `acme`.
    config.seed_demo = true;
    config.rate_limit = (3, Duration::from_secs(60));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(apierr_reference::run(
        listener,
        config,
        std::future::pending(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let client = Client::new().with_policy(
        RetryPolicy::new()
            .max_attempts(2)
            .base(Duration::from_millis(20))
            .max_retry_after(Duration::from_secs(1)),
    );
    let key = |r: apierr_client::RequestBuilder| r.header("x-api-key", "acme-key");
    show(
        "GET /accounts",
        key(client.get(format!("{base}/accounts"))).send().await,
    );
    show(
        "POST /accounts with a bad body",
        key(client.post(format!("{base}/accounts")))
            .json(&serde_json::json!({"email": "not an email"}))
            .send()
            .await,
    );
    show(
        "GET an account that does not exist",
        key(client.get(format!("{base}/accounts/0123456789abcdef0123456789abcdef")))
            .send()
            .await,
    );
    show(
        "GET /accounts with a wrong key",
        client
            .get(format!("{base}/accounts"))
            .header("x-api-key", "wrong")
            .send()
            .await,
    );
    show(
        "GET /accounts past the rate limit",
        key(client.get(format!("{base}/accounts"))).send().await,
    );
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let nowhere = format!("http://{}/accounts", closed.local_addr()?);
    drop(closed);
    show("GET a closed port", client.get(nowhere).send().await);
    let impatient =
        Client::new().with_policy(RetryPolicy::never().attempt_timeout(Duration::from_micros(1)));
    show(
        "POST with no time to answer",
        key(impatient.post(format!("{base}/accounts")))
            .json(&serde_json::json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "L"}))
            .send()
            .await,
    );
    let _ = std::fs::remove_file(&file);
    // And the key made beside it, which seals webhook secrets.
    let _ = std::fs::remove_file(file.with_extension("db.key"));
    Ok(())
}
