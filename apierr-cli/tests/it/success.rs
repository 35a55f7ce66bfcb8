//! The successful paths, with seed 003's status rules and seed 000's envelope.

use axum::ServiceExt;
use reqwest::Method;

use crate::support::{Backend, Server, every_profile};

const ACME: &str = "acme-key";

#[tokio::test]
async fn account_lifecycle_follows_the_seed_rules() {
    // Scenario: create 201, GET 200, PUT/PATCH 200 with empty body, DELETE, then 404.
    every_profile(|s| async move {
        let wraps = s.profile.dialect().wraps_success();
        let r = s
            .post_json(
                "/accounts",
                ACME,
                r#"{"email": "life@example.com", "first_name": "Ann", "last_name": "Lee"}"#,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let body: serde_json::Value = r.json().await.unwrap();
        let account = if wraps { body["entity"].clone() } else { body };
        let id = account["id"].as_str().unwrap().to_owned();
        assert_eq!(account["email"], "life@example.com");

        let r = s
            .with_key(Method::GET, &format!("/accounts/{id}"), ACME)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        let r = s
            .send_json(
                Method::PUT,
                &format!("/accounts/{id}"),
                ACME,
                r#"{"email": "life@example.com", "first_name": "Anna", "last_name": "Lee"}"#,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        if wraps {
            assert!(text.contains("\"status\":\"success\""), "{text}");
        } else {
            assert_eq!(text, "");
        }
        let r = s
            .send_json(
                Method::PATCH,
                &format!("/accounts/{id}"),
                ACME,
                r#"{"last_name": "Lea"}"#,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = s
            .with_key(Method::GET, &format!("/accounts/{id}"), ACME)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        let account = if wraps { body["entity"].clone() } else { body };
        assert_eq!(
            (
                account["first_name"].as_str(),
                account["last_name"].as_str()
            ),
            (Some("Anna"), Some("Lea"))
        );

        // PUT and PATCH on a missing account are 404.
        let not_found = s
            .profile
            .catalog()
            .condition(apierr::Condition::NotFound)
            .status();
        for (method, body) in [
            (Method::PATCH, r#"{"last_name": "X"}"#),
            (
                Method::PUT,
                r#"{"email": "x@example.com", "first_name": "X", "last_name": "Y"}"#,
            ),
        ] {
            let r = s
                .send_json(method, "/accounts/missing", ACME, body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), not_found.as_u16());
        }

        let r = s
            .with_key(Method::DELETE, &format!("/accounts/{id}"), ACME)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = s
            .with_key(Method::GET, &format!("/accounts/{id}"), ACME)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            s.profile
                .catalog()
                .condition(apierr::Condition::NotFound)
                .status()
                .as_u16()
        );
    })
    .await;
}

#[tokio::test]
async fn the_same_child_twice_is_already_reported() {
    // Scenario: seed 000's parent registering a second time: 208 with the existing record.
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let s = Server::start(apierr::Profile::PROBLEM, backend).await;
        let r = s
            .post_json(
                "/accounts",
                ACME,
                r#"{"email": "p@example.com", "first_name": "P", "last_name": "Q"}"#,
            )
            .send()
            .await
            .unwrap();
        let id = r.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let child = r#"{"first_name": "Kim", "birth_year": 2015}"#;
        let r = s
            .post_json(&format!("/accounts/{id}/children"), ACME, child)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let first: serde_json::Value = r.json().await.unwrap();
        let r = s
            .post_json(&format!("/accounts/{id}/children"), ACME, child)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 208);
        let again: serde_json::Value = r.json().await.unwrap();
        assert_eq!(first, again);
    }
}

#[tokio::test]
async fn pages_carry_their_total() {
    // Scenario: a paged list: X-Total-Count, or resultCount/totalCount in the envelope.
    for profile in [apierr::Profile::PROBLEM, apierr::Profile::WRAPPER] {
        let s = Server::start(profile.clone(), Backend::Sqlite).await;
        for i in 0..5 {
            let body =
                format!(r#"{{"email": "p{i}@example.com", "first_name": "P", "last_name": "Q"}}"#);
            assert_eq!(
                s.post_json("/accounts", ACME, &body)
                    .send()
                    .await
                    .unwrap()
                    .status(),
                201
            );
        }
        let r = s
            .with_key(Method::GET, "/accounts?page=2&per_page=2", ACME)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-total-count"], "5");
        let body: serde_json::Value = r.json().await.unwrap();
        if profile.dialect().wraps_success() {
            assert_eq!(body["status"], "success");
            assert_eq!(body["resultCount"], 2);
            assert_eq!(body["totalCount"], 5);
            assert_eq!(body["entity"][0]["email"], "p2@example.com");
        } else {
            assert_eq!(body.as_array().unwrap().len(), 2);
            assert_eq!(body[0]["email"], "p2@example.com");
        }
    }
}

#[tokio::test]
async fn data_survives_a_restart() {
    // Scenario: the SQLite file is created on first run and keeps its records.
    let path = std::env::temp_dir().join(format!("apierr-restart-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}", path.display());
    for round in 0..2 {
        let mut config = apierr_reference::Config::new(url.clone());
        config.seed_demo = true;
        let app = apierr_reference::app(&config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server =
            tokio::spawn(async move { axum::serve(listener, app.into_make_service()).await });
        let client = reqwest::Client::new();
        if round == 0 {
            let r = client
                .post(format!("{base}/accounts"))
                .header("x-api-key", ACME)
                .header("content-type", "application/json")
                .body(r#"{"email": "keep@example.com", "first_name": "K", "last_name": "P"}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        } else {
            let r = client
                .get(format!("{base}/accounts"))
                .header("x-api-key", ACME)
                .send()
                .await
                .unwrap();
            assert_eq!(r.headers()["x-total-count"], "1");
        }
        server.abort();
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(path.with_extension("db.key"));
}
