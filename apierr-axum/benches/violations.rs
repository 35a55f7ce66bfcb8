//! The cost of reporting every violation of a large body: a 64 KiB JSON body with 32
//! fields of the wrong type spread through it, against a valid body of the same size,
//! through the same router and `Json` extractor (the reference: what the request costs
//! when nothing is wrong). Run with `cargo bench -p apierr-axum --bench violations`, or
//! count instructions with `benches/instructions.py apierr-axum violations` (the printed
//! `valid/apierr` is the valid body's cost over the invalid one's: 0.10 is ten times).

#![allow(missing_docs)]

#[path = "../../benches/cases.rs"]
mod cases;

use apierr::Profile;
use apierr_axum::{ContractLayer, Json};
use axum::Router;
use axum::body::Body;
use axum::routing::post;
use cases::Case;
use http::Request;
use http::header::CONTENT_TYPE;
use serde::Deserialize;
use tower::{Layer, ServiceExt};

#[derive(Deserialize)]
#[allow(dead_code)]
struct Item {
    name: String,
    email: String,
    age: u32,
    active: bool,
}

/// A body of `items` items (about 64 KiB at 860), every `items / wrong`-th with an age
/// that is a string.
fn body(items: usize, wrong: usize) -> String {
    let every = items.checked_div(wrong).unwrap_or(usize::MAX);
    let list: Vec<String> = (0..items)
        .map(|i| {
            let age = if i % every == every - 1 {
                "\"old\"".to_owned()
            } else {
                (20 + i % 50).to_string()
            };
            format!(
                r#"{{"name":"person {i:05}","email":"p{i:05}@example.com","age":{age},"active":true}}"#
            )
        })
        .collect();
    format!("[{}]", list.join(","))
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = &rt;
    let router = Router::new().route(
        "/items",
        post(|Json(items): Json<Vec<Item>>| async move { items.len().to_string() }),
    );
    let app = ContractLayer::new(Profile::ERRORS_ARRAY)
        .body_limit(1 << 20)
        .layer(router);
    let valid = body(860, 0);
    let invalid = body(860, 32);
    assert!(
        valid.len() > 60_000 && valid.len() <= 64 * 1024,
        "{}",
        valid.len()
    );
    let request = |text: &str| {
        Request::post("/items")
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(text.to_owned()))
            .unwrap()
    };
    let answered = rt.block_on(app.clone().oneshot(request(&invalid))).unwrap();
    assert_eq!(answered.status(), 400);
    let text = rt
        .block_on(axum::body::to_bytes(answered.into_body(), 1 << 20))
        .unwrap();
    let reported: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(
        reported["errors"].as_array().map(Vec::len),
        Some(32),
        "every violation reported: {reported}"
    );
    let a = app.clone();
    cases::main(vec![
        Case::new("violations/json-64k/apierr", move || {
            rt.block_on(a.clone().oneshot(request(&invalid))).unwrap()
        }),
        Case::new("violations/json-64k/valid", move || {
            rt.block_on(app.clone().oneshot(request(&valid))).unwrap()
        }),
    ]);
}
