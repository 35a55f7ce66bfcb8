//! Other vendors' error bodies, each from the public page its file names, read by
//! `parse_any`: what a person reading that vendor's documentation would extract.

use std::time::Duration;

use apierr::{Category, Code, parse_any};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::Value;
use serde_json::value::RawValue;

fn category(name: &str) -> Category {
    match name {
        "content" => Category::Content,
        "auth" => Category::Auth,
        "rate_limited" => Category::RateLimited,
        "server" => Category::Server,
        other => panic!("unknown category {other}"),
    }
}

#[test]
fn every_corpus_body_gives_what_its_documentation_says() {
    // Scenario: for each file of tests/corpus, the parsed error's format, category, code,
    // message, fields (location and name), request id, retry delay and documentation
    // link are the ones the file expects; a member it does not name is not checked.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus has {} bodies", files.len());
    let mut wrong = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let case: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert!(
            case["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("https://")),
            "{name}: source"
        );
        let status = StatusCode::from_u16(case["status"].as_u64().unwrap() as u16).unwrap();
        let mut headers = HeaderMap::new();
        for (k, v) in case["headers"].as_object().unwrap() {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
            );
        }
        // The body as the file writes it (members in the documented order), and
        // compact with its members sorted: the reading must not depend on either.
        let text = std::fs::read(path).unwrap();
        let raw: std::collections::HashMap<String, &RawValue> =
            serde_json::from_slice(&text).unwrap();
        let forms = match &case["body"] {
            Value::String(s) => vec![("text", s.clone().into_bytes())],
            other => vec![
                ("documented", raw["body"].get().as_bytes().to_vec()),
                ("sorted", serde_json::to_vec(other).unwrap()),
            ],
        };
        for (form, body) in forms {
            let error = parse_any(status, &headers, &body);
            let expect = &case["expect"];
            let mut check = |what: &str, ok: bool, got: String| {
                if !ok {
                    wrong.push(format!(
                        "{name} ({form}): {what}: got {got}, expected {}",
                        expect[what]
                    ));
                }
            };
            if let Some(f) = expect["format"].as_str() {
                check(
                    "format",
                    error.format() == Some(f),
                    format!("{:?}", error.format()),
                );
            }
            if let Some(c) = expect["category"].as_str() {
                check(
                    "category",
                    error.category() == category(c),
                    format!("{:?}", error.category()),
                );
            }
            match &expect["code"] {
                Value::String(c) => check(
                    "code",
                    error.code() == &Code::owned(c.clone()),
                    error.code().to_string(),
                ),
                Value::Number(n) => check(
                    "code",
                    error.code() == &Code::numeric(n.as_u64().unwrap() as u32),
                    error.code().to_string(),
                ),
                _ => {}
            }
            if let Some(m) = expect["message"].as_str() {
                check("message", error.message() == m, error.message().to_owned());
            }
            if let Some(fields) = expect["fields"].as_array() {
                let got: Vec<(String, String)> = error
                    .violations()
                    .iter()
                    .map(|v| (v.kind().as_str().to_owned(), v.field().to_owned()))
                    .collect();
                let want: Vec<(String, String)> = fields
                    .iter()
                    .map(|f| {
                        (
                            f[0].as_str().unwrap().to_owned(),
                            f[1].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect();
                // Sorting members may reorder a map from field to messages.
                let same = if form == "sorted" {
                    let (mut got, mut want) = (got.clone(), want);
                    got.sort();
                    want.sort();
                    got == want
                } else {
                    got == want
                };
                check("fields", same, format!("{got:?}"));
            }
            if let Some(id) = expect["request_id"].as_str() {
                check(
                    "request_id",
                    error.request_id() == Some(id),
                    format!("{:?}", error.request_id()),
                );
            }
            if let Some(secs) = expect["retry_after_secs"].as_f64() {
                check(
                    "retry_after_secs",
                    error.retry_after() == Some(Duration::from_secs_f64(secs)),
                    format!("{:?}", error.retry_after()),
                );
            }
            if let Some(url) = expect["doc_url"].as_str() {
                check(
                    "doc_url",
                    error.doc_url() == Some(url),
                    format!("{:?}", error.doc_url()),
                );
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
