//! `apierr catalog diff`: what changed in an error contract between two versions, each
//! change classified breaking or not by a rule written next to it.
//!
//! Either side is a catalog export ([`apierr::CatalogExport`], from `apierr catalog
//! export`) or an OpenAPI 3.x document; both sides are of the same kind. An export is
//! compared profile by profile and code by code; a document operation by operation,
//! status by status (the codes an operation answers are read from its examples with
//! [`apierr::parse_any`], so any vendor's format counts).
//!
//! Breaking means a partner that handles the old contract correctly can mishandle an
//! answer of the new one. Spec diff tools mark a status an operation newly answers as
//! information; here it is a break: the partner's error-handling plan has no action for
//! it (seed 001 agrees every error of every endpoint with the partner).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use apierr::export::{members, resolve};
use apierr::{CatalogExport, CodeExport, Member, ProfileExport};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;

/// A kind of change, with its classification and the reason for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Rule {
    /// A profile is gone.
    ProfileRemoved,
    /// A profile is new.
    ProfileAdded,
    /// A profile's errors are written in another dialect.
    DialectChanged,
    /// A profile's error bodies have another `Content-Type`.
    ContentTypeChanged,
    /// A code is no longer in the catalog.
    CodeRemoved,
    /// A code is new.
    CodeAdded,
    /// A code is sent with another status.
    CodeStatusChanged,
    /// A code has another category (and so another retry meaning).
    CodeCategoryChanged,
    /// A framework condition is answered with another code.
    ConditionCodeChanged,
    /// A code's message or description was reworded.
    CodeWordingChanged,
    /// A member of an error body is gone, or no longer always there.
    MemberRemoved,
    /// An error body has a new member, or one that is now always there.
    MemberAdded,
    /// An operation is gone.
    OperationRemoved,
    /// An operation is new.
    OperationAdded,
    /// An operation answers an error status it did not.
    StatusAdded,
    /// An operation no longer answers an error status.
    StatusRemoved,
    /// An operation no longer answers a success status.
    SuccessStatusRemoved,
    /// An operation answers a success status it did not.
    SuccessStatusAdded,
    /// An operation's examples show a code they did not.
    OperationCodeAdded,
    /// An operation's examples no longer show a code.
    OperationCodeRemoved,
}

