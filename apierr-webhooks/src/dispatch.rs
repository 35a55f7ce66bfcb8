//! The dispatcher: claims due deliveries, signs and posts them, records what happened.

use std::collections::{HashSet, VecDeque};
use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use apierr_client::WebhookVerifier;
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::endpoint::{Secret, unix_micros};
use crate::events::TEST_EVENT;
use crate::fair::{BUDGET, Caps, Load, Running};
use crate::network::{AddressPolicy, AddressRefused, GuardedResolver};
use crate::outbox::Outbox;
use crate::queue::{Claimed, Outcome, Share, Verdict};
use crate::report::{FailureKind, LogNotifier, Notifier, rfc3339};

/// How much of a receiver's answer is read and kept for reports: enough for an error
/// message, and a receiver cannot make the dispatcher read (or store) more.
pub const RESPONSE_HEAD: usize = 1024;

/// How many deliveries are in flight at once, unless
/// [`DispatcherBuilder::concurrency`] says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// How many deliveries to one endpoint are in flight at once, unless
/// [`DispatcherBuilder::endpoint_concurrency`] says otherwise.
pub const DEFAULT_ENDPOINT_CONCURRENCY: usize = 16;

/// Settings of a [`Dispatcher`], with their defaults.
#[derive(Debug, Clone)]
struct Settings {
    concurrency: usize,
    /// Attempts in flight per endpoint.
    endpoint_concurrency: usize,
    /// Attempts in flight per partner (the endpoints' owner); half the concurrency
    /// unless set.
    partner_concurrency: Option<usize>,
    timeout: Duration,
    lease: Duration,
    poll: Duration,
    pause_after: i64,
}

impl Settings {
    fn caps(&self) -> Caps {
        let partner = self
            .partner_concurrency
            .unwrap_or(self.concurrency - self.concurrency / 4);
        Caps::new(self.concurrency, self.endpoint_concurrency, partner)
    }
}

/// Delivers the outbox's messages: any number of dispatchers (tasks or processes) may
/// share one PostgreSQL outbox; each delivery is claimed by one of them at a time.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use apierr_webhooks::{Dispatcher, Outbox};
///
/// let outbox = Outbox::connect("sqlite://webhooks.db").await?;
/// let dispatcher = Dispatcher::builder(outbox).concurrency(64).build()?;
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
    /// The egress proxy an operator named; never one from the environment.
    proxy: Option<reqwest::Url>,
}

impl fmt::Debug for DispatcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherBuilder")
            .field("settings", &self.settings)
            .field("policy", &self.policy)
            .field("proxy", &self.proxy.as_ref().map(|p| p.host_str()))
            .finish_non_exhaustive()
    }
}

impl DispatcherBuilder {
    /// How many deliveries are in flight at once. Default is [`DEFAULT_CONCURRENCY`].
    pub fn concurrency(mut self, n: usize) -> Self {
        self.settings.concurrency = n.max(1);
        self
    }

    /// How many deliveries to one endpoint are in flight at once (per dispatcher), so
    /// that a slow endpoint holds few slots and a receiver gets no more requests at a
    /// time than it can be expected to take. At most the partner's share (below).
    /// Default is [`DEFAULT_ENDPOINT_CONCURRENCY`].
    pub fn endpoint_concurrency(mut self, n: usize) -> Self {
        self.settings.endpoint_concurrency = n.max(1);
        self
    }

