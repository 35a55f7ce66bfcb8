//! Delivery through a real receiver, on SQLite and PostgreSQL, with the clock in the
//! test's hands: retries, reports, notifications, endpoint health, replay, signatures.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use apierr_client::WebhookVerifier;
use apierr_webhooks::{
    AddressPolicy, DeliveryState, Dispatcher, EndpointState, FailureKind, Outbox, Replay,
    ReportKind, Schedule, Secret, Subscription,
};

use crate::support::{Answer, Clock, DBS, Notes, Receiver, dispatcher, enqueue, outbox_on};

const OWNER: &str = "acme";

async fn endpoint(outbox: &Outbox, receiver: &Receiver, schedule: &Schedule) -> (String, Secret) {
    crate::support::endpoint(outbox, OWNER, receiver, schedule).await
}

/// Ticks once a second from `from` to `to` (inclusive), returning the seconds at which
/// something was attempted.
async fn tick_through(d: &Dispatcher, clock: Clock, from: u64, to: u64) -> Vec<u64> {
    let mut at = Vec::new();
    for s in from..=to {
        if d.tick(clock.at(s)).await.unwrap() > 0 {
            at.push(s);
        }
    }
    at
}

#[tokio::test]
async fn three_server_errors_then_delivered_on_the_fourth_attempt_within_the_minute() {
    // 503 three times, then 200: four attempts, the last within 60 s of the first, all
    // with one webhook-id, a fresh timestamp each, every signature valid.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        receiver.script([
            Answer::status(503),
            Answer::status(503),
            Answer::status(503),
        ]);
        let (_, secret) = endpoint(&outbox, &receiver, &Schedule::default()).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).build().unwrap();
        let clock = Clock::new();
        let id = enqueue(&outbox, OWNER, 1, clock.at(0)).await;

        let attempts = tick_through(&d, clock, 0, 90).await;
        assert_eq!(attempts.len(), 4, "{db:?}: {attempts:?}");
        assert_eq!(attempts[0], 0);
        assert!(attempts[3] < 60, "{db:?}: {attempts:?}");
        let got = receiver.received();
        assert_eq!(got.len(), 4);
        let verifier = WebhookVerifier::new(secret.expose()).unwrap();
        let mut stamps = HashSet::new();
        for (r, s) in got.iter().zip(&attempts) {
            assert_eq!(r.id(), id);
            stamps.insert(r.headers["webhook-timestamp"].clone());
            verifier.verify(&r.headers, &r.body, clock.at(*s)).unwrap();
            assert_eq!(r.body, got[0].body);
        }
        assert_eq!(stamps.len(), 4, "a fresh timestamp on each attempt");
        let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(body["type"], "account.created");
        assert_eq!(body["data"]["n"], 1);
        let deliveries = outbox.deliveries(&id).await.unwrap();
        assert_eq!(deliveries[0].state, DeliveryState::Delivered);
        assert_eq!(deliveries[0].attempts, 4);
        assert!(
            outbox
                .reports(None, clock.at(0), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(notes.taken().is_empty());
    }
}

#[tokio::test]
async fn server_errors_forever_make_four_attempts_one_report_one_notification() {
    // 500 for ever: exactly 4 attempts, then a report with all four and one notice.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        receiver.otherwise(Answer::status(500));
        let (ep, _) = endpoint(&outbox, &receiver, &Schedule::default()).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).build().unwrap();
        let clock = Clock::new();
        let id = enqueue(&outbox, OWNER, 1, clock.at(0)).await;

        let attempts = tick_through(&d, clock, 0, 180).await;
        assert_eq!(attempts.len(), 4, "{db:?}: {attempts:?}");
        assert_eq!(receiver.count(), 4);
        assert_eq!(
            outbox.deliveries(&id).await.unwrap()[0].state,
            DeliveryState::Failed
        );
        let reports = outbox.reports(Some(OWNER), clock.at(0), 10).await.unwrap();
        assert_eq!(reports.len(), 1, "{db:?}");
        let report = &reports[0];
        assert_eq!(report.kind, ReportKind::MessageFailed);
        assert_eq!(report.message_id.as_deref(), Some(id.as_str()));
        assert_eq!(report.endpoint_id, ep);
        assert_eq!(report.attempts.len(), 4);
        for a in &report.attempts {
            assert_eq!(a.status, Some(500));
            assert_eq!(a.kind, FailureKind::Status);
            assert_eq!(a.response_head.as_deref(), Some("answer 500"));
        }
        assert!(report.summary.contains("4 attempts"), "{}", report.summary);
        let notes = notes.taken();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].id, report.id);
        // The partner's form has no operator details.
        let partner = report.to_json(true);
        assert!(partner.get("owner").is_none());
        assert!(partner["attempts"][0].get("detail").is_none());
        assert_eq!(partner["attempts"].as_array().unwrap().len(), 4);
    }
}

