//! The partner portal in a real headless Chromium, driven over WebDriver (Debian's
//! `chromium` and `chromium-driver`, which `scripts/test` installs): a partner opens its
//! link, sees a failed delivery's attempts, replays the message and watches it turn
//! delivered, rotates a secret; another partner's link shows none of it; a form posted
//! from another origin changes nothing. Screenshots of the main views are saved under
//! the test's output directory (`CARGO_TARGET_TMPDIR/portal-screenshots`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use apierr::Profile;
use apierr_client::WebhookVerifier;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::support::{BACKENDS, Server, free_address};
use crate::webhooks::Inbox;

/// The WebDriver server Debian's `chromium-driver` installs.
const CHROMEDRIVER: &str = "chromedriver";

/// A `chromedriver` process on a loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        let address = free_address();
        let port = address.rsplit(':').next().unwrap().to_owned();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {CHROMEDRIVER} ({e}): the browser tests need Debian's chromium \
                     and chromium-driver packages (scripts/test installs them)"
                )
            });
        // Killed and waited for when dropped, whatever happens next.
        let driver = Driver {
            child,
            url: format!("http://{address}"),
        };
        let status = format!("{}/status", driver.url);
        for _ in 0..100 {
            if reqwest::get(&status).await.is_ok_and(|r| r.status() == 200) {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{CHROMEDRIVER} did not answer at {status}");
    }

    /// A new headless Chromium window.
    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({"args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,1400",
            ]}),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("chromium through {CHROMEDRIVER}: {e}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots go.
fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: a PNG");
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// The page's text (what a reader sees). A page being replaced (a click's navigation
/// under way) has no body to read, or a stale one: read again.
async fn text(browser: &Client) -> String {
    let mut last = None;
    for _ in 0..50 {
        let read = match browser.find(Locator::Css("body")).await {
            Ok(body) => body.text().await,
            Err(e) => Err(e),
        };
        match read {
            Ok(text) => return text,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no page to read: {last:?}");
}

/// The page's text once it contains `needle` (a click's navigation may still be under
/// way when the click returns), or as it is after five seconds.
async fn text_with(browser: &Client, needle: &str) -> String {
    let mut seen = String::new();
    for _ in 0..50 {
        seen = text(browser).await;
        if seen.contains(needle) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

/// Clicks the submit button whose text is `label`.
async fn press(browser: &Client, label: &str) {
    browser
        .find(Locator::XPath(&format!(
            "//button[normalize-space()='{label}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("a button {label:?}: {e}"))
        .click()
        .await
        .unwrap();
}

/// `POST path` as acme, JSON.
async fn post(server: &Server, path: &str, body: Value) -> Value {
    let response = server
        .post_json(path, "acme-key", &body.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

async fn link(server: &Server, partner: &str) -> String {
    let token = apierr_reference::Partners::connect(&server.database_url)
        .await
        .unwrap()
        .portal_link(partner, Duration::from_secs(300))
        .await
        .unwrap()
        .token;
    format!("{}/portal/enter?link={token}", server.base)
}

/// A page on another origin (another port of the same host: the same *site*, so the
/// cookie's `SameSite=Strict` does not stop it) whose form posts to the portal.
async fn hostile_page(target: String) -> String {
    let page = format!(
        "<!doctype html><title>prize</title><form method=post action=\"{target}\">\
         <input type=hidden name=csrf value=guess><button type=submit>Claim</button></form>"
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_works_its_webhooks_in_a_real_browser() {
    // Scenario: see the first paragraph of this file, on SQLite and PostgreSQL.
    let driver = Driver::start().await;
    for backend in BACKENDS {
        let server = Server::start_with(Profile::PROBLEM, backend, |config| {
            config.webhook_allow = vec!["127.0.0.0/8".parse().unwrap()];
            config.webhook_dispatcher = true;
        })
        .await;
        let inbox = Inbox::start().await;
        inbox.answer(500);
        let endpoint = post(
            &server,
            "/webhooks/endpoints",
            json!({"url": inbox.url, "retry_schedule": [1]}),
        )
        .await;
        let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
        let person = json!({"email": "browser@example.com", "first_name": "Ada", "last_name": "L"});
        post(&server, "/accounts", person).await;
        // Both attempts fail (the first and the retry a second later).
        inbox.wait_for(2, Duration::from_secs(15)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;

        let browser = driver.browser().await;
        browser.goto(&link(&server, "acme").await).await.unwrap();
        // The enter page moves on to the overview by itself.
        for _ in 0..50 {
            if browser.current_url().await.unwrap().path() == "/portal" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            browser.current_url().await.unwrap().path(),
            "/portal",
            "{backend:?}"
        );
        let overview = text(&browser).await;
        assert!(overview.contains("Acme"), "{overview}");
        assert!(overview.contains(&endpoint_id), "{overview}");
        assert!(overview.contains("failed"), "{overview}");
        screenshot(&browser, &format!("{backend}-overview")).await;

        // The failed message, each attempt with its status and the answer's first bytes.
        browser
            .find(Locator::Css("a[href^='/portal/messages/']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let detail = text_with(&browser, "Message msg_").await;
        assert!(detail.contains("failed"), "{backend:?}: {detail}");
        assert!(detail.matches("500").count() >= 2, "{detail}");
        screenshot(&browser, &format!("{backend}-message-failed")).await;

        // The receiver is fixed; the message is sent again and turns delivered.
        inbox.answer(200);
        press(&browser, "Send it again").await;
        let replayed = text_with(&browser, "Replayed: 1").await;
        assert!(replayed.contains("Replayed: 1"), "{backend:?}: {replayed}");
        let mut delivered = false;
        for _ in 0..100 {
            browser.refresh().await.unwrap();
            if text(&browser).await.contains("delivered") {
                delivered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            delivered,
            "{backend:?}: the replayed message turns delivered"
        );
        screenshot(&browser, &format!("{backend}-message-delivered")).await;

        // Rotate the secret: shown once; a test message is signed with it.
        browser
            .goto(&format!("{}/portal/endpoints/{endpoint_id}", server.base))
            .await
            .unwrap();
        screenshot(&browser, &format!("{backend}-endpoint")).await;
        press(&browser, "Rotate the secret").await;
        let secret = browser
            .wait()
            .for_element(Locator::Id("secret"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .expect("the secret");
        assert!(secret.starts_with("whsec_"), "{secret}");
        screenshot(&browser, &format!("{backend}-secret")).await;
        browser
            .goto(&format!("{}/portal/endpoints/{endpoint_id}", server.base))
            .await
            .unwrap();
        let before = inbox.received().len();
        press(&browser, "Send a test message").await;
        let tested = text_with(&browser, "Test message delivered").await;
        assert!(
            tested.contains("Test message delivered"),
            "{backend:?}: {tested}"
        );
        let got = inbox.received();
        assert_eq!(got.len(), before + 1);
        let (headers, body) = got.last().unwrap();
        WebhookVerifier::new(&secret)
            .unwrap()
            .verify(headers, body, SystemTime::now())
            .expect("signed with the rotated secret");

        // A form on another origin of the same host: refused, nothing deleted.
        let hostile = hostile_page(format!(
            "{}/portal/endpoints/{endpoint_id}/delete",
            server.base
        ))
        .await;
        browser.goto(&hostile).await.unwrap();
        press(&browser, "Claim").await;
        let refused = text_with(&browser, "forbidden").await;
        assert!(refused.contains("forbidden"), "{backend:?}: {refused}");
        let still = server
            .with_key(
                reqwest::Method::GET,
                &format!("/webhooks/endpoints/{endpoint_id}"),
                "acme-key",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            still.status(),
            200,
            "{backend:?}: the endpoint is still there"
        );

        // Signed out, then in as another partner: none of acme's data.
        browser
            .goto(&format!("{}/portal", server.base))
            .await
            .unwrap();
        press(&browser, "Sign out").await;
        browser.goto(&link(&server, "viewer").await).await.unwrap();
        for _ in 0..50 {
            if browser.current_url().await.unwrap().path() == "/portal" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let theirs = text_with(&browser, "Viewer").await;
        assert!(theirs.contains("Viewer"), "{theirs}");
        assert!(
            !theirs.contains(&endpoint_id),
            "{backend:?}: acme's endpoint shown"
        );
        assert!(
            !theirs.contains(&inbox.url),
            "{backend:?}: acme's URL shown"
        );
        screenshot(&browser, &format!("{backend}-other-partner")).await;
        browser
            .goto(&format!("{}/portal/endpoints/{endpoint_id}", server.base))
            .await
            .unwrap();
        let not_found = text_with(&browser, "not_found").await;
        assert!(not_found.contains("not_found"), "{backend:?}: {not_found}");
        browser.close().await.unwrap();
    }
}
