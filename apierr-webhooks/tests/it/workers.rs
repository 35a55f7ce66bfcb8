//! Dispatchers running for real (`Dispatcher::run`, the real clock), and the signatures
//! they make checked by the published `standardwebhooks` package.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use apierr_webhooks::{DeliveryState, Outbox, Schedule, Secret};

use crate::support::{
    DBS, Db, Notes, Receiver, Running, TestDatabase, dispatcher, endpoint, enqueue, outbox_on,
};

const OWNER: &str = "acme";

/// Waits (up to `limit`) until `done` holds.
async fn until(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn write_many(outbox: &Outbox, n: u64) -> Vec<String> {
    let mut ids = Vec::new();
    let mut tx = outbox.pool().begin().await.unwrap();
    for i in 0..n {
        ids.push(
            outbox
                .enqueue(
                    &mut tx,
                    OWNER,
                    "account.created",
                    &serde_json::json!({"n": i}),
                    SystemTime::now(),
                )
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    outbox.wake();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_dispatcher_delivers_what_is_committed_and_stops_cleanly() {
    // run(): 300 messages (and one committed while it runs) all delivered once; shutdown
    // returns with every outcome recorded.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        endpoint(&outbox, OWNER, &receiver, &Schedule::default()).await;
        let ids = write_many(&outbox, 300).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).concurrency(16).build().unwrap();
        let running = Running::start(d);
        let late = enqueue(&outbox, OWNER, 301, SystemTime::now()).await;
        outbox.wake();
        assert!(
            until(Duration::from_secs(30), async || receiver.count() >= 301).await,
            "{db:?}"
        );
        running.stop(Duration::from_secs(20)).await;
        assert_eq!(receiver.count(), 301, "{db:?}: each message once");
        assert_eq!(
            outbox.count(None, DeliveryState::Delivered).await.unwrap(),
            301
        );
        for id in ids.iter().chain([&late]) {
            assert_eq!(outbox.deliveries(id).await.unwrap()[0].attempts, 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgresql_share_one_queue_without_delivering_twice() {
    // Two dispatchers, each with its own pool, on one PostgreSQL outbox: 1,000 messages,
    // each delivered exactly once.
    let place = TestDatabase::new(Db::Postgres, "webhooks").await;
    let url = place.url().to_owned();
    let outbox = Outbox::connect(&url).await.unwrap();
    let receiver = Receiver::start().await;
    endpoint(&outbox, OWNER, &receiver, &Schedule::default()).await;
    write_many(&outbox, 1000).await;
    let notes = Notes::default();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let own = Outbox::connect(&url).await.unwrap();
        let d = dispatcher(&own, &notes)
            .concurrency(16)
            .poll(Duration::from_millis(20))
            .build()
            .unwrap();
        runs.push(Running::start(d));
    }
    assert!(until(Duration::from_secs(60), async || receiver.count() >= 1000).await);
    // Time for a duplicate to show up, if there were one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for run in runs {
        run.stop(Duration::from_secs(20)).await;
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in receiver.received() {
        *seen.entry(r.id().to_owned()).or_default() += 1;
    }
    assert_eq!(seen.len(), 1000);
    assert!(
        seen.values().all(|n| *n == 1),
        "a message was delivered twice"
    );
    assert_eq!(
        outbox.count(None, DeliveryState::Delivered).await.unwrap(),
        1000
    );
}

#[tokio::test]
async fn postgresql_pages_of_deliveries_keep_room_for_their_claims() {
    // On PostgreSQL the deliveries are written to pages left half free, so that a claim
    // (no indexed column changed) is a heap-only update: on a new outbox, and on one that
    // an earlier release made with pages 70% full, once it is opened again.
    let place = TestDatabase::new(Db::Postgres, "webhooks").await;
    let fill = async |outbox: &Outbox| -> String {
        sqlx::query_scalar(
            "SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class
             WHERE oid = 'apierr_webhook_deliveries'::regclass",
        )
        .fetch_one(outbox.pool())
        .await
        .unwrap()
    };
    let outbox = Outbox::connect(place.url()).await.unwrap();
    assert_eq!(fill(&outbox).await, "fillfactor=50");
    for earlier in [
        "ALTER TABLE apierr_webhook_deliveries SET (fillfactor = 70)",
        "UPDATE apierr_schema_versions SET version = 3 WHERE component = 'apierr_webhooks'",
    ] {
        sqlx::query(earlier).execute(outbox.pool()).await.unwrap();
    }
    assert_eq!(fill(&outbox).await, "fillfactor=70");
    let reopened = Outbox::connect(place.url()).await.unwrap();
    assert_eq!(fill(&reopened).await, "fillfactor=50");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_verify_with_the_published_standardwebhooks_package() {
    // Deliveries (one secret, then two during a rotation) captured by a real receiver and
    // checked by standardwebhooks 1.1.0 from PyPI (`.ci/verify_webhooks.py`).
    let python = apierr_testkit::python_with("standardwebhooks");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/verify_webhooks.py");
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        let (ep, first) = endpoint(&outbox, OWNER, &receiver, &Schedule::default()).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).build().unwrap();
        enqueue(&outbox, OWNER, 1, SystemTime::now()).await;
        d.tick(SystemTime::now()).await.unwrap();
        let second = Secret::generate();
        outbox
            .rotate_secret(
                OWNER,
                &ep,
                &second,
                Duration::from_secs(3600),
                SystemTime::now(),
            )
            .await
            .unwrap();
        for n in 2..5 {
            enqueue(&outbox, OWNER, n, SystemTime::now()).await;
        }
        d.tick(SystemTime::now()).await.unwrap();
        let got = receiver.received();
        assert_eq!(got.len(), 4);
        let capture = |secrets: &[&Secret], messages: &[crate::support::Received]| {
            let messages: Vec<_> = messages
                .iter()
                .map(|r| {
                    let headers: serde_json::Map<_, _> = r
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().into()))
                        .collect();
                    serde_json::json!({
                        "headers": headers,
                        "body": std::str::from_utf8(&r.body).unwrap(),
                    })
                })
                .collect();
            let secrets: Vec<_> = secrets.iter().map(|s| s.expose()).collect();
            serde_json::json!({"secrets": secrets, "messages": messages})
        };
        // The first with the first secret; the rest with both.
        for (i, json) in [
            capture(&[&first], &got[..1]),
            capture(&[&first, &second], &got[1..]),
        ]
        .into_iter()
        .enumerate()
        {
            let file = std::env::temp_dir().join(format!(
                "{}.json",
                apierr_testkit::unique(&format!("wh_capture{i}"))
            ));
            std::fs::write(&file, json.to_string()).unwrap();
            let out = std::process::Command::new(&python)
                .arg(script)
                .arg(&file)
                .output()
                .expect("a Python interpreter (APIERR_PYTHON)");
            assert!(
                out.status.success(),
                "{db:?}: standardwebhooks refused a signature: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = std::fs::remove_file(file);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_that_wait_past_their_lease_are_not_attempted_twice() {
    // One slot, slow answers, a short lease: deliveries claimed ahead wait longer than
    // their lease; they are claimed again instead of being sent twice.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        let mut slow = crate::support::Answer::status(200);
        slow.delay = Duration::from_millis(600);
        receiver.otherwise(slow);
        endpoint(&outbox, OWNER, &receiver, &Schedule::default()).await;
        write_many(&outbox, 8).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes)
            .concurrency(1)
            .lease(Duration::from_secs(2))
            .timeout(Duration::from_secs(1))
            .poll(Duration::from_millis(50))
            .build()
            .unwrap();
        let running = Running::start(d);
        assert!(
            until(Duration::from_secs(60), async || {
                outbox.count(None, DeliveryState::Delivered).await.unwrap() == 8
            })
            .await,
            "{db:?}"
        );
        running.stop(Duration::from_secs(20)).await;
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in receiver.received() {
            *seen.entry(r.id().to_owned()).or_default() += 1;
        }
        assert_eq!(seen.len(), 8, "{db:?}");
        assert!(seen.values().all(|n| *n == 1), "{db:?}: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_deleted_during_its_attempts_gets_no_more_and_stays_cancelled() {
    // Four attempts in flight to a slow receiver, eight more claimed behind them, when
    // their endpoint is deleted: the eight are never sent (the dispatcher runs on past
    // the end of the four), and the receiver's late 200s are not recorded over the
    // cancellation.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        let mut slow = crate::support::Answer::status(200);
        slow.delay = Duration::from_millis(1500);
        receiver.otherwise(slow);
        let (ep, _) = endpoint(&outbox, OWNER, &receiver, &Schedule::default()).await;
        write_many(&outbox, 12).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes)
            .concurrency(4)
            .partner_concurrency(4)
            .poll(Duration::from_millis(100))
            .build()
            .unwrap();
        let running = Running::start(d);
        assert!(until(Duration::from_secs(10), async || receiver.count() >= 4).await);
        assert!(
            outbox
                .delete_endpoint(OWNER, &ep, SystemTime::now())
                .await
                .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(
            receiver.count(),
            4,
            "{db:?}: only those in flight were sent"
        );
        running.stop(Duration::from_secs(10)).await;
        for (state, n) in [
            (DeliveryState::Cancelled, 12),
            (DeliveryState::Delivered, 0),
        ] {
            assert_eq!(
                outbox.count(None, state).await.unwrap(),
                n,
                "{db:?}: {state:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_what_is_in_flight_and_gives_back_the_rest() {
    // One slot and slow answers: on shutdown the attempt in flight completes and is
    // recorded, and the claims not started are free at once for another worker (not
    // after their 60 s lease).
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        let mut slow = crate::support::Answer::status(200);
        slow.delay = Duration::from_millis(500);
        receiver.otherwise(slow);
        endpoint(&outbox, OWNER, &receiver, &Schedule::default()).await;
        write_many(&outbox, 10).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).concurrency(1).build().unwrap();
        let running = Running::start(d);
        assert!(until(Duration::from_secs(10), async || receiver.count() >= 1).await);
        running.stop(Duration::from_secs(10)).await;
        let delivered = outbox.count(None, DeliveryState::Delivered).await.unwrap();
        assert_eq!(
            delivered,
            receiver.count() as i64,
            "{db:?}: every attempt made was recorded"
        );
        let other = dispatcher(&outbox, &notes).concurrency(16).build().unwrap();
        let taken = other.tick(SystemTime::now()).await.unwrap();
        assert_eq!(
            taken as i64,
            10 - delivered,
            "{db:?}: the rest were given back"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_with_dead_endpoints_leaves_the_others_their_latency() {
    // Partner "dead" has five endpoints that never answer and a backlog for each;
    // partner "live" has one that answers at once. With 8 slots, "dead" may hold 6
    // (the default three quarters) and each of its endpoints 2: "live"'s messages are
    // delivered at once although every attempt for "dead" waits for the 4 s timeout.
    // (Without the partner cap, "dead" would hold all 8 slots and "live" would wait.)
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let mut dead = Vec::new();
        for _ in 0..5 {
            let receiver = Receiver::start().await;
            let mut never = crate::support::Answer::status(200);
            never.delay = Duration::from_secs(3600);
            receiver.otherwise(never);
            endpoint(&outbox, "dead", &receiver, &Schedule::default()).await;
            dead.push(receiver);
        }
        let mut tx = outbox.pool().begin().await.unwrap();
        for n in 0..60 {
            let data = serde_json::json!({ "n": n });
            outbox
                .enqueue(&mut tx, "dead", "account.created", &data, SystemTime::now())
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let live = Receiver::start().await;
        endpoint(&outbox, "live", &live, &Schedule::default()).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes)
            .concurrency(8)
            .endpoint_concurrency(2)
            .timeout(Duration::from_secs(4))
            .build()
            .unwrap();
        let running = Running::start(d);
        outbox.wake();
        let dead_attempts = || dead.iter().map(Receiver::count).collect::<Vec<_>>();
        assert!(
            until(Duration::from_secs(2), async || {
                dead_attempts().iter().sum::<usize>() >= 6
            })
            .await,
            "{db:?}: the dead partner's attempts started: {:?}",
            dead_attempts()
        );
        for n in 0..5 {
            let sent = tokio::time::Instant::now();
            enqueue(&outbox, "live", n, SystemTime::now()).await;
            outbox.wake();
            let delivered = until(Duration::from_secs(3), async || {
                live.count() > usize::try_from(n).unwrap()
            })
            .await;
            let took = sent.elapsed();
            assert!(
                delivered && took < Duration::from_millis(1500),
                "{db:?}: message {n} of the live partner took {took:?}"
            );
        }
        // Before the first timeout: the dead partner never had more than its share
        // in flight, nor any endpoint more than 2.
        let attempts = dead_attempts();
        assert_eq!(attempts.iter().sum::<usize>(), 6, "{db:?}: {attempts:?}");
        assert!(attempts.iter().all(|n| *n <= 2), "{db:?}: {attempts:?}");
        running.stop(Duration::from_secs(20)).await;
    }
}
