//! The OpenAPI document documents every error response in the profile's schema.

use apierr::{Condition, Profile};

use crate::support::{Backend, Server};

#[tokio::test]
async fn every_operation_documents_its_errors() {
    // Scenario: /openapi.json lists, per operation, each error status with catalog examples.
    for profile in Profile::ALL {
        let s = Server::start(profile.clone(), Backend::Sqlite).await;
        let doc: serde_json::Value = s.document().await;
        assert_eq!(
            doc["openapi"].as_str().map(|v| v.starts_with("3.")),
            Some(true)
        );
        let create = &doc["paths"]["/accounts"]["post"]["responses"];
        let exists = profile.catalog().condition(Condition::AlreadyExists);
        let response = &create[exists.status().as_u16().to_string()];
        let content = &response["content"][profile.dialect().content_type().to_str().unwrap()];
        let example = &content["examples"]["already_exists"]["value"];
        let parsed = profile.parse(
            exists.status(),
            &http::HeaderMap::new(),
            example.to_string().as_bytes(),
        );
        assert_eq!(
            parsed.code(),
            exists.code(),
            "{}: {example}",
            profile.name()
        );
        assert_eq!(content["schema"]["$ref"], "#/components/schemas/Error");
        assert!(doc["components"]["schemas"]["Error"].is_object());
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
                assert!(
                    statuses.iter().any(|s| s.starts_with('4')),
                    "{path} {method}: {statuses:?}"
                );
                assert!(
                    statuses.iter().any(|s| s.starts_with('5')),
                    "{path} {method}: {statuses:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apierr_openapi_prints_the_served_document_offline() {
    // Scenario: `apierr openapi --profile P --public-url URL`, with no server and no
    // database, prints the very document a server in that profile serves at that URL.
    for backend in crate::support::BACKENDS {
        for profile in apierr::Profile::ALL {
            let server = Server::start(profile.clone(), backend).await;
            let served: serde_json::Value = server.document().await;
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
                .args(["openapi", "--profile", profile.name(), "--public-url"])
                .arg(&server.base)
                .output()
                .expect("the apierr binary");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(printed, served, "{} on {backend}", profile.name());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_path_ids_get_only_statuses_the_document_declares() {
    // Scenario: every operation with a path id, called with ids of every wrong form (not
    // UTF-8, a NUL, spaces, far too long, of another resource), answers a status its
    // operation declares, in every profile, on both databases.
    let ids = [
        "%FF%FE",
        "%C3%28",
        "%00",
        "a%20b",
        "ep_00000000000000000000000000000000",
        &"9".repeat(300),
    ];
    for backend in crate::support::BACKENDS {
        for profile in Profile::ALL {
            let server = Server::start(profile.clone(), backend).await;
            let doc: serde_json::Value = server.document().await;
            for (path, item) in doc["paths"].as_object().unwrap() {
                if !path.contains("{id}") {
                    continue;
                }
                for (method, operation) in item.as_object().unwrap() {
                    for id in ids {
                        let url = path.replace("{id}", id);
                        let method =
                            reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                        let response = server
                            .with_key(method.clone(), &url, "acme-key")
                            .header("content-type", "application/json")
                            .body("{}")
                            .send()
                            .await
                            .unwrap();
                        let status = response.status().as_u16().to_string();
                        assert!(
                            operation["responses"].get(&status).is_some(),
                            "{} on {backend}: {method} {url} answered {status}, not declared",
                            profile.name()
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_states_exactly_the_routes_served() {
    // Scenario: the router and the document come from one table, so every documented
    // operation is routed (never 405, and never 404 where its path takes no id) and every
    // other method of a documented path is 405 before any layer acts on it, in every
    // profile.
    const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];
    for profile in Profile::ALL {
        let server = Server::start(profile.clone(), Backend::Sqlite).await;
        let doc: serde_json::Value = server.document().await;
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 10, "{paths:?}");
        for (path, item) in paths {
            let url = path.replace("{id}", "unknown");
            for method in METHODS {
                let documented = item.get(method).is_some();
                let verb = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                // One key for the path: a method the route lacks must be 405 even with a
                // key another method used.
                let status = server
                    .with_key(verb, &url, "acme-key")
                    .header(
                        "idempotency-key",
                        format!("routes-{}{path}", profile.name()),
                    )
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                if documented {
                    assert_ne!(status, 405, "{} {method} {url}", profile.name());
                    if !path.contains("{id}") {
                        assert_ne!(status, 404, "{} {method} {url}", profile.name());
                    }
                } else {
                    assert_eq!(status, 405, "{} {method} {url}", profile.name());
                }
            }
        }
    }
}
