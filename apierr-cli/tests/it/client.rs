//! apierr-client against the reference server through a proxy that injects faults: the
//! answer lost after the server acted, the request lost before it, a 503 from the proxy,
//! an answer too slow for the attempt. A keyed POST creates exactly one account under
//! every fault, on SQLite and PostgreSQL; a key-less one is never sent twice.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use apierr::Profile;
use apierr_client::{Client, RetryPolicy, StopReason};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Backend, Server};

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Forward the request, then drop the answer: the server acted, the client never hears.
    LoseAnswer,
    /// Drop the request before forwarding it.
    LoseRequest,
    /// Answer 503 without forwarding.
    Unavailable,
    /// Forward, then hold the answer longer than the client's attempt timeout.
    Slow,
}

/// Reads one HTTP/1.1 message (head and `Content-Length` body); `None` at end of stream.
async fn read_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut message = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = message.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        message.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&message[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while message.len() < head_end + length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        message.extend_from_slice(&buf[..n]);
    }
    Some(message)
}

/// A proxy to `upstream` that applies `fault` to the first `count` requests.
async fn proxy(upstream: SocketAddr, fault: Fault, count: u32) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let left = Arc::new(AtomicU32::new(count));
    let seen = Arc::new(AtomicU32::new(0));
    let (left2, seen2) = (left.clone(), seen.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let (left, seen) = (left2.clone(), seen2.clone());
            tokio::spawn(async move {
                while let Some(request) = read_message(&mut client).await {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let faulty = left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if faulty && matches!(fault, Fault::LoseRequest) {
                        return;
                    }
                    if faulty && matches!(fault, Fault::Unavailable) {
                        let answer =
                            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";
                        if client.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    if server.write_all(&request).await.is_err() {
                        return;
                    }
                    let Some(answer) = read_message(&mut server).await else {
                        return;
                    };
                    match (faulty, fault) {
                        (true, Fault::LoseAnswer) => return,
                        (true, Fault::Slow) => tokio::time::sleep(Duration::from_secs(2)).await,
                        _ => {}
                    }
                    if client.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, seen)
}

fn upstream(server: &Server) -> SocketAddr {
    server.base.trim_start_matches("http://").parse().unwrap()
}

fn policy() -> RetryPolicy {
    RetryPolicy::new()
        .base(Duration::from_millis(10))
        .max_attempts(4)
        .attempt_timeout(Duration::from_millis(500))
}

async fn accounts(server: &Server) -> u64 {
    let r = server
        .with_key(Method::GET, "/accounts", "acme-key")
        .send()
        .await
        .unwrap();
    r.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

const ADA: &str = r#"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_post_creates_one_account_under_every_fault() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for fault in [
            Fault::LoseAnswer,
            Fault::LoseRequest,
            Fault::Unavailable,
            Fault::Slow,
        ] {
            let server = Server::start(Profile::PROBLEM, backend).await;
            let (base, seen) = proxy(upstream(&server), fault, 2).await;
            let client = Client::new().with_policy(policy());
            let r = client
                .post(format!("{base}/accounts"))
                .header("x-api-key", "acme-key")
                .header("content-type", "application/json")
                .body(ADA)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{backend:?} {fault:?}: {e}"));
            assert_eq!(r.status(), 201, "{backend:?} {fault:?}");
            assert_eq!(seen.load(Ordering::SeqCst), 3, "{backend:?} {fault:?}");
            assert_eq!(accounts(&server).await, 1, "{backend:?} {fault:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyless_post_whose_answer_was_lost_is_not_sent_again() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let server = Server::start(Profile::PROBLEM, backend).await;
        let (base, seen) = proxy(upstream(&server), Fault::LoseAnswer, 1).await;
        let client = Client::new().with_policy(policy().generate_idempotency_keys(false));
        let e = client
            .post(format!("{base}/accounts"))
            .header("x-api-key", "acme-key")
            .header("content-type", "application/json")
            .body(ADA)
            .send()
            .await
            .unwrap_err();
        assert!(e.is_maybe_processed(), "{e:?}");
        assert_eq!(
            (e.attempts(), e.stop_reason()),
            (1, StopReason::NotRetryable)
        );
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        // It did happen: the partner reconciles by reading, or retries marked idempotent
        // (the email is unique) and is told it exists.
        assert_eq!(accounts(&server).await, 1);
        let e = client
            .post(format!("{base}/accounts"))
            .header("x-api-key", "acme-key")
            .header("content-type", "application/json")
            .body(ADA)
            .idempotent()
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.status().map(|s| s.as_u16()), Some(409));
        assert!(e.is_content());
        assert_eq!(accounts(&server).await, 1);
    }
}

fn call(
    method: Method,
    url: String,
    headers: &[&str],
    data: Option<&str>,
) -> apierr_cli::CallRequest {
    apierr_cli::CallRequest {
        method,
        url,
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        data: data.map(str::to_owned),
        idempotency_key: None,
        max_attempts: 4,
        deadline: Some(Duration::from_secs(20)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apierr_call_tells_every_attempt_and_the_parsed_error() {
    for (backend, profile, dialect) in [
        (Backend::Sqlite, Profile::NESTED, "nested"),
        (Backend::Postgres, Profile::ERRORS_ARRAY, "errors-array"),
    ] {
        let server = Server::start(profile.clone(), backend).await;
        // A success after two lost answers: three attempts, each told.
        let (base, _) = proxy(upstream(&server), Fault::LoseAnswer, 2).await;
        let report = apierr_cli::call(call(
            Method::POST,
            format!("{base}/accounts"),
            &["X-Api-Key: acme-key"],
            Some(ADA),
        ))
        .await;
        assert_eq!(report.exit_code(), 0);
        let json = report.to_json();
        assert_eq!(json["status"], 201, "{json}");
        let attempts = json["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 3, "{json}");
        assert_eq!(attempts[0]["network"], "maybe-processed");
        assert!(attempts[0]["retry_in_ms"].is_u64());
        assert_eq!(attempts[2]["status"], 201);
        assert!(
            report
                .to_text()
                .contains("attempt 1: no answer (maybe processed) -> retry in")
        );
        assert_eq!(accounts(&server).await, 1);
        // A content error, parsed: dialect, code, violations; exit code 2.
        let report = apierr_cli::call(call(
            Method::POST,
            format!("{}/accounts", server.base),
            &["X-Api-Key: acme-key"],
            Some("{}"),
        ))
        .await;
        assert_eq!(report.exit_code(), 2);
        let error = &report.to_json()["error"];
        assert_eq!(error["category"], "content", "{error}");
        assert_eq!(error["dialect"], dialect, "{error}");
        assert_eq!(error["stopped"], "not-retryable");
        assert!(
            !error["violations"].as_array().unwrap().is_empty(),
            "{error}"
        );
        assert!(error["request_id"].is_string(), "{error}");
        // Auth: exit code 3.
        let report = apierr_cli::call(call(
            Method::GET,
            format!("{}/accounts", server.base),
            &[],
            None,
        ))
        .await;
        assert_eq!(report.exit_code(), 3, "{}", report.to_text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dialect_is_read_back_as_the_server_rendered_it() {
    // Scenario: for every profile, errors the reference server answers (validation with
    // several violations, not found, unauthenticated, already exists) are parsed, by the
    // client and by the bare parser, into the error the server rendered: rendering the
    // parsed error in the profile again gives the very bytes that were sent.
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for profile in Profile::ALL {
            let server = Server::start(profile.clone(), backend).await;
            let created = server
                .post_json("/accounts", "acme-key", ADA)
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), 201);
            let provoked: [(Method, &str, Option<&str>, Option<&str>); 4] = [
                (
                    Method::POST,
                    "/accounts",
                    Some("acme-key"),
                    Some(r#"{"email":"x","first_name":7}"#),
                ),
                (
                    Method::GET,
                    "/accounts/0123456789abcdef0123456789abcdef",
                    Some("acme-key"),
                    None,
                ),
                (Method::GET, "/accounts", None, None),
                (Method::POST, "/accounts", Some("acme-key"), Some(ADA)),
            ];
            let client =
                Client::new().with_policy(RetryPolicy::never().generate_idempotency_keys(false));
            for (method, path, key, body) in provoked {
                let raw = |http: &reqwest::Client| {
                    let mut r = http.request(method.clone(), format!("{}{path}", server.base));
                    if let Some(key) = key {
                        r = r.header("x-api-key", key);
                    }
                    if let Some(body) = body {
                        r = r.header("content-type", "application/json").body(body);
                    }
                    r
                };
                let r = raw(&server.client).send().await.unwrap();
                let (status, headers) = (r.status(), r.headers().clone());
                let sent = r.bytes().await.unwrap();
                let parsed = apierr::parse_any(status, &headers, &sent);
                let rerendered = profile.render(&parsed);
                assert_eq!(
                    String::from_utf8_lossy(&rerendered.body),
                    String::from_utf8_lossy(&sent),
                    "{} on {backend:?}",
                    profile.name()
                );
                assert_eq!(rerendered.status, status);
                // The client reads the same error: status, code, message, violations.
                let mut request = client.request(method.clone(), format!("{}{path}", server.base));
                if let Some(key) = key {
                    request = request.header("x-api-key", key);
                }
                if let Some(body) = body {
                    request = request
                        .header("content-type", "application/json")
                        .body(body);
                }
                let e = request.send().await.unwrap_err();
                let got = e.api_error().unwrap();
                assert_eq!(got.status(), parsed.status());
                assert_eq!(got.code(), parsed.code(), "{}", profile.name());
                assert_eq!(got.message(), parsed.message(), "{}", profile.name());
                assert_eq!(got.violations(), parsed.violations(), "{}", profile.name());
                assert!(e.dialect().is_some(), "{}: {e}", profile.name());
            }
        }
    }
}
