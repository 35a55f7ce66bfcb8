//! Records that must outlive the moment: the reconciliation entry of a 5xx, written
//! before the answer leaves; the idempotency record of a request whose client hung up.

use std::time::Duration;

use apierr::Profile;
use sqlx::Connection;
use tokio::io::AsyncWriteExt;

use crate::support::{
    BACKENDS, Backend, Hold, Server, acme_status_once_up, connect, database, free_address,
};

async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = connect(url).await;
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_is_in_the_log_even_when_the_process_is_killed_right_after_answering() {
    // Scenario: on each backend, `apierr serve` answers a mutation with a 500 (its table
    // went missing) and is killed with SIGKILL the moment the answer arrives; the
    // reconciliation log in the database still has the request.
    for backend in BACKENDS {
        let place = database(backend).await;
        let url = place.url().to_owned();
        let listen = free_address();
        let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
            .args(["serve", "--demo", "--no-webhook-dispatcher"])
            .args(["--listen", &listen, "--database-url", &url])
            .env("RUST_LOG", "error")
            .env("APIERR_SECRET_KEY", crate::support::TEST_KEY)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the apierr binary");
        assert_eq!(acme_status_once_up(&listen, &mut serve).await, 200);
        let mut conn = connect(&url).await;
        sqlx::query("ALTER TABLE accounts RENAME TO accounts_gone")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let response = reqwest::Client::new()
            .post(format!("http://{listen}/accounts"))
            .header("x-api-key", "acme-key")
            .header("content-type", "application/json")
            .body(r#"{"email":"k@example.com","first_name":"K","last_name":"L"}"#)
            .send()
            .await
            .unwrap();
        // SIGKILL: no drain, no task finishes after this.
        serve.kill().unwrap();
        serve.wait().unwrap();
        assert_eq!(response.status(), 500, "{backend:?}");
        let request_id = response.headers()["x-request-id"].to_str().unwrap();
        let logged = count(
            &url,
            &format!(
                "SELECT COUNT(*) FROM apierr_reconciliation WHERE request_id = '{request_id}'"
            ),
        )
        .await;
        assert_eq!(logged, 1, "{backend:?}: the entry of {request_id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_mid_request_gets_the_stored_answer_on_retry() {
    // Scenario: on each backend, a keyed `POST /accounts` is held at its insert; the
    // client closes the connection and goes; the insert then goes through. The retry
    // with the same key is a replay (`Idempotent-Replayed: true`) of the 201, and one
    // account exists: the request ran to its end and stored its answer, rather than
    // releasing the key for the retry to create the account again.
    for backend in BACKENDS {
        let redis = apierr_testkit::TestRedis::new("durable").await;
        let server = Server::start_with(Profile::PROBLEM, backend, |c| {
            if backend == Backend::Sqlite {
                c.redis_url = Some(redis.url().to_owned());
                c.redis_prefix = redis.prefix().to_owned();
            }
        })
        .await;
        let url = server.database_url.clone();
        let body = r#"{"email":"hang@example.com","first_name":"H","last_name":"U"}"#;
        let hold = Hold::take(backend, &url).await;
        let address = server.base.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let request = format!(
            "POST /accounts HTTP/1.1\r\nhost: {address}\r\nx-api-key: acme-key\r\n\
             idempotency-key: hang-1\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        // The request reaches its insert and waits; the client hangs up.
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(stream);
        tokio::time::sleep(Duration::from_millis(300)).await;
        hold.release().await;
        let mut replayed = None;
        for _ in 0..100 {
            let r = server
                .post_json("/accounts", "acme-key", body)
                .header("idempotency-key", "hang-1")
                .send()
                .await
                .unwrap();
            if r.status() == 409 {
                // Still running: in flight.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            replayed = Some((
                r.status().as_u16(),
                r.headers()
                    .get("idempotent-replayed")
                    .map(|v| v.to_str().unwrap().to_owned()),
            ));
            break;
        }
        assert_eq!(
            replayed,
            Some((201, Some("true".to_owned()))),
            "{backend:?}: the retry"
        );
        let accounts = count(
            &url,
            "SELECT COUNT(*) FROM accounts WHERE email = 'hang@example.com'",
        )
        .await;
        assert_eq!(accounts, 1, "{backend:?}");
    }
}
