//! Parses each body of the vendor corpus (`tests/corpus`) with `parse_any`, against
//! `serde_json::from_slice::<Value>` of the same body: the recognisers' cost over reading
//! the JSON at all. Run with `cargo bench -p apierr --bench recognise`, or count
//! instructions with `benches/instructions.py apierr recognise`.

#![allow(missing_docs)]

#[path = "../../benches/cases.rs"]
mod cases;

use std::hint::black_box;

use apierr::parse_any;
use cases::Case;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::Value;
use serde_json::value::RawValue;

fn cases() -> Vec<Case<'static>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the corpus")
        .map(|e| e.expect("a corpus file").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read(&path).unwrap();
        let case: Value = serde_json::from_slice(&text).unwrap();
        // The body as the file writes it, its members in the documented order (a `Value`
        // would sort them).
        let raw: std::collections::HashMap<String, &RawValue> =
            serde_json::from_slice(&text).unwrap();
        let status = StatusCode::from_u16(case["status"].as_u64().unwrap() as u16).unwrap();
        let mut headers = HeaderMap::new();
        for (k, v) in case["headers"].as_object().unwrap() {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
            );
        }
        let body = match &case["body"] {
            Value::String(s) => s.clone().into_bytes(),
            _ => raw["body"].get().as_bytes().to_vec(),
        };
        let reference = body.clone();
        cases.push(Case::new(format!("{name}/parse/apierr"), move || {
            parse_any(status, &headers, black_box(&body))
        }));
        cases.push(Case::new(format!("{name}/parse/serde_json"), move || {
            serde_json::from_slice::<Value>(black_box(&reference)).ok()
        }));
    }
    cases
}

fn main() {
    cases::main(cases());
}
