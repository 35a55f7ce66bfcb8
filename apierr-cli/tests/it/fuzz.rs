//! Random requests (the webhook routes among them) never get a 5xx, on SQLite or
//! PostgreSQL, every error is in the contract's shape, and a request to a documented
//! operation gets only a status its document declares. NUL and other control
//! characters are among the inputs: PostgreSQL refuses NUL in text, which is where a 5xx
//! from input used to come from.

use std::sync::OnceLock;

use apierr::Profile;
use proptest::prelude::*;
use tokio::runtime::Runtime;

use crate::support::{Backend, Server};

/// One runtime and one server per profile and backend for all cases (starting them per
/// case would test start-up, not requests).
/// Each server comes with the document it serves.
fn fixture() -> &'static (Runtime, Vec<(Server, serde_json::Value)>) {
    static FIXTURE: OnceLock<(Runtime, Vec<(Server, serde_json::Value)>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = Runtime::new().unwrap();
        let servers = rt.block_on(async {
            let mut servers = Vec::new();
            for backend in [Backend::Sqlite, Backend::Postgres] {
                for p in Profile::ALL {
                    let server = Server::start(p.clone(), backend).await;
                    let doc = server.document().await;
                    servers.push((server, doc));
                }
            }
            servers
        });
        (rt, servers)
    })
}

/// The documented operation `method path` is, if any: a template's literal segments
/// equal, each `{param}` any segment that is not empty.
fn operation<'d>(
    doc: &'d serde_json::Value,
    method: &reqwest::Method,
    path: &str,
) -> Option<&'d serde_json::Value> {
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .iter()
        .find_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    part == segment || (part.starts_with('{') && !segment.is_empty())
                });
            if matches {
                item.get(method.as_str().to_ascii_lowercase())
            } else {
                None
            }
        })
}

/// Text with the characters that break storage and parsing: NUL, other C0 and C1
/// controls, quotes, and non-ASCII.
fn hostile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just('\u{0}'),
            Just('\u{1f}'),
            Just('\u{85}'),
            Just('"'),
            Just('\\'),
            Just('é'),
            "[ -~]".prop_map(|s| s.chars().next().unwrap_or('a')),
        ],
        0..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn method() -> impl Strategy<Value = reqwest::Method> {
    prop_oneof![
        Just(reqwest::Method::GET),
        Just(reqwest::Method::POST),
        Just(reqwest::Method::PUT),
        Just(reqwest::Method::PATCH),
        Just(reqwest::Method::DELETE),
        Just(reqwest::Method::HEAD),
        Just(reqwest::Method::OPTIONS),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("accounts".to_owned()),
        Just("children".to_owned()),
        Just("oauth".to_owned()),
        Just("token".to_owned()),
        Just("openapi.json".to_owned()),
        Just("%00".to_owned()),
        Just("a%00b".to_owned()),
        Just("%0a%c2%85".to_owned()),
        // Not UTF-8 once decoded: the path extractor's rejection.
        Just("%FF%FE".to_owned()),
        Just("0123456789abcdef0123456789abcdef".to_owned()),
        Just("webhooks".to_owned()),
        Just("endpoints".to_owned()),
        Just("reports".to_owned()),
        Just("replay".to_owned()),
        Just("rotate".to_owned()),
        Just("resume".to_owned()),
        Just("ep_0123456789abcdef0123456789abcdef".to_owned()),
        Just("rpt_0123456789abcdef0123456789abcdef".to_owned()),
        "[A-Za-z0-9._~%-]{0,12}",
    ];
    prop::collection::vec(segment, 0..4).prop_map(|s| format!("/{}", s.join("/")))
}