#[tokio::test]
async fn a_second_failure_within_the_hour_is_reported_but_not_notified_again() {
    // One notice per endpoint and hour, however many of its messages fail.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        receiver.otherwise(Answer::status(400));
        endpoint(&outbox, &receiver, &Schedule::default()).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).build().unwrap();
        let clock = Clock::new();
        enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        enqueue(&outbox, OWNER, 2, clock.at(0)).await;
        tick_through(&d, clock, 0, 5).await;
        let reports = outbox.reports(None, clock.at(0), 10).await.unwrap();
        assert_eq!(reports.len(), 2, "{db:?}");
        assert_eq!(notes.taken().len(), 1, "{db:?}");
    }
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    // 400: one attempt, failed, reported with that attempt.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        receiver.otherwise(Answer::status(400));
        endpoint(&outbox, &receiver, &Schedule::default()).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).build().unwrap();
        let clock = Clock::new();
        let id = enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        assert_eq!(tick_through(&d, clock, 0, 90).await, vec![0]);
        assert_eq!(receiver.count(), 1);
        assert_eq!(
            outbox.deliveries(&id).await.unwrap()[0].state,
            DeliveryState::Failed
        );
        let reports = outbox.reports(None, clock.at(0), 10).await.unwrap();
        assert_eq!(reports[0].attempts.len(), 1);
        assert!(reports[0].summary.contains("not retried"));
    }
}

#[tokio::test]
async fn gone_disables_the_endpoint_keeps_new_messages_and_resume_sends_them() {
    // 410: the endpoint is disabled with a report; later messages are held, not sent
    // and not dropped; resuming sends them.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        receiver.script([Answer::status(410)]);
        let (ep, _) = endpoint(&outbox, &receiver, &Schedule::default()).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).build().unwrap();
        let clock = Clock::new();
        enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        tick_through(&d, clock, 0, 3).await;
        let endpoint = outbox.endpoint(OWNER, &ep).await.unwrap().unwrap();
        assert_eq!(endpoint.state, EndpointState::Disabled);
        let kinds: Vec<_> = outbox
            .reports(Some(OWNER), clock.at(0), 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.kind)
            .collect();
        assert!(kinds.contains(&ReportKind::EndpointDisabled), "{kinds:?}");
        assert!(kinds.contains(&ReportKind::MessageFailed), "{kinds:?}");

        let kept = enqueue(&outbox, OWNER, 2, clock.at(4)).await;
        tick_through(&d, clock, 4, 10).await;
        assert_eq!(receiver.count(), 1, "{db:?}: nothing sent while disabled");
        assert_eq!(
            outbox.deliveries(&kept).await.unwrap()[0].state,
            DeliveryState::Held
        );
        assert_eq!(
            outbox.resume(OWNER, &ep, clock.at(11)).await.unwrap(),
            Some(1)
        );
        tick_through(&d, clock, 11, 12).await;
        assert_eq!(receiver.count(), 2);
        assert_eq!(receiver.received()[1].id(), kept);
        assert_eq!(
            outbox.deliveries(&kept).await.unwrap()[0].state,
            DeliveryState::Delivered
        );
    }
}