    /// How many deliveries to one partner's endpoints (one owner) are in flight at
    /// once (per dispatcher): the rest of the concurrency stays free for the others, so
    /// that one partner's slow or dead endpoints cannot delay another partner's
    /// deliveries. A partner's deliveries beyond it wait while others' start; a slot
    /// is idle only when nothing that may start is waiting. At most the concurrency.
    /// Default is three quarters of the concurrency: one partner with dead endpoints
    /// leaves a quarter to everyone else (several such partners need a larger
    /// concurrency or a smaller share).
    pub fn partner_concurrency(mut self, n: usize) -> Self {
        self.settings.partner_concurrency = Some(n.max(1));
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

    /// How many messages in a row must fail before an endpoint is paused. When one more
    /// failed message would pause it, the partner is warned (an `endpoint_failing`
    /// report and a [`FAILING_EVENT`](crate::FAILING_EVENT) message to its other
    /// endpoints); with 1 there is no room for a warning. Default is 5.
    pub fn pause_after(mut self, n: u32) -> Self {
        self.settings.pause_after = i64::from(n.max(1));
        self
    }

    /// Sends every delivery through this HTTP proxy (an operator's egress proxy). The
    /// proxy then resolves the endpoint's name and connects, so the address policy is
    /// checked only on address literals when an endpoint is registered: the proxy must
    /// enforce it (refuse loopback, private, link-local and metadata addresses). Proxy
    /// variables of the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) are never
    /// read: they would bypass the policy without anybody choosing it. Default is none.
    pub fn proxy(mut self, proxy: reqwest::Url) -> Self {
        self.proxy = Some(proxy);
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

    /// The dispatcher. Fails as reqwest's `ClientBuilder::build` does (the TLS backend
    /// could not be set up): never with a client that lacks the address policy or
    /// follows redirects.
    pub fn build(self) -> Result<Dispatcher, reqwest::Error> {
        let http = reqwest::Client::builder()
            // A redirect would send a signed message somewhere the partner never
            // registered (perhaps a private address): never followed.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: Arc::new(self.policy.clone()),
            }))
            .timeout(self.settings.timeout)
            .pool_max_idle_per_host(self.settings.concurrency);
        // Without `no_proxy`, reqwest would send deliveries to a proxy named in the
        // environment, which resolves the name itself: past the guarded resolver.
        let http = match &self.proxy {
            None => http.no_proxy(),
            Some(proxy) => http.proxy(reqwest::Proxy::all(proxy.clone())?),
        }
        .build()?;
        Ok(Dispatcher {
            outbox: self.outbox,
            http,
            settings: Arc::new(self.settings),
            notifier: self.notifier,
            policy: Arc::new(self.policy),
        })
    }
}

/// What one post came to (see `Dispatcher::post`).
struct Sent {
    /// When it was made (Unix µs).
    at: i64,
    latency: Duration,
    status: Option<u16>,
    response_head: Option<String>,
    failure: Option<FailureKind>,
    /// The error in full, for the operator.
    detail: Option<String>,
    retry_after: Option<Duration>,
    verdict: Verdict,
}

/// What a test message came to ([`Dispatcher::send_test`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestSend {
    /// The test message's id (its `webhook-id`).
    pub message_id: String,
    /// When it was sent.
    pub at: SystemTime,
    /// Whether the receiver answered with a success (2xx).
    pub delivered: bool,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// From sending to the first bytes of the answer (or the failure).
    pub latency: Duration,
    /// The first [`RESPONSE_HEAD`] bytes of the answer, as text.
    pub response_head: Option<String>,
    /// Why it failed, if it did.
    pub failure: Option<FailureKind>,
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

/// Claims of a run waiting for a worker ([`Dispatcher::run`]), in the order they were
/// claimed, each with its permit of the claim budget.
#[derive(Default)]
struct Ready {
    waiting: Mutex<Waiting>,
    /// Told when claims arrive, when a claim is taken and others wait, and on stopping.
    changed: Notify,
}

#[derive(Default)]
struct Waiting {
    claims: VecDeque<(Claimed, OwnedSemaphorePermit)>,
    /// Nothing more is started.
    stopped: bool,
}

/// A claim a worker starts, with its budget permit and its place in the caps.
type Started = (Claimed, OwnedSemaphorePermit, Running);

impl Ready {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // Every change is a push or a removal that cannot panic halfway.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands claims over to the workers.
    fn push(&self, claims: Vec<(Claimed, OwnedSemaphorePermit)>) {
        if claims.is_empty() {
            return;
        }
        self.lock().claims.extend(claims);
        self.changed.notify_waiters();
    }

