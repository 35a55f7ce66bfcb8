//! Partner management: `apierr partners …` against a served database, and what the API
//! then accepts.

use std::time::Duration;

use apierr::{Condition, Profile};
use reqwest::Method;
use serde_json::Value;

use crate::support::{BACKENDS, Server, expect_condition};

/// `apierr partners ARGS --database-url URL --json`: its exit status, and its output as
/// JSON (or as text when it is not JSON).
async fn partners(url: &str, args: &[&str]) -> (bool, Value, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"));
    command
        .arg("partners")
        .args(args)
        .args(["--database-url", url, "--json"]);
    let output = tokio::task::spawn_blocking(move || command.output().expect("the apierr binary"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.success(), json, format!("{stdout}{stderr}"))
}

async fn status_with_key(server: &Server, key: &str) -> u16 {
    server
        .with_key(Method::GET, "/accounts", key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The answer of the token endpoint to these client credentials.
async fn sign_in(server: &Server, client_id: &str, secret: &str) -> reqwest::Response {
    server
        .request(Method::POST, "/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
        ))
        .send()
        .await
        .unwrap()
}

async fn token(server: &Server, client_id: &str, secret: &str) -> String {
    let response = sign_in(server, client_id, secret).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v:#}"))
}

#[tokio::test]
async fn a_partner_lives_through_add_rotate_and_revoke_from_the_command_line() {
    // Scenario: on each backend, an operator adds a partner while the server runs; its
    // key and client secret work at once; `list` and `show` never print them; a key
    // rotated with an hour's overlap leaves both keys working until the hour is over; a
    // secret rotated with no overlap ends the old one at once; a read-only partner may
    // not write; revocation stops the key and a token issued before it.
    for backend in BACKENDS {
        let server = Server::start(Profile::PROBLEM, backend).await;
        let url = server.database_url.clone();

        let (ok, added, out) = partners(&url, &["add", "Example Co"]).await;
        assert!(ok, "{backend:?}: {out}");
        let id = text(&added["partner"], "id").to_owned();
        let client_id = text(&added["partner"], "client_id").to_owned();
        let key = text(&added, "api_key").to_owned();
        let secret = text(&added, "client_secret").to_owned();
        assert_eq!(added["partner"]["name"], "Example Co");
        assert!(key.starts_with("ak_") && key.len() > 60, "{key}");
        assert_eq!(status_with_key(&server, &key).await, 200, "{backend:?}");
        let early = token(&server, &client_id, &secret).await;

        let (ok, listed, out) = partners(&url, &["list"]).await;
        assert!(ok, "{out}");
        let listed = listed.as_array().unwrap();
        assert!(listed.iter().any(|p| p["id"] == id.as_str()), "{out}");
        let (ok, shown, out) = partners(&url, &["show", &id]).await;
        assert!(ok, "{out}");
        assert_eq!(shown["client_id"], client_id.as_str());
        for printed in [&out, &listed.iter().map(Value::to_string).collect()] {
            assert!(
                !printed.contains(&key) && !printed.contains(&secret),
                "{printed}"
            );
        }

        let (ok, rotated, out) = partners(&url, &["rotate-key", &id, "--overlap", "1h"]).await;
        assert!(ok, "{out}");
        let new_key = text(&rotated, "api_key").to_owned();
        assert!(rotated.get("client_secret").is_none(), "{out}");
        assert!(
            rotated["partner"]["previous_api_key_until"].is_i64(),
            "{out}"
        );
        assert_eq!(status_with_key(&server, &new_key).await, 200);
        assert_eq!(
            status_with_key(&server, &key).await,
            200,
            "within the overlap"
        );
        server.advance(Duration::from_secs(2 * 60 * 60));
        assert_eq!(status_with_key(&server, &new_key).await, 200);
        expect_condition(
            &server,
            server
                .with_key(Method::GET, "/accounts", &key)
                .send()
                .await
                .unwrap(),
            Condition::InvalidToken,
        )
        .await;

        let (ok, rotated, out) = partners(&url, &["rotate-secret", &id, "--overlap", "0s"]).await;
        assert!(ok, "{out}");
        let new_secret = text(&rotated, "client_secret").to_owned();
        assert_eq!(sign_in(&server, &client_id, &secret).await.status(), 401);
        let late = token(&server, &client_id, &new_secret).await;

        let (ok, reader, out) = partners(&url, &["add", "Reader", "--read-only"]).await;
        assert!(ok, "{out}");
        let reader_key = text(&reader, "api_key");
        assert_eq!(status_with_key(&server, reader_key).await, 200);
        let write = server
            .post_json(
                "/accounts",
                reader_key,
                r#"{"email":"r@example.com","first_name":"R","last_name":"S"}"#,
            )
            .send()
            .await
            .unwrap();
        expect_condition(&server, write, Condition::Forbidden).await;

        let (ok, revoked, out) = partners(&url, &["revoke", &id]).await;
        assert!(ok, "{out}");
        assert_eq!(revoked["revoked"], true);
        for bearer in [&early, &late] {
            let response = server
                .get("/accounts")
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap();
            expect_condition(&server, response, Condition::KeyRevoked).await;
        }
        let response = server
            .with_key(Method::GET, "/accounts", &new_key)
            .send()
            .await
            .unwrap();
        expect_condition(&server, response, Condition::KeyRevoked).await;
        let (ok, _, out) = partners(&url, &["rotate-key", &id]).await;
        assert!(!ok && out.contains("revoked"), "{out}");

        let (ok, _, out) = partners(&url, &["show", "nobody"]).await;
        assert!(
            !ok && out.contains("no partner has the id \"nobody\""),
            "{out}"
        );
        let (ok, _, out) = partners(&url, &["add", "  "]).await;
        assert!(!ok && out.contains("empty"), "{out}");
        let (ok, _, out) = partners(&url, &["rotate-key", &id, "--overlap", "90days"]).await;
        assert!(!ok && out.contains("longer than"), "{out}");
    }
}

#[tokio::test]
async fn credentials_are_stored_only_as_digests() {
    // Scenario: the SQLite file (every page of it, and its write-ahead log) holds no
    // credential that `partners add` and `rotate-key` printed.
    let dir = std::env::temp_dir().join(format!("apierr-partners-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("partners.db");
    let url = format!("sqlite://{}", file.display());
    let (ok, added, out) = partners(&url, &["add", "Digest Co"]).await;
    assert!(ok, "{out}");
    let id = text(&added["partner"], "id").to_owned();
    let (ok, rotated, out) = partners(&url, &["rotate-key", &id]).await;
    assert!(ok, "{out}");
    let printed = [
        text(&added, "api_key"),
        text(&added, "client_secret"),
        text(&rotated, "api_key"),
    ];
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend(std::fs::read(dir.join("partners.db-wal")).unwrap_or_default());
    for credential in printed {
        let needle = credential.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{credential} is in the database file"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
