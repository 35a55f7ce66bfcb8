//! Several processes starting at once on one new database.

use crate::support::{BACKENDS, acme_status_once_up, database, free_address};

#[tokio::test]
async fn replicas_started_at_once_on_a_new_database_all_come_up() {
    // Scenario: four `apierr serve` processes start at the same moment on one new
    // database (a first deploy with several pods), each creating the stores', the
    // outbox's and the API's tables: all of them answer (none exits on a race in
    // creating the schema), on SQLite and PostgreSQL.
    for backend in BACKENDS {
        let place = database(backend).await;
        let mut servers = Vec::new();
        for _ in 0..4 {
            let listen = free_address();
            let serve = std::process::Command::new(env!("CARGO_BIN_EXE_apierr"))
                .args(["serve", "--database-url", place.url(), "--demo"])
                .args(["--listen", &listen, "--no-webhook-dispatcher"])
                .env("RUST_LOG", "warn")
                .env("APIERR_SECRET_KEY", crate::support::TEST_KEY)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the apierr binary");
            servers.push((listen, serve));
        }
        for (listen, serve) in &mut servers {
            let status = acme_status_once_up(listen, serve).await;
            assert_eq!(status, 200, "{backend:?}: the replica at {listen}");
        }
        for (_, mut serve) in servers {
            let _ = serve.kill();
            let _ = serve.wait();
        }
    }
}
