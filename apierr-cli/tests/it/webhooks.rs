//! Webhooks through the reference server and the `apierr` binary, on SQLite and
//! PostgreSQL: events written with the change that causes them, delivered signed to a
//! real receiver, unsafe endpoints refused, reports the partner can read, replay, and a
//! worker process killed mid-run losing nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use apierr::Profile;
use apierr_client::WebhookVerifier;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::support::{BACKENDS, Backend, Server, database};

/// A receiver on 127.0.0.1:0 that keeps every request and answers with a status the test
/// can change.
#[derive(Clone)]
pub(crate) struct Inbox {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    status: Arc<AtomicU16>,
    /// Milliseconds each answer waits.
    delay: Arc<AtomicU64>,
}

impl Inbox {
    pub(crate) async fn start() -> Inbox {
        let got = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let delay = Arc::new(AtomicU64::new(0));
        let (g, s, d) = (got.clone(), status.clone(), delay.clone());
        let app = axum::Router::new().route(
            "/in",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (g, s, d) = (g.clone(), s.clone(), d.clone());
                async move {
                    g.lock().unwrap().push((headers, body));
                    let wait = d.load(Ordering::SeqCst);
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                    StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/in", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Inbox {
            url,
            got,
            status,
            delay,
        }
    }

    pub(crate) fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub(crate) fn received(&self) -> Vec<(HeaderMap, Bytes)> {
        self.got.lock().unwrap().clone()
    }

    pub(crate) async fn wait_for(&self, n: usize, limit: Duration) -> Vec<(HeaderMap, Bytes)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let got = self.received();
            if got.len() >= n || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A server that may deliver to loopback, as a test's receivers are there.
async fn server(backend: Backend, database_url: &Arc<Mutex<String>>) -> Server {
    let keep = database_url.clone();
    Server::start_with(Profile::PROBLEM, backend, move |config| {
        config.webhook_allow = vec!["127.0.0.0/8".parse().unwrap()];
        config.webhook_dispatcher = true;
        *keep.lock().unwrap() = config.database_url.clone();
    })
    .await
}

/// `POST path` with a JSON body as `acme`: the status and the JSON answer (null if none).
async fn post(server: &Server, path: &str, body: Value) -> (u16, Value) {
    let response = server
        .post_json(path, "acme-key", &body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET path` with `key`: the status and the JSON answer (null if none).
async fn get(server: &Server, path: &str, key: &str) -> (u16, Value) {
    let response = server
        .with_key(reqwest::Method::GET, path, key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn register(server: &Server, body: Value) -> (u16, Value) {
    post(server, "/webhooks/endpoints", body).await
}

/// A new account of `acme` with this email.
async fn create_account(server: &Server, email: &str) -> (u16, Value) {
    let body = serde_json::json!({"email": email, "first_name": "Ada", "last_name": "Lovelace"});
    post(server, "/accounts", body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_and_child_creation_are_delivered_signed_to_the_partners_endpoint() {
    // Register an endpoint, create an account and a child: both events arrive, signed
    // with the secret the registration returned, carrying the records.
    for backend in BACKENDS {
        let url = Arc::new(Mutex::new(String::new()));
        let server = server(backend, &url).await;
        let inbox = Inbox::start().await;
        let (status, endpoint) = register(&server, serde_json::json!({"url": inbox.url})).await;
        assert_eq!(status, 201, "{backend:?}: {endpoint}");
        let secret = endpoint["secret"].as_str().unwrap().to_owned();
        assert_eq!(endpoint["state"], "active");
        assert_eq!(endpoint["retry_schedule"], serde_json::json!([5, 15, 40]));

        let (status, account) = create_account(&server, "hooks@example.com").await;
        assert_eq!(status, 201);
        let id = account["id"].as_str().unwrap();
        let child = serde_json::json!({"first_name": "Byron", "birth_year": 2015});
        let (status, _) = post(&server, &format!("/accounts/{id}/children"), child).await;
        assert_eq!(status, 201);
        let got = inbox.wait_for(2, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 2, "{backend:?}");
        let verifier = WebhookVerifier::new(&secret).unwrap();
        let mut types = Vec::new();
        for (headers, body) in &got {
            verifier.verify(headers, body, SystemTime::now()).unwrap();
            let event: Value = serde_json::from_slice(body).unwrap();
            types.push(event["type"].as_str().unwrap().to_owned());
            match event["type"].as_str().unwrap() {
                "account.created" => assert_eq!(event["data"]["id"], id),
                _ => assert_eq!(event["data"]["account_id"], id),
            }
        }
        types.sort();
        assert_eq!(types, ["account.created", "child.created"]);
        // A failed creation (the email is taken) announces nothing.
        let (status, _) = create_account(&server, "hooks@example.com").await;
        assert_eq!(status, 409);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(inbox.received().len(), 2);
    }
}

#[tokio::test]
async fn unsafe_endpoint_urls_are_refused_when_registered() {
    // Private, loopback and metadata addresses (no allow-list), credentials, other
    // schemes and fragments are 400 naming the url; a public host name is accepted.
    let server = Server::start(Profile::PROBLEM, Backend::Sqlite).await;
    for url in [
        "http://127.0.0.1:9/in",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/hooks",
        "http://[::1]/hooks",
        "http://user:secret@hooks.example.com/in",
        "ftp://hooks.example.com/in",
        "https://hooks.example.com/in#frag",
        "https://hooks.example.com:0/in",
        "https://hooks.example.com:65536/in",
        "http://[64:ff9b:1::a00:1]/in",
        "http://192.88.99.1/in",
        "not a url",
    ] {
        let (status, body) = register(&server, serde_json::json!({"url": url})).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
    }
    let (status, body) = register(
        &server,
        serde_json::json!({"url": "https://hooks.example.com/in?team=7", "retry_schedule": [30, 2, 2]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["retry_schedule"], serde_json::json!([2, 30]));
    assert!(body["secret"].as_str().unwrap().starts_with("whsec_"));
    // Any port, and international names, kept in their punycode form.
    for (url, kept) in [
        (
            "https://hooks.example.com:10000/in",
            "https://hooks.example.com:10000/in",
        ),
        (
            "https://hooks.example.com:65535/in",
            "https://hooks.example.com:65535/in",
        ),
        (
            "https://bücher.example/in",
            "https://xn--bcher-kva.example/in",
        ),
        (
            "https://xn--bcher-kva.example/in",
            "https://xn--bcher-kva.example/in",
        ),
    ] {
        let (status, body) = register(&server, serde_json::json!({"url": url})).await;
        assert_eq!(status, 201, "{url}: {body}");
        assert_eq!(body["url"], kept, "{url}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_read_their_own_failure_reports_and_replay_what_failed() {
    // An endpoint that answers 500 with one retry after a second: the message fails, its
    // partner reads a report with both attempts (no operator details), another partner
    // cannot, the CLI prints it; once the endpoint answers 200, `apierr webhooks replay`
    // and then the partner's replay each deliver the same message id again.
    for backend in BACKENDS {
        let url = Arc::new(Mutex::new(String::new()));
        let server = server(backend, &url).await;
        let inbox = Inbox::start().await;
        inbox.answer(500);
        let (status, endpoint) = register(
            &server,
            serde_json::json!({"url": inbox.url, "retry_schedule": [1]}),
        )
        .await;
        assert_eq!(status, 201);
        let (status, _) = create_account(&server, "fails@example.com").await;
        assert_eq!(status, 201);
        let got = inbox.wait_for(2, Duration::from_secs(15)).await;
        assert_eq!(got.len(), 2, "{backend:?}");
        let mut reports = Value::Null;
        for _ in 0..100 {
            (_, reports) = get(&server, "/webhooks/reports", "acme-key").await;
            if reports.as_array().is_some_and(|r| !r.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let report = &reports[0];
        assert_eq!(report["kind"], "message_failed", "{reports}");
        assert_eq!(report["endpoint_id"], endpoint["id"]);
        assert_eq!(report["attempts"].as_array().unwrap().len(), 2);
        assert_eq!(report["attempts"][0]["status"], 500);
        assert!(report.get("owner").is_none());
        assert!(report["attempts"][0].get("detail").is_none());
        let message = report["message_id"].as_str().unwrap().to_owned();
        assert_eq!(got[0].0["webhook-id"], message.as_str());

        let path = format!("/webhooks/reports/{}", report["id"].as_str().unwrap());
        let (status, own) = get(&server, &path, "acme-key").await;
        assert_eq!(status, 200);
        assert_eq!(&own, report);
        assert_eq!(get(&server, &path, "viewer-key").await.0, 404);
        let (status, theirs) = get(&server, "/webhooks/reports", "viewer-key").await;
        assert_eq!((status, theirs), (200, serde_json::json!([])));

        let database = url.lock().unwrap().clone();
        let printed = apierr_reference::webhook_report(
            &database,
            Duration::from_secs(3600),
            None,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(printed.contains(&message), "{printed}");
        assert!(printed.contains("status 500"), "{printed}");
        let lines = apierr_reference::webhook_report(
            &database,
            Duration::from_secs(3600),
            None,
            true,
            false,
        )
        .await
        .unwrap();
        let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
        assert_eq!(first["message_id"], message.as_str());

        inbox.answer(200);
        // `apierr webhooks replay --state failed`, then the partner's own replay by id.
        let filter = apierr_webhooks::Replay {
            state: Some(apierr_webhooks::DeliveryState::Failed),
            ..apierr_webhooks::Replay::default()
        };
        assert_eq!(
            apierr_reference::webhook_replay(&database, &filter)
                .await
                .unwrap(),
            1
        );
        let got = inbox.wait_for(3, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 3, "{backend:?}");
        assert_eq!(got[2].0["webhook-id"], message.as_str());
        let mut delivered = false;
        for _ in 0..100 {
            let state = apierr_webhooks::Outbox::connect(&database)
                .await
                .unwrap()
                .deliveries(&message)
                .await
                .unwrap()[0]
                .state;
            if state == apierr_webhooks::DeliveryState::Delivered {
                delivered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(delivered, "{backend:?}");
        let by_id = serde_json::json!({"message_id": message});
        let (status, replayed) = post(&server, "/webhooks/replay", by_id).await;
        assert_eq!(
            (status, &replayed["replayed"]),
            (200, &serde_json::json!(1))
        );
        let got = inbox.wait_for(4, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 4);
        assert_eq!(got[3].0["webhook-id"], message.as_str());
        assert_eq!(got[3].1, got[0].1, "the same message, byte for byte");
    }
}

/// Starts `apierr webhooks worker` on `database`, allowed to reach loopback, with a short
/// lease so a dead worker's claims lapse quickly.
fn worker(database: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
        .env("APIERR_SECRET_KEY", crate::support::TEST_KEY)
        .args([
            "webhooks",
            "worker",
            "--database-url",
            database,
            "--webhook-allow",
            "127.0.0.0/8",
            "--webhook-lease",
            "2s",
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the apierr binary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_loses_no_message() {
    // 1,000 messages; the worker process is SIGKILLed part way, then started again:
    // every message arrives at least once, and a message that arrives twice has the
    // same webhook-id and body both times.
    for backend in BACKENDS {
        let place = database(backend).await;
        let database = place.url().to_owned();
        let outbox = apierr_webhooks::Outbox::connect(&database).await.unwrap();
        let inbox = Inbox::start().await;
        // Slow enough that the kill lands mid-run: about two seconds for the thousand.
        inbox.delay.store(50, Ordering::SeqCst);
        let endpoint = outbox
            .register(
                "acme",
                &inbox.url,
                &apierr_webhooks::Secret::generate(),
                &apierr_webhooks::Schedule::default(),
                &apierr_webhooks::Subscription::All,
                SystemTime::now(),
            )
            .await
            .unwrap();
        let mut ids = Vec::new();
        for chunk in 0..10 {
            let mut tx = outbox.pool().begin().await.unwrap();
            for i in 0..100 {
                let n = chunk * 100 + i;
                ids.push(
                    outbox
                        .enqueue(
                            &mut tx,
                            "acme",
                            "account.created",
                            &serde_json::json!({"n": n}),
                            SystemTime::now(),
                        )
                        .await
                        .unwrap(),
                );
            }
            tx.commit().await.unwrap();
        }
        let mut first = worker(&database);
        let before = inbox.wait_for(150, Duration::from_secs(30)).await.len();
        assert!(before >= 150, "{backend:?}: the worker delivered {before}");
        first.kill().unwrap(); // SIGKILL
        first.wait().unwrap();
        let at_kill = inbox.received().len();
        let mut second = worker(&database);
        let mut seen: HashMap<String, Bytes> = HashMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            for (headers, body) in inbox.received() {
                let id = headers["webhook-id"].to_str().unwrap().to_owned();
                if let Some(earlier) = seen.get(&id) {
                    assert_eq!(earlier, &body, "{backend:?}: one id, two bodies");
                }
                seen.insert(id, body);
            }
            if seen.len() == ids.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // SIGTERM: the worker stops on its own, gracefully.
        let term = std::process::Command::new("kill")
            .args(["-TERM", &second.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let mut exited = None;
        for _ in 0..200 {
            if let Some(status) = second.try_wait().unwrap() {
                exited = Some(status);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let Some(status) = exited else {
            second.kill().unwrap();
            panic!("{backend:?}: the worker did not stop on SIGTERM");
        };
        assert!(status.success(), "{backend:?}: {status}");
        assert_eq!(
            seen.len(),
            1000,
            "{backend:?}: {} of 1000 arrived",
            seen.len()
        );
        for id in &ids {
            assert!(seen.contains_key(id), "{backend:?}: {id} never arrived");
        }
        let total = inbox.received().len();
        eprintln!(
            "{backend:?}: killed after {at_kill} requests; {total} requests for 1000 messages"
        );
        assert!(at_kill < 1000, "{backend:?}: the kill came after the run");
        let _ = endpoint;
    }
}

#[tokio::test]
async fn bad_webhook_input_is_a_catalog_error_never_a_server_error() {
    // NUL bytes, unknown ids, out-of-range times and states on every backend: 4xx or
    // nothing replayed, never a 5xx.
    for backend in BACKENDS {
        let server = Server::start(Profile::PROBLEM, backend).await;
        for (path, body) in [
            ("/webhooks/replay", r#"{"message_id":"msg_\u0000"}"#),
            ("/webhooks/replay", r#"{"endpoint_id":"\u0000"}"#),
            ("/webhooks/replay", r#"{"since":253402300800}"#),
            (
                "/webhooks/replay",
                r#"{"message_id":"","endpoint_id":"","since":253402300800}"#,
            ),
            ("/webhooks/replay", r#"{"state":"pending"}"#),
            ("/webhooks/replay", r#"{"since":-1}"#),
            (
                "/webhooks/endpoints",
                r#"{"url":"https://a.example/\u0000"}"#,
            ),
            (
                "/webhooks/endpoints",
                r#"{"url":"https://a.example/","retry_schedule":[0]}"#,
            ),
            (
                "/webhooks/endpoints",
                r#"{"url":"https://a.example/","retry_schedule":[1,2,3,4,5,6,7,8,9,10,11]}"#,
            ),
        ] {
            let response = server
                .post_json(path, "acme-key", body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!(
                (200..500).contains(&status),
                "{backend:?} {path} {body}: {status}"
            );
            if body.contains("253402300800") || body.contains("pending") {
                assert_eq!(status, 400, "{backend:?} {body}: out of range is refused");
            }
            if status == 200 {
                let answer: Value = response.json().await.unwrap();
                assert_eq!(answer["replayed"], 0, "{body}");
            }
        }
        for path in [
            "/webhooks/endpoints/ep_%00",
            "/webhooks/reports/rpt_x",
            "/webhooks/reports?since=253402300800",
            "/webhooks/reports?limit=0",
        ] {
            let status = server
                .with_key(reqwest::Method::GET, path, "acme-key")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert!((400..500).contains(&status), "{backend:?} {path}: {status}");
        }
    }
}

#[tokio::test]
async fn serve_stops_on_sigterm_with_its_dispatcher() {
    // `apierr serve` (dispatcher included) answers SIGTERM by stopping cleanly, exit 0,
    // within its grace period (2 s here) though an idle connection, a half-sent head and
    // a body that trickles are open when the signal comes.
    let place = database(Backend::Sqlite).await;
    let database = place.url().to_owned();
    let listen = crate::support::free_address();
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
        .args([
            "serve",
            "--database-url",
            &database,
            "--demo",
            "--listen",
            &listen,
        ])
        .args(["--shutdown-grace", "2s"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the apierr binary");
    let mut ready = false;
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(&listen).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready, "apierr serve never listened on {listen}");
    use tokio::io::AsyncWriteExt;
    let _idle = tokio::net::TcpStream::connect(&listen).await.unwrap();
    let mut half = tokio::net::TcpStream::connect(&listen).await.unwrap();
    half.write_all(b"GET /accounts HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let mut slow = tokio::net::TcpStream::connect(&listen).await.unwrap();
    slow.write_all(
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\ngrant",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let signalled = std::time::Instant::now();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    for _ in 0..200 {
        if let Some(status) = serve.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            let took = signalled.elapsed();
            assert!(
                took < Duration::from_secs(4),
                "stopped {took:?} after SIGTERM"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serve.kill().unwrap();
    panic!("apierr serve did not stop on SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_variables_do_not_carry_deliveries_past_the_address_policy() {
    // Scenario: the worker's environment names a proxy in every variable reqwest reads; a
    // delivery still goes straight to the loopback receiver (checked by the address
    // policy), and the proxy, which would resolve the name itself, sees no connection.
    for backend in BACKENDS {
        let place = database(backend).await;
        let database = place.url().to_owned();
        let outbox = apierr_webhooks::Outbox::connect(&database).await.unwrap();
        let inbox = Inbox::start().await;
        outbox
            .register(
                "acme",
                &inbox.url,
                &apierr_webhooks::Secret::generate(),
                &apierr_webhooks::Schedule::default(),
                &apierr_webhooks::Subscription::All,
                SystemTime::now(),
            )
            .await
            .unwrap();
        let mut tx = outbox.pool().begin().await.unwrap();
        outbox
            .enqueue(
                &mut tx,
                "acme",
                "account.created",
                &serde_json::json!({"n": 1}),
                SystemTime::now(),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
        let proxied = Arc::new(AtomicU64::new(0));
        let counting = proxied.clone();
        let proxy_task = tokio::spawn(async move {
            while let Ok((_conn, _)) = proxy.accept().await {
                counting.fetch_add(1, Ordering::SeqCst);
            }
        });
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"));
        command
            .args(["webhooks", "worker", "--database-url", &database])
            .env("APIERR_SECRET_KEY", crate::support::TEST_KEY)
            .args(["--webhook-allow", "127.0.0.0/8"])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null());
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
            command
                .env(name, &proxy_url)
                .env(name.to_lowercase(), &proxy_url);
        }
        command.env_remove("NO_PROXY").env_remove("no_proxy");
        let mut worker = command.spawn().expect("the apierr binary");
        let got = inbox.wait_for(1, Duration::from_secs(20)).await;
        let _ = worker.kill();
        let _ = worker.wait();
        proxy_task.abort();
        assert_eq!(got.len(), 1, "{backend:?}: the delivery never arrived");
        assert_eq!(
            proxied.load(Ordering::SeqCst),
            0,
            "{backend:?}: the delivery went through the proxy"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partners_endpoints_and_replays_are_bounded() {
    // Scenario: with at most 2 endpoints a partner, a third is 403 until one is deleted;
    // with at most 3 deliveries a replay, replaying all of 4 delivered messages is a 400
    // that says to narrow it, and queues nothing; one message's replay is sent.
    for backend in BACKENDS {
        let url = Arc::new(Mutex::new(String::new()));
        let keep = url.clone();
        let server = Server::start_with(Profile::PROBLEM, backend, move |config| {
            config.webhook_allow = vec!["127.0.0.0/8".parse().unwrap()];
            config.webhook_dispatcher = true;
            config.webhook_max_endpoints = 2;
            config.webhook_replay_max = 3;
            *keep.lock().unwrap() = config.database_url.clone();
        })
        .await;
        let inbox = Inbox::start().await;
        let register_at = async |host: &str| {
            let url = format!("https://{host}.example.com/in");
            register(&server, serde_json::json!({ "url": url })).await
        };
        let (status, first) = register(&server, serde_json::json!({"url": inbox.url})).await;
        assert_eq!(status, 201, "{backend:?}: {first}");
        let (status, _) = register_at("b").await;
        assert_eq!(status, 201, "{backend:?}");
        let (status, body) = register_at("c").await;
        assert_eq!(status, 403, "{backend:?}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("2 webhook endpoints"),
            "{body}"
        );
        let second = get(&server, "/webhooks/endpoints", "acme-key").await.1;
        let id = second["data"]
            .as_array()
            .or(second.as_array())
            .and_then(|list| list.iter().find(|e| e["url"] != inbox.url.as_str()))
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{second}"));
        let deleted = server
            .with_key(
                reqwest::Method::DELETE,
                &format!("/webhooks/endpoints/{id}"),
                "acme-key",
            )
            .send()
            .await
            .unwrap();
        assert!(deleted.status().is_success(), "{backend:?}");
        let (status, _) = register_at("c").await;
        assert_eq!(status, 201, "{backend:?}");
        let (status, _) = register_at("c").await;
        assert_eq!(status, 403, "{backend:?}");

        for n in 0..4 {
            let (status, _) = create_account(&server, &format!("bound{n}@example.com")).await;
            assert_eq!(status, 201);
        }
        let got = inbox.wait_for(4, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 4, "{backend:?}");
        // Once the inbox's four are recorded as delivered, a replay of them all selects
        // more than three (c.example.com's pending ones are not replayable).
        let inbox_id = first["id"].as_str().unwrap().to_owned();
        let database = url.lock().unwrap().clone();
        let outbox = apierr_webhooks::Outbox::connect(&database).await.unwrap();
        let ids: Vec<String> = got
            .iter()
            .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_owned())
            .collect();
        for _ in 0..200 {
            let mut delivered = 0;
            for id in &ids {
                let deliveries = outbox.deliveries(id).await.unwrap();
                delivered += deliveries
                    .iter()
                    .filter(|d| {
                        d.endpoint_id == inbox_id
                            && d.state == apierr_webhooks::DeliveryState::Delivered
                    })
                    .count();
            }
            if delivered == 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (status, body) = post(
            &server,
            "/webhooks/replay",
            serde_json::json!({"endpoint_id": inbox_id, "state": "delivered"}),
        )
        .await;
        assert_eq!(status, 400, "{backend:?}: {body}");
        assert!(body.to_string().contains("narrow"), "{body}");
        assert_eq!(
            inbox.received().len(),
            4,
            "{backend:?}: a refused replay sent nothing"
        );
        let message = got[0].0["webhook-id"].to_str().unwrap().to_owned();
        let (status, body) = post(
            &server,
            "/webhooks/replay",
            serde_json::json!({"message_id": message, "endpoint_id": inbox_id}),
        )
        .await;
        assert_eq!(
            (status, &body["replayed"]),
            (200, &serde_json::json!(1)),
            "{backend:?}"
        );
        assert_eq!(inbox.wait_for(5, Duration::from_secs(10)).await.len(), 5);
    }
}
