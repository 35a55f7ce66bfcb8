//! The `openapi` feature: a router of one's own routed through aide gets every error its
//! extractors can answer documented in its profile, and answers only those.

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post};
use aide::openapi::OpenApi;
use apierr::{ApiError, Condition, Profile};
use apierr_axum::{ContractLayer, Created, Json, Path, Valid, not_found};
use serde_json::Value;
use tower_layer::Layer;

use crate::serve;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct OrderId {
    /// The order's number.
    id: u32,
}

#[derive(serde::Deserialize, schemars::JsonSchema, garde::Validate)]
struct NewOrder {
    /// What is ordered.
    #[garde(length(min = 1, max = 32))]
    sku: String,
    /// How many.
    #[garde(range(min = 1, max = 10))]
    quantity: u8,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Order {
    id: u32,
    sku: String,
}

async fn read_order(Path(OrderId { id }): Path<OrderId>) -> Result<Json<Order>, ApiError> {
    if id == 0 {
        Err(Condition::NotFound.into())
    } else {
        Ok(Json(Order {
            id,
            sku: "tea".into(),
        }))
    }
}

async fn create_order(Valid(Json(new)): Valid<Json<NewOrder>>) -> Created<Order> {
    Created(Order {
        id: 1,
        sku: new.sku,
    })
}

/// The app in `profile` and its document.
fn app(profile: &Profile) -> (axum::Router, Value) {
    let mut api = OpenApi::default();
    let router = ApiRouter::new()
        .api_route(
            "/orders/{id}",
            get_with(read_order, |op| {
                apierr_axum::openapi::conditions(op, &[Condition::NotFound])
            }),
        )
        .api_route("/orders", post(create_order))
        .fallback(not_found)
        .finish_api(&mut api);
    api.info.title = "orders".into();
    apierr_axum::openapi::finish(&mut api, &ContractLayer::new(profile.clone()));
    (router, serde_json::to_value(&api).unwrap())
}

#[tokio::test]
async fn every_answer_of_bad_input_is_declared_for_its_operation() {
    // Scenario: bad ids, bad bodies, wrong content types and missing fields against a
    // router of one's own, in every profile: each answer's status is one the document
    // declares for that operation, with the profile's error schema and an example.
    for profile in Profile::ALL {
        let (router, doc) = app(profile);
        let base = serve(ContractLayer::new(profile.clone()).layer(router)).await;
        let client = reqwest::Client::new();
        let declared = |path: &str, method: &str, status: u16| {
            doc["paths"][path][method]["responses"][status.to_string()].clone()
        };
        let bodies: [(&str, &str); 6] = [
            ("application/json", r#"{"sku": "tea", "quantity": 2}"#),
            ("application/json", r#"{"sku": "", "quantity": 99}"#),
            ("application/json", r#"{"sku": "tea"}"#),
            ("application/json", r#"{"sku": 5, "quantity": 1}"#),
            ("application/json", "{not json"),
            ("text/plain", "sku=tea"),
        ];
        let mut statuses = Vec::new();
        for (content_type, body) in bodies {
            let r = client
                .post(format!("{base}/orders"))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            statuses.push(status);
            let response = declared("/orders", "post", status);
            assert!(
                response.is_object(),
                "{}: POST {body:?} answered {status}, not declared",
                profile.name()
            );
            if status >= 400 {
                let media =
                    &response["content"][profile.dialect().content_type().to_str().unwrap()];
                assert_eq!(media["schema"]["$ref"], "#/components/schemas/Error");
                assert!(media["examples"].as_object().is_some_and(|e| !e.is_empty()));
            }
        }
        assert!(statuses.contains(&201) && statuses.iter().any(|s| *s >= 400));
        for id in ["7", "0", "x", "%FF", "99999999999"] {
            let r = client
                .get(format!("{base}/orders/{id}"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            assert!(
                declared("/orders/{id}", "get", status).is_object(),
                "{}: GET /orders/{id} answered {status}, not declared",
                profile.name()
            );
        }
        assert_eq!(
            doc["components"]["schemas"]["Error"],
            profile.dialect().error_schema()
        );
    }
}

#[test]
fn a_wrapping_dialect_documents_its_envelope_and_the_rest_do_not() {
    // Scenario: seed 000's profile wraps success bodies; its document says so, and no
    // other profile's does.
    let entity = |doc: &Value| {
        doc["paths"]["/orders"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
            .clone()
    };
    let (_, wrapped) = app(&Profile::WRAPPER);
    assert_eq!(
        entity(&wrapped)["properties"]["status"]["enum"][0],
        "success"
    );
    let (_, bare) = app(&Profile::PROBLEM);
    assert!(
        entity(&bare)["properties"]["status"].is_null(),
        "{}",
        entity(&bare)
    );
}

#[test]
fn the_documents_pass_openapi_spec_validator() {
    // Scenario: every profile's document of the router is valid OpenAPI, checked by
    // openapi-spec-validator (PyPI), not by this crate.
    let python = apierr_testkit::python_with("openapi_spec_validator");
    for profile in Profile::ALL {
        let (_, doc) = app(profile);
        let file =
            std::env::temp_dir().join(format!("{}.json", apierr_testkit::unique("axum_openapi")));
        let mut doc = doc;
        doc["openapi"] = "3.1.0".into();
        std::fs::write(&file, doc.to_string()).unwrap();
        let out = std::process::Command::new(&python)
            .args(["-m", "openapi_spec_validator"])
            .arg(&file)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&file);
        assert!(
            out.status.success(),
            "{}: {}{}",
            profile.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn pages_plain_and_empty_answers_are_documented_as_the_dialect_sends_them() {
    // Scenario: a page carries its total header; in seed 000's profile an empty answer is
    // the envelope alone and a plain one has no envelope.
    use apierr_axum::{Empty, Page, Plain};
    async fn list() -> Page<Order> {
        Page::new(Vec::new(), 0)
    }
    async fn token() -> Plain<Order> {
        Plain(Order {
            id: 1,
            sku: "tea".into(),
        })
    }
    async fn remove() -> Empty {
        Empty
    }
    let mut api = OpenApi::default();
    let _router: axum::Router = ApiRouter::new()
        .api_route("/orders", get_with(list, |op| op))
        .api_route("/token", post(token))
        .api_route("/orders/{id}", aide::axum::routing::delete(remove))
        .finish_api(&mut api);
    apierr_axum::openapi::finish(&mut api, &ContractLayer::new(Profile::WRAPPER));
    let doc = serde_json::to_value(&api).unwrap();
    let ok = |path: &str, method: &str| doc["paths"][path][method]["responses"]["200"].clone();
    assert_eq!(
        ok("/orders", "get")["headers"]["X-Total-Count"]["required"],
        true
    );
    let schema = |r: Value| r["content"]["application/json"]["schema"].clone();
    assert_eq!(
        schema(ok("/orders", "get"))["properties"]["status"]["enum"][0],
        "success"
    );
    assert!(schema(ok("/token", "post"))["properties"]["status"].is_null());
    assert_eq!(
        schema(ok("/orders/{id}", "delete"))["properties"]["entity"]["type"],
        "null"
    );
    // Nothing of the markers is left in the document.
    assert!(!doc.to_string().contains("x-apierr-"), "{doc}");
}

#[tokio::test]
async fn a_route_with_a_contract_of_its_own_documents_both_contracts_answers() {
    // Scenario: a token route answers in OAuth's form behind its own contract layer,
    // inside the router's contract with a timeout. A slow handler is cut off by the
    // outer layer, in the outer profile's form: the document declares that answer at
    // its status and media type beside the route's own errors, in every profile.
    use std::time::Duration;
    async fn slow() -> Json<u32> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Json(1)
    }
    let inner = || ContractLayer::new(Profile::OAUTH_TOKEN).check_accept(false);
    for profile in Profile::ALL {
        let outer = ContractLayer::new(profile.clone()).timeout(Duration::from_millis(50));
        let mut api = OpenApi::default();
        let router: axum::Router = ApiRouter::new()
            .api_route(
                "/token",
                aide::axum::routing::post_with(slow, |op| {
                    let op = apierr_axum::openapi::conditions(op, &[Condition::ServiceUnavailable]);
                    apierr_axum::openapi::answers_in(op, &inner(), "TokenError")
                })
                .route_layer(inner()),
            )
            .finish_api(&mut api);
        apierr_axum::openapi::finish(&mut api, &outer);
        let doc = apierr_axum::openapi::to_json(&api);
        assert!(!doc.to_string().contains("x-apierr-"), "{doc}");
        let base = serve(outer.layer(router)).await;
        let r = reqwest::Client::new()
            .post(format!("{base}/token"))
            .send()
            .await
            .unwrap();
        let code = r.status();
        let status = code.as_u16().to_string();
        let headers = r.headers().clone();
        let media = headers["content-type"].to_str().unwrap().to_owned();
        let body = r.bytes().await.unwrap();
        let declared = &doc["paths"]["/token"]["post"]["responses"][&status]["content"][&media];
        assert!(
            declared.is_object(),
            "{}: {status} {media} undeclared",
            profile.name()
        );
        let example = declared["examples"]["timeout"]["value"].to_string();
        assert_eq!(
            profile.parse(code, &headers, example.as_bytes()).code(),
            profile.parse(code, &headers, &body).code(),
            "{}",
            profile.name()
        );
        assert_eq!(
            profile.parse(code, &headers, &body).code(),
            profile.catalog().condition(Condition::Timeout).code(),
            "{}",
            profile.name()
        );
    }
}
