//! The policy's overhead on a successful request: the same GET to a local axum server
//! through plain `reqwest` and through `apierr_client::Client` (the retry loop, the
//! deadline timer, the budget, the error classification on the way out), in one run. One
//! runtime thread drives both client and server, so callgrind counts are reproducible.
//!
//! `cargo bench -p apierr-client --bench overhead`, or in instructions:
//! `benches/instructions.py apierr-client overhead`.

// criterion's macros write undocumented functions.
#![allow(missing_docs)]

#[path = "../../benches/cases.rs"]
mod cases;

use apierr_client::Client;
use axum::Router;
use axum::routing::get;
use cases::Case;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/r", listener.local_addr().unwrap());
        let app = Router::new().route("/r", get(|| async { "{\"ok\":true}" }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    });
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ours = Client::new();
    let cases = vec![
        Case::new("success/get/reqwest", || {
            rt.block_on(async {
                let r = plain.get(&url).send().await.unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap()
            })
        }),
        Case::new("success/get/apierr", || {
            rt.block_on(async {
                let r = ours.get(&url).send().await.unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap()
            })
        }),
    ];
    cases::main(cases);
}
