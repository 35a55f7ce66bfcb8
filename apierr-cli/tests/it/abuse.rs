//! Failed authentication from one address, or for one client id, is limited before any
//! credential is checked: on SQLite and PostgreSQL, with the limits in memory and in
//! Redis.

use std::time::Duration;

use apierr::Profile;
use apierr_testkit::TestRedis;

use crate::support::{BACKENDS, Backend, Server};

/// A server on `backend`, its limits in Redis when given one, trusting loopback proxies
/// when `trust` (so that a test can speak for other addresses with `X-Forwarded-For`).
async fn server(backend: Backend, redis: Option<&TestRedis>, trust: bool) -> Server {
    let redis = redis.map(|r| (r.url().to_owned(), r.prefix().to_owned()));
    Server::start_with(Profile::PROBLEM, backend, move |c| {
        // Sixty at once, then one a minute: a block lasts up to a minute, so a test's
        // next request surely meets it however slowly the machine runs.
        c.auth_failure_limit = (60, Duration::from_secs(3600));
        if let Some((url, prefix)) = redis {
            c.redis_url = Some(url);
            c.redis_prefix = prefix;
        }
        if trust {
            c.trust_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        }
    })
    .await
}

/// Every store the limits can live in, on every database: (label, server).
async fn each_setting(trust: bool, mut scenario: impl AsyncFnMut(&str, Server)) {
    for backend in BACKENDS {
        scenario(
            &format!("{backend:?}, memory"),
            server(backend, None, trust).await,
        )
        .await;
    }
    let redis = TestRedis::new("auth-failures").await;
    scenario(
        "Sqlite, redis",
        server(Backend::Sqlite, Some(&redis), trust).await,
    )
    .await;
}

async fn token(
    server: &Server,
    client: &str,
    secret: &str,
    from: Option<&str>,
) -> reqwest::Response {
    let mut request = server
        .request(reqwest::Method::POST, "/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={client}&client_secret={secret}"
        ));
    if let Some(ip) = from {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

/// Checks a 429 of the failure limit: `Retry-After`, the limit's headers.
fn assert_limited(label: &str, r: &reqwest::Response) {
    assert_eq!(r.status(), 429, "{label}");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{label}: Retry-After {wait}");
    let policy = r.headers()["ratelimit-policy"].to_str().unwrap();
    assert!(
        policy.starts_with("\"auth-failures\";q=60"),
        "{label}: {policy}"
    );
    assert!(r.headers().contains_key("ratelimit"), "{label}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_wrong_client_secrets_from_one_address_meet_429() {
    // Scenario: 1,000 wrong secrets from one address: at most 60 are 401 invalid_client,
    // then every one is 429 in RFC 6749's form; the right secret from that address is
    // 429 too (a guess while blocked learns nothing); a minute and more later it works.
    each_setting(false, async |label, server| {
        let mut refused = 0;
        let mut limited = 0;
        let started = std::time::Instant::now();
        for i in 0..1000 {
            let r = token(&server, "acme", &format!("guess-{i}"), None).await;
            match r.status().as_u16() {
                401 => refused += 1,
                429 => {
                    if limited == 0 {
                        assert_limited(label, &r);
                        let body: serde_json::Value = r.json().await.unwrap();
                        assert!(body["error"].is_string(), "{label}: {body}");
                    }
                    limited += 1;
                }
                other => panic!("{label}: {other}"),
            }
        }
        // Sixty at once, then one a minute at most (the test's own pace decides how many).
        let bound = 62 + (started.elapsed().as_secs_f64() / 60.0).ceil() as u64;
        assert!(
            refused <= bound,
            "{label}: {refused} guesses checked, at most {bound}"
        );
        assert_eq!(refused + limited, 1000, "{label}");
        let right = token(&server, "acme", "acme-secret", None).await;
        assert_limited(label, &right);
        server.advance(Duration::from_secs(120));
        let right = token(&server, "acme", "acme-secret", None).await;
        assert_eq!(right.status(), 200, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_at_one_client_id_from_many_addresses_meet_429() {
    // Scenario: behind a trusted proxy, wrong secrets for `acme` come from 200 addresses:
    // the client id is limited on its own; another client is not.
    each_setting(true, async |label, server| {
        let mut statuses = Vec::new();
        for i in 0..200 {
            let from = format!("198.51.100.{}", i % 250);
            statuses.push(
                token(&server, "acme", "wrong", Some(&from))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        let first = statuses.iter().position(|s| *s == 429);
        assert!(first.is_some_and(|at| at <= 61), "{label}: {statuses:?}");
        let fresh = token(&server, "acme", "acme-secret", Some("203.0.113.77")).await;
        assert_limited(label, &fresh);
        let other = token(&server, "viewer", "viewer-secret", Some("203.0.113.78")).await;
        assert_eq!(other.status(), 200, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_wrong_api_keys_meet_429_in_the_profile() {
    // Scenario: 1,000 wrong API keys from one address: 401 then 429 in the problem
    // profile; the right key from that address is 429, and a forged X-Forwarded-For does
    // not escape (the peer is no trusted proxy); a valid bearer token is 429 as well.
    each_setting(false, async |label, server| {
        let bearer = server.token("acme").await;
        let mut first_limited = None;
        for i in 0..1000 {
            let r = server
                .with_key(reqwest::Method::GET, "/accounts", &format!("wrong-{i}"))
                .send()
                .await
                .unwrap();
            match (r.status().as_u16(), first_limited) {
                (401, None) => {}
                (429, None) => {
                    assert_limited(label, &r);
                    assert_eq!(r.headers()["content-type"], "application/problem+json");
                    let body: serde_json::Value = r.json().await.unwrap();
                    assert_eq!(body["status"], 429, "{label}: {body}");
                    first_limited = Some(i);
                }
                // One guess a minute passes once the burst is spent.
                (429 | 401, Some(_)) => {}
                (status, _) => panic!("{label}: {status} at {i}"),
            }
        }
        assert!(
            first_limited.is_some_and(|at| at <= 61),
            "{label}: {first_limited:?}"
        );
        let right = server
            .with_key(reqwest::Method::GET, "/accounts", "acme-key")
            .header("x-forwarded-for", "203.0.113.5")
            .send()
            .await
            .unwrap();
        assert_limited(label, &right);
        let token = server
            .get("/accounts")
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), 429, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_limit() {
    // Scenario: through a trusted proxy, one client's 100 wrong keys block that client
    // only: another client behind the same proxy gets its accounts.
    each_setting(true, async |label, server| {
        for i in 0..100 {
            let r = server
                .with_key(reqwest::Method::GET, "/accounts", &format!("wrong-{i}"))
                .header("x-forwarded-for", "198.51.100.9")
                .send()
                .await
                .unwrap();
            assert!(matches!(r.status().as_u16(), 401 | 429), "{label}");
        }
        let blocked = server
            .with_key(reqwest::Method::GET, "/accounts", "acme-key")
            .header("x-forwarded-for", "198.51.100.9")
            .send()
            .await
            .unwrap();
        assert_limited(label, &blocked);
        let other = server
            .with_key(reqwest::Method::GET, "/accounts", "acme-key")
            .header("x-forwarded-for", "198.51.100.10")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200, "{label}");
    })
    .await;
}