impl Rule {
    /// Every rule, for `--allow` and the documentation.
    pub const ALL: &'static [Rule] = &[
        Rule::ProfileRemoved,
        Rule::ProfileAdded,
        Rule::DialectChanged,
        Rule::ContentTypeChanged,
        Rule::CodeRemoved,
        Rule::CodeAdded,
        Rule::CodeStatusChanged,
        Rule::CodeCategoryChanged,
        Rule::ConditionCodeChanged,
        Rule::CodeWordingChanged,
        Rule::MemberRemoved,
        Rule::MemberAdded,
        Rule::OperationRemoved,
        Rule::OperationAdded,
        Rule::StatusAdded,
        Rule::StatusRemoved,
        Rule::SuccessStatusRemoved,
        Rule::SuccessStatusAdded,
        Rule::OperationCodeAdded,
        Rule::OperationCodeRemoved,
    ];

    /// The rule's name, as `--allow` takes it (`code-removed`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::ProfileRemoved => "profile-removed",
            Rule::ProfileAdded => "profile-added",
            Rule::DialectChanged => "dialect-changed",
            Rule::ContentTypeChanged => "content-type-changed",
            Rule::CodeRemoved => "code-removed",
            Rule::CodeAdded => "code-added",
            Rule::CodeStatusChanged => "code-status-changed",
            Rule::CodeCategoryChanged => "code-category-changed",
            Rule::ConditionCodeChanged => "condition-code-changed",
            Rule::CodeWordingChanged => "code-wording-changed",
            Rule::MemberRemoved => "member-removed",
            Rule::MemberAdded => "member-added",
            Rule::OperationRemoved => "operation-removed",
            Rule::OperationAdded => "operation-added",
            Rule::StatusAdded => "status-added",
            Rule::StatusRemoved => "status-removed",
            Rule::SuccessStatusRemoved => "success-status-removed",
            Rule::SuccessStatusAdded => "success-status-added",
            Rule::OperationCodeAdded => "operation-code-added",
            Rule::OperationCodeRemoved => "operation-code-removed",
        }
    }

    /// The rule named `name`.
    pub fn by_name(name: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.name() == name)
    }

    /// Whether a change of this kind can make a correct partner mishandle an answer.
    pub fn breaking(self) -> bool {
        matches!(
            self,
            Rule::ProfileRemoved
                | Rule::DialectChanged
                | Rule::ContentTypeChanged
                | Rule::CodeRemoved
                | Rule::CodeStatusChanged
                | Rule::CodeCategoryChanged
                | Rule::ConditionCodeChanged
                | Rule::MemberRemoved
                | Rule::OperationRemoved
                | Rule::StatusAdded
                | Rule::SuccessStatusRemoved
        )
    }

    /// Why the change is classified so.
    pub fn reason(self) -> &'static str {
        match self {
            Rule::ProfileRemoved => "partners of that profile lose their contract",
            Rule::ProfileAdded => "no partner depends on it yet",
            Rule::DialectChanged => {
                "every error body changes shape; partners' parsers no longer read it"
            }
            Rule::ContentTypeChanged => {
                "partners that pick a parser by Content-Type pick the wrong one"
            }
            Rule::CodeRemoved => {
                "codes are stable: what the code answered is now answered with a code partners do not handle"
            }
            Rule::CodeAdded => {
                "a code a partner does not know falls back to its status and category"
            }
            Rule::CodeStatusChanged => {
                "partners that branch on the status (retry, re-authenticate) take the wrong branch"
            }
            Rule::CodeCategoryChanged => {
                "the category decides retries: a partner retries what it must not, or stops retrying what it may"
            }
            Rule::ConditionCodeChanged => {
                "the same failure comes with another code: a partner matching the old code misses it"
            }
            Rule::CodeWordingChanged => "messages are for people; partners match codes",
            Rule::MemberRemoved => "a partner reading the member finds it missing",
            Rule::MemberAdded => "readers that do not know it ignore it",
            Rule::OperationRemoved => "partners calling it get 404",
            Rule::OperationAdded => "no partner calls it yet",
            Rule::StatusAdded => {
                "the partner's error-handling plan has no action for it (seed 001); spec diff tools call this information"
            }
            Rule::StatusRemoved => "a partner's handling of it is no longer needed",
            Rule::SuccessStatusRemoved => "a partner waiting for that success never sees it",
            Rule::SuccessStatusAdded => {
                "a 2xx is a success whatever its number; check the partner reads it"
            }
            Rule::OperationCodeAdded => {
                "an unknown code falls back to its status; the plan should name it"
            }
            Rule::OperationCodeRemoved => "a partner's handling of it is no longer needed",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One change between two contracts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Change {
    /// Its rule.
    pub rule: Rule,
    /// Whether it breaks partners ([`Rule::breaking`]).
    pub breaking: bool,
    /// Where: `profile problem, code not_found`, `POST /accounts 409`.
    pub subject: String,
    /// What changed, old to new.
    pub detail: String,
    /// [`Rule::reason`].
    pub reason: &'static str,
}

impl Change {
    fn new(rule: Rule, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Change {
            rule,
            breaking: rule.breaking(),
            subject: subject.into(),
            detail: detail.into(),
            reason: rule.reason(),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.breaking { "BREAKING" } else { "ok" };
        write!(
            f,
            "{kind:8} {:24} {}: {} ({})",
            self.rule.name(),
            self.subject,
            self.detail,
            self.reason
        )
    }
}

/// Why two documents could not be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffError(String);

impl fmt::Display for DiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DiffError {}

/// The changes from `old` to `new`, two JSON documents of the same kind (catalog
/// exports or OpenAPI documents), in a stable order.
pub fn diff(old: &Value, new: &Value) -> Result<Vec<Change>, DiffError> {
    let mut changes = match (Kind::of(old)?, Kind::of(new)?) {
        (Kind::Export, Kind::Export) => diff_exports(&export(old)?, &export(new)?),
        (Kind::OpenApi, Kind::OpenApi) => diff_documents(old, new),
        _ => {
            return Err(DiffError(
                "one side is a catalog export and the other an OpenAPI document: compare \
                 two of a kind"
                    .into(),
            ));
        }
    };
    changes.sort();
    changes.dedup();
    Ok(changes)
}

enum Kind {
    Export,
    OpenApi,
}

impl Kind {
    fn of(document: &Value) -> Result<Kind, DiffError> {
        if document.get("apierr_catalog_export").is_some() {
            Ok(Kind::Export)
        } else if document.get("openapi").and_then(Value::as_str).is_some() {
            Ok(Kind::OpenApi)
        } else {
            Err(DiffError(
                "neither a catalog export (`apierr catalog export`) nor an OpenAPI document".into(),
            ))
        }
    }
}

fn export(document: &Value) -> Result<CatalogExport, DiffError> {
    let export: CatalogExport = serde_json::from_value(document.clone())
        .map_err(|e| DiffError(format!("not a catalog export: {e}")))?;
    if export.apierr_catalog_export != apierr::export::EXPORT_VERSION {
        return Err(DiffError(format!(
            "catalog export version {} (this apierr reads {})",
            export.apierr_catalog_export,
            apierr::export::EXPORT_VERSION
        )));
    }
    Ok(export)
}

fn diff_exports(old: &CatalogExport, new: &CatalogExport) -> Vec<Change> {
    let mut changes = Vec::new();
    let by_name = |e: &CatalogExport| -> BTreeMap<String, ProfileExport> {
        e.profiles
            .iter()
            .map(|p| (p.name.clone(), p.clone()))
            .collect()
    };
    let (old, new) = (by_name(old), by_name(new));
    for (name, was) in &old {
        let subject = format!("profile {name}");
        let Some(now) = new.get(name) else {
            changes.push(Change::new(Rule::ProfileRemoved, subject, "removed"));
            continue;
        };
        if was.dialect != now.dialect {
            changes.push(Change::new(
                Rule::DialectChanged,
                &subject,
                format!("{} → {}", was.dialect, now.dialect),
            ));
        }
        if was.content_type != now.content_type {
            changes.push(Change::new(
                Rule::ContentTypeChanged,
                &subject,
                format!("{} → {}", was.content_type, now.content_type),
            ));
        }
        diff_codes(&subject, &was.codes, &now.codes, &mut changes);
        diff_members(
            &format!("{subject}, body"),
            &was.body,
            &now.body,
            &mut changes,
        );
    }
    for name in new.keys().filter(|n| !old.contains_key(*n)) {
        changes.push(Change::new(
            Rule::ProfileAdded,
            format!("profile {name}"),
            "added",
        ));
    }
    changes
}

fn diff_codes(profile: &str, old: &[CodeExport], new: &[CodeExport], out: &mut Vec<Change>) {
    let key = |c: &CodeExport| c.code.to_string();
    let new_by_code: BTreeMap<String, &CodeExport> = new.iter().map(|c| (key(c), c)).collect();
    let old_by_code: BTreeMap<String, &CodeExport> = old.iter().map(|c| (key(c), c)).collect();
    for (code, was) in &old_by_code {
        let subject = format!("{profile}, code {code}");
        let Some(now) = new_by_code.get(code) else {
            out.push(Change::new(
                Rule::CodeRemoved,
                subject,
                format!("{} {} removed", was.status, was.message),
            ));
            continue;
        };
        if was.status != now.status {
            out.push(Change::new(
                Rule::CodeStatusChanged,
                &subject,
                format!("status {} → {}", was.status, now.status),
            ));
        }
        if was.category != now.category {
            out.push(Change::new(
                Rule::CodeCategoryChanged,
                &subject,
                format!("category {} → {}", was.category, now.category),
            ));
        }
        if was.message != now.message || was.description != now.description {
            out.push(Change::new(
                Rule::CodeWordingChanged,
                &subject,
                format!("{:?} → {:?}", was.message, now.message),
            ));
        }
    }
    for (code, now) in new_by_code
        .iter()
        .filter(|(c, _)| !old_by_code.contains_key(*c))
    {
        out.push(Change::new(
            Rule::CodeAdded,
            format!("{profile}, code {code}"),
            format!("{} {} added", now.status, now.message),
        ));
    }
    // Each condition's code, old and new.
    let condition_codes = |codes: &[CodeExport]| -> BTreeMap<String, String> {
        codes
            .iter()
            .flat_map(|c| c.conditions.iter().map(move |n| (n.clone(), key(c))))
            .collect()
    };
    let (was, now) = (condition_codes(old), condition_codes(new));
    for (condition, old_code) in &was {
        if let Some(new_code) = now.get(condition)
            && new_code != old_code
        {
            out.push(Change::new(
                Rule::ConditionCodeChanged,
                format!("{profile}, condition {condition}"),
                format!("code {old_code} → {new_code}"),
            ));
        }
    }
}

fn diff_members(subject: &str, old: &[Member], new: &[Member], out: &mut Vec<Change>) {
    let index = |members: &[Member]| -> BTreeMap<String, bool> {
        members
            .iter()
            .map(|m| (m.path.clone(), m.required))
            .collect()
    };
    let (old, new) = (index(old), index(new));
    for (path, required) in &old {
        match new.get(path) {
            None => out.push(Change::new(
                Rule::MemberRemoved,
                subject,
                format!("`{path}` removed"),
            )),
            Some(false) if *required => out.push(Change::new(
                Rule::MemberRemoved,
                subject,
                format!("`{path}` no longer required"),
            )),
            Some(true) if !*required => out.push(Change::new(
                Rule::MemberAdded,
                subject,
                format!("`{path}` now required"),
            )),
            _ => {}
        }
    }
    for (path, required) in new.iter().filter(|(p, _)| !old.contains_key(*p)) {
        let detail = match required {
            true => format!("`{path}` added, required"),
            false => format!("`{path}` added"),
        };
        out.push(Change::new(Rule::MemberAdded, subject, detail));
    }
}

/// What an OpenAPI document says an operation answers: per status, the codes its
/// examples show and the members of its error bodies.
#[derive(Debug, Default)]
struct Answers {
    statuses: BTreeMap<String, Answer>,
}

#[derive(Debug, Default)]
struct Answer {
    /// Each example's code, by the example's name (`example` for a lone `example`): in
    /// apierr's documents the name is the condition, so a name whose code changed is a
    /// condition answered with another code.
    examples: BTreeMap<String, String>,
    members: Vec<Member>,
}

impl Answer {
    fn codes(&self) -> BTreeSet<&str> {
        self.examples.values().map(String::as_str).collect()
    }
}

const METHODS: [&str; 9] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace", "query",
];

/// Every operation of a document (`POST /accounts`) and what it answers.
fn operations(document: &Value) -> BTreeMap<String, Answers> {
    let mut found = BTreeMap::new();
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return found;
    };
    for (path, item) in paths {
        let item = resolve(item, document);
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let mut answers = Answers::default();
            let responses = operation.get("responses").and_then(Value::as_object);
            for (status, response) in responses.into_iter().flatten() {
                let response = resolve(response, document);
                answers
                    .statuses
                    .insert(status.clone(), answer(status, response, document));
            }
            found.insert(format!("{} {path}", method.to_uppercase()), answers);
        }
    }
    found
}

