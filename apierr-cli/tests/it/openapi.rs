//! The OpenAPI document documents every error response in the profile's schema.

use apierr::{Condition, Profile};

use crate::support::{Backend, Server};

#[tokio::test]
async fn every_operation_documents_its_errors() {
    // Scenario: /openapi.json lists, per operation, each error status with catalog examples.
    for profile in Profile::ALL {
        let s = Server::start(profile.clone(), Backend::Sqlite).await;
        let doc: serde_json::Value = s
            .get("/openapi.json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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
    // Scenario: `apierr openapi --profile P`, with no server and no database, prints the
    // very document a server in that profile serves.
    for backend in crate::support::BACKENDS {
        for profile in apierr::Profile::ALL {
            let server = Server::start(profile.clone(), backend).await;
            let served: serde_json::Value = server
                .get("/openapi.json")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
                .args(["openapi", "--profile", profile.name()])
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
