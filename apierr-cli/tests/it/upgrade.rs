//! A database written by the version before digested secrets and sqlx's migrator keeps
//! everything: its partners' keys and secrets, its tokens and its accounts still work.

use sqlx::Connection;

use crate::support::{Backend, Server, database};

/// The schema and rows as the earlier server left them: its own migrations table, plain
/// secrets, keys and tokens.
const OLD: &[&str] = &[
    "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY)",
    "INSERT INTO schema_migrations (version) VALUES (1), (2), (3), (4)",
    "CREATE TABLE partners (id TEXT PRIMARY KEY, name TEXT NOT NULL, client_id TEXT NOT NULL UNIQUE,
        client_secret TEXT NOT NULL, api_key TEXT NOT NULL UNIQUE, read_only BIGINT NOT NULL,
        revoked BIGINT NOT NULL)",
    "CREATE TABLE tokens (token TEXT PRIMARY KEY, partner_id TEXT NOT NULL REFERENCES partners (id),
        expires_at BIGINT NOT NULL, revoked BIGINT NOT NULL)",
    "CREATE TABLE accounts (id TEXT PRIMARY KEY, partner_id TEXT NOT NULL REFERENCES partners (id),
        email TEXT NOT NULL UNIQUE, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
        created_at BIGINT NOT NULL)",
    "CREATE TABLE children (id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts (id),
        first_name TEXT NOT NULL, birth_year BIGINT NOT NULL, created_at BIGINT NOT NULL,
        UNIQUE (account_id, first_name, birth_year))",
    "INSERT INTO partners VALUES ('old', 'Old', 'old', 'old-secret', 'old-key', 0, 0)",
    "INSERT INTO tokens VALUES ('old-token', 'old', 99999999999, 0)",
    "INSERT INTO accounts VALUES ('0123456789abcdef0123456789abcdef', 'old', 'kept@old.co', 'K', 'O', 1)",
];

#[tokio::test]
async fn an_earlier_database_keeps_its_keys_tokens_and_accounts() {
    // Scenario: the server starts on a database of the earlier schema: migrations adopt it,
    // plain secrets are digested once, and the old key, secret and token all still work.
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let place = database(backend).await;
        let url = place.url().to_owned();
        let connect = if url.starts_with("sqlite:") {
            format!("{url}?mode=rwc")
        } else {
            url.clone()
        };
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&connect).await.unwrap();
        for statement in OLD {
            sqlx::query(statement).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
        // The second start finds nothing left to digest and changes nothing.
        for start in ["first", "second"] {
            let s = Server::start_with(apierr::Profile::PROBLEM, backend, |c| {
                c.database_url = url.clone();
                c.seed_demo = false;
            })
            .await;
            let r = s
                .with_key(reqwest::Method::GET, "/accounts", "old-key")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{start} start");
            let accounts: serde_json::Value = r.json().await.unwrap();
            assert_eq!(accounts[0]["email"], "kept@old.co");
            let r = s
                .get("/accounts")
                .bearer_auth("old-token")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{start} start");
            let r = s
                .request(reqwest::Method::POST, "/oauth/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&client_id=old&client_secret=old-secret")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{start} start");
        }
    }
}

/// Runs `statements` on the database at `url`.
async fn run(url: &str, statements: &[&str]) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    for statement in statements {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
}

/// The error of starting the server on `url` (and Redis, if given), or `None` if it
/// starts.
async fn start_error(url: &str, redis: Option<&apierr_testkit::TestRedis>) -> Option<String> {
    let mut config = apierr_reference::Config::new(url);
    config.webhook_dispatcher = false;
    config.secret_keys = crate::support::test_keys();
    if let Some(redis) = redis {
        config.redis_url = Some(redis.url().to_owned());
        config.redis_prefix = redis.prefix().to_owned();
    }
    apierr_reference::app(&config)
        .await
        .err()
        .map(|e| e.to_string())
}

