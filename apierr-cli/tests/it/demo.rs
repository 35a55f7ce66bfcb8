//! The demo partners: only where asked, and once.

use axum::ServiceExt;

use crate::support::{BACKENDS, acme_status_once_up, database};

/// The status of `GET /accounts` with the demo partner's API key, on an app of `url`.
async fn acme_status(url: &str, seed_demo: bool) -> u16 {
    let mut config = apierr_reference::Config::new(url);
    config.seed_demo = seed_demo;
    config.secret_keys = crate::support::test_keys();
    config.webhook_dispatcher = false;
    let app = apierr_reference::app(&config).await.expect("server starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app.into_make_service()).await });
    let status = reqwest::Client::new()
        .get(format!("{base}/accounts"))
        .header("x-api-key", "acme-key")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    server.abort();
    status
}

#[tokio::test]
async fn demo_partners_exist_only_where_asked_and_are_made_once() {
    // Scenario: on each backend, a new database served with the defaults has no demo
    // partner, and asking for them later does not add them (the database is not new);
    // a new database asked for them has them, and one deleted stays deleted after a
    // restart that asks again.
    for backend in BACKENDS {
        let plain = database(backend).await;
        assert_eq!(acme_status(plain.url(), false).await, 401, "{backend:?}");
        assert_eq!(acme_status(plain.url(), true).await, 401, "{backend:?}");

        let demo = database(backend).await;
        assert_eq!(acme_status(demo.url(), true).await, 200, "{backend:?}");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(demo.url()).await.unwrap();
        sqlx::query("DELETE FROM partners WHERE id = 'acme'")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        assert_eq!(acme_status(demo.url(), true).await, 401, "{backend:?}");
    }
}

#[tokio::test]
async fn serve_makes_demo_partners_for_the_quick_start_file_or_with_demo_only() {
    // Scenario: `apierr serve` on a database other than the quick start's has no demo
    // partner unless given `--demo`; in the quick start's own `apierr.db` (run in a
    // directory of its own) it has them, unless given `--no-demo`.
    let dir = std::env::temp_dir().join(format!("apierr-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let other = format!("sqlite://{}", dir.join("other.db").display());
    let asked = format!("sqlite://{}", dir.join("asked.db").display());
    let quiet = dir.join("quiet");
    std::fs::create_dir_all(&quiet).unwrap();
    for (args, cwd, expected) in [
        (vec!["--database-url", other.as_str()], &dir, 401),
        (vec!["--database-url", asked.as_str(), "--demo"], &dir, 200),
        (vec![], &dir, 200),
        (vec!["--no-demo"], &quiet, 401),
    ] {
        let listen = crate::support::free_address();
        let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
            .arg("serve")
            .args(&args)
            .args(["--listen", &listen, "--no-webhook-dispatcher"])
            .current_dir(cwd)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the apierr binary");
        let status = acme_status_once_up(&listen, &mut serve).await;
        let _ = serve.kill();
        let _ = serve.wait();
        assert_eq!(status, expected, "serve {args:?} in {cwd:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
