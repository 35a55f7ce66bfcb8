//! [`serve`]: an accept loop with the bounds a server facing the internet needs, and a
//! drain that ends.

mod body;
mod limits;

use std::convert::Infallible;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower_service::Service;

pub use self::body::BodyTimeout;
use self::body::{InFlight, TimedBody, Tracked};
pub use self::limits::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_GRACE_PERIOD, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_HEADERS, LimitError, Limits, MAX_TIMEOUT,
};

/// Serves `service` on `listener` over HTTP/1.1 with hardened [`Limits`] until the
/// shutdown signal given to [`Serve::with_graceful_shutdown`] completes (without one,
/// forever). Await the returned [`Serve`].
///
/// `axum::serve` puts no bound on a connection: a client that sends half a request line
/// and then a byte now and then keeps it open for as long as it likes, any number of
/// connections are accepted, and its graceful shutdown waits for such a client without
/// end. This loop is built on hyper's own connection with a timer instead:
///
/// - a request's head must arrive within the header timeout, counted from when the
///   server starts waiting for it (so the first byte is bounded as much as the last, and
///   an idle keep-alive connection is closed after it too);
/// - a request's body must arrive within the body timeout; past it, reading it fails with
///   [`BodyTimeout`], which apierr's extractors answer with the request-timeout
///   condition (408);
/// - a head is at most [`Limits::max_head_bytes`] and [`Limits::max_headers`] (431);
/// - at most [`Limits::max_connections`] are open; past it, the loop accepts no more
///   until one closes, and new ones wait in the kernel's listen backlog;
/// - on shutdown, it stops accepting, closes at once every connection with no request in
///   flight (idle, or a head still arriving), lets requests in flight finish and then
///   closes their connections, and after the grace period closes what remains.
///
/// Each request carries the peer's address as axum's `ConnectInfo<SocketAddr>`, as
/// `into_make_service_with_connect_info` gives it, so the rate-limit layers key callers
/// by address without more set-up. Errors are answered by the service itself: wrap it in
/// a [`ContractLayer`](crate::ContractLayer), whose body limit answers a declared body
/// over the limit with 413 before any byte of it is read.
///
/// ```no_run
/// use apierr::Profile;
/// use apierr_axum::{ContractLayer, Limits};
/// use axum::{Router, routing::get};
/// use tower_layer::Layer;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let router: Router = Router::new().route("/", get(|| async { "hello" }));
/// let app = ContractLayer::new(Profile::PROBLEM).layer(router);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let limits = Limits::default().header_timeout(std::time::Duration::from_secs(5))?;
/// apierr_axum::serve(listener, app)
///     .limits(limits)
///     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap_or(()) })
///     .await?;
/// # Ok(()) }
/// ```
pub fn serve<S>(listener: TcpListener, service: S) -> Serve<S, std::future::Pending<()>> {
    Serve {
        listener,
        service,
        limits: Limits::default(),
        signal: std::future::pending(),
    }
}

/// The future of [`serve`]: set its limits and its shutdown signal, then await it.
#[must_use = "a server does nothing until it is awaited"]
pub struct Serve<S, G> {
    listener: TcpListener,
    service: S,
    limits: Limits,
    signal: G,
}

impl<S, G> std::fmt::Debug for Serve<S, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<S, G> Serve<S, G> {
    /// The bounds of every connection. Default is [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Drains and stops when `signal` completes (see [`serve`]). Default is never.
    pub fn with_graceful_shutdown<G2>(self, signal: G2) -> Serve<S, G2>
    where
        G2: Future<Output = ()> + Send + 'static,
    {
        Serve {
            listener: self.listener,
            service: self.service,
            limits: self.limits,
            signal,
        }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl<S, G> IntoFuture for Serve<S, G>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    G: Future<Output = ()> + Send + 'static,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self))
    }
}

/// Where a server is in its life; every connection watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Stopped accepting: close when no request is in flight.
    Draining,
    /// The grace period is over: close now.
    Closing,
}

async fn run<S, G>(serve: Serve<S, G>) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    G: Future<Output = ()> + Send + 'static,
{
    let Serve {
        listener,
        service,
        limits,
        signal,
    } = serve;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(limits.max_headers)
        .max_buf_size(limits.max_head_bytes);
    let builder = Arc::new(builder);
    // One permit a connection: the cap while serving, and the count a drain waits on.
    let max = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let permits = Arc::new(Semaphore::new(max as usize));
    let (phase, watching) = watch::channel(Phase::Serving);
    let mut signal = std::pin::pin!(signal);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut signal => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            service.clone(),
            builder.clone(),
            limits.body_timeout,
            watching.clone(),
            permit,
        ));
    }
    drop(listener);
    let open = max as usize - permits.available_permits();
    tracing::info!(connections = open, "draining");
    let _ = phase.send(Phase::Draining);
    let all = || permits.acquire_many(max);
    if tokio::time::timeout(limits.grace_period, all())
        .await
        .is_err()
    {
        let open = max as usize - permits.available_permits();
        tracing::warn!(
            connections = open,
            "grace period over: closing the connections left"
        );
        let _ = phase.send(Phase::Closing);
        let _ = all().await;
    }
    Ok(())
}

/// A failed `accept`: the connection's own trouble is skipped; anything else (out of
/// file descriptors) is logged and waited out, as a loop that spun on it would starve
/// the connections that are open.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    service: S,
    builder: Arc<http1::Builder>,
    body_timeout: Duration,
    mut phase: watch::Receiver<Phase>,
    // Held until the connection ends.
    _permit: OwnedSemaphorePermit,
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let in_flight = InFlight::default();
    let counting = in_flight.clone();
    let hyper_service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let guard = counting.start();
        let mut req = req.map(|body| axum::body::Body::new(TimedBody::new(body, body_timeout)));
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut service = service.clone();
        async move {
            std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            let response = service.call(req).await?;
            Ok::<_, Infallible>(response.map(|body| Tracked::new(body, guard)))
        }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), hyper_service);
    let mut conn = std::pin::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(peer = %peer, error = %e, "connection closed");
                }
                return;
            }
            changed = phase.changed() => {
                let now = match changed {
                    Ok(()) => *phase.borrow_and_update(),
                    // The server is gone.
                    Err(_) => Phase::Closing,
                };
                match now {
                    Phase::Draining if !draining => {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                        if in_flight.is_idle() {
                            return;
                        }
                    }
                    Phase::Closing => return,
                    _ => {}
                }
            }
        }
    }
}
