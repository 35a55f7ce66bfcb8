//! Safe retries on the reference server: idempotency keys on POST and PATCH, uniqueness
//! as idempotency, partner rate limits, and the reconciliation log (admin route and
//! `apierr reconcile`), on SQLite, PostgreSQL and Redis.

use std::sync::Arc;
use std::time::Duration;

use apierr::{Condition, Profile};
use reqwest::Method;

use crate::support::{Backend, Server, answer};

const ADMIN: &str = "operator-secret-0123456789abcdef0123";

/// A Redis key prefix of this test's own.
fn redis_prefix() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("apierr_cli_test:{}:{nanos}:{n}:", std::process::id())
}

async fn accounts(server: &Server) -> u64 {
    let r = server
        .with_key(Method::GET, "/accounts", "acme-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// 50 concurrent creations with one key: one account, every answer the first's or 409.
async fn fifty_creations_with_one_key_create_one_account(server: Server) {
    let server = Arc::new(server);
    let body = r#"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace"}"#;
    let requests = (0..50).map(|_| {
        let server = server.clone();
        tokio::spawn(async move {
            let r = server
                .post_json("/accounts", "acme-key", body)
                .header("idempotency-key", "create-ada")
                .send()
                .await
                .unwrap();
            let replayed = r.headers().contains_key("idempotent-replayed");
            (r.status().as_u16(), replayed, r.text().await.unwrap())
        })
    });
    let mut created = Vec::new();
    let mut replays = Vec::new();
    for request in requests {
        match request.await.unwrap() {
            (201, false, body) => created.push(body),
            (201, true, body) => replays.push(body),
            (409, _, _) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one request ran");
    assert!(replays.iter().all(|r| *r == created[0]));
    assert_eq!(accounts(&server).await, 1);
    // A later retry is the replay, whatever happened to the first answer.
    let r = server
        .post_json("/accounts", "acme-key", body)
        .header("idempotency-key", "create-ada")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(r.text().await.unwrap(), created[0]);
    // Another payload under the key is refused; the key is the partner's own.
    let other = r#"{"email":"bob@example.com","first_name":"Bob","last_name":"B"}"#;
    let r = server
        .post_json("/accounts", "acme-key", other)
        .header("idempotency-key", "create-ada")
        .send()
        .await
        .unwrap();
    let a = answer(&server, r).await;
    assert_eq!(a.status, 422);
    assert_eq!(
        a.error.code(),
        server
            .profile
            .adopt(Condition::IdempotencyKeyReused.into())
            .code()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_creation_on_sqlite() {
    fifty_creations_with_one_key_create_one_account(
        Server::start(Profile::PROBLEM, Backend::Sqlite).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_creation_on_postgres() {
    fifty_creations_with_one_key_create_one_account(
        Server::start(Profile::ERRORS_ARRAY, Backend::Postgres).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_creation_on_redis() {
    let server = Server::start_with(Profile::NESTED, Backend::Sqlite, |c| {
        c.redis_url = Some("redis://127.0.0.1:6379".into());
        c.redis_prefix = redis_prefix();
    })
    .await;
    fifty_creations_with_one_key_create_one_account(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_email_makes_a_keyless_retry_safe() {
    // Seed 001: a POST is safe to retry when something makes it idempotent. Without a
    // key, the unique email does: the retry is "already exists", never a second account.
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let server = Server::start(Profile::PROBLEM, backend).await;
        let body = r#"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace"}"#;
        let first = server
            .post_json("/accounts", "acme-key", body)
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 201);
        let retry = server
            .post_json("/accounts", "acme-key", body)
            .send()
            .await
            .unwrap();
        let a = answer(&server, retry).await;
        assert_eq!(a.status, 409);
        assert_eq!(
            a.error.code(),
            server.profile.adopt(Condition::AlreadyExists.into()).code()
        );
        assert_eq!(accounts(&server).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_key_is_refused_when_missing_or_malformed() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        required_key(backend).await;
    }
}

async fn required_key(backend: Backend) {
    let server = Server::start_with(Profile::SPECIFIC_CODE, backend, |c| {
        c.require_idempotency_key = true;
    })
    .await;
    let body = r#"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace"}"#;
    let a = answer(
        &server,
        server
            .post_json("/accounts", "acme-key", body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.error.code(),
        server
            .profile
            .adopt(Condition::IdempotencyKeyMissing.into())
            .code()
    );
    let long = "k".repeat(256);
    let r = server
        .post_json("/accounts", "acme-key", body)
        .header("idempotency-key", long)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(&server, r).await.status, 400);
    assert_eq!(accounts(&server).await, 0);
    // Reads need no key.
    let r = server
        .with_key(Method::GET, "/accounts", "acme-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_partner_has_a_rate_limit_shown_in_its_headers() {
    for (redis, backend) in [
        (false, Backend::Sqlite),
        (false, Backend::Postgres),
        (true, Backend::Sqlite),
        (true, Backend::Postgres),
    ] {
        let server = Server::start_with(Profile::ERRORS_ARRAY, backend, |c| {
            c.rate_limit = (2, Duration::from_secs(60));
            if redis {
                c.redis_url = Some("redis://127.0.0.1:6379".into());
                c.redis_prefix = redis_prefix();
            }
        })
        .await;
        let r = server
            .with_key(Method::GET, "/accounts", "acme-key")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["ratelimit-policy"], "\"partner\";q=2;w=60");
        assert_eq!(r.headers()["ratelimit"], "\"partner\";r=1;t=30");
        let r = server
            .with_key(Method::GET, "/accounts", "acme-key")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let a = answer(
            &server,
            server
                .with_key(Method::GET, "/accounts", "acme-key")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(a.status, 429, "redis: {redis}");
        assert_eq!(
            a.error.code(),
            server.profile.adopt(Condition::RateLimited.into()).code()
        );
        let wait: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((29..=30).contains(&wait), "{wait}");
        assert_eq!(a.headers["ratelimit"], "\"partner\";r=0;t=60");
        // Another partner is limited apart.
        let r = server
            .with_key(Method::GET, "/accounts", "viewer-key")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // After the wait, a request goes through again.
        server.advance(Duration::from_secs(wait));
        let r = server
            .with_key(Method::GET, "/accounts", "acme-key")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "redis: {redis}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_mutations_are_listed_for_reconciliation() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let place = crate::support::database(backend).await;
        let database = place.url().to_owned();
        let url = database.clone();
        let server = Server::start_with(Profile::PROBLEM, backend, move |c| {
            c.database_url = url;
            c.admin_token = Some(ADMIN.into());
        })
        .await;
        // The accounts table goes missing under the server: creating one is a 5xx.
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&database)
            .await
            .unwrap();
        sqlx::query("ALTER TABLE accounts RENAME TO accounts_gone")
            .execute(&mut conn)
            .await
            .unwrap();
        let body = r#"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace"}"#;
        let r = server
            .post_json("/accounts?via=test", "acme-key", body)
            .header("idempotency-key", "create-ada")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        let admin = |token: &'static str| {
            server
                .get("/admin/reconciliation?since=1h")
                .header("authorization", format!("Bearer {token}"))
        };
        // Written before the answer left: there at once.
        let r = admin(ADMIN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let listed: serde_json::Value = r.json().await.unwrap();
        let entry = &listed["entries"][0];
        assert_eq!(entry["request_id"], request_id.as_str(), "{listed}");
        assert_eq!(entry["method"], "POST");
        assert_eq!(entry["route"], "/accounts?via=test");
        assert_eq!(entry["idempotency_key"], "create-ada");
        assert_eq!(entry["outcome"], "server_error");
        assert_eq!(entry["status"], 500);
        assert_eq!(entry["acknowledged_at"], serde_json::Value::Null);
        assert!(entry["caller"].as_str().is_some_and(|c| !c.is_empty()));
        // Bad paging is a clear 400, never a 5xx.
        for query in ["since=soon", "limit=0", "limit=5000", "after=x"] {
            let r = server
                .get(&format!("/admin/reconciliation?{query}"))
                .header("authorization", format!("Bearer {ADMIN}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{query}");
        }
        // Operators only.
        assert_eq!(admin("wrong").send().await.unwrap().status(), 401);
        assert_eq!(
            server
                .get("/admin/reconciliation")
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
        // The same from the command line, as JSON lines and as a table.
        let hour = apierr_reference::Selection::Since(Duration::from_secs(3600));
        let lines = apierr_reference::reconcile_report(&database, hour, true)
            .await
            .unwrap();
        let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
        assert_eq!(first["request_id"], request_id.as_str());
        let table = apierr_reference::reconcile_report(&database, hour, false)
            .await
            .unwrap();
        assert!(table.starts_with("SEQ\tAT\tSTATUS"), "{table}");
        assert!(table.contains(&request_id), "{table}");
        // A work queue: acknowledged by the binary, it leaves the open entries, once.
        let seq = entry["seq"].to_string();
        let reconcile = |args: &[&str]| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
                .arg("reconcile")
                .args(args)
                .args(["--database-url", &database])
                .output()
                .expect("the apierr binary");
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        assert!(reconcile(&["--open", "--json"]).contains(&request_id));
        assert_eq!(reconcile(&["ack", &seq]), format!("{seq}\tacknowledged\n"));
        assert_eq!(reconcile(&["--open", "--json"]), "");
        assert!(reconcile(&["ack", &seq]).contains("not open"));
        let history = reconcile(&["--since", "1h", "--json"]);
        let first: serde_json::Value =
            serde_json::from_str(history.lines().next().unwrap()).unwrap();
        assert!(first["acknowledged_at"].is_string(), "{history}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_there_is_no_admin_route() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let server = Server::start(Profile::PROBLEM, backend).await;
        let r = server
            .get("/admin/reconciliation")
            .header("authorization", "Bearer anything")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
}
