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
