//! Secrets at rest: webhook signing secrets, and stored responses that carry them, are
//! sealed under the operator's key; keys rotate without an endpoint going unverifiable;
//! a wrong or missing key stops the start.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use apierr::Profile;
use apierr_axum::store::Keyring;
use apierr_client::WebhookVerifier;
use apierr_reference::SecretKeys;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::support::{BACKENDS, Backend, Server, TestDatabase, database};
use crate::webhooks::Inbox;

/// A directory of the test's own for key files, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(label: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!(
            "apierr-{label}-{}-{}",
            std::process::id(),
            uuid_like()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    /// A new key file in the directory, and its keyring.
    fn key(&self, name: &str) -> (PathBuf, Keyring) {
        let path = self.0.join(name);
        apierr_reference::generate_key_file(&path).unwrap();
        let key = apierr_reference::read_key_file(&path).unwrap();
        (path, Keyring::new(&key))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A server on `place` with `keys`, delivering to loopback.
async fn serve(backend: Backend, place: &TestDatabase, keys: SecretKeys) -> Server {
    serve_with(backend, place, keys, true).await
}

/// A server that only registers endpoints: no dispatcher. A test's server stops
/// answering when dropped, but a dispatcher it started runs on in the test's runtime;
/// one under a key since rotated away would claim the next server's deliveries, fail to
/// open their secrets, and leave them until its claims lapse.
async fn registrar(backend: Backend, place: &TestDatabase, keys: SecretKeys) -> Server {
    serve_with(backend, place, keys, false).await
}

async fn serve_with(
    backend: Backend,
    place: &TestDatabase,
    keys: SecretKeys,
    deliver: bool,
) -> Server {
    let url = place.url().to_owned();
    Server::start_with(Profile::PROBLEM, backend, move |c| {
        c.database_url = url;
        c.secret_keys = keys;
        c.webhook_allow = vec!["127.0.0.0/8".parse().unwrap()];
        c.webhook_dispatcher = deliver;
    })
    .await
}

/// The error of a start on `place` with `keys`.
async fn start_error(place: &TestDatabase, keys: SecretKeys) -> Option<String> {
    let mut config = apierr_reference::Config::new(place.url());
    config.secret_keys = keys;
    config.webhook_dispatcher = false;
    apierr_reference::app(&config)
        .await
        .err()
        .map(|e| e.to_string())
}

/// `POST /webhooks/endpoints` for `url`, with an `Idempotency-Key` if given: the status,
/// the answer, and whether it was a replay.
async fn register(server: &Server, url: &str, key: Option<&str>) -> (u16, Value, bool) {
    let mut request = server.post_json(
        "/webhooks/endpoints",
        "acme-key",
        &json!({"url": url}).to_string(),
    );
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let replayed = response.headers().contains_key("idempotent-replayed");
    (status, response.json().await.unwrap(), replayed)
}

/// Every byte the database holds, as far as a backup would: the SQLite file and its log,
/// or every row of every table in the PostgreSQL schema as text.
async fn raw_contents(backend: Backend, place: &TestDatabase) -> Vec<u8> {
    match backend {
        Backend::Sqlite => {
            let path = place.url().trim_start_matches("sqlite://").to_owned();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            bytes
        }
        Backend::Postgres => {
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(place.url()).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema()",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            assert!(
                tables.iter().any(|t| t == "apierr_webhook_endpoints"),
                "{tables:?}"
            );
            let mut bytes = Vec::new();
            for table in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT CAST(t AS TEXT) FROM {table} t"))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                for row in rows {
                    bytes.extend(row.into_bytes());
                }
            }
            bytes
        }
    }
}