fn answer(status: &str, response: &Value, document: &Value) -> Answer {
    let mut answer = Answer::default();
    let code = status
        .parse::<u16>()
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok());
    let contents = response.get("content").and_then(Value::as_object);
    for (media, content) in contents.into_iter().flatten() {
        if let Some(schema) = content.get("schema") {
            for member in members(schema, document) {
                if !answer.members.iter().any(|m| m.path == member.path) {
                    answer.members.push(member);
                }
            }
        }
        let Some(code) = code.filter(|c| c.is_client_error() || c.is_server_error()) else {
            continue;
        };
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(media) {
            headers.insert(http::header::CONTENT_TYPE, value);
        }
        let example = content.get("example").map(|e| ("example", e));
        let examples = content
            .get("examples")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, e)| Some((name.as_str(), resolve(e, document).get("value")?)));
        for (name, body) in example.into_iter().chain(examples) {
            let bytes = serde_json::to_vec(body).unwrap_or_default();
            let error = apierr::parse_any(code, &headers, &bytes);
            answer
                .examples
                .insert(name.to_owned(), error.code().to_string());
        }
    }
    answer.members.sort();
    answer
}

fn is_error_status(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5') || status == "default"
}

fn diff_documents(old: &Value, new: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    let (was, now) = (operations(old), operations(new));
    for (operation, old_answers) in &was {
        let Some(new_answers) = now.get(operation) else {
            changes.push(Change::new(Rule::OperationRemoved, operation, "removed"));
            continue;
        };
        for (status, old_answer) in &old_answers.statuses {
            let subject = format!("{operation} {status}");
            let Some(new_answer) = new_answers.statuses.get(status) else {
                let rule = match is_error_status(status) {
                    true => Rule::StatusRemoved,
                    false => Rule::SuccessStatusRemoved,
                };
                changes.push(Change::new(rule, subject, "no longer answered"));
                continue;
            };
            for (name, old_code) in &old_answer.examples {
                if let Some(new_code) = new_answer.examples.get(name)
                    && new_code != old_code
                {
                    changes.push(Change::new(
                        Rule::ConditionCodeChanged,
                        &subject,
                        format!("example {name}: code {old_code} → {new_code}"),
                    ));
                }
            }
            let (old_codes, new_codes) = (old_answer.codes(), new_answer.codes());
            for code in old_codes.difference(&new_codes) {
                changes.push(Change::new(
                    Rule::OperationCodeRemoved,
                    &subject,
                    format!("code {code} no longer shown"),
                ));
            }
            for code in new_codes.difference(&old_codes) {
                changes.push(Change::new(
                    Rule::OperationCodeAdded,
                    &subject,
                    format!("code {code} now shown"),
                ));
            }
            if is_error_status(status) {
                diff_members(
                    &format!("{subject}, body"),
                    &old_answer.members,
                    &new_answer.members,
                    &mut changes,
                );
            }
        }
        for (status, new_answer) in &new_answers.statuses {
            if old_answers.statuses.contains_key(status) {
                continue;
            }
            let (rule, detail) = match is_error_status(status) {
                true => (Rule::StatusAdded, "newly answered".to_owned()),
                false => (Rule::SuccessStatusAdded, "newly answered".to_owned()),
            };
            let codes = new_answer.codes();
            let detail = match codes.is_empty() {
                true => detail,
                false => format!(
                    "{detail}, codes {}",
                    codes.into_iter().collect::<Vec<_>>().join(", ")
                ),
            };
            changes.push(Change::new(rule, format!("{operation} {status}"), detail));
        }
    }
    for operation in now.keys().filter(|o| !was.contains_key(*o)) {
        changes.push(Change::new(Rule::OperationAdded, operation, "added"));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_unique_name() {
        // Scenario: `--allow` names each rule, and each name reads back.
        for rule in Rule::ALL {
            assert_eq!(Rule::by_name(rule.name()), Some(*rule));
        }
        let names: BTreeSet<_> = Rule::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Rule::ALL.len());
    }
}
