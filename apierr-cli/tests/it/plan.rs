//! The error-handling plan: served at `/docs/errors`, it lists for `POST /accounts` every
//! code the server answers when each is provoked, in every profile on both backends; its
//! Markdown parses into whole tables (pulldown-cmark); `apierr plan` prints the same.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use apierr::{Condition, Profile};
use reqwest::Method;
use serde_json::Value;

use crate::support::{
    Answer, BACKENDS, Backend, Hold, Server, answer, check_condition, connect, database,
    every_profile, expect_condition, raw_answer,
};

const ACME: &str = "acme-key";

/// `(status, code)` of every error the plan lists for `method path`.
fn planned(plan: &Value, method: &str, path: &str) -> BTreeSet<(u16, String)> {
    let operation = plan["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["method"] == method && o["path"] == path)
        .unwrap_or_else(|| panic!("no {method} {path} in the plan"));
    operation["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["status"].as_u64().unwrap() as u16, code_text(&e["code"])))
        .collect()
}

fn code_text(code: &Value) -> String {
    match code {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn served_plan(s: &Server) -> Value {
    let r = s.get("/docs/errors?format=json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.unwrap()
}

/// Asserts that the answer is `condition` and that the plan lists its status and code.
async fn provoked(
    s: &Server,
    plan: &BTreeSet<(u16, String)>,
    r: reqwest::Response,
    condition: Condition,
    seen: &mut Vec<Condition>,
) {
    let a = answer(s, r).await;
    planned_answer(s, plan, a, condition, seen);
}

/// [`provoked`], of an answer already read.
fn planned_answer(
    s: &Server,
    plan: &BTreeSet<(u16, String)>,
    a: Answer,
    condition: Condition,
    seen: &mut Vec<Condition>,
) {
    let a = check_condition(s, a, condition);
    let key = (a.status, a.error.code().to_string());
    assert!(
        plan.contains(&key),
        "{}: {condition} answered {key:?}, which the plan of POST /accounts does not list: {plan:?}",
        s.profile.name()
    );
    seen.push(condition);
}

fn account(email: &str) -> String {
    format!(r#"{{"email": "{email}", "first_name": "A", "last_name": "B"}}"#)
}

#[tokio::test]
async fn the_plan_of_post_accounts_lists_every_code_it_answers() {
    // Scenario: each condition POST /accounts can answer is provoked from outside and
    // its status and code are in the served plan.
    every_profile(|s| async move {
        let plan = planned(&served_plan(&s).await, "POST", "/accounts");
        let mut seen = Vec::new();
        let post = |key: &str, body: &str| s.post_json("/accounts", key, body);
        let r = post(ACME, r#"{"email": "a@b.co", "first_na"#)
            .send()
            .await
            .unwrap();
        provoked(&s, &plan, r, Condition::MalformedBody, &mut seen).await;
        let r = post(ACME, r#"{"email": 5, "first_name": "A", "last_name": "B"}"#)
            .send()
            .await
            .unwrap();
        provoked(&s, &plan, r, Condition::InvalidParameter, &mut seen).await;
        let r = post(ACME, r#"{"email": "m@b.co"}"#).send().await.unwrap();
        provoked(&s, &plan, r, Condition::MissingParameter, &mut seen).await;
        let r = s
            .with_key(Method::POST, "/accounts", ACME)
            .body(account("t@b.co"))
            .send()
            .await
            .unwrap();
        provoked(&s, &plan, r, Condition::UnsupportedMediaType, &mut seen).await;
        let r = post(ACME, &account("n@b.co"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        provoked(&s, &plan, r, Condition::NotAcceptable, &mut seen).await;
        let big = account(&format!("{}@b.co", "x".repeat(100_000)));
        let r = post(ACME, &big).send().await.unwrap();
        provoked(&s, &plan, r, Condition::PayloadTooLarge, &mut seen).await;
        let r = s
            .request(Method::POST, "/accounts")
            .header("content-type", "application/json")
            .body(account("u@b.co"))
            .send()
            .await
            .unwrap();
        provoked(&s, &plan, r, Condition::Unauthenticated, &mut seen).await;
        let r = s
            .request(Method::POST, "/accounts")
            .bearer_auth("not-a-token")
            .header("content-type", "application/json")
            .body(account("i@b.co"))
            .send()
            .await
            .unwrap();
        provoked(&s, &plan, r, Condition::InvalidToken, &mut seen).await;
        let r = post("viewer-key", &account("v@b.co")).send().await.unwrap();
        provoked(&s, &plan, r, Condition::Forbidden, &mut seen).await;
        let r = post("retired-key", &account("r@b.co"))
            .send()
            .await
            .unwrap();
        provoked(&s, &plan, r, Condition::KeyRevoked, &mut seen).await;
        let r = post(ACME, &account("d@b.co"))
            .header("date", "2000-06-01 00:00:00")
            .send()
            .await
            .unwrap();
        provoked(&s, &plan, r, Condition::StaleRequest, &mut seen).await;
        let r = post(ACME, &account("dup@b.co")).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let r = post(ACME, &account("dup@b.co")).send().await.unwrap();
        provoked(&s, &plan, r, Condition::AlreadyExists, &mut seen).await;
        let keyed = |body: String| post(ACME, &body).header("idempotency-key", "plan-key-1");
        assert_eq!(
            keyed(account("k1@b.co")).send().await.unwrap().status(),
            201
        );
        let r = keyed(account("k2@b.co")).send().await.unwrap();
        provoked(&s, &plan, r, Condition::IdempotencyKeyReused, &mut seen).await;
        // Credentials that were good: a revoked session, then an expired token.
        let token = s.token("acme").await;
        let r = s
            .request(Method::DELETE, "/oauth/token")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let with_token = |token: &str| {
            s.request(Method::POST, "/accounts")
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(account("s@b.co"))
        };
        let r = with_token(&token).send().await.unwrap();
        provoked(&s, &plan, r, Condition::SessionExpired, &mut seen).await;
        let token = s.token("acme").await;
        s.advance(Duration::from_secs(6 * 3600 + 1));
        let r = with_token(&token).send().await.unwrap();
        provoked(&s, &plan, r, Condition::ExpiredToken, &mut seen).await;
        assert_eq!(seen.len(), 15);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failures_of_the_server_are_answered_as_the_plan_lists_them() {
    // Scenario: the answers no well-formed request provokes on a healthy server are
    // provoked with faults made under a running server, in every profile on both
    // backends, and each status and code is in the served plan of `POST /accounts`: a
    // missing table (500), an idempotency store that fails (503), a second request with
    // the key of one still running (409), an insert held past the handler's timeout
    // (503), and a body that stops arriving (408).
    for backend in BACKENDS {
        for profile in Profile::ALL {
            let mut seen = Vec::new();
            broken_tables(profile, backend, &mut seen).await;
            held_insert(profile, backend, &mut seen).await;
            stalled_body(profile, backend, &mut seen).await;
            assert_eq!(
                seen,
                [
                    Condition::Internal,
                    Condition::ServiceUnavailable,
                    Condition::IdempotencyInFlight,
                    Condition::Timeout,
                    Condition::RequestTimeout,
                ],
                "{} {backend:?}",
                profile.name()
            );
        }
    }
}

/// A 500 from a handler whose table is gone, then a 503 from an idempotency store whose
/// table is gone.
async fn broken_tables(profile: &Profile, backend: Backend, seen: &mut Vec<Condition>) {
    let s = Server::start(profile.clone(), backend).await;
    let plan = planned(&served_plan(&s).await, "POST", "/accounts");
    let mut conn = connect(&s.database_url).await;
    let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
    sqlx::query(&rename("accounts", "accounts_gone"))
        .execute(&mut conn)
        .await
        .unwrap();
    let r = s
        .post_json("/accounts", ACME, &account("gone@b.co"))
        .send()
        .await
        .unwrap();
    provoked(&s, &plan, r, Condition::Internal, seen).await;
    sqlx::query(&rename("apierr_idempotency", "apierr_idempotency_gone"))
        .execute(&mut conn)
        .await
        .unwrap();
    let r = s
        .post_json("/accounts", ACME, &account("store@b.co"))
        .header("idempotency-key", "plan-store-down")
        .send()
        .await
        .unwrap();
    provoked(&s, &plan, r, Condition::ServiceUnavailable, seen).await;
}

/// A keyed `POST /accounts` held at its insert (see [`Hold`]) on one server: the same
/// key sent to a replica on the same database while it runs is in flight, and the held
/// request itself ends in the handler's timeout. (A replica, because a SQLite server's
/// one connection waits with the held insert; on SQLite the idempotency records are in
/// Redis, which the file's lock does not hold up.)
async fn held_insert(profile: &Profile, backend: Backend, seen: &mut Vec<Condition>) {
    const TIMEOUT: Duration = Duration::from_secs(2);
    let redis = apierr_testkit::TestRedis::new("plan").await;
    let place = database(backend).await;
    let replica = || {
        Server::start_with(profile.clone(), backend, |c| {
            c.database_url = place.url().to_owned();
            c.handler_timeout = TIMEOUT;
            if backend == Backend::Sqlite {
                c.redis_url = Some(redis.url().to_owned());
                c.redis_prefix = redis.prefix().to_owned();
            }
        })
    };
    let (s, other) = (replica().await, replica().await);
    let plan = planned(&served_plan(&s).await, "POST", "/accounts");
    let keyed = |s: &Server| {
        s.post_json("/accounts", ACME, &account("held@b.co"))
            .header("idempotency-key", "plan-held")
            .send()
    };
    let hold = Hold::take(backend, place.url()).await;
    let started = tokio::time::Instant::now();
    let first = keyed(&s);
    let second = async {
        // The first has claimed the key and waits at its insert well before this.
        tokio::time::sleep(TIMEOUT / 4).await;
        let r = keyed(&other).await.unwrap();
        // Past the first's timeout, the insert may go on (on SQLite the answer's
        // reconciliation entry waits for the file too).
        tokio::time::sleep_until(started + TIMEOUT + TIMEOUT / 4).await;
        hold.release().await;
        r
    };
    let (first, second) = tokio::join!(first, second);
    let retry_after = second.headers().get("retry-after").cloned();
    provoked(&other, &plan, second, Condition::IdempotencyInFlight, seen).await;
    assert!(
        retry_after.is_some(),
        "{}: in flight without Retry-After",
        profile.name()
    );
    provoked(&s, &plan, first.unwrap(), Condition::Timeout, seen).await;
}

/// A `POST /accounts` whose body stops arriving: the request-timeout condition once the
/// body timeout of `apierr_axum::serve` passes (500 ms here).
async fn stalled_body(profile: &Profile, backend: Backend, seen: &mut Vec<Condition>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = apierr_axum::Limits::default()
        .body_timeout(Duration::from_millis(500))
        .unwrap();
    let s = Server::start_with(profile.clone(), backend, |c| c.limits = limits).await;
    let plan = planned(&served_plan(&s).await, "POST", "/accounts");
    let address = s.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /accounts HTTP/1.1\r\nhost: {address}\r\nx-api-key: {ACME}\r\n\
         content-type: application/json\r\ncontent-length: 64\r\n\r\n{{\"email\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // The answer comes, and the server closes the connection it cannot read on.
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    planned_answer(
        &s,
        &plan,
        raw_answer(&s, &raw),
        Condition::RequestTimeout,
        seen,
    );
}

#[tokio::test]
async fn a_missing_key_is_planned_where_keys_are_required_and_only_there() {
    // Scenario: under `--require-idempotency-key`, a key-less `POST /accounts` is the
    // missing-key condition and the plan lists it; a server that takes key-less requests
    // does not list it (the plan names nothing the server cannot send). Both backends.
    for backend in BACKENDS {
        let s = Server::start_with(Profile::ERRORS_ARRAY, backend, |c| {
            c.require_idempotency_key = true;
        })
        .await;
        let plan = planned(&served_plan(&s).await, "POST", "/accounts");
        let r = s
            .post_json("/accounts", ACME, &account("nokey@b.co"))
            .send()
            .await
            .unwrap();
        let mut seen = Vec::new();
        provoked(&s, &plan, r, Condition::IdempotencyKeyMissing, &mut seen).await;
        let relaxed = Server::start(Profile::ERRORS_ARRAY, backend).await;
        let code = relaxed
            .profile
            .catalog()
            .condition(Condition::IdempotencyKeyMissing)
            .code()
            .to_string();
        let plan = planned(&served_plan(&relaxed).await, "POST", "/accounts");
        assert!(plan.iter().all(|(_, c)| *c != code), "{plan:?}");
    }
}

#[tokio::test]
async fn the_plan_lists_the_rate_limit_and_the_server_failures() {
    // Scenario: a partner over its quota gets the plan's 429, and each answer of
    // `POST /accounts` has the action the retry rules give it.
    for backend in BACKENDS {
        let s = Server::start_with(Profile::PROBLEM, backend, |c| {
            c.rate_limit = (2, Duration::from_secs(60));
        })
        .await;
        let served = served_plan(&s).await;
        let plan = planned(&served, "POST", "/accounts");
        let mut seen = Vec::new();
        let mut last = None;
        for n in 0..3 {
            last = Some(
                s.post_json("/accounts", ACME, &account(&format!("q{n}@b.co")))
                    .send()
                    .await
                    .unwrap(),
            );
        }
        provoked(&s, &plan, last.unwrap(), Condition::RateLimited, &mut seen).await;
        let errors = served["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["method"] == "POST" && o["path"] == "/accounts")
            .unwrap()["errors"]
            .as_array()
            .unwrap()
            .clone();
        let action = |code: &str| {
            let e = errors.iter().find(|e| e["code"] == code).unwrap();
            (e["action"].clone(), e["without_key"].clone())
        };
        // POST /accounts takes an Idempotency-Key: with one a 503 is retried, without
        // one it is reconciled first.
        assert_eq!(
            action("service_unavailable"),
            ("retry_safely".into(), "reconcile".into())
        );
        assert_eq!(action("rate_limited").0, "wait_and_retry");
        assert_eq!(action("idempotency_in_flight").0, "wait_and_retry");
        assert_eq!(action("expired_token").0, "reauthenticate");
        assert_eq!(action("key_revoked").0, "do_not_retry");
        assert_eq!(action("stale_request").0, "send_current_date");
        assert_eq!(action("malformed_body").0, "fix_request");
    }
}

#[tokio::test]
async fn the_plan_is_served_as_html_and_markdown_and_refuses_other_formats() {
    // Scenario: /docs/errors answers HTML by default, Markdown on request, and a 400 in
    // the contract for a format it does not have.
    let s = Server::start(Profile::ERRORS_ARRAY, BACKENDS[0]).await;
    let r = s.get("/docs/errors").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let html = r.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<code>POST /accounts</code>"));
    let r = s.get("/docs/errors?format=markdown").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/markdown; charset=utf-8");
    assert!(r.text().await.unwrap().contains("| 404 | `3001` |"));
    let r = s.get("/docs/errors?format=pdf").send().await.unwrap();
    expect_condition(&s, r, Condition::InvalidParameter).await;
}

/// The tables of a Markdown text, as rows of cell texts, by pulldown-cmark.
fn tables(markdown: &str) -> Vec<Vec<Vec<String>>> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let mut tables = Vec::new();
    let (mut table, mut row, mut cell): (Vec<Vec<String>>, Vec<String>, Option<String>) =
        (Vec::new(), Vec::new(), None);
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => row.push(cell.take().unwrap_or_default()),
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                table.push(std::mem::take(&mut row))
            }
            Event::End(TagEnd::Table) => tables.push(std::mem::take(&mut table)),
            Event::Text(text) | Event::Code(text) => {
                if let Some(cell) = &mut cell {
                    cell.push_str(&text);
                }
            }
            _ => {}
        }
    }
    tables
}

#[test]
fn apierr_plan_prints_markdown_whose_tables_are_whole() {
    // Scenario: in every profile, each operation's table parses with four cells in every
    // row, none empty, one row per planned error, and the webhooks' table with three, a
    // row per event type; the JSON form says the same.
    for profile in Profile::ALL {
        let run = |format: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_apierr"))
                .args(["plan", "--profile", profile.name(), "--format", format])
                .output()
                .expect("the apierr binary");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let markdown = run("markdown");
        let plan: Value = serde_json::from_str(&run("json")).unwrap();
        let operations: Vec<&Value> = plan["operations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| !o["errors"].as_array().unwrap().is_empty())
            .collect();
        let mut tables = tables(&markdown);
        // The last table is the webhooks': a row per event type, three cells, none empty.
        let hooks = tables.pop().unwrap();
        assert_eq!(hooks[0], ["Event type", "When", "Answers"]);
        let webhooks = plan["webhooks"].as_array().unwrap();
        assert_eq!(hooks.len() - 1, webhooks.len(), "{}", profile.name());
        for (row, hook) in hooks[1..].iter().zip(webhooks) {
            assert_eq!(row.len(), 3, "{row:?}");
            assert!(row.iter().all(|c| !c.trim().is_empty()), "{row:?}");
            assert_eq!(row[0], hook["event_type"].as_str().unwrap());
        }
        assert_eq!(tables.len(), operations.len(), "{}", profile.name());
        for (table, operation) in tables.iter().zip(operations) {
            let errors = operation["errors"].as_array().unwrap();
            assert_eq!(table[0], ["Status", "Code", "When", "What to do"]);
            assert_eq!(
                table.len() - 1,
                errors.len(),
                "{} {}",
                profile.name(),
                operation["path"]
            );
            for (row, error) in table[1..].iter().zip(errors) {
                assert_eq!(row.len(), 4, "{row:?}");
                assert!(row.iter().all(|c| !c.trim().is_empty()), "{row:?}");
                assert_eq!(row[0], error["status"].to_string());
                assert_eq!(row[1], code_text(&error["code"]));
            }
        }
    }
}
