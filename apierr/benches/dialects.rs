//! Renders and parses one validation error in each dialect, against `serde_json`
//! serialising and deserialising a struct of the same body shape directly (what an API
//! would write by hand). Run with `cargo bench -p apierr --bench dialects`, or count
//! instructions with `benches/instructions.py apierr dialects`.

#![allow(missing_docs)]

#[path = "../../benches/cases.rs"]
mod cases;

use std::hint::black_box;

use apierr::{ApiError, Code, DIALECTS, Dialect, FieldViolation, parse_any};
use cases::Case;
use http::StatusCode;
use serde::{Deserialize, Serialize};

/// The error every dialect renders: the shape of seed 002's validation example, with a
/// request id where the dialect has a place for it.
fn error(d: &dyn Dialect) -> ApiError {
    let (code, message) = match d.name() {
        "oauth" => (
            Code::text("invalid_token"),
            "Invalid access token: eyJhbGciOiJSUzIi.......3gZthv7Y".to_owned(),
        ),
        "specific-code" => (
            Code::numeric(23016),
            "'first_name' does not validate".to_owned(),
        ),
        _ => (Code::numeric(5000), "validation error".to_owned()),
    };
    let e = ApiError::new(StatusCode::BAD_REQUEST, code, message);
    if d.name() == "oauth" {
        return e;
    }
    e.with_violations([
        FieldViolation::body("first_name", "First name is required"),
        FieldViolation::body("last_name", "Last name is required"),
    ])
    .with_request_id("4f6c1a2e-9b1d-4c55-8a0e-2f1e3d4c5b6a")
}

// The reference: plain derived structs of each body shape, owned strings as a hand-written
// API would keep them.

#[derive(Serialize, Deserialize)]
struct RefViolation {
    field: String,
    #[serde(rename = "in")]
    location: String,
    detail: String,
}

#[derive(Serialize, Deserialize)]
struct RefProblem {
    #[serde(rename = "type")]
    type_uri: String,
    title: String,
    status: u16,
    detail: String,
    code: u32,
    request_id: String,
    errors: Vec<RefViolation>,
}