#[tokio::test]
async fn a_schema_newer_than_the_program_is_a_clear_start_up_error() {
    // Scenario: on each backend, a database that a later release migrated further (the
    // store's tables, the outbox's, or the API's own migrations), or a Redis whose key
    // layout is newer, makes the server refuse to start, naming what is newer; the
    // same database at the versions this program knows starts.
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let place = database(backend).await;
        let url = place.url().to_owned();
        assert_eq!(start_error(&url, None).await, None, "{backend:?}");
        for (component, newer, back) in [
            (
                "apierr_store tables are at version 99",
                "UPDATE apierr_schema_versions SET version = 99 WHERE component = 'apierr_store'",
                "UPDATE apierr_schema_versions SET version = 2 WHERE component = 'apierr_store'",
            ),
            (
                "apierr_webhooks tables are at version 7",
                "UPDATE apierr_schema_versions SET version = 7 WHERE component = 'apierr_webhooks'",
                "UPDATE apierr_schema_versions SET version = 4 WHERE component = 'apierr_webhooks'",
            ),
            (
                "reference API tables are at version 9999",
                "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
                 VALUES (9999, 'later', CURRENT_TIMESTAMP, TRUE, X'00', 1)",
                "DELETE FROM _sqlx_migrations WHERE version = 9999",
            ),
        ] {
            let newer = if backend == Backend::Postgres {
                newer.replace("X'00'", "'\\x00'::bytea")
            } else {
                newer.replace("TRUE", "1")
            };
            run(&url, &[&newer]).await;
            let error = start_error(&url, None).await;
            let error = error.unwrap_or_else(|| panic!("{backend:?}: started with {component}"));
            assert!(
                error.contains(component) && error.contains("newer than"),
                "{backend:?}: {error}"
            );
            run(&url, &[back]).await;
            assert_eq!(start_error(&url, None).await, None, "{backend:?}");
        }
    }
    let redis = apierr_testkit::TestRedis::new("layout").await;
    let place = database(Backend::Sqlite).await;
    assert_eq!(start_error(place.url(), Some(&redis)).await, None);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}layout", redis.prefix());
    let _: () = redis::AsyncCommands::set(&mut conn, &key, 5).await.unwrap();
    let error = start_error(place.url(), Some(&redis))
        .await
        .expect("refused");
    assert!(error.contains("at version 5, newer than the 1"), "{error}");
}

#[tokio::test]
async fn store_tables_made_before_versions_are_adopted_and_migrated() {
    // Scenario: on each backend, the reconciliation log as the release before versions
    // made it (no version row, no acknowledgement column) is adopted: its entries stay,
    // and can be acknowledged.
    use apierr_axum::store::{ReconciliationLog, SqlStore};
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let place = database(backend).await;
        let url = place.url().to_owned();
        let connect = if url.starts_with("sqlite:") {
            format!("{url}?mode=rwc")
        } else {
            url.clone()
        };
        let seq = if backend == Backend::Postgres {
            "BIGSERIAL"
        } else {
            "INTEGER"
        };
        run(
            &connect,
            &[
                &format!(
                    "CREATE TABLE apierr_reconciliation (seq {seq} PRIMARY KEY, at BIGINT NOT NULL,
                     request_id TEXT NOT NULL, caller TEXT, method TEXT NOT NULL, route TEXT NOT NULL,
                     idempotency_key TEXT, fingerprint TEXT NOT NULL, status BIGINT NOT NULL,
                     outcome TEXT NOT NULL)"
                ),
                "INSERT INTO apierr_reconciliation
                 (at, request_id, method, route, fingerprint, status, outcome)
                 VALUES (1, 'req-old', 'POST', '/accounts', 'ab', 500, 'server_error')",
            ],
        )
        .await;
        let log = SqlStore::connect(&url).await.expect("adopted");
        let open = log.open(0, 10).await.unwrap();
        assert_eq!(open.len(), 1, "{backend:?}");
        assert_eq!(open[0].request_id, "req-old");
        assert!(
            log.acknowledge(open[0].seq, std::time::SystemTime::now())
                .await
                .unwrap()
        );
        assert!(log.open(0, 10).await.unwrap().is_empty());
    }
}
