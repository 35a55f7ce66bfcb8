//! Property tests: every dialect reads back what it writes, and no input makes parsing panic.

use apierr::{
    ApiError, Code, DIALECTS, Dialect, FieldViolation, Profile, ViolationKind, ViolationSupport,
    dialect, parse_any,
};
use http::{HeaderMap, StatusCode};
use proptest::prelude::*;

/// What a dialect can carry besides status, code and message.
#[derive(Clone, Copy)]
struct Shape {
    text_codes_only: bool,
    violations: ViolationSupport,
    kinds: bool,
    messages: bool,
    request_id: bool,
    quoted_field: bool,
}

fn shape(d: &dyn Dialect) -> Shape {
    let all = Shape {
        text_codes_only: false,
        violations: d.violations(),
        kinds: true,
        messages: true,
        request_id: false,
        quoted_field: false,
    };
    match d.name() {
        "problem" | "wrapper" | "nested" => Shape {
            request_id: true,
            ..all
        },
        // Body, query and path fields are all "parameter" in seed 003's words.
        "errors-array" => Shape {
            kinds: false,
            ..all
        },
        "specific-code" => Shape {
            kinds: false,
            quoted_field: true,
            ..all
        },
        "oauth" => Shape {
            text_codes_only: true,
            messages: false,
            ..all
        },
        other => panic!("no shape for dialect {other}"),
    }
}

fn kind() -> impl Strategy<Value = ViolationKind> {
    prop_oneof![
        Just(ViolationKind::Body),
        Just(ViolationKind::Parameter),
        Just(ViolationKind::Query),
        Just(ViolationKind::Path),
        Just(ViolationKind::Header),
        "[a-z]{1,8}".prop_map(|k| ViolationKind::from_wire(&k)),
    ]
}

fn status() -> impl Strategy<Value = StatusCode> {
    prop_oneof![
        400u16..=431,
        Just(460u16),
        Just(461),
        Just(462),
        Just(463),
        500u16..=511
    ]
    .prop_map(|s| StatusCode::from_u16(s).unwrap())
}

fn code(text_only: bool) -> BoxedStrategy<Code> {
    let text = "[a-z][a-z_]{0,20}"
        // A wrapper error with an OAuth code is a token error and drops its violations.
        .prop_filter("not an OAuth code", |c| {
            !c.starts_with("invalid_") && !c.starts_with("un") && c != "insufficient_scope"
        })
        .prop_map(Code::owned);
    if text_only {
        text.boxed()
    } else {
        prop_oneof![any::<u32>().prop_map(Code::numeric), text].boxed()
    }
}

/// Errors that `d` can express in full.
fn error_for(d: &'static dyn Dialect) -> impl Strategy<Value = ApiError> {
    let s = shape(d);
    let max_violations = match s.violations {
        ViolationSupport::None => 0,
        _ => 4,
    };
    let violation = (
        "[A-Za-z_][A-Za-z0-9_.]{0,15}",
        "[A-Za-z0-9 ,]{0,30}",
        kind(),
    )
        .prop_map(move |(field, message, kind)| {
            let kind = if s.kinds {
                kind
            } else {
                ViolationKind::Parameter
            };
            FieldViolation::new(kind, field, message)
        });
    (
        status(),
        code(s.text_codes_only),
        "[A-Za-z0-9][A-Za-z0-9 ,.:-]{0,40}",
        prop::collection::vec(violation, 0..=max_violations),
        prop::collection::vec("[A-Za-z0-9 ]{0,20}", 0..=if s.messages { 3 } else { 0 }),
        prop::option::of("[a-z0-9-]{1,36}"),
    )
        .prop_map(
            move |(status, code, message, violations, messages, request_id)| {
                // A first-only dialect names the field in the message, as the catalog's field
                // templates do.
                let message = match violations.first() {
                    Some(v) if s.quoted_field => format!("'{}' {message}", v.field()),
                    _ => message,
                };
                let mut e = ApiError::new(status, code, message).with_violations(violations);
                for m in messages {
                    e = e.with_additional_message(m);
                }
                match request_id {
                    Some(id) if s.request_id => e.with_request_id(id),
                    _ => e,
                }
            },
        )
}

