//! Retention: `apierr purge` deletes exactly what is past its window, of every kind, and
//! keeps what is still needed whatever its age.

use std::time::{SystemTime, UNIX_EPOCH};

use apierr::Profile;
use sqlx::Connection;

use crate::support::{BACKENDS, Server};

const DAY: i64 = 24 * 60 * 60;

fn now_secs() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// `apierr purge ARGS --database-url URL`: its output.
fn purge(url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
        .arg("purge")
        .args(args)
        .args(["--database-url", url])
        .output()
        .expect("the apierr binary");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

async fn ids(conn: &mut sqlx::AnyConnection, sql: &str) -> Vec<String> {
    let mut ids: Vec<String> = sqlx::query_scalar(sql).fetch_all(conn).await.unwrap();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_exactly_what_is_older_than_the_window() {
    // Scenario: on each backend, records of every kind a minute on either side of a
    // ten-day window; `apierr purge --older-than 10days` deletes the old ones and keeps
    // the young ones, an old message with a pending delivery, an old failed message its
    // young report shows, and an old open reconciliation entry; a second purge deletes
    // nothing. `--kind` limits it to one kind.
    for backend in BACKENDS {
        let server = Server::start(Profile::PROBLEM, backend).await;
        let url = server.database_url.clone();
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        let now = now_secs();
        let old = now - 10 * DAY - 60;
        let young = now - 10 * DAY + 60;
        let us = |secs: i64| secs * 1_000_000;
        let statements = [
            // Tokens: expired long ago, expired lately, still valid.
            format!("INSERT INTO tokens VALUES ('t-old', 'acme', {old}, 0, 1)"),
            format!("INSERT INTO tokens VALUES ('t-young', 'acme', {young}, 0, 1)"),
            format!("INSERT INTO tokens VALUES ('t-live', 'acme', {}, 0, 1)", now + DAY),
            // The portal's links and sessions, by expiry as tokens.
            format!("INSERT INTO portal_links VALUES ('l-old', 'acme', {old}, {old})"),
            format!("INSERT INTO portal_links VALUES ('l-young', 'acme', {young}, {old})"),
            format!("INSERT INTO portal_sessions VALUES ('s-old', 'acme', 'c', NULL, {old}, {old})"),
            format!(
                "INSERT INTO portal_sessions VALUES ('s-live', 'acme', 'c', NULL, {}, {old})",
                now + DAY
            ),
            // Idempotency records: expired, and not yet.
            format!(
                "INSERT INTO apierr_idempotency (scope, key, fingerprint, token, locked_until, expires_at)
                 VALUES ('acme', 'k-expired', X'00', 1, 0, {}), ('acme', 'k-live', X'00', 1, 0, {})",
                us(now - 60),
                us(now + DAY)
            ),
            // Messages: old and delivered (goes, with its delivery and attempt); old
            // with a pending delivery; young and delivered; old and failed, shown by a
            // young report.
            format!(
                "INSERT INTO apierr_webhook_messages (id, owner, event_type, payload, created_at) VALUES
                 ('m-old', 'acme', 'account.created', '{{}}', {o}),
                 ('m-pending', 'acme', 'account.created', '{{}}', {o}),
                 ('m-young', 'acme', 'account.created', '{{}}', {y}),
                 ('m-reported', 'acme', 'account.created', '{{}}', {o})",
                o = us(old),
                y = us(young)
            ),
            format!(
                "INSERT INTO apierr_webhook_deliveries
                 (id, message_id, endpoint_id, owner, state, next_at, created_at, updated_at) VALUES
                 ('m-old.ep', 'm-old', 'ep', 'acme', 'delivered', 0, {o}, {o}),
                 ('m-pending.ep', 'm-pending', 'ep', 'acme', 'pending', 0, {o}, {o}),
                 ('m-young.ep', 'm-young', 'ep', 'acme', 'delivered', 0, {y}, {y}),
                 ('m-reported.ep', 'm-reported', 'ep', 'acme', 'failed', 0, {o}, {o})",
                o = us(old),
                y = us(young)
            ),
            format!(
                "INSERT INTO apierr_webhook_attempts (delivery_id, n, at, latency_us) VALUES
                 ('m-old.ep', 1, {o}, 5), ('m-reported.ep', 1, {o}, 5)",
                o = us(old)
            ),
            // Reports: old, and young (showing the failed message).
            format!(
                "INSERT INTO apierr_webhook_reports (id, owner, endpoint_id, kind, summary, created_at, message_id) VALUES
                 ('r-old', 'acme', 'ep', 'message_failed', 's', {o}, NULL),
                 ('r-young', 'acme', 'ep', 'message_failed', 's', {y}, 'm-reported')",
                o = us(old),
                y = us(young)
            ),
            // Reconciliation entries: old acknowledged, old open, young acknowledged.
            format!(
                "INSERT INTO apierr_reconciliation
                 (at, request_id, method, route, fingerprint, status, outcome, acknowledged_at) VALUES
                 ({o}, 'e-old-ack', 'POST', '/a', 'f', 500, 'server_error', {o}),
                 ({o}, 'e-old-open', 'POST', '/a', 'f', 500, 'server_error', NULL),
                 ({y}, 'e-young-ack', 'POST', '/a', 'f', 500, 'server_error', {y})",
                o = us(old),
                y = us(young)
            ),
        ];
        for statement in &statements {
            let statement = if backend == crate::support::Backend::Postgres {
                statement.replace("X'00'", "'\\x00'::bytea")
            } else {
                statement.clone()
            };
            sqlx::query(&statement)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{backend:?}: {statement}: {e}"));
        }

        assert_eq!(
            purge(&url, &["--older-than", "10days", "--kind", "tokens"]),
            "purged: tokens 3, idempotency records 0, messages 0, reports 0, reconciliation entries 0\n",
            "{backend:?}"
        );
        assert_eq!(
            purge(&url, &["--older-than", "10days"]),
            "purged: tokens 0, idempotency records 1, messages 1, reports 1, reconciliation entries 1\n",
            "{backend:?}"
        );
        assert_eq!(
            ids(&mut conn, "SELECT token FROM tokens WHERE token LIKE 't-%'").await,
            ["t-live", "t-young"]
        );
        assert_eq!(
            ids(
                &mut conn,
                "SELECT digest FROM portal_links UNION ALL SELECT digest FROM portal_sessions"
            )
            .await,
            ["l-young", "s-live"]
        );
        assert_eq!(
            ids(&mut conn, "SELECT key FROM apierr_idempotency").await,
            ["k-live"]
        );
        assert_eq!(
            ids(&mut conn, "SELECT id FROM apierr_webhook_messages").await,
            ["m-pending", "m-reported", "m-young"]
        );
        assert_eq!(
            ids(&mut conn, "SELECT id FROM apierr_webhook_deliveries").await,
            ["m-pending.ep", "m-reported.ep", "m-young.ep"]
        );
        assert_eq!(
            ids(&mut conn, "SELECT delivery_id FROM apierr_webhook_attempts").await,
            ["m-reported.ep"]
        );
        assert_eq!(
            ids(&mut conn, "SELECT id FROM apierr_webhook_reports").await,
            ["r-young"]
        );
        assert_eq!(
            ids(&mut conn, "SELECT request_id FROM apierr_reconciliation").await,
            ["e-old-open", "e-young-ack"]
        );
        assert_eq!(
            purge(&url, &["--older-than", "10days"]),
            "purged: tokens 0, idempotency records 0, messages 0, reports 0, reconciliation entries 0\n"
        );
        // The defaults keep all of these (30 and 90 days).
        assert!(purge(&url, &[]).contains("messages 0, reports 0"));
        conn.close().await.unwrap();
    }
}
