//! The dispatcher: claims due deliveries, signs and posts them, records what happened.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use apierr_client::WebhookVerifier;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use tokio::task::JoinSet;

use crate::endpoint::unix_micros;
use crate::network::{AddressPolicy, AddressRefused, GuardedResolver};
use crate::outbox::{Claimed, Health, Outbox, Outcome, Verdict};
use crate::report::{FailureKind, LogNotifier, Notifier};

/// How much of a receiver's answer is read and kept for reports: enough for an error
/// message, and a receiver cannot make the dispatcher read (or store) more.
pub const RESPONSE_HEAD: usize = 1024;

/// Settings of a [`Dispatcher`], with their defaults.
#[derive(Debug, Clone)]
struct Settings {
    concurrency: usize,
    timeout: Duration,
    lease: Duration,
    poll: Duration,
    pause_after: i64,
}

/// Delivers the outbox's messages: any number of dispatchers (tasks or processes) may
/// share one PostgreSQL outbox; each delivery is claimed by one of them at a time.
///
/// ```no_run
/// # async fn demo() -> Result<(), sqlx::Error> {
/// use apierr_webhooks::{Dispatcher, Outbox};
///
/// let outbox = Outbox::connect("sqlite://webhooks.db").await?;
/// let dispatcher = Dispatcher::builder(outbox).concurrency(64).build();
/// dispatcher.run(std::future::pending()).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Dispatcher {
    outbox: Outbox,
    http: reqwest::Client,
    settings: Arc<Settings>,
    notifier: Arc<dyn Notifier>,
    /// Checked before each attempt for address literals, which are never resolved.
    policy: Arc<AddressPolicy>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Dispatcher`].
#[must_use]
pub struct DispatcherBuilder {
    outbox: Outbox,
    settings: Settings,
    policy: AddressPolicy,
    notifier: Arc<dyn Notifier>,
}

impl fmt::Debug for DispatcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherBuilder")
            .field("settings", &self.settings)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl DispatcherBuilder {
    /// How many deliveries are in flight at once. Default is 32.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.settings.concurrency = n.max(1);
        self
    }

    /// How long an attempt may take, from connecting to the end of the answer's first
    /// bytes. Default is 15 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// How long a claim lasts: a delivery whose worker died is claimed again after this.
    /// Longer than the timeout, or a slow attempt would be made twice at once. Default
    /// is 60 seconds.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.settings.lease = lease;
        self
    }

    /// How often an idle dispatcher looks for due deliveries (messages committed in this
    /// process wake it at once). Default is 250 ms.
    pub fn poll(mut self, poll: Duration) -> Self {
        self.settings.poll = poll;
        self
    }

    /// How many messages in a row must fail before an endpoint is paused. Default is 5.
    pub fn pause_after(mut self, n: u32) -> Self {
        self.settings.pause_after = i64::from(n.max(1));
        self
    }

    /// Which addresses may be connected to. Default is public addresses only.
    pub fn policy(mut self, policy: AddressPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Who is told about failure reports. Default is [`LogNotifier`].
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// The dispatcher.
    pub fn build(self) -> Dispatcher {
        let http = reqwest::Client::builder()
            // A redirect would send a signed message somewhere the partner never
            // registered (perhaps a private address): never followed.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: Arc::new(self.policy.clone()),
            }))
            .timeout(self.settings.timeout)
            .pool_max_idle_per_host(self.settings.concurrency)
            .build()
            .unwrap_or_default();
        Dispatcher {
            outbox: self.outbox,
            http,
            settings: Arc::new(self.settings),
            notifier: self.notifier,
            policy: Arc::new(self.policy),
        }
    }
}

/// Why a request never got an answer, as kept for the operator: what failed and the
/// chain of causes, without the URL (it may hold a partner's token).
fn detail(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "could not read the answer"
    } else {
        "request failed"
    };
    let mut text = what.to_owned();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn refused_by_policy(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = source {
        if s.is::<AddressRefused>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn retry_after(value: Option<&HeaderValue>, now: SystemTime) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

impl Dispatcher {
    /// A builder for a dispatcher of `outbox`.
    pub fn builder(outbox: Outbox) -> DispatcherBuilder {
        DispatcherBuilder {
            outbox,
            settings: Settings {
                concurrency: 32,
                timeout: Duration::from_secs(15),
                lease: Duration::from_secs(60),
                poll: Duration::from_millis(250),
                pause_after: 5,
            },
            policy: AddressPolicy::new(),
            notifier: Arc::new(LogNotifier),
        }
    }

    /// The outbox it delivers from.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Attempts every delivery due at `now` (up to the concurrency) once, records the
    /// outcomes as of `now`, and notifies about reports. How many were attempted. This is
    /// one step of [`Dispatcher::run`], with the clock in the caller's hands (tests move
    /// it through a retry schedule).
    pub async fn tick(&self, now: SystemTime) -> Result<usize, sqlx::Error> {
        let claimed = self
            .outbox
            .claim(self.settings.concurrency, self.settings.lease, now)
            .await?;
        let n = claimed.len();
        let mut attempts = JoinSet::new();
        for c in claimed {
            let this = self.clone();
            attempts.spawn(async move { this.attempt(c, now).await });
        }
        let mut outcomes = Vec::with_capacity(n);
        while let Some(done) = attempts.join_next().await {
            if let Ok(outcome) = done {
                outcomes.push(outcome);
            }
        }
        self.record(&outcomes, now).await?;
        Ok(n)
    }

    /// Delivers until `shutdown` completes: keeps up to the concurrency in flight,
    /// claiming more as attempts finish and recording outcomes in batches. On shutdown it
    /// stops claiming, lets the attempts in flight finish (each within the timeout) and
    /// records them. Database errors are logged and retried after the poll interval;
    /// what was not recorded is delivered again once its claim lapses.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        /// Outcomes are written in batches of up to this many, or sooner when the
        /// dispatcher has nothing else to do.
        const BATCH: usize = 128;
        let wake = self.outbox.waker();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut in_flight: JoinSet<Outcome> = JoinSet::new();
        let mut done: Vec<Outcome> = Vec::new();
        let mut next_claim = tokio::time::Instant::now();
        let mut stopping = false;
        loop {
            let free = self.settings.concurrency - in_flight.len();
            if !stopping && free > 0 && tokio::time::Instant::now() >= next_claim {
                match self
                    .outbox
                    .claim(free, self.settings.lease, SystemTime::now())
                    .await
                {
                    Ok(claimed) => {
                        if claimed.len() < free {
                            next_claim = tokio::time::Instant::now() + self.settings.poll;
                        }
                        for c in claimed {
                            let this = self.clone();
                            in_flight.spawn(async move {
                                let at = SystemTime::now();
                                this.attempt(c, at).await
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not claim webhook deliveries");
                        next_claim = tokio::time::Instant::now() + self.settings.poll;
                    }
                }
            }
            if !done.is_empty() && (done.len() >= BATCH || in_flight.is_empty()) {
                let batch = std::mem::take(&mut done);
                if let Err(e) = self.record(&batch, SystemTime::now()).await {
                    tracing::warn!(error = %e, count = batch.len(), "could not record webhook attempts; they will be made again");
                }
            }
            if in_flight.is_empty() {
                if stopping {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep_until(next_claim) => {}
                    () = wake.notified() => next_claim = tokio::time::Instant::now(),
                    () = &mut shutdown => stopping = true,
                }
                continue;
            }
            tokio::select! {
                Some(joined) = in_flight.join_next() => {
                    if let Ok(outcome) = joined {
                        done.push(outcome);
                    }
                    // Take whatever else has finished before writing.
                    while let Some(joined) = in_flight.try_join_next() {
                        if let Ok(outcome) = joined {
                            done.push(outcome);
                        }
                    }
                }
                () = tokio::time::sleep_until(next_claim), if !stopping && free > 0 => {}
                () = wake.notified(), if !stopping => next_claim = tokio::time::Instant::now(),
                () = &mut shutdown, if !stopping => stopping = true,
            }
        }
    }

    async fn record(&self, outcomes: &[Outcome], now: SystemTime) -> Result<(), sqlx::Error> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let health = Health {
            pause_after: self.settings.pause_after,
        };
        let reports = self.outbox.record(outcomes, health, now).await?;
        for id in reports {
            match self.outbox.report(None, &id).await {
                Ok(Some(report)) => self.notifier.notify(&report).await,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(report = %id, error = %e, "could not read a report to notify about")
                }
            }
        }
        Ok(())
    }

    /// One attempt: signs the message for every current secret, posts it, reads at most
    /// [`RESPONSE_HEAD`] bytes of the answer.
    async fn attempt(&self, claimed: Claimed, now: SystemTime) -> Outcome {
        let at = unix_micros(now);
        let timestamp = at / 1_000_000;
        let signatures: Vec<String> = claimed
            .secrets
            .iter()
            .filter_map(|s| WebhookVerifier::new(s).ok())
            .map(|v| v.sign(&claimed.message_id, timestamp, claimed.payload.as_bytes()))
            .collect();
        let started = Instant::now();
        let outcome = |verdict, status, head, failure, detail, retry_after| Outcome {
            at,
            latency: started.elapsed(),
            status,
            response_head: head,
            failure,
            detail,
            retry_after,
            verdict,
            claimed: claimed.clone(),
        };
        // An address literal is not resolved, so the resolver cannot refuse it: checked
        // here (the registered URL was checked too, but the allow-list may have changed).
        if self.policy.check_url(&claimed.url).is_err() {
            return outcome(
                Verdict::Refused,
                None,
                None,
                Some(FailureKind::AddressNotAllowed),
                Some("the endpoint's URL or address is not allowed".to_owned()),
                None,
            );
        }
        let sent = self
            .http
            .post(&claimed.url)
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("apierr-webhooks/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", &claimed.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(claimed.payload.clone())
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => {
                let (verdict, failure) = if refused_by_policy(&e) {
                    (Verdict::Refused, FailureKind::AddressNotAllowed)
                } else if e.is_timeout() {
                    (Verdict::Retry, FailureKind::Timeout)
                } else {
                    (Verdict::Retry, FailureKind::Connection)
                };
                return outcome(verdict, None, None, Some(failure), Some(detail(&e)), None);
            }
        };
        let status = response.status();
        let wait = retry_after(response.headers().get(RETRY_AFTER), now);
        let mut head = Vec::new();
        while head.len() < RESPONSE_HEAD {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = RESPONSE_HEAD - head.len();
                    head.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                _ => break,
            }
        }
        let head = (!head.is_empty()).then(|| String::from_utf8_lossy(&head).into_owned());
        let code = status.as_u16();
        let (verdict, failure) = match code {
            200..=299 => (Verdict::Delivered, None),
            410 => (Verdict::Gone, Some(FailureKind::Status)),
            408 | 429 | 500..=599 => (Verdict::Retry, Some(FailureKind::Status)),
            300..=399 => (Verdict::Refused, Some(FailureKind::Redirect)),
            _ => (Verdict::Refused, Some(FailureKind::Status)),
        };
        let wait = matches!(code, 429 | 503).then_some(wait).flatten();
        outcome(verdict, Some(code), head, failure, None, wait)
    }
}
