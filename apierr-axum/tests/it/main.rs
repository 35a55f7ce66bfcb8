//! apierr-axum's layers and extractors, on a real server bound to 127.0.0.1:0.

mod layers;

use apierr::Profile;
use axum::Router;

/// Serves `router` on a free loopback port; returns its base URL.
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

/// Reads a response back through `profile`.
pub(crate) async fn read(
    profile: &Profile,
    r: reqwest::Response,
) -> (u16, http::HeaderMap, String, apierr::ApiError) {
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.text().await.unwrap();
    let error = profile.parse(status, &headers, body.as_bytes());
    (status.as_u16(), headers, body, error)
}