    /// Stops the workers: each ends after its attempt in flight.
    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_waiters();
    }

    fn stopped(&self) -> bool {
        self.lock().stopped
    }

    /// What is left once stopped.
    fn drain(&self) -> VecDeque<(Claimed, OwnedSemaphorePermit)> {
        std::mem::take(&mut self.lock().claims)
    }

    /// The endpoints of the waiting claims (sorted, distinct).
    fn endpoints(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .lock()
            .claims
            .iter()
            .map(|(c, _)| c.endpoint_id.clone())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Drops the waiting claims of endpoints that are not in `active`, freeing their
    /// permits: how many. Their deliveries were cancelled or held when the endpoint was
    /// deleted, paused or disabled, so there is nothing to give back.
    fn keep_only(&self, active: &HashSet<String>, load: &Load) -> usize {
        let mut waiting = self.lock();
        let before = waiting.claims.len();
        waiting.claims.retain(|(c, _)| {
            let keep = active.contains(&c.endpoint_id);
            if !keep {
                load.forget(c);
            }
            keep
        });
        before - waiting.claims.len()
    }

    /// The oldest claim that may start now (its endpoint and owner under their caps of
    /// attempts in flight), counted as started; waits for one. Claims whose lease would
    /// end less than `needed` from now are dropped (see [`Dispatcher::attempts`]): they
    /// are looked at whenever a worker looks, and at least every second. `None` once
    /// stopped.
    async fn next(&self, load: &Load, needed: Duration) -> Option<Started> {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            // Told of any change from here on, even one made before this waits.
            changed.as_mut().enable();
            {
                let mut waiting = self.lock();
                if waiting.stopped {
                    return None;
                }
                let latest = unix_micros(SystemTime::now() + needed);
                // Claims arrive in the order they were made, so their leases end in that
                // order: the oldest are at the front.
                while let Some((c, _)) = waiting.claims.front()
                    && c.lease_until < latest
                {
                    if let Some((c, _)) = waiting.claims.pop_front() {
                        load.forget(&c);
                    }
                }
                if let Some(i) = load.first_startable(&waiting.claims)
                    && let Some((c, permit)) = waiting.claims.remove(i)
                {
                    let running = load.start(&c);
                    if !waiting.claims.is_empty() {
                        // Another worker may start one of the others.
                        self.changed.notify_one();
                    }
                    return Some((c, permit, running));
                }
            }
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

impl Dispatcher {
    /// A builder for a dispatcher of `outbox`.
    pub fn builder(outbox: Outbox) -> DispatcherBuilder {
        DispatcherBuilder {
            outbox,
            settings: Settings {
                concurrency: DEFAULT_CONCURRENCY,
                endpoint_concurrency: DEFAULT_ENDPOINT_CONCURRENCY,
                partner_concurrency: None,
                timeout: Duration::from_secs(15),
                lease: Duration::from_secs(60),
                poll: Duration::from_millis(250),
                pause_after: 5,
            },
            policy: AddressPolicy::new(),
            notifier: Arc::new(LogNotifier),
            proxy: None,
        }
    }

    /// Attempts every delivery due at `now` (up to the concurrency) once, records the
    /// outcomes as of `now`, and notifies about reports. How many were attempted. This is
    /// one step of [`Dispatcher::run`], with the clock in the caller's hands (tests move
    /// it through a retry schedule).
    pub async fn tick(&self, now: SystemTime) -> Result<usize, sqlx::Error> {
        let claimed = self
            .outbox
            .claim(
                self.settings.concurrency,
                self.settings.lease,
                now,
                &Share::default(),
            )
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
        self.record(&outcomes, now, true).await?;
        Ok(n)
    }

    /// Delivers until `shutdown` completes. Three things run side by side, so that no
    /// database round trip holds up a delivery: claims (in batches, up to sixteen times
    /// the concurrency ahead of the attempts, each partner's share of them bounded),
    /// attempts (as many workers as the concurrency, each starting the oldest claim
    /// within the caps per endpoint and partner), and a recorder that writes outcomes in
    /// batches as they come. On shutdown it stops claiming, lets the attempts in flight
    /// finish (each within the timeout) and records them, and gives back the claims it
    /// had not started, so that another worker takes them at once. Database errors are logged and retried after
    /// the poll interval; what was not recorded is delivered again once its claim lapses.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        /// Outcomes written in one transaction at most.
        const BATCH: usize = 256;
        /// How long the recorder waits for a batch to fill: short beside the lease, long
        /// enough that a busy dispatcher writes dozens of outcomes a transaction.
        const GATHER: Duration = Duration::from_millis(10);
        let concurrency = self.settings.concurrency;
        // Claimed and not yet finished: up to sixteen times the concurrency (one partner
        // at most three quarters of that, see `fair`), claimed four times the
        // concurrency at a time, so that a claim (a round trip, milliseconds on a busy
        // database) is made while the last batch is in flight and amortised over many
        // deliveries. Behind slow receivers a claim can wait longer than its lease
        // allows: it is then not attempted, and is claimed again.
        let budget = Arc::new(Semaphore::new(BUDGET * concurrency));
        let (done, mut outcomes) = mpsc::unbounded_channel::<Outcome>();
        let recorder = {
            let this = self.clone();
            tokio::spawn(async move {
                let mut batch = Vec::with_capacity(BATCH);
                while outcomes.recv_many(&mut batch, BATCH).await > 0 {
                    // Let a batch gather for a moment: a transaction per few outcomes
                    // would cost more than the deliveries themselves.
                    let until = tokio::time::Instant::now() + GATHER;
                    while batch.len() < BATCH {
                        let room = BATCH - batch.len();
                        match tokio::time::timeout_at(until, outcomes.recv_many(&mut batch, room))
                            .await
                        {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                    if let Err(e) = this.record(&batch, SystemTime::now(), false).await {
                        tracing::warn!(error = %e, count = batch.len(), "could not record webhook attempts; they will be made again");
                    }
                    batch.clear();
                }
            })
        };
        // The queue's gauges, read apart from the claims so that a slow count never
        // holds one up.
        #[cfg(feature = "metrics")]
        let gauges = {
            let pool = self.outbox.pool().clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(crate::telemetry::QUEUE_EVERY);
                loop {
                    every.tick().await;
                    if let Err(e) = crate::telemetry::read_queue(&pool, SystemTime::now()).await {
                        tracing::debug!(error = %e, "could not read the webhook queue's depth");
                    }
                }
            })
        };
        let load = Load::new(self.settings.caps());
        let ready = Arc::new(Ready::default());
        let attempts = tokio::spawn(self.clone().attempts(ready.clone(), load.clone(), done));
        let wake = self.outbox.waker();
        let room = load.room();
        let batch = u32::try_from(4 * concurrency).unwrap_or(u32::MAX);
        let mut shutdown = std::pin::pin!(shutdown);
        // When the endpoints of waiting claims were last looked at.
        let mut checked = tokio::time::Instant::now();
        loop {
            // Wait until a batch's worth of the budget is free, or for the poll: claims
            // waiting on their endpoint's or owner's cap may hold much of the budget, and
            // the others' deliveries must still be claimed.
            tokio::select! {
                permits = budget.acquire_many(batch) => drop(permits),
                () = tokio::time::sleep(self.settings.poll) => {}
                () = &mut shutdown => break,
            }
            let (share, window) = load.share();
            let mut held = Vec::with_capacity(window);
            while held.len() < window
                && let Ok(permit) = budget.clone().try_acquire_owned()
            {
                held.push(permit);
            }
            let limit = held.len();
            let claimed = match self
                .outbox
                .claim(limit, self.settings.lease, SystemTime::now(), &share)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim webhook deliveries");
                    Vec::new()
                }
            };
            // Fewer than asked for: nothing more is due, or only deliveries of partners
            // that now hold all they may. A claim that filled a partner's share may
            // have left the others' due deliveries unread too: they are claimed after a
            // wait as long as an idle dispatcher's at most (the poll), while a claim
            // right away would find nothing more, most of the time, at the cost of a
            // round trip.
            let mut idle = claimed.len() < limit;
            let mut handed = Vec::with_capacity(claimed.len());
            for c in claimed {
                let Some(permit) = held.pop() else { break };
                idle |= load.hold(&c);
                handed.push((c, permit));
            }
            drop(held);
            ready.push(handed);
            // An endpoint deleted, paused or disabled since its deliveries were claimed
            // gets none of those not yet started: a deleted endpoint receives the
            // attempts under way at most, not everything claimed ahead for it. Looked
            // at once a poll interval at most, not at every claim of a busy dispatcher.
            let waiting = if checked.elapsed() >= self.settings.poll {
                checked = tokio::time::Instant::now();
                ready.endpoints()
            } else {
                Vec::new()
            };
            if !waiting.is_empty() {
                match self.outbox.active(waiting).await {
                    Ok(active) => {
                        let dropped = ready.keep_only(&active, &load);
                        if dropped > 0 {
                            tracing::debug!(
                                dropped,
                                "claims of endpoints no longer active were dropped"
                            );
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not check the endpoints of waiting claims");
                    }
                }
            }
            if idle {
                // Wait for the poll, a local commit, room for a partner that held all it
                // may, or shutdown.
                tokio::select! {
                    () = tokio::time::sleep(self.settings.poll) => {}
                    () = wake.notified() => {}
                    () = room.notified() => {}
                    () = &mut shutdown => break,
                }
            }
        }
        ready.stop();
        let _ = attempts.await;
        let _ = recorder.await;
        #[cfg(feature = "metrics")]
        gauges.abort();
    }

    /// The attempts of [`Dispatcher::run`]: `concurrency` workers, each taking the
    /// next claim that may start from `ready` and attempting it, so that an attempt's
    /// end starts the next on the same task, with no hop through a task of its own (on a
    /// busy machine such a hop is a wait for the scheduler, and the slots stood idle a
    /// third of the time). A worker that panics is replaced. Once stopped, gives back
    /// what was not started, after the attempts in flight have ended.
    async fn attempts(self, ready: Arc<Ready>, load: Load, done: mpsc::UnboundedSender<Outcome>) {
        // Too little of a claim left for a whole attempt (it waited behind slow ones or
        // a cap): it is left to lapse and be claimed again, rather than race another
        // worker to the receiver. (A lease shorter than the timeout asks for half of it.)
        let needed = self.settings.timeout.min(self.settings.lease / 2);
        let worker = || {
            let (this, ready, load, done) =
                (self.clone(), ready.clone(), load.clone(), done.clone());
            async move {
                while let Some((c, permit, counted)) = ready.next(&load, needed).await {
                    let outcome = this.attempt(c, SystemTime::now()).await;
                    let _ = done.send(outcome);
                    drop((counted, permit));
                }
            }
        };
        let mut workers = JoinSet::new();
        for _ in 0..self.settings.concurrency {
            workers.spawn(worker());
        }
        while let Some(ended) = workers.join_next().await {
            if ended.is_err_and(|e| e.is_panic()) && !ready.stopped() {
                tracing::error!("a webhook worker panicked; it is replaced");
                workers.spawn(worker());
            }
        }
        // Stopped: what was not started goes back at once, for another worker.
        let unstarted: Vec<Claimed> = ready
            .drain()
            .into_iter()
            .map(|(c, _)| {
                load.forget(&c);
                c
            })
            .collect();
        if let Err(e) = self.outbox.release(&unstarted).await {
            tracing::warn!(error = %e, count = unstarted.len(), "could not give back unstarted webhook claims; they lapse with their lease");
        }
    }

    /// Records `outcomes`, then tells the notifier about the reports written: at once
    /// (`tick`), or from a task of its own (`run`), so that a slow notifier never holds
    /// up the recording of outcomes.
    async fn record(
        &self,
        outcomes: &[Outcome],
        now: SystemTime,
        wait_for_notices: bool,
    ) -> Result<(), sqlx::Error> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let reports = self
            .outbox
            .record(outcomes, self.settings.pause_after, now)
            .await?;
        if reports.is_empty() {
            return Ok(());
        }
        let this = self.clone();
        let notices = async move {
            for id in reports {
                match this.outbox.report(None, &id).await {
                    Ok(Some(report)) => this.notifier.notify(&report).await,
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(report = %id, error = %e, "could not read a report to notify about")
                    }
                }
            }
        };
        if wait_for_notices {
            notices.await;
        } else {
            tokio::spawn(notices);
        }
        Ok(())
    }

    /// One attempt of a claimed delivery.
    async fn attempt(&self, claimed: Claimed, now: SystemTime) -> Outcome {
        let sent = self
            .post(
                &claimed.target.url,
                &claimed.message_id,
                &claimed.payload,
                &claimed.target.secrets,
                now,
            )
            .await;
        Outcome {
            at: sent.at,
            latency: sent.latency,
            status: sent.status,
            response_head: sent.response_head,
            failure: sent.failure,
            detail: sent.detail,
            retry_after: sent.retry_after,
            verdict: sent.verdict,
            claimed,
        }
    }

    /// Signs a message for every secret given, posts it to `url`, reads at most
    /// [`RESPONSE_HEAD`] bytes of the answer, and says what the answer means.
    async fn post(
        &self,
        url: &str,
        message_id: &str,
        payload: &str,
        secrets: &[Secret],
        now: SystemTime,
    ) -> Sent {
        let at = unix_micros(now);
        let timestamp = at / 1_000_000;
        let signatures: Vec<String> = secrets
            .iter()
            .filter_map(|s| WebhookVerifier::new(s.expose()).ok())
            .map(|v| v.sign(message_id, timestamp, payload.as_bytes()))
            .collect();
        let started = Instant::now();
        // Every path ends here once.
        let sent = |verdict, status, head, failure, detail, retry_after| Sent {
            at,
            latency: started.elapsed(),
            status,
            response_head: head,
            failure,
            detail,
            retry_after,
            verdict,
        };
        // An address literal is not resolved, so the resolver cannot refuse it: checked
        // here (the registered URL was checked too, but the allow-list may have changed).
        // The URL parsed for the check is the one sent to.
        let Ok(url) = self.policy.check_url(url) else {
            return sent(
                Verdict::Refused,
                None,
                None,
                Some(FailureKind::AddressNotAllowed),
                Some("the endpoint's URL or address is not allowed".to_owned()),
                None,
            );
        };
        let response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("apierr-webhooks/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(payload.to_owned())
            .send()
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(e) => {
                let (verdict, failure) = if refused_by_policy(&e) {
                    (Verdict::Refused, FailureKind::AddressNotAllowed)
                } else if e.is_timeout() {
                    (Verdict::Retry, FailureKind::Timeout)
                } else {
                    (Verdict::Retry, FailureKind::Connection)
                };
                return sent(verdict, None, None, Some(failure), Some(detail(&e)), None);
            }
        };
        let status = response.status();
        // `Retry-After` (seconds or date), else a spent quota's reset: apierr's one
        // reading of them.
        let wait = apierr::retry_hint(response.headers(), now);
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
        sent(verdict, Some(code), head, failure, None, wait)
    }

    /// Sends a signed [`TEST_EVENT`] message to the endpoint `id` of `owner` at once, in
    /// whatever state it is (a paused endpoint can be tested before it is resumed), and
    /// answers with the attempt; `None` if there is no such endpoint. Nothing is stored:
    /// the test is not a message of the outbox, is never retried, and does not count in
    /// the endpoint's run of failures. Bound how often a partner may ask (each test is a
    /// request to its server).
    pub async fn send_test(
        &self,
        owner: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<Option<TestSend>, sqlx::Error> {
        let Some((url, secrets)) = self.outbox.signing(owner, id, now).await? else {
            return Ok(None);
        };
        let message_id = crate::outbox::new_id("msg_");
        let payload = serde_json::json!({
            "type": TEST_EVENT,
            "timestamp": rfc3339(now),
            "data": {"endpoint_id": id},
        })
        .to_string();
        let sent = self.post(&url, &message_id, &payload, &secrets, now).await;
        Ok(Some(TestSend {
            message_id,
            at: now,
            delivered: sent.verdict == Verdict::Delivered,
            status: sent.status,
            latency: sent.latency,
            response_head: sent.response_head,
            failure: sent.failure,
        }))
    }
}