#[tokio::test]
async fn a_run_of_failures_pauses_the_endpoint_after_reporting_it_and_replay_resends() {
    // Two failed messages in a row pause the endpoint (a report first); the third message
    // is held; a replay by state while paused keeps it held; resume sends it; replay by
    // message id sends a delivered message again with the same id.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        receiver.script([Answer::status(500), Answer::status(500)]);
        let no_retries = Schedule::new(vec![]).unwrap();
        let (ep, _) = endpoint(&outbox, &receiver, &no_retries).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).pause_after(2).build().unwrap();
        let clock = Clock::new();
        let first = enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        tick_through(&d, clock, 0, 1).await;
        enqueue(&outbox, OWNER, 2, clock.at(2)).await;
        tick_through(&d, clock, 2, 3).await;
        let endpoint = outbox.endpoint(OWNER, &ep).await.unwrap().unwrap();
        assert_eq!(endpoint.state, EndpointState::Paused, "{db:?}");
        let reports = outbox.reports(Some(OWNER), clock.at(0), 10).await.unwrap();
        assert!(reports.iter().any(|r| r.kind == ReportKind::EndpointPaused));
        assert!(
            notes
                .taken()
                .iter()
                .any(|r| r.kind == ReportKind::EndpointPaused)
        );

        let third = enqueue(&outbox, OWNER, 3, clock.at(4)).await;
        tick_through(&d, clock, 4, 6).await;
        assert_eq!(receiver.count(), 2);
        let held = Replay {
            state: Some(DeliveryState::Held),
            ..Replay::default()
        };
        assert_eq!(outbox.replay(&held, clock.at(7)).await.unwrap(), 1);
        tick_through(&d, clock, 7, 8).await;
        assert_eq!(receiver.count(), 2, "still paused: kept, not sent");
        assert_eq!(
            outbox.count(Some(&ep), DeliveryState::Held).await.unwrap(),
            1
        );

        assert_eq!(
            outbox.resume(OWNER, &ep, clock.at(9)).await.unwrap(),
            Some(1)
        );
        tick_through(&d, clock, 9, 10).await;
        assert_eq!(receiver.count(), 3);
        assert_eq!(receiver.received()[2].id(), third);

        // The first message failed; replayed by id, it arrives with the same id.
        let by_id = Replay {
            message_id: Some(first.clone()),
            ..Replay::default()
        };
        assert_eq!(outbox.replay(&by_id, clock.at(11)).await.unwrap(), 1);
        tick_through(&d, clock, 11, 12).await;
        assert_eq!(receiver.count(), 4);
        assert_eq!(receiver.received()[3].id(), first);
        // By endpoint and time range: the messages written from second 2 to 4.
        let range = Replay {
            endpoint_id: Some(ep.clone()),
            since: Some(clock.at(2)),
            until: Some(clock.at(5)),
            ..Replay::default()
        };
        assert_eq!(outbox.replay(&range, clock.at(13)).await.unwrap(), 2);
        tick_through(&d, clock, 13, 14).await;
        assert_eq!(receiver.count(), 6);
    }
}

#[tokio::test]
async fn retry_after_is_honoured_within_the_schedule() {
    // 429 with Retry-After: 20 moves the 5 s retry to 20 s; 503 asking for 5 minutes
    // ends the message at once with a report saying so.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        receiver.script([
            Answer::status(429).header("retry-after", "20"),
            Answer::status(503).header("retry-after", "300"),
        ]);
        endpoint(&outbox, &receiver, &Schedule::default()).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).build().unwrap();
        let clock = Clock::new();
        enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        let attempts = tick_through(&d, clock, 0, 90).await;
        assert_eq!(attempts, vec![0, 20], "{db:?}");
        let reports = outbox.reports(None, clock.at(0), 10).await.unwrap();
        assert_eq!(
            reports[0].attempts[1].kind,
            FailureKind::RetryAfterTooLong,
            "{db:?}"
        );
    }
}