#[derive(Serialize, Deserialize)]
struct RefWrapperViolation {
    field: String,
    message: String,
    #[serde(rename = "in")]
    location: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefWrapper {
    message: String,
    status: String,
    code: u32,
    request_id: String,
    entity: Option<()>,
    validation_errors: Vec<RefWrapperViolation>,
    result_count: u32,
    total_count: u32,
}

#[derive(Serialize, Deserialize)]
struct RefOAuth {
    error: String,
    error_description: String,
}

#[derive(Serialize, Deserialize)]
struct RefNestedParam {
    field: String,
    message: String,
}

#[derive(Serialize, Deserialize)]
struct RefNestedExtra {
    #[serde(rename = "invalid-params")]
    invalid_params: Vec<RefNestedParam>,
    request_id: String,
}

#[derive(Serialize, Deserialize)]
struct RefNestedInner {
    code: u32,
    message: String,
    extra: RefNestedExtra,
}

#[derive(Serialize, Deserialize)]
struct RefNested {
    error: RefNestedInner,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefItem {
    error_code: u32,
    message: String,
    subject: String,
    subject_type: String,
    detail: String,
}

#[derive(Serialize, Deserialize)]
struct RefErrorsArray {
    errors: Vec<RefItem>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefSpecific {
    error_code: u16,
    message: String,
    specific_code: u32,
    additional_messages: Vec<String>,
}

/// Serialises the reference struct for dialect `d` built from `e`'s parts (the building
/// is outside the timed loop, as the ApiError's is).
enum Reference {
    Problem(RefProblem),
    Wrapper(RefWrapper),
    OAuth(RefOAuth),
    Nested(RefNested),
    ErrorsArray(RefErrorsArray),
    Specific(RefSpecific),
}

fn reference(d: &dyn Dialect, e: &ApiError) -> Reference {
    let s = |x: &str| x.to_owned();
    let code = e.code().as_u32().unwrap_or(0);
    let id = s(e.request_id().unwrap_or(""));
    let v = e.violations();
    match d.name() {
        "problem" => Reference::Problem(RefProblem {
            type_uri: s("about:blank"),
            title: s("Bad Request"),
            status: 400,
            detail: s(e.message()),
            code,
            request_id: id,
            errors: v
                .iter()
                .map(|v| RefViolation {
                    field: s(v.field()),
                    location: s("body"),
                    detail: s(v.message()),
                })
                .collect(),
        }),
        "wrapper" => Reference::Wrapper(RefWrapper {
            message: s(e.message()),
            status: s("fail"),
            code,
            request_id: id,
            entity: None,
            validation_errors: v
                .iter()
                .map(|v| RefWrapperViolation {
                    field: s(v.field()),
                    message: s(v.message()),
                    location: s("body"),
                })
                .collect(),
            result_count: 0,
            total_count: 0,
        }),
        "oauth" => Reference::OAuth(RefOAuth {
            error: e.code().to_string(),
            error_description: s(e.message()),
        }),
        "nested" => Reference::Nested(RefNested {
            error: RefNestedInner {
                code,
                message: s(e.message()),
                extra: RefNestedExtra {
                    invalid_params: v
                        .iter()
                        .map(|v| RefNestedParam {
                            field: s(v.field()),
                            message: s(v.message()),
                        })
                        .collect(),
                    request_id: id,
                },
            },
        }),
        "errors-array" => Reference::ErrorsArray(RefErrorsArray {
            errors: v
                .iter()
                .map(|v| RefItem {
                    error_code: code,
                    message: s(e.message()),
                    subject: s(v.field()),
                    subject_type: s("body"),
                    detail: s(v.message()),
                })
                .collect(),
        }),
        _ => Reference::Specific(RefSpecific {
            error_code: 400,
            message: s(e.message()),
            specific_code: code,
            additional_messages: vec![s(v[0].message())],
        }),
    }
}

impl Reference {
    fn to_vec(&self) -> Vec<u8> {
        match self {
            Reference::Problem(r) => serde_json::to_vec(r),
            Reference::Wrapper(r) => serde_json::to_vec(r),
            Reference::OAuth(r) => serde_json::to_vec(r),
            Reference::Nested(r) => serde_json::to_vec(r),
            Reference::ErrorsArray(r) => serde_json::to_vec(r),
            Reference::Specific(r) => serde_json::to_vec(r),
        }
        .expect("reference serialises")
    }

    /// Deserialises `body` into this reference's type.
    fn parse(&self, body: &[u8]) -> bool {
        match self {
            Reference::Problem(_) => serde_json::from_slice::<RefProblem>(body).is_ok(),
            Reference::Wrapper(_) => serde_json::from_slice::<RefWrapper>(body).is_ok(),
            Reference::OAuth(_) => serde_json::from_slice::<RefOAuth>(body).is_ok(),
            Reference::Nested(_) => serde_json::from_slice::<RefNested>(body).is_ok(),
            Reference::ErrorsArray(_) => serde_json::from_slice::<RefErrorsArray>(body).is_ok(),
            Reference::Specific(_) => serde_json::from_slice::<RefSpecific>(body).is_ok(),
        }
    }
}

fn cases() -> Vec<Case<'static>> {
    let mut cases = Vec::new();
    for &d in DIALECTS {
        let name = d.name();
        let e = error(d);
        let rendered = d.render(&e);
        let headers = rendered.headers();
        let (render_ref, parse_ref) = (reference(d, &e), reference(d, &e));
        let ref_body = render_ref.to_vec();
        assert!(
            parse_ref.parse(&ref_body),
            "{name}: reference reads its own body"
        );
        cases.push(Case::new(format!("{name}/render/apierr"), move || {
            d.render(black_box(&e))
        }));
        cases.push(Case::new(format!("{name}/render/serde_json"), move || {
            black_box(&render_ref).to_vec()
        }));
        cases.push(Case::new(format!("{name}/parse/apierr"), move || {
            parse_any(rendered.status, &headers, black_box(&rendered.body))
        }));
        cases.push(Case::new(format!("{name}/parse/serde_json"), move || {
            parse_ref.parse(black_box(&ref_body))
        }));
    }
    cases
}

fn main() {
    cases::main(cases());
}
