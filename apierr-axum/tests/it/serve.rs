//! `apierr_axum::serve`: the bounds of a connection and the drain, through real sockets.

use std::time::Duration;

use apierr::Profile;
use apierr_axum::{ContractLayer, Json, Limits};
use axum::Router;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tower_layer::Layer;

/// The app of these tests: a quick GET, a GET that takes `slow`'s time, and a POST that
/// reads a JSON body, in the problem profile.
fn app() -> apierr_axum::Contract<Router> {
    let router = Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "done"
            }),
        )
        .route(
            "/echo",
            post(|Json(v): Json<serde_json::Value>| async move { Json(v) }),
        );
    ContractLayer::new(Profile::PROBLEM)
        .body_limit(1024)
        .layer(router)
}

struct Server {
    address: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(limits: Limits) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(
        apierr_axum::serve(listener, app())
            .limits(limits)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    Server {
        address,
        stop: Some(stop),
        done,
    }
}

use std::future::IntoFuture;

/// Reads until the peer closes (or `within` passes): what it sent, and whether it closed.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

fn limits() -> Limits {
    Limits::default()
        .header_timeout(Duration::from_secs(1))
        .unwrap()
        .body_timeout(Duration::from_secs(1))
        .unwrap()
        .grace_period(Duration::from_secs(2))
        .unwrap()
}

#[tokio::test]
async fn trickling_heads_are_closed_while_a_normal_request_is_answered() {
    // Scenario: 50 connections each send half a request line and then a byte now and
    // then; a normal request meanwhile is answered at once, and every trickler is closed
    // after the 1 s header timeout, though it kept sending.
    let server = start(limits()).await;
    let mut tricklers = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(server.address).await.unwrap();
        s.write_all(b"GET / HT").await.unwrap();
        tricklers.push(s);
    }
    let trickle = tokio::spawn(async move {
        let mut closed = 0;
        let started = tokio::time::Instant::now();
        // A byte every 200 ms for at most 4 s, each connection; a closed one stops.
        let mut open: Vec<Option<TcpStream>> = tricklers.into_iter().map(Some).collect();
        while started.elapsed() < Duration::from_secs(4) && closed < open.len() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            for slot in &mut open {
                let Some(s) = slot else { continue };
                let mut buf = [0u8; 64];
                let gone =
                    match tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => true,
                        Ok(Ok(_)) => true, // an answer ends the trickle too
                        Err(_) => s.write_all(b"X").await.is_err(),
                    };
                if gone {
                    *slot = None;
                    closed += 1;
                }
            }
        }
        (closed, started.elapsed())
    });
    let client = reqwest::Client::new();
    let r = tokio::time::timeout(
        Duration::from_millis(500),
        client.get(format!("http://{}/", server.address)).send(),
    )
    .await
    .expect("a normal request is answered while tricklers hold connections")
    .unwrap();
    assert_eq!(r.status(), 200);
    let (closed, took) = trickle.await.unwrap();
    assert_eq!(closed, 50, "every trickling connection is closed");
    assert!(took < Duration::from_secs(4), "closed after {took:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    // Scenario: one request answered, then nothing: the connection is closed by the
    // server about a second later.
    let server = start(limits()).await;
    let mut s = TcpStream::connect(server.address).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(4)).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(closed, "the idle connection stays open");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_at_once() {
    // Scenario: `Content-Length: 100000` against a 1 KiB limit, and no body byte sent:
    // the answer is the contract's 413 at once, not a wait for the bytes.
    let server = start(limits()).await;
    let mut s = TcpStream::connect(server.address).await.unwrap();
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let got = String::from_utf8_lossy(&buf[..n]);
    assert!(got.starts_with("HTTP/1.1 413"), "{got}");
    assert!(got.contains("application/problem+json"), "{got}");
    assert!(got.contains("payload_too_large"), "{got}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_408() {
    // Scenario: the head declares 20 bytes and 2 come: after the 1 s body timeout the
    // extractor answers the request-timeout condition in the contract.
    let server = start(limits()).await;
    let mut s = TcpStream::connect(server.address).await.unwrap();
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"",
    )
    .await
    .unwrap();
    let (got, _) = read_to_close(&mut s, Duration::from_secs(4)).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("request_timeout"), "{got}");
}

#[tokio::test]
async fn past_the_connection_cap_a_client_waits_until_one_closes() {
    // Scenario: with at most 2 connections, two idle clients hold both; a third request
    // is not answered while they do, and is as soon as one of them leaves.
    let limits = limits()
        .max_connections(2)
        .unwrap()
        .header_timeout(Duration::from_secs(30))
        .unwrap();
    let server = start(limits).await;
    let first = TcpStream::connect(server.address).await.unwrap();
    let _second = TcpStream::connect(server.address).await.unwrap();
    // Let the loop accept both.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(server.address).await.unwrap();
    third
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "a third connection was served past the cap");
    drop(first);
    let (got, _) = read_to_close(&mut third, Duration::from_secs(3)).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
}

#[tokio::test]
async fn a_drain_finishes_requests_in_flight_and_closes_the_rest() {
    // Scenario: at the stop, an idle connection and a half-sent head are closed at once,
    // a request in flight gets its answer, a body trickling past the grace period is cut
    // off when it ends, and the server's future returns within the grace period.
    let limits = limits()
        .header_timeout(Duration::from_secs(30))
        .unwrap()
        .body_timeout(Duration::from_secs(30))
        .unwrap();
    let mut server = start(limits).await;
    let mut idle = TcpStream::connect(server.address).await.unwrap();
    let mut half = TcpStream::connect(server.address).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    let mut slow_body = TcpStream::connect(server.address).await.unwrap();
    slow_body
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{",
        )
        .await
        .unwrap();
    let mut in_flight = TcpStream::connect(server.address).await.unwrap();
    in_flight
        .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopped_at = tokio::time::Instant::now();
    server.stop.take().unwrap().send(()).unwrap();

    let (_, idle_closed) = read_to_close(&mut idle, Duration::from_millis(300)).await;
    assert!(idle_closed, "the idle connection was not closed at once");
    let (got, half_closed) = read_to_close(&mut half, Duration::from_millis(300)).await;
    assert!(half_closed && got.is_empty(), "half-sent head: {got:?}");
    let (got, closed) = read_to_close(&mut in_flight, Duration::from_secs(2)).await;
    assert!(got.starts_with("HTTP/1.1 200"), "in flight: {got:?}");
    assert!(got.ends_with("done"), "in flight: {got:?}");
    assert!(
        closed,
        "the connection of a finished request stays open in a drain"
    );
    // New connections are refused once the loop has stopped accepting.
    assert!(TcpStream::connect(server.address).await.is_err());

    let (_, cut) = read_to_close(&mut slow_body, Duration::from_secs(4)).await;
    assert!(cut, "the trickling body's connection was never closed");
    let result = tokio::time::timeout(Duration::from_secs(1), &mut server.done)
        .await
        .expect("serve returned after its grace period");
    result.unwrap().unwrap();
    let took = stopped_at.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "the drain took {took:?} for a 2 s grace period"
    );
}
