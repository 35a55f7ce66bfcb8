//! The error-handling plan of seed 001: for every operation of an API, every error it can
//! answer (status, code, when it happens, an example body) and what the partner does
//! about it, made from an OpenAPI document, the catalog and the retry rules
//! ([`advice`](crate::advice)); as Markdown, HTML or JSON.

use std::fmt::Write;

use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::advice::Action;
use crate::export::resolve;
use crate::{Category, Code, Condition, Profile};

/// The plan of an API.
///
/// ```
/// use apierr::{Plan, Profile};
/// use serde_json::json;
///
/// let document = json!({"openapi": "3.1.0", "info": {"title": "Shop", "version": "1"},
///     "paths": {"/orders": {"post": {"parameters": [{"name": "Idempotency-Key", "in": "header"}],
///         "responses": {"503": {"description": "Unavailable", "content": {
///             "application/problem+json": {"examples": {"service_unavailable": {
///                 "value": {"status": 503, "code": "service_unavailable", "title": "x"}}}}}}}}}}});
/// let plan = Plan::from_openapi(&document, &Profile::PROBLEM);
/// let error = &plan.operations[0].errors[0];
/// assert_eq!(error.code.as_ref().unwrap().to_string(), "service_unavailable");
/// assert_eq!(error.action, apierr::advice::Action::RetrySafely, "it takes a key");
/// assert_eq!(error.without_key, Some(apierr::advice::Action::Reconcile));
/// assert!(plan.markdown().contains("| 503 | `service_unavailable` |"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The API's title, from the document.
    pub title: String,
    /// The profile the plan was made with.
    pub profile: String,
    /// Every operation, in the document's order of paths, then of methods.
    pub operations: Vec<OperationPlan>,
    /// The webhooks the API sends (OpenAPI 3.1's `webhooks`), in the document's order:
    /// what the partner's endpoint receives and what its answers mean.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookPlan>,
}

/// One webhook the API sends, as the partner's endpoint must handle it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookPlan {
    /// Its name in the document (apierr's documents name the event type).
    pub event_type: String,
    /// When it is sent: the operation's summary.
    pub when: String,
    /// What each answer of the endpoint means, by status (`2XX`, `410`, `default`…), in
    /// the document's words.
    pub answers: Vec<(String, String)>,
    /// An example body, as the document has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
}

/// One operation's errors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationPlan {
    /// The method, upper-case.
    pub method: String,
    /// The path template.
    pub path: String,
    /// The document's `operationId`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Whether it may be repeated: by its method, with an `Idempotency-Key`, or not.
    pub repeatable: Repeatable,
    /// Every error it can answer.
    pub errors: Vec<PlannedError>,
}

/// Whether an operation may be sent again without doing it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Repeatable {
    /// Its method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE).
    ByMethod,
    /// It takes an `Idempotency-Key`: repeatable when one is sent.
    WithKey,
    /// Neither: a retry after an unknown outcome may do it twice.
    No,
}

/// One error an operation can answer, and what the partner does about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedError {
    /// The HTTP status.
    pub status: u16,
    /// The code it comes with, read from its example body (the status, for an API whose
    /// bodies carry no code); `None` when the document shows no body for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    /// The framework condition it stands for, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// When it happens.
    pub when: String,
    /// Its category.
    pub category: String,
    /// What the partner does (with an `Idempotency-Key` where the operation takes one).
    pub action: Action,
    /// What the partner does when it sent no `Idempotency-Key`, where that differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_key: Option<Action>,
    /// An example body, as the document has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
}

/// What a cell shows where the document shows no body.
const NO_CODE: &str = "—";

const METHODS: [&str; 9] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace", "query",
];

impl Plan {
    /// The plan of the API `document` describes (OpenAPI 3.x, or Swagger 2), its codes
    /// looked up in `profile`'s catalog (a code it does not have keeps its status's
    /// category). The errors of an operation are its 4xx and 5xx responses: one per
    /// example (whose name, in apierr's documents, is the condition), or one per response
    /// without examples.
    pub fn from_openapi(document: &Value, profile: &Profile) -> Plan {
        let title = document
            .pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or("API")
            .to_owned();
        let mut operations = Vec::new();
        let paths = document.get("paths").and_then(Value::as_object);
        for (path, item) in paths.into_iter().flatten() {
            let item = resolve(item, document);
            for method in METHODS {
                if let Some(operation) = item.get(method) {
                    operations.push(operation_plan(
                        method, path, item, operation, document, profile,
                    ));
                }
            }
        }
        let mut webhooks = Vec::new();
        let hooks = document.get("webhooks").and_then(Value::as_object);
        for (name, item) in hooks.into_iter().flatten() {
            let item = resolve(item, document);
            for operation in METHODS.iter().filter_map(|m| item.get(*m)) {
                webhooks.push(webhook_plan(name, operation, document));
            }
        }
        Plan {
            title,
            profile: profile.name().to_owned(),
            operations,
            webhooks,
        }
    }

