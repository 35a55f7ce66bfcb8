//! What a partner chooses and sees of its endpoints, on SQLite and PostgreSQL: which
//! event types each receives, test messages, and the warning before a pause.

use std::time::{Duration, SystemTime};

use apierr_client::WebhookVerifier;
use apierr_webhooks::{
    DeliveryState, EndpointState, EventType, EventTypes, FAILING_EVENT, FailureKind, Outbox,
    ReportKind, Schedule, Secret, Subscription, TEST_EVENT,
};
use serde_json::{Value, json};

use crate::support::{Answer, Clock, DBS, Notes, Receiver, dispatcher, endpoint, outbox_on};

const OWNER: &str = "acme";

fn catalog() -> EventTypes {
    let t =
        |name: &str| EventType::new(name, "test", json!({"type": "object"}), json!({})).unwrap();
    EventTypes::new(vec![
        t("account.created"),
        t("account.deleted"),
        t("invoice.payment_failed"),
    ])
    .unwrap()
}

/// Enqueues a message of `event_type` in its own transaction.
async fn send(outbox: &Outbox, event_type: &str, now: SystemTime) -> String {
    let mut tx = outbox.pool().begin().await.unwrap();
    let id = outbox
        .enqueue(&mut tx, OWNER, event_type, &json!({}), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn subscribed(outbox: &Outbox, receiver: &Receiver, types: &[&str]) -> String {
    let subscription = catalog().subscription(types).unwrap();
    outbox
        .register(
            OWNER,
            &receiver.url,
            &Secret::generate(),
            &Schedule::default(),
            &subscription,
            SystemTime::now(),
        )
        .await
        .unwrap()
        .id
}

/// The warning report about endpoint `ep` (there must be one).
async fn warning(outbox: &Outbox, clock: Clock, ep: &str) -> apierr_webhooks::Report {
    let reports = outbox.reports(Some(OWNER), clock.at(0), 10).await.unwrap();
    let warning = reports
        .iter()
        .find(|r| r.kind == ReportKind::EndpointFailing)
        .unwrap_or_else(|| panic!("a warning in {reports:?}"))
        .clone();
    assert_eq!(warning.endpoint_id, ep);
    warning
}

/// A time as the outbox keeps it: Unix microseconds.
fn micros(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

fn types_received(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["type"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn messages_go_only_to_the_endpoints_subscribed_to_their_type() {
    // Scenario: three endpoints (every type; account.created only; the type with an
    // underscore only). Each message reaches exactly the endpoints that take its type;
    // a name that differs from a subscribed one only where LIKE has a wildcard reaches
    // nobody filtered; a change of subscription leaves the message already queued where
    // it was and applies from the next one.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let (all, created, payment) = (
            Receiver::start().await,
            Receiver::start().await,
            Receiver::start().await,
        );
        endpoint(&outbox, OWNER, &all, &Schedule::default()).await;
        let created_ep = subscribed(&outbox, &created, &["account.created"]).await;
        subscribed(&outbox, &payment, &["invoice.payment_failed"]).await;
        let read = outbox.endpoint(OWNER, &created_ep).await.unwrap().unwrap();
        assert_eq!(
            read.subscription,
            Subscription::Only(vec!["account.created".into()]),
            "{db}"
        );

        let clock = Clock::new();
        send(&outbox, "account.created", clock.at(0)).await;
        send(&outbox, "invoice.payment_failed", clock.at(0)).await;
        send(&outbox, "invoice.paymentXfailed", clock.at(0)).await;
        // Queued for `created` before its subscription changes: still sent to it.
        let queued = send(&outbox, "account.created", clock.at(0)).await;
        assert!(
            outbox
                .subscribe(
                    OWNER,
                    &created_ep,
                    &catalog().subscription(&["account.deleted"]).unwrap(),
                    clock.at(0),
                )
                .await
                .unwrap()
        );
        send(&outbox, "account.created", clock.at(1)).await;
        send(&outbox, "account.deleted", clock.at(1)).await;
        let d = dispatcher(&outbox, &Notes::default()).build().unwrap();
        d.tick(clock.at(2)).await.unwrap();

        assert_eq!(
            types_received(&all).len(),
            [
                "account.created",
                "invoice.payment_failed",
                "invoice.paymentXfailed",
                "account.created",
                "account.created",
                "account.deleted"
            ]
            .len(),
            "{db}: every message reaches the endpoint of every type"
        );
        let mut got = types_received(&created);
        got.sort();
        assert_eq!(
            got,
            ["account.created", "account.created", "account.deleted"],
            "{db}"
        );
        assert!(created.received().iter().any(|r| r.id() == queued));
        assert_eq!(types_received(&payment), ["invoice.payment_failed"], "{db}");
        // A subscription to no known type is refused before it reaches the outbox.
        assert!(catalog().subscription(&["account.nope"]).is_err());
        // Every type again.
        assert!(
            outbox
                .subscribe(OWNER, &created_ep, &Subscription::All, clock.at(3))
                .await
                .unwrap()
        );
        send(&outbox, "invoice.paymentXfailed", clock.at(3)).await;
        d.tick(clock.at(4)).await.unwrap();
        assert_eq!(created.count(), 4, "{db}");
        assert!(
            !outbox
                .subscribe(OWNER, "ep_none", &Subscription::All, clock.at(4))
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn a_test_message_is_signed_sent_at_once_and_leaves_nothing_behind() {
    // Scenario: a test to a receiver that answers 200 is delivered, signed with the
    // endpoint's secret, typed webhook.test; one to a receiver answering 500 says so
    // with the answer's first bytes, is not retried and does not count as a failed
    // message; a paused endpoint can be tested; another partner's endpoint is none.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let receiver = Receiver::start().await;
        let (ep, secret) = endpoint(&outbox, OWNER, &receiver, &Schedule::default()).await;
        let d = dispatcher(&outbox, &Notes::default()).build().unwrap();
        let now = SystemTime::now();

        let ok = d.send_test(OWNER, &ep, now).await.unwrap().unwrap();
        assert!(ok.delivered, "{db}: {ok:?}");
        assert_eq!(ok.status, Some(200));
        assert_eq!(ok.response_head.as_deref(), Some("answer 200"));
        let got = &receiver.received()[0];
        assert_eq!(got.id(), ok.message_id);
        let verifier = WebhookVerifier::new(secret.expose()).unwrap();
        verifier
            .verify(&got.headers, &got.body, now)
            .expect("signed with the endpoint's secret");
        let body: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(body["type"], TEST_EVENT);
        assert_eq!(body["data"]["endpoint_id"], ep.as_str());

        receiver.otherwise(Answer::status(500));
        let failed = d.send_test(OWNER, &ep, now).await.unwrap().unwrap();
        assert!(!failed.delivered);
        assert_eq!(failed.status, Some(500));
        assert_eq!(failed.failure, Some(FailureKind::Status));
        assert_eq!(failed.response_head.as_deref(), Some("answer 500"));
        let endpoint = outbox.endpoint(OWNER, &ep).await.unwrap().unwrap();
        assert_eq!(endpoint.failure_run, 0, "{db}: a test is no message");
        assert_eq!(
            outbox
                .count(Some(&ep), DeliveryState::Pending)
                .await
                .unwrap(),
            0
        );
        assert_eq!(d.tick(now + Duration::from_secs(60)).await.unwrap(), 0);
        assert_eq!(receiver.count(), 2, "{db}: never retried");

        assert!(d.send_test("other", &ep, now).await.unwrap().is_none());
        assert!(outbox.delete_endpoint(OWNER, &ep, now).await.unwrap());
        assert!(d.send_test(OWNER, &ep, now).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn an_endpoint_one_failure_short_of_a_pause_is_warned_about_first() {
    // Scenario: pause after 3 failed messages. After the second, a warning report
    // (endpoint_failing) with the earliest time of the pause, notified once, and a
    // webhook.endpoint.failing message to the partner's other endpoint (not to the
    // failing one); the third failure pauses it. A delivery between failures ends the
    // run: no warning while the run stays short.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let (failing, other) = (Receiver::start().await, Receiver::start().await);
        failing.otherwise(Answer::status(500));
        let no_retries = Schedule::new(vec![]).unwrap();
        let (ep, _) = endpoint(&outbox, OWNER, &failing, &no_retries).await;
        subscribed(&outbox, &other, &[FAILING_EVENT]).await;
        let notes = Notes::default();
        let d = dispatcher(&outbox, &notes).pause_after(3).build().unwrap();
        let clock = Clock::new();

        for s in 0..2 {
            send(&outbox, "account.created", clock.at(s)).await;
            d.tick(clock.at(s)).await.unwrap();
        }
        let warning = warning(&outbox, clock, &ep).await;
        assert_eq!(
            warning.pauses_at.map(micros),
            Some(micros(clock.at(1))),
            "{db}: no retries: at once"
        );
        assert!(
            warning.summary.starts_with(
                "2 messages in a row failed; one more failed message pauses the endpoint, at \
                 the earliest at "
            ),
            "{}",
            warning.summary
        );
        let view = warning.to_json(true);
        assert_eq!(view["kind"], "endpoint_failing");
        assert!(view["pauses_at"].is_string());
        assert_eq!(
            notes
                .taken()
                .iter()
                .filter(|r| r.kind == ReportKind::EndpointFailing)
                .count(),
            1
        );
        // The other endpoint hears of it; the failing one does not get the warning.
        d.tick(clock.at(2)).await.unwrap();
        assert_eq!(types_received(&other), [FAILING_EVENT], "{db}");
        let body: Value = serde_json::from_slice(&other.received()[0].body).unwrap();
        assert_eq!(body["data"]["endpoint_id"], ep.as_str());
        assert_eq!(body["data"]["report_id"], warning.id.as_str());
        assert_eq!(body["data"]["failure_run"], 2);
        assert!(!types_received(&failing).contains(&FAILING_EVENT.to_owned()));
        assert_eq!(
            outbox.endpoint(OWNER, &ep).await.unwrap().unwrap().state,
            EndpointState::Active
        );

        send(&outbox, "account.created", clock.at(3)).await;
        d.tick(clock.at(3)).await.unwrap();
        assert_eq!(
            outbox.endpoint(OWNER, &ep).await.unwrap().unwrap().state,
            EndpointState::Paused,
            "{db}"
        );
    }
}

#[tokio::test]
async fn the_warning_says_when_a_retried_message_can_pause_the_endpoint_at_the_earliest() {
    // Scenario: retries at 5, 15, 40 s; two messages failed (a pause after 3); a third
    // message is waiting in its first round, started at second 100: the warning names
    // second 140, its last retry.
    for db in DBS {
        let (outbox, _db) = outbox_on(db).await;
        let failing = Receiver::start().await;
        failing.otherwise(Answer::status(400));
        let (ep, _) = endpoint(&outbox, OWNER, &failing, &Schedule::default()).await;
        let d = dispatcher(&outbox, &Notes::default())
            .pause_after(3)
            .build()
            .unwrap();
        let clock = Clock::new();
        send(&outbox, "account.created", clock.at(0)).await;
        d.tick(clock.at(0)).await.unwrap();
        send(&outbox, "account.created", clock.at(100)).await;
        send(&outbox, "account.created", clock.at(100)).await;
        // Both due at 100: one claim sees one refused (400: not retried) before the
        // other; ticks until the warning is written.
        failing.script([Answer::status(400), Answer::status(503)]);
        d.tick(clock.at(100)).await.unwrap();
        let warning = warning(&outbox, clock, &ep).await;
        assert_eq!(
            warning.pauses_at.map(micros),
            Some(micros(clock.at(140))),
            "{db}"
        );
    }
}
