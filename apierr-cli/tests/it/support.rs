//! A real server per test: its own SQLite file or PostgreSQL schema (the test kit's,
//! removed with the server), an injected clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use apierr::{ApiError, Condition, Profile};
use reqwest::{Client, RequestBuilder, Response};
use sqlx::Connection;

/// Where a test server keeps its data: the test kit's databases.
pub(crate) use apierr_testkit::{BACKENDS, Backend, TestDatabase};

/// The key every test server and process seals secrets with (`APIERR_SECRET_KEY` for
/// the processes), so that a worker process opens what a server in the test wrote.
pub(crate) const TEST_KEY: &str =
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

/// [`TEST_KEY`] as the servers' keys.
pub(crate) fn test_keys() -> apierr_reference::SecretKeys {
    let key = apierr_axum::store::Keyring::parse_key(TEST_KEY).expect("a key");
    apierr_reference::SecretKeys::Given(apierr_axum::store::Keyring::new(&key))
}

/// A running reference server.
pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) profile: Profile,
    pub(crate) client: Client,
    /// Seconds added to the real clock, so that a test can move time forward.
    offset: Arc<AtomicU64>,
    /// The database it serves.
    pub(crate) database_url: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    /// The database made for it (unless the test named its own), removed with it.
    _database: TestDatabase,
}

/// A loopback address whose port was free a moment ago, for a server process the test
/// starts: the test can tell when it listens there.
pub(crate) fn free_address() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// The status of `GET /accounts` with the demo partner's API key at `listen`, once the
/// `apierr serve` process `serve` listens there (within 10 s). Fails the test, with the
/// process's error output when it was captured, if the process exits first.
pub(crate) async fn acme_status_once_up(listen: &str, serve: &mut std::process::Child) -> u16 {
    let client = Client::new();
    for _ in 0..400 {
        if let Some(exit) = serve.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut stderr) = serve.stderr.take() {
                use std::io::Read;
                let _ = stderr.read_to_string(&mut err);
            }
            panic!("apierr serve for {listen} exited ({exit}): {err}");
        }
        if let Ok(r) = client
            .get(format!("http://{listen}/accounts"))
            .header("x-api-key", "acme-key")
            .send()
            .await
        {
            return r.status().as_u16();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("apierr serve never listened on {listen}");
}

/// A database of its own for a test.
pub(crate) async fn database(backend: Backend) -> TestDatabase {
    TestDatabase::new(backend, "cli").await
}

impl Server {
    pub(crate) async fn start(profile: Profile, backend: Backend) -> Server {
        Server::start_with(profile, backend, |_| {}).await
    }