fn assert_same(d: &dyn Dialect, original: &ApiError, parsed: &ApiError) {
    assert_eq!(parsed.status(), original.status(), "{}: status", d.name());
    assert_eq!(parsed.code(), original.code(), "{}: code", d.name());
    assert_eq!(
        parsed.message(),
        original.message(),
        "{}: message",
        d.name()
    );
    let expected = match d.violations() {
        ViolationSupport::FirstOnly => &original.violations()[..original.violations().len().min(1)],
        _ => original.violations(),
    };
    assert_eq!(parsed.violations(), expected, "{}: violations", d.name());
    assert_eq!(
        parsed.additional_messages(),
        original.additional_messages(),
        "{}: messages",
        d.name()
    );
    assert_eq!(
        parsed.request_id(),
        original.request_id(),
        "{}: request id",
        d.name()
    );
}

fn check_round_trip(d: &'static dyn Dialect, e: &ApiError) {
    let rendered = d.render(e);
    let own = d
        .parse(rendered.status, &rendered.headers(), &rendered.body)
        .unwrap_or_else(|| {
            panic!(
                "{} cannot read its own body {:?}",
                d.name(),
                String::from_utf8_lossy(&rendered.body)
            )
        });
    assert_same(d, e, &own);
    let detected = parse_any(rendered.status, &rendered.headers(), &rendered.body);
    assert_same(d, e, &detected);
    // Read as apierr's own, never claimed by a recogniser of another vendor's format.
    assert_eq!(
        detected.format(),
        None,
        "{}: {}",
        d.name(),
        String::from_utf8_lossy(&rendered.body)
    );
}

macro_rules! round_trip {
    ($($test:ident: $name:literal;)*) => {$(
        proptest! {
            #[test]
            fn $test(e in error_for(dialect($name).unwrap())) {
                // Scenario: parse(render(e)) keeps status, code, message and violations.
                check_round_trip(dialect($name).unwrap(), &e);
            }
        }
    )*};
}

round_trip! {
    problem_round_trips: "problem";
    wrapper_round_trips: "wrapper";
    oauth_round_trips: "oauth";
    nested_round_trips: "nested";
    errors_array_round_trips: "errors-array";
    specific_code_round_trips: "specific-code";
}

#[test]
fn every_dialect_has_a_round_trip_test() {
    // Scenario: a dialect added later cannot skip the property above.
    for d in DIALECTS {
        let _ = shape(*d);
    }
}

