//! Event types, subscriptions, test messages and the warning before a pause, through
//! the reference server on SQLite and PostgreSQL, with real receivers.

use std::time::{Duration, SystemTime};

use apierr::Profile;
use apierr_client::WebhookVerifier;
use serde_json::{Value, json};

use crate::support::{BACKENDS, Backend, Server};
use crate::webhooks::Inbox;

/// A server that delivers to loopback, pausing endpoints after `pause_after` failed
/// messages.
async fn server(backend: Backend, pause_after: u32) -> Server {
    Server::start_with(Profile::PROBLEM, backend, move |config| {
        config.webhook_allow = vec!["127.0.0.0/8".parse().unwrap()];
        config.webhook_dispatcher = true;
        config.webhook_pause_after = pause_after;
    })
    .await
}

/// `method path` with a JSON body as `acme`: the status and the JSON answer (null if
/// none).
async fn call(server: &Server, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let response = server
        .send_json(method, path, "acme-key", &body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(server: &Server, path: &str, body: Value) -> (u16, Value) {
    call(server, reqwest::Method::POST, path, body).await
}

/// The types of the messages an inbox got, in order.
fn types(inbox: &Inbox) -> Vec<String> {
    inbox
        .received()
        .iter()
        .map(|(_, body)| {
            let event: Value = serde_json::from_slice(body).unwrap();
            event["type"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_of_an_account_reaches_the_endpoints_subscribed_to_its_type() {
    // Scenario: one endpoint takes every type, one only account.deleted. Create, replace,
    // change and delete an account: the first gets created, updated twice and deleted
    // (each body valid under the listed schema of its type), the second only deleted.
    // Then the second's subscription changes to account.created: the next account
    // reaches it. The listing and the document's webhooks name the same types.
    for backend in BACKENDS {
        let server = server(backend, 5).await;
        let (all, deleted) = (Inbox::start().await, Inbox::start().await);
        let (status, _) = post(&server, "/webhooks/endpoints", json!({"url": all.url})).await;
        assert_eq!(status, 201);
        let (status, only) = post(
            &server,
            "/webhooks/endpoints",
            json!({"url": deleted.url, "event_types": ["account.deleted", "account.deleted"]}),
        )
        .await;
        assert_eq!(status, 201, "{backend:?}: {only}");
        assert_eq!(only["event_types"], json!(["account.deleted"]));

        let listed = server
            .with_key(reqwest::Method::GET, "/webhooks/event-types", "acme-key")
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200);
        let listed: Vec<Value> = listed.json().await.unwrap();
        let names: Vec<&str> = listed.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "account.created",
                "account.updated",
                "account.deleted",
                "child.created",
                "webhook.test",
                "webhook.endpoint.failing"
            ]
        );
        let document = server.document().await;
        let mut hooks: Vec<&str> = document["webhooks"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted = names.clone();
        hooks.sort_unstable();
        sorted.sort_unstable();
        assert_eq!(hooks, sorted);
        let schema_of = |name: &str| {
            let t = listed.iter().find(|t| t["name"] == name).unwrap();
            jsonschema::validator_for(&t["schema"]).unwrap()
        };

        let person = json!({"email": "ev@example.com", "first_name": "Ada", "last_name": "L"});
        let (status, account) = post(&server, "/accounts", person).await;
        assert_eq!(status, 201);
        let id = account["id"].as_str().unwrap();
        let path = format!("/accounts/{id}");
        let replaced = json!({"email": "ev2@example.com", "first_name": "Ada", "last_name": "K"});
        let (status, _) = call(&server, reqwest::Method::PUT, &path, replaced).await;
        assert_eq!(status, 200);
        let (status, _) = call(
            &server,
            reqwest::Method::PATCH,
            &path,
            json!({"first_name": "Augusta"}),
        )
        .await;
        assert_eq!(status, 200);
        // A change that fails (unknown account) announces nothing.
        let (status, _) = call(
            &server,
            reqwest::Method::PATCH,
            "/accounts/0123456789abcdef0123456789abcdef",
            json!({"first_name": "X"}),
        )
        .await;
        assert_eq!(status, 404);
        let (status, _) = call(&server, reqwest::Method::DELETE, &path, Value::Null).await;
        assert_eq!(status, 200);

        let got = all.wait_for(4, Duration::from_secs(10)).await;
        assert_eq!(
            types(&all),
            [
                "account.created",
                "account.updated",
                "account.updated",
                "account.deleted"
            ],
            "{backend:?}"
        );
        for (_, body) in &got {
            let event: Value = serde_json::from_slice(body).unwrap();
            let name = event["type"].as_str().unwrap();
            let errors: Vec<String> = schema_of(name)
                .iter_errors(&event)
                .map(|e| e.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{backend:?} {name}: {errors:?} in {event}"
            );
            assert_eq!(event["data"]["id"], id);
        }
        let last_update: Value = serde_json::from_slice(&got[2].1).unwrap();
        assert_eq!(last_update["data"]["first_name"], "Augusta");
        assert_eq!(last_update["data"]["email"], "ev2@example.com");
        deleted.wait_for(1, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(types(&deleted), ["account.deleted"], "{backend:?}");

        let only_path = format!("/webhooks/endpoints/{}", only["id"].as_str().unwrap());
        let (status, changed) = call(
            &server,
            reqwest::Method::PATCH,
            &only_path,
            json!({"event_types": ["account.created"]}),
        )
        .await;
        assert_eq!(status, 200, "{changed}");
        assert_eq!(changed["event_types"], json!(["account.created"]));
        let person = json!({"email": "ev3@example.com", "first_name": "B", "last_name": "C"});
        assert_eq!(post(&server, "/accounts", person).await.0, 201);
        deleted.wait_for(2, Duration::from_secs(10)).await;
        assert_eq!(types(&deleted), ["account.deleted", "account.created"]);
        // Left out: unchanged; null: every type.
        let (_, same) = call(&server, reqwest::Method::PATCH, &only_path, json!({})).await;
        assert_eq!(same["event_types"], json!(["account.created"]));
        let (_, every) = call(
            &server,
            reqwest::Method::PATCH,
            &only_path,
            json!({"event_types": null}),
        )
        .await;
        assert_eq!(every["event_types"], Value::Null);
    }
}

#[tokio::test]
async fn a_subscription_to_what_the_api_does_not_send_is_a_catalog_error() {
    // Scenario: unknown names, an empty list, more names than there are types, names
    // of the wrong JSON type: 400 naming event_types (or the body), on registration and
    // on change; a change of another partner's or an unknown endpoint is 404. Nothing
    // is a 5xx.
    for backend in BACKENDS {
        let server = Server::start(Profile::PROBLEM, backend).await;
        let url = "https://hooks.example.com/in";
        for types in [
            json!(["account.nope"]),
            json!([]),
            json!(vec!["account.created"; 7]),
            json!(["ACCOUNT.CREATED"]),
            json!(["account.created", "\u{0000}"]),
        ] {
            let (status, body) = post(
                &server,
                "/webhooks/endpoints",
                json!({"url": url, "event_types": types}),
            )
            .await;
            assert_eq!(status, 400, "{backend:?} {types}: {body}");
            assert_eq!(body["errors"][0]["field"], "event_types", "{types}: {body}");
        }
        let (status, _) = post(
            &server,
            "/webhooks/endpoints",
            json!({"url": url, "event_types": "account.created"}),
        )
        .await;
        assert_eq!(status, 400);
        let (status, endpoint) = post(&server, "/webhooks/endpoints", json!({"url": url})).await;
        assert_eq!(status, 201);
        assert_eq!(endpoint["event_types"], Value::Null);
        let path = format!("/webhooks/endpoints/{}", endpoint["id"].as_str().unwrap());
        let (status, body) = call(
            &server,
            reqwest::Method::PATCH,
            &path,
            json!({"event_types": ["account.nope"]}),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("GET /webhooks/event-types"),
            "{body}"
        );
        for unknown in [
            "/webhooks/endpoints/ep_0123456789abcdef0123456789abcdef",
            "/webhooks/endpoints/nope",
        ] {
            let (status, _) = call(
                &server,
                reqwest::Method::PATCH,
                unknown,
                json!({"event_types": null}),
            )
            .await;
            assert_eq!(status, 404, "{unknown}");
        }
        let other = server
            .with_key(reqwest::Method::GET, &path, "viewer-key")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 404, "another partner's endpoint is none");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_message_answers_with_the_attempt_and_is_limited_per_endpoint() {
    // Scenario: a test to a receiver answering 200 is delivered, signed with the
    // endpoint's secret; one to a receiver answering 500 says so with its status and
    // first bytes; after five in a minute the sixth is 429 with Retry-After, while
    // another endpoint may still be tested; an unknown endpoint is 404.
    for backend in BACKENDS {
        let server = server(backend, 5).await;
        let inbox = Inbox::start().await;
        let (_, endpoint) = post(&server, "/webhooks/endpoints", json!({"url": inbox.url})).await;
        let secret = endpoint["secret"].as_str().unwrap().to_owned();
        let path = format!(
            "/webhooks/endpoints/{}/test",
            endpoint["id"].as_str().unwrap()
        );

        let (status, sent) = post(&server, &path, Value::Null).await;
        assert_eq!(status, 200, "{backend:?}: {sent}");
        assert_eq!(sent["delivered"], true, "{sent}");
        assert_eq!(sent["status"], 200);
        let got = inbox.received();
        let (headers, body) = got.last().unwrap();
        WebhookVerifier::new(&secret)
            .unwrap()
            .verify(headers, body, SystemTime::now())
            .unwrap();
        assert_eq!(headers["webhook-id"], sent["message_id"].as_str().unwrap());
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["type"], "webhook.test");
        assert_eq!(event["data"]["endpoint_id"], endpoint["id"]);

        inbox.answer(500);
        let (status, failed) = post(&server, &path, Value::Null).await;
        assert_eq!(status, 200);
        assert_eq!(failed["delivered"], false);
        assert_eq!(failed["status"], 500);
        assert_eq!(failed["failure"], "status");
        for _ in 0..3 {
            assert_eq!(post(&server, &path, Value::Null).await.0, 200);
        }
        let refused = server
            .post_json(&path, "acme-key", "")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 429, "{backend:?}");
        assert!(refused.headers().contains_key("retry-after"));
        let refused: Value = refused.json().await.unwrap();
        assert_eq!(refused["code"], "rate_limited", "{refused}");
        assert_eq!(inbox.received().len(), 5, "the refused test sent nothing");
        // A test does not count as a failed message.
        let id = endpoint["id"].as_str().unwrap();
        let (_, read) = call(
            &server,
            reqwest::Method::GET,
            &format!("/webhooks/endpoints/{id}"),
            Value::Null,
        )
        .await;
        assert_eq!(read["failure_run"], 0);

        let (_, second) = post(&server, "/webhooks/endpoints", json!({"url": inbox.url})).await;
        let second = format!(
            "/webhooks/endpoints/{}/test",
            second["id"].as_str().unwrap()
        );
        assert_eq!(post(&server, &second, Value::Null).await.0, 200);
        let (status, _) = post(
            &server,
            "/webhooks/endpoints/ep_0123456789abcdef0123456789abcdef/test",
            Value::Null,
        )
        .await;
        assert_eq!(status, 404);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partner_is_warned_before_its_failing_endpoint_is_paused() {
    // Scenario: pause after 2 failed messages, no retries. The first failed message
    // brings a warning report (endpoint_failing, with the earliest time of the pause)
    // and a webhook.endpoint.failing message to the partner's other endpoint; the
    // second pauses the endpoint.
    for backend in BACKENDS {
        let server = server(backend, 2).await;
        let (failing, watcher) = (Inbox::start().await, Inbox::start().await);
        failing.answer(500);
        let (_, endpoint) = post(
            &server,
            "/webhooks/endpoints",
            json!({"url": failing.url, "retry_schedule": []}),
        )
        .await;
        let id = endpoint["id"].as_str().unwrap().to_owned();
        let (status, _) = post(
            &server,
            "/webhooks/endpoints",
            json!({"url": watcher.url, "event_types": ["webhook.endpoint.failing"]}),
        )
        .await;
        assert_eq!(status, 201);
        let person = json!({"email": "w1@example.com", "first_name": "A", "last_name": "B"});
        assert_eq!(post(&server, "/accounts", person).await.0, 201);

        let warned = watcher.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(types(&watcher), ["webhook.endpoint.failing"], "{backend:?}");
        let event: Value = serde_json::from_slice(&warned[0].1).unwrap();
        assert_eq!(event["data"]["endpoint_id"], id.as_str());
        assert_eq!(event["data"]["failure_run"], 1);
        assert_eq!(event["data"]["pause_after"], 2);
        let (_, reports) = call(
            &server,
            reqwest::Method::GET,
            "/webhooks/reports",
            Value::Null,
        )
        .await;
        let warning = reports
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "endpoint_failing")
            .unwrap_or_else(|| panic!("{backend:?}: {reports}"));
        assert_eq!(warning["id"], event["data"]["report_id"]);
        assert_eq!(warning["pauses_at"], event["data"]["pauses_at"]);
        assert!(
            warning["summary"]
                .as_str()
                .unwrap()
                .contains("one more failed message pauses the endpoint")
        );

        let person = json!({"email": "w2@example.com", "first_name": "A", "last_name": "B"});
        assert_eq!(post(&server, "/accounts", person).await.0, 201);
        let mut state = Value::Null;
        for _ in 0..200 {
            let (_, read) = call(
                &server,
                reqwest::Method::GET,
                &format!("/webhooks/endpoints/{id}"),
                Value::Null,
            )
            .await;
            state = read["state"].clone();
            if state == "paused" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(state, "paused", "{backend:?}");
    }
}
