//! `apierr catalog export` and `apierr catalog diff`: each rule found in a pair crafted
//! for it, classified as the table below says; the profiles compared with each other
//! (reviewed snapshots); and the command's exit codes.

use std::process::Command;

use apierr::{CatalogExport, Profile};
use apierr_cli::diff::{Rule, diff};
use serde_json::{Value, json};

/// The classification each rule must have, written out here rather than read from the
/// code under test.
const BREAKING: &[(&str, bool)] = &[
    ("profile-removed", true),
    ("profile-added", false),
    ("dialect-changed", true),
    ("content-type-changed", true),
    ("code-removed", true),
    ("code-added", false),
    ("code-status-changed", true),
    ("code-category-changed", true),
    ("condition-code-changed", true),
    ("code-wording-changed", false),
    ("member-removed", true),
    ("member-added", false),
    ("operation-removed", true),
    ("operation-added", false),
    ("status-added", true),
    ("status-removed", false),
    ("success-status-removed", true),
    ("success-status-added", false),
    ("operation-code-added", false),
    ("operation-code-removed", false),
];

fn export(profiles: &[Profile]) -> Value {
    serde_json::to_value(CatalogExport::of(profiles)).unwrap()
}

/// The index of the code `code` in the first profile of an export.
fn code_index(export: &Value, code: Value) -> usize {
    export["profiles"][0]["codes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["code"] == code)
        .unwrap_or_else(|| panic!("no code {code}"))
}

/// A small OpenAPI document: one operation answering 201, 400 and 404 in problem
/// details, with named examples.
fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/accounts": {"post": {"responses": {
            "201": {"description": "Created"},
            "400": {"description": "Bad", "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": {"malformed_body": {"value": {
                    "type": "about:blank", "title": "Bad Request", "status": 400,
                    "code": "malformed_body"}}}}}},
            "404": {"$ref": "#/components/responses/NotFound"}
        }}}},
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["type", "title", "status"],
                "properties": {"type": {}, "title": {}, "status": {}, "code": {}}}},
            "responses": {"NotFound": {"description": "Not found",
                "content": {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Error"},
                    "examples": {"not_found": {"value": {"type": "about:blank",
                        "title": "Not Found", "status": 404, "code": "not_found"}}}}}}}
        }
    })
}

/// For each rule, an old and a new document that differ by that rule's change.
fn crafted(rule: &str) -> (Value, Value) {
    let old = export(&[Profile::ERRORS_ARRAY]);
    let mut new = old.clone();
    let profile = &mut new["profiles"][0];
    let not_found = code_index(&old, json!(3001));
    match rule {
        "profile-removed" => return (old, json!({"apierr_catalog_export": 1, "profiles": []})),
        "profile-added" => return (old, export(&[Profile::ERRORS_ARRAY, Profile::NESTED])),
        "dialect-changed" => profile["dialect"] = json!("nested"),
        "content-type-changed" => profile["content_type"] = json!("text/plain"),
        "code-removed" => {
            profile["codes"].as_array_mut().unwrap().remove(not_found);
        }
        "code-added" => profile["codes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"code": 3999, "status": 409, "category": "content",
                "message": "m", "description": "d", "conditions": []})),
        "code-status-changed" => profile["codes"][not_found]["status"] = json!(410),
        "code-category-changed" => profile["codes"][not_found]["category"] = json!("server"),
        "condition-code-changed" => {
            // not_found moves from 3001 to 3002.
            profile["codes"][not_found]["conditions"] = json!([]);
            let other = code_index(&old, json!(3002));
            profile["codes"][other]["conditions"]
                .as_array_mut()
                .unwrap()
                .push(json!("not_found"));
        }
        "code-wording-changed" => profile["codes"][not_found]["message"] = json!("no such entity"),
        "member-removed" => {
            let body = profile["body"].as_array_mut().unwrap();
            body.retain(|m| m["path"] != "errors[].errorCode");
        }
        "member-added" => profile["body"]
            .as_array_mut()
            .unwrap()
            .push(json!({"path": "errors[].hint", "required": true})),
        _ => return crafted_document(rule),
    }
    (old, new)
}

fn crafted_document(rule: &str) -> (Value, Value) {
    let old = document();
    let mut new = old.clone();
    let responses = &mut new["paths"]["/accounts"]["post"]["responses"];
    match rule {
        "operation-removed" => new["paths"] = json!({}),
        "operation-added" => new["paths"]["/accounts"]["get"] = json!({"responses": {}}),
        "status-added" => {
            responses["409"] = json!({"description": "Conflict", "content": {
                "application/problem+json": {"examples": {"already_exists": {"value": {
                    "type": "about:blank", "title": "Conflict", "status": 409,
                    "code": "already_exists"}}}}}})
        }
        "status-removed" => {
            responses.as_object_mut().unwrap().remove("404");
        }
        "success-status-removed" => {
            responses.as_object_mut().unwrap().remove("201");
        }
        "success-status-added" => responses["200"] = json!({"description": "OK"}),
        "operation-code-added" => {
            responses["400"]["content"]["application/problem+json"]["examples"]["invalid"] = json!({
                "value": {"type": "about:blank", "title": "Bad Request", "status": 400,
                    "code": "invalid_parameter"}})
        }
        "operation-code-removed" => {
            responses["400"]["content"]["application/problem+json"]["examples"] = json!({})
        }
        "condition-code-changed-in-document" => {
            responses["400"]["content"]["application/problem+json"]["examples"]["malformed_body"]
                ["value"]["code"] = json!("bad_json")
        }
        "member-removed-in-document" => {
            new["components"]["schemas"]["Error"]["required"] = json!(["type", "status"])
        }
        other => panic!("no crafted pair for {other}"),
    }
    (old, new)
}

