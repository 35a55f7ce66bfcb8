//! apierr-axum's layers and extractors, on a real server bound to 127.0.0.1:0.

mod edge;
mod layers;
mod openapi;
mod safe;
mod serve;
mod stores;

use apierr::Profile;

/// Serves `app` (a router, or a router inside a contract layer) on a free loopback port;
/// returns its base URL.
pub(crate) async fn serve<S>(app: S) -> String
where
    S: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Through the crate's own accept loop, so that every test serves as users do.
    tokio::spawn(async move { apierr_axum::serve(listener, app).await.unwrap() });
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