    pub(crate) async fn start_with(
        profile: Profile,
        backend: Backend,
        tweak: impl FnOnce(&mut apierr_reference::Config),
    ) -> Server {
        let offset = Arc::new(AtomicU64::new(0));
        let database = database(backend).await;
        let mut config = apierr_reference::Config::new(database.url());
        config.profile = profile.clone();
        // No webhook deliveries unless a test asks (and allows its loopback receiver):
        // test traffic never leaves the machine.
        config.webhook_dispatcher = false;
        // The tests sign in as the demo partners.
        config.seed_demo = true;
        config.secret_keys = test_keys();
        let clock_offset = offset.clone();
        config.clock = Arc::new(move || {
            SystemTime::now() + Duration::from_secs(clock_offset.load(Ordering::Relaxed))
        });
        tweak(&mut config);
        let database_url = config.database_url.clone();
        let limits = config.limits.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        config.public_url.get_or_insert_with(|| base.clone());
        // Open the database before answering, so that a broken backend fails here.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = apierr_reference::app(&config).await.expect("server starts");
        tokio::spawn(async move {
            // The accept loop `apierr serve` uses, with each request's peer address.
            apierr_axum::serve(listener, app)
                .limits(limits)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Server {
            base,
            profile,
            client: Client::new(),
            offset,
            database_url,
            _shutdown: tx,
            _database: database,
        }
    }

    /// The OpenAPI document the server serves.
    pub(crate) async fn document(&self) -> serde_json::Value {
        let response = self.get("/openapi.json").send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.offset.fetch_add(by.as_secs(), Ordering::Relaxed);
    }

    pub(crate) fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }

    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// A request with an API key.
    pub(crate) fn with_key(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> RequestBuilder {
        self.request(method, path).header("x-api-key", key)
    }

    pub(crate) fn post_json(&self, path: &str, key: &str, body: &str) -> RequestBuilder {
        self.send_json(reqwest::Method::POST, path, key, body)
    }

    /// A JSON request with an API key.
    pub(crate) fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: &str,
    ) -> RequestBuilder {
        self.with_key(method, path, key)
            .header("content-type", "application/json")
            .body(body.to_owned())
    }

    /// A bearer token for a demo partner.
    pub(crate) async fn token(&self, client_id: &str) -> String {
        let response = self
            .client
            .post(format!("{}/oauth/token", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials&client_id={client_id}&client_secret={client_id}-secret"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }
}

/// A response read back through the profile, with its headers.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) error: ApiError,
}

pub(crate) async fn answer(server: &Server, response: Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    read_answer(server, status, headers, body)
}

/// An HTTP/1.1 response read off a socket (a head, then a body of its `Content-Length`),
/// read back through the profile.
pub(crate) fn raw_answer(server: &Server, raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {text}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let mut headers = http::HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        headers.append(
            http::HeaderName::try_from(name.trim()).unwrap(),
            http::HeaderValue::try_from(value.trim()).unwrap(),
        );
    }
    assert!(
        !headers.contains_key("transfer-encoding"),
        "a chunked answer: {text}"
    );
    read_answer(server, status, headers, body.as_bytes().to_vec())
}

fn read_answer(server: &Server, status: u16, headers: http::HeaderMap, body: Vec<u8>) -> Answer {
    let error = server
        .profile
        .parse(http::StatusCode::from_u16(status).unwrap(), &headers, &body);
    // Every error the suite provokes has its code in the profile's documentation.
    if status >= 400 {
        assert!(
            apierr_reference::documents(&server.profile, error.code()),
            "{}: code {} of {} is not in `apierr catalog`",
            server.profile.name(),
            error.code(),
            String::from_utf8_lossy(&body)
        );
    }
    Answer {
        status,
        headers,
        body,
        error,
    }
}

/// Asserts that a response is `condition` in the server's contract: its status, a body
/// of the dialect's shape, the catalog's code, the request id header.
pub(crate) async fn expect_condition(
    server: &Server,
    response: Response,
    condition: Condition,
) -> Answer {
    check_condition(server, answer(server, response).await, condition)
}

/// Asserts that an answer is `condition`, as [`expect_condition`] does.
pub(crate) fn check_condition(server: &Server, a: Answer, condition: Condition) -> Answer {
    let entry = server.profile.catalog().condition(condition);
    let body = String::from_utf8_lossy(&a.body);
    assert_eq!(
        a.status,
        entry.status().as_u16(),
        "{} {condition}: status of {body}",
        server.profile.name()
    );
    assert!(
        server
            .profile
            .dialect()
            .parse(
                http::StatusCode::from_u16(a.status).unwrap(),
                &a.headers,
                &a.body
            )
            .is_some(),
        "{} {condition}: body is not in the {} dialect: {body}",
        server.profile.name(),
        server.profile.dialect().name(),
    );
    assert_eq!(
        a.error.code(),
        entry.code(),
        "{} {condition}: code of {body}",
        server.profile.name()
    );
    assert!(
        a.headers.contains_key("x-request-id"),
        "{condition}: no request id"
    );
    a
}

/// Runs a scenario against every profile on both backends.
pub(crate) async fn every_profile<F, Fut>(scenario: F)
where
    F: Fn(Server) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in BACKENDS {
        for profile in Profile::ALL {
            scenario(Server::start(profile.clone(), backend).await).await;
        }
    }
}

/// A connection of the test's own to `url` (SQLite: the server's file).
pub(crate) async fn connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url).await.unwrap()
}

/// Holds what the handler's insert into `accounts` needs until dropped or released: on
/// PostgreSQL a lock on that table only; on SQLite the file's write lock (the server's
/// idempotency records are then in Redis, so that the claim is not held up).
pub(crate) struct Hold {
    conn: sqlx::AnyConnection,
}

impl Hold {
    pub(crate) async fn take(backend: Backend, url: &str) -> Hold {
        let mut conn = connect(url).await;
        let statement = match backend {
            Backend::Postgres => "LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE",
            Backend::Sqlite => "SELECT 1",
        };
        let begin = match backend {
            Backend::Postgres => "BEGIN",
            Backend::Sqlite => "BEGIN IMMEDIATE",
        };
        sqlx::query(begin).execute(&mut conn).await.unwrap();
        sqlx::query(statement).execute(&mut conn).await.unwrap();
        Hold { conn }
    }

    pub(crate) async fn release(mut self) {
        sqlx::query("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .unwrap();
        self.conn.close().await.unwrap();
    }
}
