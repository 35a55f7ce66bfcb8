//! Listings that stay fast as data grows: keyset pages through `Link: rel="next"`, the
//! total of a large listing counted without scanning at every page.

use apierr::{Condition, Profile};
use reqwest::Method;
use serde_json::Value;
use sqlx::Connection;

use crate::support::{BACKENDS, Server, expect_condition};

/// `GET path` as acme: the ids, the total and the next link.
async fn page(server: &Server, path: &str) -> (Vec<String>, String, Option<String>) {
    let r = server
        .with_key(Method::GET, path, "acme-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let total = r.headers()["x-total-count"].to_str().unwrap().to_owned();
    let next = r.headers().get("link").map(|v| {
        let v = v.to_str().unwrap();
        assert!(v.ends_with(">; rel=\"next\""), "{v}");
        v.trim_start_matches('<')
            .trim_end_matches(">; rel=\"next\"")
            .to_owned()
    });
    let body: Value = r.json().await.unwrap();
    let ids = body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, total, next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_the_next_link_to_the_end() {
    // Scenario: on each backend, five accounts two a page: the `Link` header leads from
    // page to page through every account once, in order, and the last page has none;
    // pages count from a cursor; a cursor of the wrong form is a 400, of another partner's account
    // or of none a 404; a partner with more than a thousand accounts gets its exact total.
    for backend in BACKENDS {
        let server = Server::start(Profile::PROBLEM, backend).await;
        let mut made = Vec::new();
        for n in 0..5 {
            let body =
                format!(r#"{{"email":"p{n}@example.com","first_name":"P","last_name":"Q"}}"#);
            let r = server
                .post_json("/accounts", "acme-key", &body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            let account: Value = r.json().await.unwrap();
            made.push(account["id"].as_str().unwrap().to_owned());
        }
        let mut seen = Vec::new();
        let mut path = "/accounts?per_page=2".to_owned();
        let mut pages = 0;
        loop {
            let (ids, total, next) = page(&server, &path).await;
            assert_eq!(total, "5");
            seen.extend(ids);
            pages += 1;
            match next {
                Some(next) => path = next.trim_start_matches(&server.base).to_owned(),
                None => break,
            }
            assert!(pages < 10, "{backend:?}: the links never end");
        }
        assert_eq!((pages, &seen), (3, &made), "{backend:?}");
        // Page numbers still work, and give the same order.
        assert_eq!(
            page(&server, "/accounts?page=2&per_page=2").await.0,
            made[2..4]
        );

        let other = server
            .post_json(
                "/accounts",
                "acme-key",
                r#"{"email":"v@example.com","first_name":"V","last_name":"W"}"#,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 201);
        let r = server
            .with_key(Method::GET, "/accounts?starting_after=nothex", "viewer-key")
            .send()
            .await
            .unwrap();
        expect_condition(&server, r, Condition::InvalidParameter).await;
        // With a cursor, pages count from it.
        let (ids, _, _) = page(
            &server,
            &format!("/accounts?page=2&per_page=2&starting_after={}", made[0]),
        )
        .await;
        assert_eq!(ids, made[3..5], "{backend:?}");
        // Another partner's account, or none, is no cursor for the viewer.
        for id in [made[0].clone(), "0".repeat(32)] {
            let r = server
                .with_key(
                    Method::GET,
                    &format!("/accounts?starting_after={id}"),
                    "viewer-key",
                )
                .send()
                .await
                .unwrap();
            expect_condition(&server, r, Condition::NotFound).await;
        }

        // A large partner: 1,500 rows, counted in full once.
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&server.database_url)
            .await
            .unwrap();
        let mut values = Vec::new();
        for n in 0..1_500 {
            values.push(format!(
                "('{n:032x}', 'acme', 'bulk{n}@example.com', 'B', 'K', {})",
                1_000 + n
            ));
        }
        sqlx::query(&format!(
            "INSERT INTO accounts (id, partner_id, email, first_name, last_name, created_at) VALUES {}",
            values.join(", ")
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        let (ids, total, next) = page(&server, "/accounts?per_page=100").await;
        assert_eq!((ids.len(), total.as_str()), (100, "1506"), "{backend:?}");
        assert!(next.is_some());
    }
}