/// Bytes that look like error bodies often enough to reach the deeper parsing paths.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "\"[a-z'\\\\ ]{0,8}\"".prop_map(|s| s),
        Just("1e999".to_owned()),
        Just("-0.5".to_owned()),
    ];
    let keys = prop_oneof![
        Just("error"),
        Just("errors"),
        Just("code"),
        Just("message"),
        Just("status"),
        Just("errorCode"),
        Just("specificCode"),
        Just("additionalMessages"),
        Just("extra"),
        Just("invalid-params"),
        Just("validationErrors"),
        Just("type"),
        Just("detail"),
        Just("subject"),
        Just("field"),
        Just("error_description"),
        Just("messages"),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((keys.clone(), inner), 0..5).prop_map(|kv| {
                let members: Vec<_> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
    .prop_map(String::into_bytes)
}

fn parse_everything(status: u16, body: &[u8]) {
    let status = StatusCode::from_u16(status).unwrap();
    let mut headers = HeaderMap::new();
    let _ = parse_any(status, &headers, body);
    headers.insert("content-type", "application/problem+json".parse().unwrap());
    headers.insert("retry-after", "-1".parse().unwrap());
    let _ = parse_any(status, &headers, body);
    for d in DIALECTS {
        let _ = d.parse(status, &headers, body);
    }
    for p in Profile::ALL {
        let _ = p.parse(status, &headers, body);
    }
}

proptest! {
    #[test]
    fn parsing_arbitrary_bytes_never_panics(status in 100u16..=999, body in prop::collection::vec(any::<u8>(), 0..256)) {
        // Scenario: any bytes at all, with any status, are parsed without a panic.
        parse_everything(status, &body);
    }

    #[test]
    fn parsing_arbitrary_json_never_panics(status in 100u16..=999, body in jsonish()) {
        // Scenario: JSON of error-like shapes but wrong types or nesting parses without a panic.
        parse_everything(status, &body);
    }
}

/// JSON bodies built from the member names other vendors' formats use (and apierr's),
/// with values of every kind: the recognisers' inputs, deep and malformed-ish.
fn vendorish() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("false".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        Just("1.5e300".to_owned()),
        "\"[a-zA-Z0-9_./#:@\\\\ -]{0,12}\"".prop_map(|s| s),
        Just("\"30s\"".to_owned()),
        Just("\"type.googleapis.com/google.rpc.RetryInfo\"".to_owned()),
        Just("\"RESOURCE_EXHAUSTED\"".to_owned()),
        Just("\"body/a/b must be string\"".to_owned()),
    ];
    let keys = prop::sample::select(vec![
        "error",
        "errors",
        "code",
        "message",
        "Message",
        "status",
        "detail",
        "title",
        "type",
        "details",
        "@type",
        "retryDelay",
        "fieldViolations",
        "field",
        "description",
        "reason",
        "innererror",
        "target",
        "param",
        "doc_url",
        "request_log_url",
        "__type",
        "ok",
        "documentation_url",
        "source",
        "pointer",
        "parameter",
        "header",
        "extensions",
        "locations",
        "path",
        "loc",
        "msg",
        "timestamp",
        "statusCode",
        "requestId",
        "traceId",
        "seconds",
        "nanos",
        "links",
        "url",
        "invalid-params",
        "errorCode",
        "data",
        "error_code",
        "description",
        "name",
    ]);
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                let members: Vec<_> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
    .prop_map(String::into_bytes)
}

/// Header values of the forms the hints read, well and badly formed.
fn hint_headers() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let name = prop::sample::select(vec![
        "retry-after",
        "ratelimit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "traceparent",
        "x-request-id",
        "request-id",
        "x-amzn-requestid",
        "content-type",
    ]);
    let value = prop_oneof![
        "[0-9]{1,14}",
        "-?[0-9]{1,3}\\.[0-9]{1,4}",
        "\"[a-z]{1,5}\";r=[0-9-]{1,3};t=[0-9-]{1,12}",
        "limit=[0-9]{1,3}, remaining=[0-9]{1,2}, reset=[0-9]{1,9}",
        "[ -~]{0,40}",
        Just("application/problem+json".to_owned()),
        Just("Tue, 14 Nov 2023 22:13:40 GMT".to_owned()),
    ];
    prop::collection::vec((name, value), 0..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn recognisers_never_panic_and_never_invent(
        status in 100u16..=599,
        body in vendorish(),
        headers in hint_headers(),
        now in 0u64..4_000_000_000,
    ) {
        // Scenario (the recognisers' fuzz target): vendor-shaped JSON with any hint
        // headers is read without a panic; the status is the response's, a wait is
        // bounded, a 5xx of another format is never "rate-limited", and a clock-bound
        // hint never panics whatever the clock says.
        let status = StatusCode::from_u16(status).unwrap();
        let mut map = HeaderMap::new();
        for (k, v) in &headers {
            if let Ok(v) = http::HeaderValue::from_str(v) {
                map.append(*k, v);
            }
        }
        let e = parse_any(status, &map, &body);
        prop_assert_eq!(e.status(), status);
        if let Some(wait) = e.retry_after() {
            prop_assert!(wait.as_secs_f64() < 3.3e9, "{:?}", wait);
        }
        if e.format().is_some() && status.is_server_error() {
            prop_assert_ne!(e.category(), apierr::Category::RateLimited);
        }
        let clock = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now);
        if let Some(wait) = apierr::retry_hint(&map, clock) {
            prop_assert!(wait.as_secs_f64() < 3.3e9, "{:?}", wait);
        }
        let _ = apierr::request_id_from_headers(&map);
    }
}

#[test]
fn deeply_nested_input_does_not_overflow() {
    // Scenario: a hostile body nested far past any real error is refused, not a stack overflow.
    let body = format!("{}{}", "{\"error\":".repeat(10_000), "}".repeat(10_000));
    let e = parse_any(StatusCode::BAD_REQUEST, &HeaderMap::new(), body.as_bytes());
    assert_eq!(e.code(), &Code::numeric(400));
}