#[tokio::test]
async fn redirects_are_not_followed_and_answers_are_read_only_so_far() {
    // A 307 is a failure, not a second request; a megabyte of error body is cut to the
    // first KiB.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        let mut big = Answer::status(400);
        big.body = vec![b'x'; 1 << 20];
        receiver.script([Answer::status(307).header("location", &receiver.url), big]);
        endpoint(&outbox, &receiver, &Schedule::default()).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).build().unwrap();
        let clock = Clock::new();
        enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        enqueue(&outbox, OWNER, 2, clock.at(0)).await;
        tick_through(&d, clock, 0, 3).await;
        assert_eq!(receiver.count(), 2, "{db:?}");
        let reports = outbox.reports(None, clock.at(0), 10).await.unwrap();
        let kinds: HashSet<_> = reports.iter().map(|r| r.attempts[0].kind).collect();
        assert!(kinds.contains(&FailureKind::Redirect), "{kinds:?}");
        let cut = reports
            .iter()
            .find(|r| r.attempts[0].status == Some(400))
            .unwrap();
        assert_eq!(cut.attempts[0].response_head.as_ref().unwrap().len(), 1024);
    }
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_is_retried() {
    // An answer later than the timeout is a timeout, retried on the schedule.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        let mut slow = Answer::status(200);
        slow.delay = Duration::from_secs(5);
        receiver.script([slow]);
        endpoint(&outbox, &receiver, &Schedule::default()).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes)
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let clock = Clock::new();
        let id = enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        let attempts = tick_through(&d, clock, 0, 10).await;
        assert_eq!(attempts.len(), 2, "{db:?}: {attempts:?}");
        assert_eq!(
            outbox.deliveries(&id).await.unwrap()[0].state,
            DeliveryState::Delivered
        );
    }
}

#[tokio::test]
async fn private_and_metadata_addresses_are_refused_without_the_allow_list() {
    // Registration refuses address literals in special ranges; at delivery, a literal
    // and a name that resolves to loopback are both refused, and nothing is sent.
    let policy = AddressPolicy::new();
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hooks",
        "http://192.168.1.1/hooks",
        "http://[fd00:ec2::254]/",
        "http://127.0.0.1:8080/hooks",
    ] {
        assert!(policy.check_url(url).is_err(), "{url}");
    }
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        let port = receiver.url.rsplit(':').next().unwrap().to_owned();
        let by_name = format!("http://localhost:{port}");
        for url in [receiver.url.clone(), by_name] {
            outbox
                .register(
                    OWNER,
                    &url,
                    &Secret::generate(),
                    &Schedule::default(),
                    &Subscription::All,
                    SystemTime::now(),
                )
                .await
                .unwrap();
        }
        let notes = Notes::default();
        let d = Dispatcher::builder(outbox.clone())
            .notifier(std::sync::Arc::new(notes.clone()))
            .build()
            .unwrap();
        let clock = Clock::new();
        enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        tick_through(&d, clock, 0, 90).await;
        assert_eq!(receiver.count(), 0, "{db:?}");
        let reports = outbox.reports(None, clock.at(0), 10).await.unwrap();
        assert_eq!(reports.len(), 2);
        for r in &reports {
            assert_eq!(r.attempts.len(), 1, "not retried");
            assert_eq!(r.attempts[0].kind, FailureKind::AddressNotAllowed);
        }
    }
}

#[tokio::test]
async fn rotated_secrets_both_sign_during_the_overlap() {
    // After a rotation a message carries two signatures, one per secret; after the
    // overlap, only the new one.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        let (ep, old) = endpoint(&outbox, &receiver, &Schedule::default()).await;
        let new = Secret::generate();
        let clock = Clock::new();
        assert!(
            outbox
                .rotate_secret(OWNER, &ep, &new, Duration::from_secs(60), clock.at(0))
                .await
                .unwrap()
        );
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).build().unwrap();
        enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        tick_through(&d, clock, 0, 0).await;
        enqueue(&outbox, OWNER, 2, clock.at(120)).await;
        tick_through(&d, clock, 120, 120).await;
        let got = receiver.received();
        assert_eq!(got.len(), 2, "{db:?}");
        let signatures = got[0].headers["webhook-signature"].to_str().unwrap();
        assert_eq!(signatures.split(' ').count(), 2);
        for secret in [&old, &new] {
            WebhookVerifier::new(secret.expose())
                .unwrap()
                .verify(&got[0].headers, &got[0].body, clock.at(0))
                .unwrap();
        }
        let later = &got[1];
        assert_eq!(
            later.headers["webhook-signature"]
                .to_str()
                .unwrap()
                .split(' ')
                .count(),
            1
        );
        assert!(
            WebhookVerifier::new(old.expose())
                .unwrap()
                .verify(&later.headers, &later.body, clock.at(120))
                .is_err()
        );
    }
}