#[test]
fn each_rule_is_found_in_the_pair_crafted_for_it() {
    // Scenario: every rule has a pair that shows it, with the classification of the
    // table; the table covers every rule the command knows.
    assert_eq!(
        BREAKING.len(),
        Rule::ALL.len(),
        "a rule without an expectation"
    );
    for (name, breaking) in BREAKING {
        let rule = Rule::by_name(name).unwrap_or_else(|| panic!("no rule {name}"));
        let (old, new) = crafted(name);
        let changes = diff(&old, &new).unwrap();
        let found = changes
            .iter()
            .find(|c| c.rule == rule)
            .unwrap_or_else(|| panic!("{name}: not found in {changes:#?}"));
        assert_eq!(found.breaking, *breaking, "{name}: {found:?}");
        assert!(!found.reason.is_empty());
    }
    // The document forms of two rules that also apply to exports.
    for (variant, rule) in [
        (
            "condition-code-changed-in-document",
            Rule::ConditionCodeChanged,
        ),
        ("member-removed-in-document", Rule::MemberRemoved),
    ] {
        let (old, new) = crafted_document(variant);
        let changes = diff(&old, &new).unwrap();
        assert!(
            changes.iter().any(|c| c.rule == rule && c.breaking),
            "{variant}: {changes:#?}"
        );
    }
}

#[test]
fn a_contract_compared_with_itself_has_no_change() {
    // Scenario: every profile's export, and the reference document, diff to nothing.
    let all = export(Profile::ALL);
    assert_eq!(diff(&all, &all).unwrap(), []);
    let config = apierr_reference::Config::new("sqlite::memory:");
    let document = apierr_reference::openapi_document(&config);
    assert_eq!(diff(&document, &document).unwrap(), []);
}

#[test]
fn unreadable_and_mismatched_documents_are_refused() {
    // Scenario: a document of neither kind, two of different kinds, and an export of
    // another version are errors, not empty diffs.
    let export = export(&[Profile::PROBLEM]);
    assert!(diff(&json!({}), &export).is_err());
    assert!(diff(&export, &document()).is_err());
    let mut future = export.clone();
    future["apierr_catalog_export"] = json!(99);
    assert!(diff(&future, &export).is_err());
}

/// The diff from the general `problem` profile to `profile`, as the command prints it.
fn from_problem(profile: &Profile) -> String {
    let mut old = export(&[Profile::PROBLEM]);
    old["profiles"][0]["name"] = json!(profile.name());
    let new = export(std::slice::from_ref(profile));
    diff(&old, &new)
        .unwrap()
        .iter()
        .map(|c| format!("{c}\n"))
        .collect()
}

#[test]
fn the_profiles_depart_from_the_general_catalog_as_reviewed() {
    // Scenario: each seed profile compared with the general one, as a reviewed
    // snapshot: a change in any catalog or dialect shows here.
    for profile in &Profile::ALL[1..] {
        insta::assert_snapshot!(
            format!("from_problem_to_{}", profile.name()),
            from_problem(profile)
        );
    }
}

fn apierr(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_apierr"))
        .args(args)
        .output()
        .expect("the apierr binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_command_exits_by_what_it_found() {
    // Scenario: `catalog export` writes what `catalog diff` reads; no change exits 0, a
    // breaking one 1 unless allowed, a harmless one 0, an unreadable file 2.
    let dir = tempdir();
    let write = |name: &str, value: &Value| {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (code, exported) = apierr(&["catalog", "export", "--profile", "errors-array"]);
    assert_eq!(code, 0);
    let exported: Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(exported, export(&[Profile::ERRORS_ARRAY]));
    let same = write("same.json", &exported);
    assert_eq!(apierr(&["catalog", "diff", &same, &same]).0, 0);

    let (old, new) = crafted("code-status-changed");
    let (old, new) = (write("old.json", &old), write("new.json", &new));
    let (code, out) = apierr(&["catalog", "diff", &old, &new]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BREAKING code-status-changed"), "{out}");
    let allowed = [
        "catalog",
        "diff",
        &old,
        &new,
        "--allow",
        "code-status-changed",
    ];
    assert_eq!(apierr(&allowed).0, 0);
    let (code, out) = apierr(&["catalog", "diff", &old, &new, "--json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["breaking"], 1);
    assert_eq!(report["changes"][0]["rule"], "code-status-changed");

    let (old, new) = crafted("code-wording-changed");
    let (old, new) = (write("old2.json", &old), write("new2.json", &new));
    assert_eq!(apierr(&["catalog", "diff", &old, &new]).0, 0);

    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    assert_eq!(
        apierr(&["catalog", "diff", garbage.to_str().unwrap(), &same]).0,
        2
    );
    assert_eq!(
        apierr(&["catalog", "diff", "/nonexistent/apierr.json", &same]).0,
        2
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "apierr-diff-{}-{}",
        std::process::id(),
        apierr_testkit::unique("d")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