    /// The plan as Markdown: a table per operation, then the example bodies.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Error-handling plan: {}\n", self.title);
        let _ = writeln!(
            md,
            "Every error each operation can answer (profile `{}`), and what to do about it.\n",
            self.profile
        );
        for op in &self.operations {
            let _ = writeln!(md, "## `{} {}`\n", op.method, op.path);
            let _ = writeln!(md, "{}\n", op.repeatable.describe());
            if op.errors.is_empty() {
                md.push_str("The document declares no error response for it.\n\n");
                continue;
            }
            md.push_str("| Status | Code | When | What to do |\n|---|---|---|---|\n");
            for e in &op.errors {
                let mut todo = e.action.describe().to_owned();
                if let Some(without) = e.without_key {
                    let _ = write!(todo, " Without an Idempotency-Key: {}", without.describe());
                }
                let code = match &e.code {
                    Some(code) => format!(
                        "`{}`",
                        crate::docs::cell(&code.to_string()).replace('`', "")
                    ),
                    None => NO_CODE.to_owned(),
                };
                let _ = writeln!(
                    md,
                    "| {} | {code} | {} | {} |",
                    e.status,
                    crate::docs::cell(&e.when),
                    crate::docs::cell(&todo),
                );
            }
            md.push('\n');
            for e in &op.errors {
                let (Some(code), Some(example)) = (&e.code, &e.example) else {
                    continue;
                };
                let _ = writeln!(
                    md,
                    "<details><summary>{} {}</summary>\n\n```json\n{}\n```\n\n</details>\n",
                    e.status,
                    html_escape(&code.to_string()),
                    serde_json::to_string_pretty(example).unwrap_or_default()
                );
            }
        }
        if !self.webhooks.is_empty() {
            md.push_str("## Webhooks\n\nWhat the API sends to the partner's endpoints, and what each answer of an endpoint means.\n\n");
            md.push_str("| Event type | When | Answers |\n|---|---|---|\n");
            for w in &self.webhooks {
                let answers: Vec<String> = w
                    .answers
                    .iter()
                    .map(|(status, means)| format!("{status}: {means}"))
                    .collect();
                let _ = writeln!(
                    md,
                    "| `{}` | {} | {} |",
                    crate::docs::cell(&w.event_type).replace('`', ""),
                    crate::docs::cell(&w.when),
                    crate::docs::cell(&answers.join(" ")),
                );
            }
            md.push('\n');
        }
        md
    }

    /// The plan as a standalone HTML page.
    pub fn html(&self) -> String {
        let mut page = String::new();
        let title = html_escape(&self.title);
        let _ = write!(
            page,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Error-handling plan: {title}</title><style>\
             body{{font:16px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#111}}\
             table{{border-collapse:collapse;width:100%}}th,td{{border:1px solid #888;padding:.3rem .5rem;text-align:left;vertical-align:top}}\
             code,pre{{background:#f3f3f3}}pre{{padding:.5rem;overflow-x:auto}}</style></head><body>\n\
             <h1>Error-handling plan: {title}</h1>\n<p>Every error each operation can answer \
             (profile <code>{}</code>), and what to do about it.</p>\n",
            html_escape(&self.profile)
        );
        for op in &self.operations {
            let _ = write!(
                page,
                "<section><h2><code>{} {}</code></h2>\n<p>{}</p>\n<table><thead><tr><th scope=\"col\">Status</th>\
                 <th scope=\"col\">Code</th><th scope=\"col\">When</th><th scope=\"col\">What to do</th>\
                 <th scope=\"col\">Example</th></tr></thead><tbody>\n",
                html_escape(&op.method),
                html_escape(&op.path),
                op.repeatable.describe()
            );
            for e in &op.errors {
                let mut todo = html_escape(e.action.describe());
                if let Some(without) = e.without_key {
                    let _ = write!(
                        todo,
                        "<br>Without an Idempotency-Key: {}",
                        html_escape(without.describe())
                    );
                }
                let code = e.code.as_ref().map_or_else(
                    || NO_CODE.to_owned(),
                    |code| format!("<code>{}</code>", html_escape(&code.to_string())),
                );
                let example = example_cell(e.example.as_ref());
                let _ = writeln!(
                    page,
                    "<tr><td>{}</td><td>{code}</td><td>{}</td><td>{todo}</td><td>{example}</td></tr>",
                    e.status,
                    html_escape(&e.when),
                );
            }
            page.push_str("</tbody></table></section>\n");
        }
        if !self.webhooks.is_empty() {
            page.push_str(
                "<section><h2>Webhooks</h2>\n<p>What the API sends to the partner's endpoints, \
                 and what each answer of an endpoint means.</p>\n<table><thead><tr>\
                 <th scope=\"col\">Event type</th><th scope=\"col\">When</th>\
                 <th scope=\"col\">Answers</th><th scope=\"col\">Example</th></tr></thead><tbody>\n",
            );
            for w in &self.webhooks {
                let answers: Vec<String> = w
                    .answers
                    .iter()
                    .map(|(status, means)| {
                        format!("<b>{}</b>: {}", html_escape(status), html_escape(means))
                    })
                    .collect();
                let example = example_cell(w.example.as_ref());
                let _ = writeln!(
                    page,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{example}</td></tr>",
                    html_escape(&w.event_type),
                    html_escape(&w.when),
                    answers.join("<br>"),
                );
            }
            page.push_str("</tbody></table></section>\n");
        }
        page.push_str("</body></html>\n");
        page
    }
}

impl Repeatable {
    /// The rule in a sentence.
    pub fn describe(self) -> &'static str {
        match self {
            Repeatable::ByMethod => "Safe to repeat: its method is idempotent.",
            Repeatable::WithKey => {
                "Repeatable when it carries an Idempotency-Key: send one, and the same one on every retry."
            }
            Repeatable::No => "Not safe to repeat: after an unknown outcome, reconcile first.",
        }
    }
}

fn operation_plan(
    method: &str,
    path: &str,
    item: &Value,
    operation: &Value,
    document: &Value,
    profile: &Profile,
) -> OperationPlan {
    let takes_key = [item.get("parameters"), operation.get("parameters")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .map(|p| resolve(p, document))
        .any(|p| {
            p.get("in").and_then(Value::as_str) == Some("header")
                && p.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case("idempotency-key"))
        });
    let repeatable = match method {
        "get" | "head" | "put" | "delete" | "options" | "trace" | "query" => Repeatable::ByMethod,
        _ if takes_key => Repeatable::WithKey,
        _ => Repeatable::No,
    };
    let mut errors = Vec::new();
    let responses = operation.get("responses").and_then(Value::as_object);
    for (status, response) in responses.into_iter().flatten() {
        let Some(status) = status
            .parse::<u16>()
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(|s| s.is_client_error() || s.is_server_error())
        else {
            continue;
        };
        let response = resolve(response, document);
        let description = response
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut examples = Vec::new();
        let contents = response.get("content").and_then(Value::as_object);
        for (media, content) in contents.into_iter().flatten() {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(media) {
                headers.insert(http::header::CONTENT_TYPE, value);
            }
            let named = content
                .get("examples")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, e)| (Some(name.as_str()), resolve(e, document)))
                .filter_map(|(name, e)| {
                    let summary = e.get("summary").and_then(Value::as_str);
                    Some((name, summary, e.get("value")?.clone()))
                });
            let single = content.get("example").map(|v| (None, None, v.clone()));
            for (name, summary, body) in named.chain(single) {
                examples.push((headers.clone(), name, summary, Some(body)));
            }
        }
        // Swagger 2: `examples` on the response, by media type.
        let swagger = response.get("examples").and_then(Value::as_object);
        for (media, body) in swagger.into_iter().flatten() {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(media) {
                headers.insert(http::header::CONTENT_TYPE, value);
            }
            examples.push((headers, None, None, Some(body.clone())));
        }
        if examples.is_empty() {
            examples.push((HeaderMap::new(), None, None, None));
        }
        for (headers, name, summary, body) in examples {
            let code = body.as_ref().map(|body| {
                let bytes = serde_json::to_vec(body).unwrap_or_default();
                crate::parse_any(status, &headers, &bytes).code().clone()
            });
            let condition = name.and_then(Condition::from_name);
            let entry = code
                .as_ref()
                .and_then(|code| profile.catalog().lookup(code));
            let category = entry.map_or_else(|| Category::from_status(status), |e| e.category());
            let when = summary
                .map(str::to_owned)
                .or_else(|| entry.map(|e| e.description().to_owned()))
                .unwrap_or_else(|| description.to_owned());
            let action = Action::of(status, category, condition, repeatable != Repeatable::No);
            let without_key = (repeatable == Repeatable::WithKey)
                .then(|| Action::of(status, category, condition, false))
                .filter(|without| *without != action);
            let planned = PlannedError {
                status: status.as_u16(),
                code,
                condition: condition.map(|c| c.default_code().to_owned()),
                when,
                category: category.as_str().to_owned(),
                action,
                without_key,
                example: body,
            };
            if !errors.contains(&planned) {
                errors.push(planned);
            }
        }
    }
    OperationPlan {
        method: method.to_uppercase(),
        path: path.to_owned(),
        operation_id: operation
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        repeatable,
        errors,
    }
}

fn webhook_plan(name: &str, operation: &Value, document: &Value) -> WebhookPlan {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let answers = operation
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(status, response)| {
            let response = resolve(response, document);
            (
                status.clone(),
                text(response, "description").unwrap_or_default(),
            )
        })
        .collect();
    let example = operation
        .pointer("/requestBody/content")
        .map(|content| resolve(content, document))
        .and_then(Value::as_object)
        .and_then(|content| content.values().find_map(|c| c.get("example")))
        .cloned();
    WebhookPlan {
        event_type: name.to_owned(),
        when: text(operation, "summary")
            .or_else(|| text(operation, "description"))
            .unwrap_or_default(),
        answers,
        example,
    }
}

/// An example body as an HTML table cell: folded, pretty-printed and escaped; a dash
/// where the document shows none.
fn example_cell(example: Option<&Value>) -> String {
    example.map_or_else(
        || NO_CODE.to_owned(),
        |example| {
            format!(
                "<details><summary>body</summary><pre>{}</pre></details>",
                html_escape(&serde_json::to_string_pretty(example).unwrap_or_default())
            )
        },
    )
}

/// Text safe in HTML, in an element or an attribute.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_are_planned_with_what_each_answer_means() {
        // Scenario: a 3.1 document's webhooks become the plan's, with the summary, each
        // response's meaning and the example body, in Markdown and HTML (escaped).
        let document = serde_json::json!({"info": {"title": "Hooks"}, "paths": {},
            "webhooks": {"order.paid": {"post": {"summary": "An <order> was paid.",
                "requestBody": {"content": {"application/json": {"example": {"type": "order.paid"}}}},
                "responses": {"2XX": {"description": "Received."},
                              "410": {"description": "Gone: disabled."}}}}}});
        let plan = Plan::from_openapi(&document, &Profile::PROBLEM);
        assert_eq!(plan.webhooks.len(), 1);
        let hook = &plan.webhooks[0];
        assert_eq!(hook.event_type, "order.paid");
        assert_eq!(
            hook.answers,
            [
                ("2XX".to_owned(), "Received.".to_owned()),
                ("410".to_owned(), "Gone: disabled.".to_owned())
            ]
        );
        assert_eq!(
            hook.example,
            Some(serde_json::json!({"type": "order.paid"}))
        );
        let md = plan.markdown();
        assert!(
            md.contains(
                "| `order.paid` | An <order> was paid. | 2XX: Received. 410: Gone: disabled. |"
            ),
            "{md}"
        );
        let html = plan.html();
        assert!(html.contains("An &lt;order&gt; was paid.") && !html.contains("<order>"));
        // A document without webhooks has none, and no section.
        let bare = serde_json::json!({"paths": {}});
        assert!(
            !Plan::from_openapi(&bare, &Profile::PROBLEM)
                .markdown()
                .contains("## Webhooks")
        );
    }

    #[test]
    fn html_is_escaped_everywhere() {
        // Scenario: a document whose title, path and example carry markup shows it as
        // text.
        let document = serde_json::json!({"info": {"title": "<script>x</script>"},
            "paths": {"/a<b>": {"get": {"responses": {"404": {"description": "<i>",
                "content": {"application/json": {"example": {"message": "<img src=x>"}}}}}}}}});
        let html = Plan::from_openapi(&document, &Profile::PROBLEM).html();
        assert!(!html.contains("<script>x") && !html.contains("<img") && !html.contains("/a<b>"));
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn swagger_2_examples_are_read_and_a_response_without_a_body_has_no_code() {
        // Scenario: a Swagger 2 response's `examples` (by media type) give the code; a
        // response with no example has none (the cell shows a dash, no example block);
        // an operation without error responses has a sentence, not an empty table.
        let document = serde_json::json!({"swagger": "2.0", "info": {"title": "t"},
            "paths": {"/a": {
                "get": {"responses": {
                    "404": {"description": "gone", "examples": {"application/json":
                        {"error": {"code": "not_found", "message": "no such a"}}}},
                    "401": {"description": "no key"}}},
                "post": {"responses": {"201": {"description": "made"}}}}}});
        let plan = Plan::from_openapi(&document, &Profile::PROBLEM);
        let errors = &plan.operations[0].errors;
        let code = |status| {
            errors
                .iter()
                .find(|e| e.status == status)
                .unwrap()
                .code
                .clone()
        };
        assert_eq!(code(404).unwrap().to_string(), "not_found");
        assert_eq!(code(401), None);
        let markdown = plan.markdown();
        assert!(markdown.contains("| 401 | — | no key |"), "{markdown}");
        assert_eq!(markdown.matches("<details>").count(), 1, "{markdown}");
        assert!(
            markdown.contains("declares no error response"),
            "{markdown}"
        );
        assert_eq!(markdown.matches("| Status |").count(), 1, "{markdown}");
    }
}