#[tokio::test]
async fn a_message_exists_only_if_its_transaction_commits() {
    // Rolled back with the application's change: nothing is delivered.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        endpoint(&outbox, &receiver, &Schedule::default()).await;
        sqlx::query("CREATE TABLE app_accounts (id TEXT PRIMARY KEY)")
            .execute(outbox.pool())
            .await
            .unwrap();
        let clock = Clock::new();
        for (id, commit) in [("a1", false), ("a2", true)] {
            let mut tx = outbox.pool().begin().await.unwrap();
            sqlx::query("INSERT INTO app_accounts (id) VALUES ($1)")
                .bind(id)
                .execute(&mut *tx)
                .await
                .unwrap();
            outbox
                .enqueue(
                    &mut tx,
                    OWNER,
                    "account.created",
                    &serde_json::json!({"id": id}),
                    clock.at(0),
                )
                .await
                .unwrap();
            if commit {
                tx.commit().await.unwrap();
            } else {
                tx.rollback().await.unwrap();
            }
        }
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).build().unwrap();
        tick_through(&d, clock, 0, 2).await;
        let got = receiver.received();
        assert_eq!(got.len(), 1, "{db:?}");
        let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(body["data"]["id"], "a2");
    }
}

#[tokio::test]
async fn the_operator_webhook_receives_the_full_report_once() {
    // A failed message posts its report, with operator details, to the operator's URL:
    // once for the endpoint's hour, however many messages fail.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        receiver.otherwise(Answer::status(400));
        let operator = Receiver::start().await;
        endpoint(&outbox, &receiver, &Schedule::default()).await;
        let d = Dispatcher::builder(outbox.clone())
            .policy(crate::support::loopback())
            .notifier(std::sync::Arc::new(
                apierr_webhooks::OperatorWebhook::new(operator.url.parse().unwrap()).unwrap(),
            ))
            .build()
            .unwrap();
        let clock = Clock::new();
        enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        enqueue(&outbox, OWNER, 2, clock.at(0)).await;
        tick_through(&d, clock, 0, 2).await;
        let got = operator.received();
        assert_eq!(got.len(), 1, "{db:?}");
        let report: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(report["kind"], "message_failed");
        assert_eq!(report["owner"], OWNER);
        assert!(report["attempts"][0].get("detail").is_some());
        assert_eq!(report["attempts"][0]["status"], 400);
    }
}

#[tokio::test]
async fn a_named_egress_proxy_carries_deliveries_and_resolves_the_name() {
    // Scenario: with `proxy` set, the dispatcher sends the delivery to the proxy in
    // absolute form, for a host name that only the proxy resolves; the delivery is
    // recorded as delivered when the proxy answers 200.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_url: reqwest::Url = format!("http://{}", proxy.local_addr().unwrap())
            .parse()
            .unwrap();
        let seen = tokio::spawn(async move {
            let (mut conn, _) = proxy.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "the dispatcher closed before its head");
                head.extend_from_slice(&buf[..n]);
            }
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&head).into_owned()
        });
        outbox
            .register(
                OWNER,
                "http://hooks.partner.invalid/in",
                &Secret::generate(),
                &Schedule::default(),
                &Subscription::All,
                SystemTime::now(),
            )
            .await
            .unwrap();
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes)
            .proxy(proxy_url)
            .build()
            .unwrap();
        let clock = Clock::new();
        let id = enqueue(&outbox, OWNER, 1, clock.at(0)).await;
        assert_eq!(d.tick(clock.at(0)).await.unwrap(), 1);
        let head = tokio::time::timeout(Duration::from_secs(5), seen)
            .await
            .expect("the proxy got the delivery")
            .unwrap();
        assert!(
            head.starts_with("POST http://hooks.partner.invalid/in HTTP/1.1\r\n"),
            "{db:?}: {head}"
        );
        let deliveries = outbox.deliveries(&id).await.unwrap();
        assert_eq!(deliveries[0].state, DeliveryState::Delivered, "{db:?}");
    }
}