/// Fails if `bytes` hold `secret`: as text, its key part alone, or in hex (how
/// PostgreSQL prints a `bytea` holding it).
fn assert_absent(bytes: &[u8], secret: &str, what: &str) {
    let key = secret.trim_start_matches("whsec_");
    for needle in [secret.to_owned(), key.to_owned(), hex::encode(secret)] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{what}: {needle} is stored in plain text"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_signing_secret_is_stored_in_plain_text() {
    // Scenario: on each backend, endpoints registered with and without an
    // `Idempotency-Key`, and a rotated secret, leave no secret in the database's bytes;
    // deliveries still verify with the secrets given out, and the keyed registration's
    // replay gives the same secret back.
    for backend in BACKENDS {
        let place = database(backend).await;
        let dir = Dir::new("seal");
        let (_, keyring) = dir.key("current.key");
        let server = serve(backend, &place, SecretKeys::Given(keyring)).await;
        let inbox = Inbox::start().await;
        let (status, plain, _) = register(&server, &inbox.url, None).await;
        assert_eq!(status, 201, "{backend:?}: {plain}");
        let (status, keyed, _) = register(&server, &inbox.url, Some("hook-1")).await;
        assert_eq!(status, 201, "{backend:?}: {keyed}");
        let (status, again, replayed) = register(&server, &inbox.url, Some("hook-1")).await;
        assert_eq!((status, replayed), (201, true), "{backend:?}");
        assert_eq!(again["secret"], keyed["secret"]);
        let rotated = server
            .with_key(
                reqwest::Method::POST,
                &format!(
                    "/webhooks/endpoints/{}/rotate",
                    plain["id"].as_str().unwrap()
                ),
                "acme-key",
            )
            .header("idempotency-key", "rotate-1")
            .send()
            .await
            .unwrap();
        assert_eq!(rotated.status(), 200);
        let rotated: Value = rotated.json().await.unwrap();
        let secrets = [&plain, &keyed, &rotated].map(|v| v["secret"].as_str().unwrap().to_owned());

        let body = json!({"email": "sealed@example.com", "first_name": "S", "last_name": "K"});
        let created = server
            .post_json("/accounts", "acme-key", &body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let got = inbox.wait_for(2, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 2, "{backend:?}");
        for (headers, body) in &got {
            let verified = secrets.iter().any(|s| {
                WebhookVerifier::new(s)
                    .unwrap()
                    .verify(headers, body, SystemTime::now())
                    .is_ok()
            });
            assert!(verified, "{backend:?}: a delivery no secret verifies");
        }
        let bytes = raw_contents(backend, &place).await;
        assert!(!bytes.is_empty());
        for secret in &secrets {
            assert_absent(&bytes, secret, &format!("{backend:?}"));
        }
    }
}

/// `apierr keys rotate` on `url` from `old` to `new`: its output.
fn rotate(url: &str, new: &Path, old: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
        .args(["keys", "rotate", "--database-url", url])
        .arg("--secret-key-file")
        .arg(new)
        .arg("--previous-secret-key-file")
        .arg(old)
        .env_remove("APIERR_SECRET_KEY")
        .output()
        .expect("the apierr binary");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_keeps_every_endpoint_verifiable() {
    // Scenario: on each backend, endpoints and a keyed registration sealed under the old
    // key are sealed again under the new one by `apierr keys rotate`; a server with the
    // new key alone then delivers, signed with the secrets given out before, and replays
    // the stored registration; a server with the old key alone is refused, naming the
    // key it lacks.
    for backend in BACKENDS {
        let place = database(backend).await;
        let dir = Dir::new("rotate");
        let (old_path, old) = dir.key("old.key");
        let (new_path, new) = dir.key("new.key");
        let inbox = Inbox::start().await;
        let secrets = {
            let server = registrar(backend, &place, SecretKeys::Given(old.clone())).await;
            let (_, a, _) = register(&server, &inbox.url, None).await;
            let (_, b, _) = register(&server, &inbox.url, Some("hook-r")).await;
            [a, b].map(|v| v["secret"].as_str().unwrap().to_owned())
        };
        let said = rotate(place.url(), &new_path, &old_path);
        assert_eq!(
            said, "sealed again under the current key: 2 endpoint secrets, 1 stored responses\n",
            "{backend:?}"
        );
        let error = start_error(&place, SecretKeys::Given(old.clone())).await;
        let error = error.expect("the old key alone is refused");
        assert!(error.contains(&new.current_id()), "{backend:?}: {error}");

        let server = serve(backend, &place, SecretKeys::Given(new.clone())).await;
        let (status, again, replayed) = register(&server, &inbox.url, Some("hook-r")).await;
        assert_eq!((status, replayed), (201, true), "{backend:?}");
        assert_eq!(again["secret"].as_str(), Some(secrets[1].as_str()));
        let body = json!({"email": "rotated@example.com", "first_name": "R", "last_name": "K"});
        let created = server
            .post_json("/accounts", "acme-key", &body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let got = inbox.wait_for(2, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 2, "{backend:?}");
        let mut verified = [false, false];
        for (headers, body) in &got {
            for (n, secret) in secrets.iter().enumerate() {
                if WebhookVerifier::new(secret)
                    .unwrap()
                    .verify(headers, body, SystemTime::now())
                    .is_ok()
                {
                    verified[n] = true;
                }
            }
        }
        assert_eq!(verified, [true, true], "{backend:?}");
        // Nothing is left under the old key: running it again changes nothing.
        assert!(
            rotate(place.url(), &new_path, &old_path).contains(": 0 endpoint secrets, 0 stored")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_key_stops_the_start() {
    // Scenario: PostgreSQL without a key is refused with what to do; on each backend, a
    // database sealed under one key is refused under another (naming the key), and
    // under no key at all even with plain text allowed; secrets stored in plain text
    // (allowed) are sealed at the next start with a key.
    let place = database(Backend::Postgres).await;
    let error = start_error(&place, SecretKeys::BesideDatabase)
        .await
        .expect("refused");
    assert!(
        error.contains("--secret-key-file") && error.contains("keys generate"),
        "{error}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            place.url(),
        ])
        .env_remove("APIERR_SECRET_KEY")
        .env_remove("APIERR_SECRET_KEY_FILE")
        .output()
        .expect("the apierr binary");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no key beside it"),
        "{out:?}"
    );

    for backend in BACKENDS {
        let dir = Dir::new("wrong");
        let (_, one) = dir.key("one.key");
        let (_, other) = dir.key("other.key");
        let place = database(backend).await;
        {
            let server = registrar(backend, &place, SecretKeys::Given(one.clone())).await;
            let inbox = Inbox::start().await;
            assert_eq!(register(&server, &inbox.url, None).await.0, 201);
        }
        let error = start_error(&place, SecretKeys::Given(other))
            .await
            .expect("refused");
        assert!(error.contains(&one.current_id()), "{backend:?}: {error}");
        let error = start_error(&place, SecretKeys::Plaintext)
            .await
            .expect("refused");
        assert!(error.contains(&one.current_id()), "{backend:?}: {error}");

        let place = database(backend).await;
        let secret = {
            let server = registrar(backend, &place, SecretKeys::Plaintext).await;
            let inbox = Inbox::start().await;
            let (_, endpoint, _) = register(&server, &inbox.url, None).await;
            endpoint["secret"].as_str().unwrap().to_owned()
        };
        let before = raw_contents(backend, &place).await;
        assert!(
            before.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "plain, as allowed"
        );
        assert_eq!(
            start_error(&place, SecretKeys::Given(one.clone())).await,
            None
        );
        let after = {
            let mut conn = sqlx::AnyConnection::connect(place.url()).await.unwrap();
            let stored: String = sqlx::query_scalar("SELECT secret FROM apierr_webhook_endpoints")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            stored
        };
        assert!(
            after.starts_with(&format!("sealed1.{}.", one.current_id())),
            "{after}"
        );
    }
}
