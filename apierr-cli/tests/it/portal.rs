//! The partner portal over HTTP, on SQLite and PostgreSQL: signing in with an operator's
//! link, the session cookie, what each partner sees, and forms from elsewhere refused.
//! (A real browser drives it in `browser`.)

use std::process::Command;
use std::time::Duration;

use apierr::Profile;
use reqwest::redirect::Policy;
use serde_json::json;

use crate::support::{BACKENDS, Server};

/// A client that follows no redirect and keeps no cookie: the test sees each answer.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A one-use link of `partner`'s, made as `apierr partners portal-link` makes it.
async fn link(server: &Server, partner: &str) -> String {
    apierr_reference::Partners::connect(&server.database_url)
        .await
        .unwrap()
        .portal_link(partner, Duration::from_secs(60))
        .await
        .unwrap()
        .token
}

/// Signs in with `link`: the session cookie (`name=value`) and the whole `Set-Cookie`.
async fn sign_in(server: &Server, link: &str) -> (String, String) {
    let response = client()
        .get(format!("{}/portal/enter?link={link}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let pair = set.split(';').next().unwrap().to_owned();
    (pair, set)
}

async fn page(server: &Server, path: &str, cookie: &str) -> (u16, String) {
    let response = client()
        .get(format!("{}{path}", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

/// The CSRF token on a page's forms.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form") + 19;
    html[at..at + 64].to_owned()
}

#[tokio::test]
async fn a_link_opens_one_session_for_its_partner_only() {
    // Scenario: acme's link signs in once (HttpOnly, SameSite=Strict cookie on /portal,
    // not Secure over http) and is spent; the overview shows acme's endpoint and message
    // with its state, escaped; viewer's session shows neither, and acme's message is not
    // found for it; no cookie, a made-up cookie or an expired link lead to the signed-out
    // page.
    for backend in BACKENDS {
        let server = Server::start(Profile::PROBLEM, backend).await;
        let (status, endpoint) = {
            let response = server
                .post_json(
                    "/webhooks/endpoints",
                    "acme-key",
                    &json!({"url": "https://hooks.example.com/in"}).to_string(),
                )
                .send()
                .await
                .unwrap();
            (
                response.status(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        };
        assert_eq!(status, 201);
        let person = json!({"email": "portal@example.com", "first_name": "Ada", "last_name": "B"});
        let created = server
            .post_json("/accounts", "acme-key", &person.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);

        // A request of acme's that ended in a server error, as the log records it.
        let log = apierr_axum::store::SqlStore::connect(&server.database_url)
            .await
            .unwrap();
        apierr_axum::store::ReconciliationLog::record(
            &log,
            &apierr_axum::store::Entry {
                seq: 0,
                at: std::time::SystemTime::now(),
                request_id: "req-unknown-outcome".to_owned(),
                caller: Some("acme".to_owned()),
                method: "POST".to_owned(),
                route: "/accounts".to_owned(),
                idempotency_key: Some("key-1".to_owned()),
                fingerprint: "ab".repeat(32),
                status: 503,
                outcome: apierr_axum::store::Outcome::ServerError,
                acknowledged_at: None,
            },
        )
        .await
        .unwrap();
        let acme_link = link(&server, "acme").await;
        let (cookie, set) = sign_in(&server, &acme_link).await;
        for attribute in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/portal",
            "Max-Age=3600",
        ] {
            assert!(set.contains(attribute), "{backend:?}: {set}");
        }
        assert!(!set.contains("Secure"), "{set}");
        // Spent.
        let again = client()
            .get(format!("{}/portal/enter?link={acme_link}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 303);
        assert_eq!(again.headers()["location"], "/portal/signed-out?why=link");

        let (status, html) = page(&server, "/portal", &cookie).await;
        assert_eq!(status, 200);
        assert!(html.contains("Acme"), "{html}");
        assert!(html.contains(endpoint["id"].as_str().unwrap()));
        assert!(html.contains("https://hooks.example.com/in"));
        assert!(html.contains("account.created"));
        assert!(html.contains("req-unknown-outcome") && html.contains("server_error"));
        let message = html
            .split("/portal/messages/")
            .nth(1)
            .map(|rest| rest[..36].to_owned())
            .expect("a message link");
        let (status, detail) = page(&server, &format!("/portal/messages/{message}"), &cookie).await;
        assert_eq!(status, 200, "{detail}");
        assert!(
            detail.contains("held") || detail.contains("pending"),
            "{detail}"
        );

        let (viewer, _) = sign_in(&server, &link(&server, "viewer").await).await;
        let (status, theirs) = page(&server, "/portal", &viewer).await;
        assert_eq!(status, 200);
        assert!(theirs.contains("Viewer"));
        assert!(
            !theirs.contains(endpoint["id"].as_str().unwrap()),
            "another partner's endpoint"
        );
        assert!(
            !theirs.contains("https://hooks.example.com/in</a>"),
            "another partner's URL"
        );
        assert!(!theirs.contains(&message), "another partner's message");
        assert!(
            !theirs.contains("req-unknown-outcome"),
            "another partner's request"
        );
        let (status, _) = page(&server, &format!("/portal/messages/{message}"), &viewer).await;
        assert_eq!(status, 404);

        for cookie in ["", "apierr_portal=made-up"] {
            let (status, _) = page(&server, "/portal", cookie).await;
            assert_eq!(status, 303, "{cookie}");
        }
        // A partner revoked after its link was made: the link opens nothing.
        let before = apierr_reference::Partners::connect(&server.database_url)
            .await
            .unwrap();
        let added = before.add("Short-lived", false).await.unwrap();
        let doomed = link(&server, &added.partner.id).await;
        before.revoke(&added.partner.id).await.unwrap();
        let refused = client()
            .get(format!("{}/portal/enter?link={doomed}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 303, "{backend:?}");
        assert!(!refused.headers().contains_key("set-cookie"));
        let old = link(&server, "acme").await;
        server.advance(Duration::from_secs(120));
        let late = client()
            .get(format!("{}/portal/enter?link={old}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(late.status(), 303, "{backend:?}: an expired link");
    }
}

#[tokio::test]
async fn a_form_from_elsewhere_is_refused_and_sign_out_ends_the_session() {
    // Scenario: signing out needs the page's CSRF token and, when the browser names one,
    // this server's origin: without the token, with another's, or from another origin
    // (even on the same host) it is 403 in the profile's contract and the session stays;
    // from the page itself it ends the session and clears the cookie. The server requires
    // a `Date` of API requests; a browser sends none, and the portal needs none.
    for backend in BACKENDS {
        let server = Server::start_with(Profile::PROBLEM, backend, |config| {
            config.require_date = true;
        })
        .await;
        let (cookie, _) = sign_in(&server, &link(&server, "acme").await).await;
        let (_, html) = page(&server, "/portal", &cookie).await;
        let token = csrf(&html);
        let post = |body: String, origin: Option<String>| {
            let mut request = client()
                .post(format!("{}/portal/sign-out", server.base))
                .header("cookie", cookie.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            request.send()
        };
        let evil = "http://127.0.0.1:1".to_owned();
        for (body, origin) in [
            (format!("csrf={}", "0".repeat(64)), None),
            ("csrf=".to_owned(), None),
            (format!("csrf={token}"), Some(evil)),
        ] {
            let refused = post(body.clone(), origin.clone()).await.unwrap();
            assert_eq!(refused.status(), 403, "{backend:?} {body} {origin:?}");
            let problem: serde_json::Value = refused.json().await.unwrap();
            assert_eq!(problem["code"], "forbidden");
        }
        assert_eq!(
            page(&server, "/portal", &cookie).await.0,
            200,
            "still signed in"
        );
        let done = post(format!("csrf={token}"), Some(server.base.clone()))
            .await
            .unwrap();
        assert_eq!(done.status(), 303);
        assert!(
            done.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert_eq!(page(&server, "/portal", &cookie).await.0, 303, "signed out");
    }
}

#[tokio::test]
async fn the_operator_makes_a_link_with_the_cli() {
    // Scenario: `apierr partners portal-link` prints a link under the public URL that
    // signs in; a TTL over a day and a revoked partner are refused.
    let server = Server::start(Profile::PROBLEM, crate::support::Backend::Sqlite).await;
    let url = server.database_url.clone();
    let apierr = move |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_apierr"));
        command.args(args).args(["--database-url", &url]);
        async move {
            tokio::task::spawn_blocking(move || command.output().expect("the apierr binary"))
                .await
                .unwrap()
        }
    };
    let out = apierr(&[
        "partners",
        "portal-link",
        "acme",
        "--ttl",
        "5m",
        "--public-url",
        "https://api.example.com",
        "--json",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let link = link["url"].as_str().unwrap();
    let token = link
        .strip_prefix("https://api.example.com/portal/enter?link=")
        .unwrap_or_else(|| panic!("{link}"));
    assert!(token.starts_with("pl_"));
    let (cookie, _) = sign_in(&server, token).await;
    assert_eq!(page(&server, "/portal", &cookie).await.0, 200);
    let refused = apierr(&["partners", "portal-link", "acme", "--ttl", "2days"]).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("portal link"));
    let revoked = apierr(&["partners", "portal-link", "retired"]).await;
    assert!(!revoked.status.success());
    assert!(String::from_utf8_lossy(&revoked.stderr).contains("revoked"));
}

#[tokio::test]
async fn the_portals_actions_follow_the_apis_rules() {
    // Scenario: actions take the page's form. A browser's gets a page (a new endpoint's
    // secret, shown once) or a redirect to a page that says once what happened; a
    // script's (Accept: JSON) gets the API's answer, an error in the profile's contract.
    // A bad URL or an unknown event type is the API's 400; a form of another type is
    // 415; a read-only partner's action is 403.
    for backend in BACKENDS {
        let server = Server::start(Profile::PROBLEM, backend).await;
        let (cookie, _) = sign_in(&server, &link(&server, "acme").await).await;
        let (_, html) = page(&server, "/portal", &cookie).await;
        let token = csrf(&html);
        let act = |path: &str, form: String, json: bool| {
            let mut request = client()
                .post(format!("{}{path}", server.base))
                .header("cookie", cookie.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("csrf={token}&{form}"));
            if json {
                request = request.header("accept", "application/json");
            }
            request.send()
        };

        let created = act(
            "/portal/endpoints",
            "url=https%3A%2F%2Fhooks.example.com%2Fa&every=on".to_owned(),
            false,
        )
        .await
        .unwrap();
        assert_eq!(created.status(), 200, "{backend:?}");
        let shown = created.text().await.unwrap();
        assert!(shown.contains("whsec_"), "{shown}");
        let id = shown
            .split("/portal/endpoints/")
            .nth(1)
            .map(|rest| rest[..35].to_owned())
            .unwrap();
        assert!(id.starts_with("ep_"), "{id}");

        let refused = act(
            "/portal/endpoints",
            "url=http%3A%2F%2F10.0.0.1%2Fx&every=on".to_owned(),
            true,
        )
        .await
        .unwrap();
        assert_eq!(refused.status(), 400);
        let problem: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "url", "{problem}");
        let back = act(
            "/portal/endpoints",
            "url=ftp%3A%2F%2Fhooks.example.com&every=on".to_owned(),
            false,
        )
        .await
        .unwrap();
        assert_eq!(back.status(), 303);
        let (_, told) = page(&server, "/portal", &cookie).await;
        assert!(
            told.contains("class=\"warning\"") && told.contains("url"),
            "{told}"
        );
        let (_, again) = page(&server, "/portal", &cookie).await;
        assert!(!again.contains("class=\"warning\""), "told once");

        let path = format!("/portal/endpoints/{id}/subscription");
        let changed = act(&path, "event_types=account.deleted".to_owned(), true)
            .await
            .unwrap();
        assert_eq!(changed.status(), 200);
        let changed: serde_json::Value = changed.json().await.unwrap();
        assert_eq!(changed["event_types"], json!(["account.deleted"]));
        let unknown = act(&path, "event_types=account.nope".to_owned(), true)
            .await
            .unwrap();
        assert_eq!(unknown.status(), 400);
        let none = act(&path, String::new(), true).await.unwrap();
        assert_eq!(none.status(), 400, "no type checked and not every type");
        let (_, endpoint_page) = page(&server, &format!("/portal/endpoints/{id}"), &cookie).await;
        assert!(
            endpoint_page.contains("value=\"account.deleted\" checked"),
            "{endpoint_page}"
        );

        // A browser is asked first; the page's own form confirms.
        let path = format!("/portal/endpoints/{id}/delete");
        let asked = act(&path, String::new(), false).await.unwrap();
        assert_eq!(asked.status(), 200);
        let asked = asked.text().await.unwrap();
        assert!(asked.contains("name=\"confirm\" value=\"yes\""), "{asked}");
        assert_eq!(
            page(&server, &format!("/portal/endpoints/{id}"), &cookie)
                .await
                .0,
            200,
            "not deleted yet"
        );
        let deleted = act(&path, "confirm=yes".to_owned(), false).await.unwrap();
        assert_eq!(deleted.status(), 303);
        assert_eq!(deleted.headers()["location"], "/portal");
        let (_, told) = page(&server, "/portal", &cookie).await;
        assert!(told.contains("Endpoint deleted"), "{told}");
        let gone = server
            .with_key(
                reqwest::Method::GET,
                &format!("/webhooks/endpoints/{id}"),
                "acme-key",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            gone.status(),
            404,
            "{backend:?}: deleted through the portal"
        );

        let typed = client()
            .post(format!("{}/portal/endpoints/{id}/resume", server.base))
            .header("cookie", cookie.clone())
            .header("content-type", "application/json")
            .body(format!("{{\"csrf\":\"{token}\"}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(typed.status(), 415);

        let (viewer, _) = sign_in(&server, &link(&server, "viewer").await).await;
        let (_, their_page) = page(&server, "/portal", &viewer).await;
        let refused = client()
            .post(format!("{}/portal/endpoints", server.base))
            .header("cookie", viewer)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf={}&url=https%3A%2F%2Fhooks.example.com%2Fv&every=on",
                csrf(&their_page)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{backend:?}: a read-only partner");
    }
}
