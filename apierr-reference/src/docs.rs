//! `/docs/errors`: the error-handling plan of the API (seed 001), made once from the
//! document the server serves at `/openapi.json`, in HTML, Markdown or JSON.

use std::sync::Arc;

use apierr::{Plan, Profile};
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

/// Where the plan is served.
pub(crate) const ERRORS_PATH: &str = "/docs/errors";

/// The plan, rendered in each format once.
#[derive(Debug, Clone)]
pub(crate) struct ErrorPlan(Arc<Rendered>);

#[derive(Debug)]
struct Rendered {
    html: Bytes,
    markdown: Bytes,
    json: Bytes,
}

impl ErrorPlan {
    pub(crate) fn new(document: &serde_json::Value, profile: &Profile) -> Self {
        let plan = Plan::from_openapi(document, profile);
        ErrorPlan(Arc::new(Rendered {
            html: Bytes::from(plan.html()),
            markdown: Bytes::from(plan.markdown()),
            json: Bytes::from(serde_json::to_vec(&plan).unwrap_or_default()),
        }))
    }

    /// The plan in the format `?format=` names (`html`, the default; `markdown`;
    /// `json`). A query naming another format is a 400 in the contract.
    pub(crate) async fn answer(self, RawQuery(query): RawQuery) -> Response {
        let format = query
            .as_deref()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("format="));
        let (content_type, body) = match format {
            None | Some("html") => ("text/html; charset=utf-8", &self.0.html),
            Some("markdown" | "md") => ("text/markdown; charset=utf-8", &self.0.markdown),
            Some("json") => ("application/json", &self.0.json),
            Some(_) => {
                return apierr::ApiError::from(apierr::Condition::InvalidParameter)
                    .with_violation(apierr::FieldViolation::parameter(
                        "format",
                        "must be html, markdown or json",
                    ))
                    .into_response();
            }
        };
        (
            [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "max-age=300")],
            body.clone(),
        )
            .into_response()
    }
}