fn header() -> impl Strategy<Value = (&'static str, String)> {
    let name = prop_oneof![
        Just("content-type"),
        Just("accept"),
        Just("x-api-key"),
        Just("authorization"),
        Just("date"),
        Just("x-request-id"),
        Just("idempotency-key"),
    ];
    let value = prop_oneof![
        Just("application/json".to_owned()),
        Just("application/x-www-form-urlencoded".to_owned()),
        Just("acme-key".to_owned()),
        Just("viewer-key".to_owned()),
        Just("Bearer x".to_owned()),
        Just("*/*;q=0".to_owned()),
        "[ -~]{0,40}",
        // Idempotency keys: quoted, at and past the 255-character bound.
        "\"[ -~]{0,20}\"",
        "[!-~]{254,257}",
    ];
    (name, value)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        Just("email"),
        Just("first_name"),
        Just("last_name"),
        Just("birth_year"),
        Just("url"),
        Just("message_id"),
        Just("endpoint_id"),
        Just("state"),
        Just("since"),
        Just("retry_schedule"),
    ];
    prop_oneof![
        // JSON whose strings hold NUL and other controls, escaped as JSON escapes them.
        prop::collection::vec((field, hostile_text()), 0..4).prop_map(|fields| {
            let members: serde_json::Map<String, serde_json::Value> = fields
                .into_iter()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                .collect();
            serde_json::to_vec(&members).unwrap_or_default()
        }),
        // A form with percent-encoded controls in the client credentials.
        (hostile_text(), hostile_text()).prop_map(|(id, secret)| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("client_id", &id)
                .append_pair("client_secret", &secret)
                .finish()
                .into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..200),
        "\\{(\"(email|first_name|last_name|birth_year|grant_type|url|message_id|endpoint_id|state|since|until|retry_schedule)\": ?(\"[ -~]{0,20}\"|[0-9-]{1,6}|null|\\[\\]|\\{\\}),? ?){0,4}\\}"
            .prop_map(String::into_bytes),
        "(grant_type|client_id|client_secret)=[A-Za-z0-9%_-]{0,12}(&(grant_type|client_id|client_secret)=[A-Za-z0-9%_-]{0,12}){0,3}"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_get_a_contract_4xx_never_a_5xx(
        server in 0..2 * Profile::ALL.len(),
        method in method(),
        path in path(),
        query in prop_oneof!["[A-Za-z0-9=&%+._-]{0,30}", Just("page=%00&per_page=1%00".to_owned())],
        headers in prop::collection::vec(header(), 0..5),
        body in body(),
    ) {
        // Scenario: whatever a partner sends, the answer is not a 5xx, and an error is in
        // the profile's dialect.
        let (rt, servers) = fixture();
        let (server, doc) = &servers[server];
        let (status, response_headers, bytes) = rt.block_on(async {
            let mut request = server.request(method.clone(), &format!("{path}?{query}")).body(body.clone());
            for (name, value) in &headers {
                request = request.header(*name, value.as_str());
            }
            let response = request.send().await.expect("the server answers");
            let status = response.status();
            let headers = response.headers().clone();
            (status, headers, response.bytes().await.unwrap())
        });
        prop_assert!(status.as_u16() < 500, "{} {method} {path}?{query} {headers:?}: {status} {:?}", server.profile.name(), bytes);
        // A documented operation answers only statuses its document declares.
        if let Some(op) = operation(doc, &method, &path) {
            prop_assert!(
                op["responses"].get(status.as_str()).is_some(),
                "{} {method} {path}?{query} {headers:?}: {status} is not declared for the operation: {:?}",
                server.profile.name(),
                bytes
            );
        }
        if status.as_u16() >= 400 && method != reqwest::Method::HEAD {
            // The token endpoint answers RFC 6749's form in every profile, but for what
            // the outer contract answers before it (an `Accept` without JSON: 406), which
            // its document declares in the profile's form.
            let token_endpoint = method == reqwest::Method::POST && path == "/oauth/token"
                && !response_headers.contains_key("allow")
                && status != reqwest::StatusCode::NOT_ACCEPTABLE;
            let dialect = if token_endpoint {
                Profile::OAUTH_TOKEN.dialect()
            } else {
                server.profile.dialect()
            };
            let parsed = dialect.parse(status, &response_headers, &bytes);
            prop_assert!(parsed.is_some(), "{} {method} {path}: {status} body not in the dialect: {:?}", server.profile.name(), bytes);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            prop_assert!(response_headers.contains_key("www-authenticate"), "{method} {path}: 401 without a challenge");
        }
    }
}

#[test]
fn a_request_path_finds_its_documented_operation() {
    // Scenario: the fuzz's check above applies to the operation a path and method name,
    // and to no other.
    let doc = serde_json::json!({"paths": {
        "/accounts": {"get": {"operationId": "list"}},
        "/accounts/{id}": {"get": {"operationId": "read"}, "delete": {"operationId": "remove"}},
    }});
    let id = |method: reqwest::Method, path: &str| {
        operation(&doc, &method, path).map(|op| op["operationId"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        id(reqwest::Method::GET, "/accounts").as_deref(),
        Some("list")
    );
    assert_eq!(
        id(reqwest::Method::GET, "/accounts/%FF%FE").as_deref(),
        Some("read")
    );
    assert_eq!(
        id(reqwest::Method::DELETE, "/accounts/x").as_deref(),
        Some("remove")
    );
    assert_eq!(id(reqwest::Method::POST, "/accounts/x"), None);
    assert_eq!(id(reqwest::Method::GET, "/accounts/"), None);
    assert_eq!(id(reqwest::Method::GET, "/accounts/x/y"), None);
}
