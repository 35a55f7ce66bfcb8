//! The dispatcher's side of the outbox: claiming due deliveries under a lease, and
//! recording what their attempts came to (marks, failed attempts, reports, endpoint
//! health), each in as few statements as the batch allows.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqlx::{Any, Row};

use crate::endpoint::{Next, Schedule, Secret, from_micros, unix_micros};
use crate::events::FAILING_EVENT;
use crate::outbox::{Arg, Dynamic, Outbox, new_id};
use crate::report::{FailureKind, ReportKind, rfc3339};

/// A delivery claimed by a worker, with what it needs to attempt it.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) delivery_id: String,
    pub(crate) message_id: String,
    pub(crate) endpoint_id: String,
    pub(crate) owner: String,
    pub(crate) payload: String,
    /// Its endpoint's address, secrets and schedule, shared by the claim's deliveries to
    /// that endpoint.
    pub(crate) target: Arc<Target>,
    /// Attempts made in this round before this one.
    pub(crate) attempts: i64,
    pub(crate) total_attempts: i64,
    pub(crate) round_started: Option<i64>,
    /// The claim: writes about this delivery count only while it still holds it.
    pub(crate) lease: i64,
    /// When the claim lapses (Unix µs): an attempt that could not finish before then is
    /// not started, since another worker may take the delivery at that moment.
    pub(crate) lease_until: i64,
    /// On PostgreSQL, where the claimed version of the row lies (its `ctid`, as text):
    /// the outcome is written there, without a lookup by id (see
    /// `Outbox::record_delivered`).
    pub(crate) loc: Option<String>,
}

/// Where and how a claim's deliveries to one endpoint are sent: read once per endpoint
/// and claim, its secrets opened once.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) url: String,
    /// The current secret, then the previous one while it is still honoured.
    pub(crate) secrets: Vec<Secret>,
    pub(crate) schedule: Schedule,
}

/// What an attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A 2xx.
    Delivered,
    /// 5xx, 408, 429, timeout, connection failure: try again if the schedule allows.
    Retry,
    /// Any other answer, or an address not allowed: never again.
    Refused,
    /// 410 Gone: the endpoint is disabled.
    Gone,
}

impl Verdict {
    /// The verdict as a metrics label.
    #[cfg(feature = "metrics")]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verdict::Delivered => "delivered",
            Verdict::Retry => "retry",
            Verdict::Refused => "refused",
            Verdict::Gone => "gone",
        }
    }
}

/// One attempt's result.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) claimed: Claimed,
    /// When it was made (Unix µs).
    pub(crate) at: i64,
    pub(crate) latency: Duration,
    pub(crate) status: Option<u16>,
    pub(crate) response_head: Option<String>,
    pub(crate) failure: Option<FailureKind>,
    pub(crate) detail: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) verdict: Verdict,
}

/// Begins a PostgreSQL transaction of the dispatcher that commits without waiting for
/// its log to reach the disk (`synchronous_commit = off`, this transaction only). Claims
/// and outcomes are the only such writes, and losing the last of them in a database crash
/// (the server's, not the dispatcher's: a commit that returned is in the server's memory)
/// means a message is delivered again, never that one is lost: the message itself was
/// written, durably, by the application's transaction. SQLite's `synchronous = NORMAL`
/// makes the same trade for the whole file. The wait saved is a disk flush per claim.
/// The settings travel with `BEGIN`, in one round trip.
const RELAXED: &str = "BEGIN; SET LOCAL synchronous_commit = off";

/// Begins a PostgreSQL claim's transaction: [`RELAXED`], and the due deliveries read in
/// order from the pending index. While the table's statistics lag behind a burst of
/// messages (autovacuum analyses it a minute later at best), the planner takes the queue
/// for a few rows, reads every pending one and sorts them: milliseconds a claim with
/// thousands waiting, where walking the index to the first few dozen is a tenth of a
/// millisecond. Turning sorts off makes the planner cost the few sorts that remain (a
/// claim's shares, 128 rows at most) as enormous, and such a cost would have the query
/// compiled to machine code first (JIT, a quarter of a second each time): JIT is off for
/// the claim too.
const CLAIMING: &str = "BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL enable_sort = off;
     SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off";

/// How a claim shares itself out among endpoints and owners (see `fair`): none of the
/// deliveries of `endpoints` and `owners` (they hold all the claims they may), and at
/// most `per_endpoint` and `per_owner` of the others'. The default takes every due
/// delivery in order.
#[derive(Debug, Default)]
pub(crate) struct Share {
    pub(crate) endpoints: Vec<String>,
    pub(crate) owners: Vec<String>,
    /// `(per endpoint, per owner)`.
    pub(crate) caps: Option<(usize, usize)>,
}

/// The select of a claim: up to `limit` due deliveries, oldest first, as `share` says.
/// With caps, the oldest `limit` due deliveries are read (and on PostgreSQL locked),
/// ranked by endpoint and by owner, and the first few of each taken: a partner with a
/// backlog takes its share of one claim, and is left out of the next while it holds
/// that. (The filters run on the rows of the pending index: a left-out backlog is read
/// past, never claimed.) Each row is named by where it lies, as `loc`: `ctid` on
/// PostgreSQL, `rowid` on SQLite.
fn due(q: &mut Dynamic, now: i64, limit: usize, share: &Share, postgres: bool) {
    if share.caps.is_some() {
        q.push(
            "SELECT loc FROM (
                 SELECT loc, next_at,
                        row_number() OVER (PARTITION BY endpoint_id ORDER BY next_at) AS by_endpoint,
                        row_number() OVER (PARTITION BY owner ORDER BY next_at) AS by_owner
                 FROM (",
        );
    }
    q.push(if postgres {
        "SELECT ctid AS loc, endpoint_id, owner, next_at FROM apierr_webhook_deliveries
         WHERE state = 'pending' AND next_at <= "
    } else {
        "SELECT rowid AS loc, endpoint_id, owner, next_at FROM apierr_webhook_deliveries
         WHERE state = 'pending' AND next_at <= "
    })
    .bind(Arg::Int(now))
    .push(" AND (lease_until IS NULL OR lease_until <= ")
    .bind(Arg::Int(now))
    .push(")");
    if !share.endpoints.is_empty() {
        q.push(" AND endpoint_id NOT IN ")
            .bind_in(share.endpoints.clone());
    }
    if !share.owners.is_empty() {
        q.push(" AND owner NOT IN ").bind_in(share.owners.clone());
    }
    let int = |n: usize| Arg::Int(i64::try_from(n).unwrap_or(i64::MAX));
    q.push(" ORDER BY next_at LIMIT ").bind(int(limit));
    if postgres {
        q.push(" FOR UPDATE SKIP LOCKED");
    }
    if let Some((per_endpoint, per_owner)) = share.caps {
        q.push(") AS due) AS ranked WHERE by_endpoint <= ")
            .bind(int(per_endpoint))
            .push(" AND by_owner <= ")
            .bind(int(per_owner))
            .push(" ORDER BY next_at");
    }
}

impl Outbox {
    /// Claims up to `limit` due deliveries for `lease` (a worker that dies leaves them to
    /// be claimed again when it lapses), in the order they fell due, shared out as
    /// `share` says.
    pub(crate) async fn claim(
        &self,
        limit: usize,
        lease: Duration,
        now: SystemTime,
        share: &Share,
    ) -> Result<Vec<Claimed>, sqlx::Error> {
        let token = fastrand::i64(1..i64::MAX);
        let now = unix_micros(now);
        let lapses = now.saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX));
        // One statement: the due deliveries found, marked with the claim, and returned
        // with their messages. They are found by where the row lies (`ctid`, `rowid`),
        // which holds within the statement and spares a lookup of each id.
        let mut q = Dynamic::new(if self.postgres { "WITH d AS (" } else { "" });
        q.push("UPDATE apierr_webhook_deliveries SET lease = ")
            .bind(Arg::Int(token))
            .push(", lease_until = ")
            .bind(Arg::Int(lapses));
        let rows = if self.postgres {
            let mut tx = self.pool.begin_with(CLAIMING).await?;
            // `= ANY (ARRAY(…))` rather than `IN (…)`: with `IN`, the planner may hash the
            // claimed rows and scan the whole table for them. A row locked below cannot
            // change before the update; were it another version by then, its `ctid`
            // would not match and it would be left for the next claim.
            q.push(" WHERE ctid = ANY(ARRAY(SELECT loc FROM (");
            due(&mut q, now, limit, share, true);
            q.push(
                ") AS claim)) RETURNING ctid::text AS loc, id, message_id, endpoint_id, owner,
                     attempts, total_attempts, round_started)
                 SELECT d.*, m.payload FROM d
                 JOIN apierr_webhook_messages m ON m.id = d.message_id",
            );
            let rows = q.query().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            rows
        } else {
            q.push(" WHERE rowid IN (SELECT loc FROM (");
            due(&mut q, now, limit, share, false);
            // SQLite cannot join to a RETURNING clause, but may look the payload up in it.
            q.push(
                ") AS claim) RETURNING id, message_id, endpoint_id, owner, attempts,
                     total_attempts, round_started,
                     (SELECT payload FROM apierr_webhook_messages m
                      WHERE m.id = apierr_webhook_deliveries.message_id) AS payload",
            );
            q.query().fetch_all(&self.pool).await?
        };
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut endpoints: Vec<String> = rows
            .iter()
            .map(|row| row.try_get("endpoint_id"))
            .collect::<Result<_, _>>()?;
        endpoints.sort_unstable();
        endpoints.dedup();
        let targets = self.targets(endpoints, now).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let endpoint: String = row.try_get("endpoint_id")?;
            // An endpoint no longer active, or one whose secret does not open (nothing is
            // sent unsigned): the claim lapses, and the delivery is claimed again then.
            let Some(target) = targets.get(&endpoint) else {
                continue;
            };
            claimed.push(Claimed {
                delivery_id: row.try_get("id")?,
                message_id: row.try_get("message_id")?,
                endpoint_id: endpoint,
                owner: row.try_get("owner")?,
                payload: row.try_get("payload")?,
                target: target.clone(),
                attempts: row.try_get("attempts")?,
                total_attempts: row.try_get("total_attempts")?,
                round_started: row.try_get("round_started")?,
                lease: token,
                lease_until: lapses,
                loc: if self.postgres {
                    row.try_get("loc")?
                } else {
                    None
                },
            });
        }
        Ok(claimed)
    }

    /// The targets of `endpoints` (sorted, distinct) at `now` (Unix µs). Only active
    /// endpoints are sent to, as in [`Outbox::active`]: one deleted since the claim (its
    /// secret is gone), paused or disabled is left out, and so is one whose secret does
    /// not open (logged): nothing is sent unsigned.
    async fn targets(
        &self,
        endpoints: Vec<String>,
        now: i64,
    ) -> Result<HashMap<String, Arc<Target>>, sqlx::Error> {
        let mut q = Dynamic::new(
            "SELECT id, url, secret, previous_secret, previous_until, schedule
             FROM apierr_webhook_endpoints WHERE state = 'active' AND id IN ",
        );
        q.bind_in(endpoints);
        let mut targets = HashMap::new();
        for row in q.query().fetch_all(&self.pool).await? {
            let id: String = row.try_get("id")?;
            let secrets = match self.secrets_of(&id, &row, now) {
                Ok(secrets) => secrets,
                Err(e) => {
                    tracing::error!(error = %e, endpoint = %id, "an endpoint's secret does not open");
                    continue;
                }
            };
            let schedule: Option<String> = row.try_get("schedule")?;
            let target = Target {
                url: row.try_get("url")?,
                secrets,
                schedule: Schedule::from_column(schedule.as_deref()),
            };
            targets.insert(id, Arc::new(target));
        }
        Ok(targets)
    }

    /// Which of `endpoints` (sorted, distinct) are active: neither deleted, paused nor
    /// disabled. A running dispatcher drops its waiting claims of the others.
    pub(crate) async fn active(
        &self,
        endpoints: Vec<String>,
    ) -> Result<HashSet<String>, sqlx::Error> {
        let mut q = Dynamic::new(
            "SELECT id FROM apierr_webhook_endpoints WHERE state = 'active' AND id IN ",
        );
        q.bind_in(endpoints);
        q.query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| row.try_get("id"))
            .collect()
    }

    /// Gives back claims that were never attempted (a dispatcher shutting down): they
    /// are due again at once, for any worker.
    pub(crate) async fn release(&self, claims: &[Claimed]) -> Result<(), sqlx::Error> {
        let mut by_lease: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for c in claims {
            by_lease
                .entry(c.lease)
                .or_default()
                .push(c.delivery_id.clone());
        }
        for (lease, ids) in by_lease {
            let mut q = Dynamic::new(
                "UPDATE apierr_webhook_deliveries SET lease = NULL, lease_until = NULL
                 WHERE lease = ",
            );
            q.bind(Arg::Int(lease)).push(" AND id IN ").bind_in(ids);
            q.query().execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Records the outcomes of attempts in one transaction: deliveries marked, failed
    /// attempts kept, reports written, endpoints paused or disabled. Writes about a
    /// delivery whose claim was lost (it lapsed and another worker took it, or its
    /// endpoint was paused) are skipped; an endpoint whose run of failed messages reaches
    /// `pause_after` is paused. Returns the reports to notify about (at most one per
    /// endpoint, kind and hour).
    pub(crate) async fn record(
        &self,
        outcomes: &[Outcome],
        pause_after: i64,
        now: SystemTime,
    ) -> Result<Vec<String>, sqlx::Error> {
        let now = unix_micros(now);
        let mut tx = if self.postgres {
            self.pool.begin_with(RELAXED).await?
        } else {
            self.pool.begin().await?
        };
        self.record_delivered(&mut tx, outcomes, now).await?;
        let mut notify = Vec::new();
        // The reports written, counted once the transaction commits.
        let mut written: Vec<ReportKind> = Vec::new();
        // The delivered are marked above; here, the failed attempts.
        for o in outcomes.iter().filter(|o| o.verdict != Verdict::Delivered) {
            let c = &o.claimed;
            let started = c.round_started.unwrap_or(o.at);
            let made = c.attempts + 1;
            let n = c.total_attempts + 1;
            let status = o.status.map(i64::from);
            // A failed attempt: when, if ever, is the next?
            let mut failure = o.failure;
            let next = match o.verdict {
                Verdict::Retry => {
                    match c.target.schedule.next(
                        usize::try_from(made).unwrap_or(usize::MAX),
                        started,
                        o.at,
                        o.retry_after,
                    ) {
                        Next::At(at) => Some(at),
                        Next::Exhausted => None,
                        Next::RetryAfterTooLong => {
                            failure = Some(FailureKind::RetryAfterTooLong);
                            None
                        }
                    }
                }
                _ => None,
            };
            let state = if next.is_some() { "pending" } else { "failed" };
            let done = sqlx::query(
                "UPDATE apierr_webhook_deliveries
                 SET state = $3, attempts = $4, total_attempts = $5, round_started = $6,
                     last_status = $7, next_at = $8, lease = NULL, lease_until = NULL, updated_at = $9
                 WHERE id = $1 AND lease = $2",
            )
            .bind(&c.delivery_id)
            .bind(c.lease)
            .bind(state)
            .bind(made)
            .bind(n)
            .bind(started)
            .bind(status)
            .bind(next.unwrap_or(now))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                continue;
            }
            sqlx::query(
                "INSERT INTO apierr_webhook_attempts
                     (delivery_id, n, at, status, latency_us, response_head, error_kind, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&c.delivery_id)
            .bind(n)
            .bind(o.at)
            .bind(status)
            .bind(i64::try_from(o.latency.as_micros()).unwrap_or(i64::MAX))
            .bind(o.response_head.as_deref())
            .bind(failure.unwrap_or(FailureKind::Status).as_str())
            .bind(o.detail.as_deref())
            .execute(&mut *tx)
            .await?;
            if next.is_some() {
                continue;
            }
            // The message failed: a report, and perhaps the endpoint's too.
            let summary = failure_summary(o, made, failure);
            let report = self
                .insert_report(
                    &mut tx,
                    c,
                    ReportKind::MessageFailed,
                    &summary,
                    Some((n + 1 - made, n)),
                    None,
                    now,
                )
                .await?;
            written.push(ReportKind::MessageFailed);
            if self
                .first_this_hour(&mut tx, &c.endpoint_id, ReportKind::MessageFailed, now)
                .await?
            {
                notify.push(report);
            }
            let run: i64 = sqlx::query(
                "UPDATE apierr_webhook_endpoints SET failure_run = failure_run + 1, updated_at = $2
                 WHERE id = $1 RETURNING failure_run",
            )
            .bind(&c.endpoint_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
            .try_get("failure_run")?;
            if o.verdict != Verdict::Gone && run == pause_after - 1 {
                // One more failed message pauses it: the partner is warned first.
                if let Some(report) = self.warn(&mut tx, c, run, pause_after, now).await? {
                    written.push(ReportKind::EndpointFailing);
                    notify.push(report);
                }
                continue;
            }
            let (kind, state, summary) = if o.verdict == Verdict::Gone {
                (
                    ReportKind::EndpointDisabled,
                    "disabled",
                    "the endpoint answered 410 Gone and was disabled; new messages are kept \
                     until it is resumed"
                        .to_owned(),
                )
            } else if run >= pause_after {
                (
                    ReportKind::EndpointPaused,
                    "paused",
                    format!(
                        "{run} messages in a row failed; the endpoint was paused and new \
                         messages are kept until it is resumed"
                    ),
                )
            } else {
                continue;
            };
            // Only once: the endpoint may have been paused by an earlier outcome.
            let changed = sqlx::query(
                "UPDATE apierr_webhook_endpoints SET state = $2, updated_at = $3
                 WHERE id = $1 AND state = 'active'",
            )
            .bind(&c.endpoint_id)
            .bind(state)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                continue;
            }
            let report = self
                .insert_report(&mut tx, c, kind, &summary, None, None, now)
                .await?;
            written.push(kind);
            if self
                .first_this_hour(&mut tx, &c.endpoint_id, kind, now)
                .await?
            {
                notify.push(report);
            }
            sqlx::query(
                "UPDATE apierr_webhook_deliveries SET state = 'held', lease = NULL, lease_until = NULL, updated_at = $2
                 WHERE endpoint_id = $1 AND state = 'pending'",
            )
            .bind(&c.endpoint_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        crate::telemetry::recorded(outcomes, &written);
        Ok(notify)
    }

    /// Marks the delivered in a few statements whatever their number: one per claim and
    /// status among them (the row's own counters are incremented, and only rows still
    /// under that claim change), then one that ends their endpoints' runs of failures.
    ///
    /// On PostgreSQL the rows are found where the claim left them (`ctid`, one array
    /// parameter, so one prepared statement whatever the count), not looked up by id in
    /// the primary key: a quarter less time for the statement, measured on batches of
    /// 128. A row that changed since the claim is not there any more: its version at
    /// that `ctid` is no longer visible, and a newer one (were the change still running)
    /// is checked for the claim again. A change that kept the claim would have to be a
    /// write by this dispatcher, and the only one is this. The claim is a random number
    /// per claim, so another row's version at the same place is never taken for it.
    async fn record_delivered(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        outcomes: &[Outcome],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let delivered: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.verdict == Verdict::Delivered)
            .collect();
        if delivered.is_empty() {
            return Ok(());
        }
        // By claim and status: one statement each.
        let mut groups: BTreeMap<(i64, Option<u16>), Vec<&Outcome>> = BTreeMap::new();
        for o in &delivered {
            groups
                .entry((o.claimed.lease, o.status))
                .or_default()
                .push(o);
        }
        for ((lease, status), members) in groups {
            let mut q = Dynamic::new(
                "UPDATE apierr_webhook_deliveries
                 SET state = 'delivered', attempts = attempts + 1,
                     total_attempts = total_attempts + 1,
                     round_started = COALESCE(round_started, ",
            );
            q.bind(Arg::Int(members[0].at))
                .push("), last_status = ")
                .bind(Arg::Int(status.map_or(0, i64::from)))
                .push(", lease = NULL, lease_until = NULL, updated_at = ")
                .bind(Arg::Int(now))
                .push(" WHERE lease = ")
                .bind(Arg::Int(lease));
            let locs: Option<Vec<&str>> =
                members.iter().map(|o| o.claimed.loc.as_deref()).collect();
            match locs {
                Some(locs) => {
                    // `{"(0,1)","(0,2)"}`: the text of a `tid[]`.
                    let array = format!("{{\"{}\"}}", locs.join("\",\""));
                    q.push(" AND ctid = ANY(CAST(")
                        .bind(Arg::Text(array))
                        .push(" AS tid[]))");
                }
                None => {
                    q.push(" AND id IN ").bind_in(
                        members
                            .iter()
                            .map(|o| o.claimed.delivery_id.clone())
                            .collect(),
                    );
                }
            }
            q.query().execute(&mut **tx).await?;
        }
        let mut endpoints: Vec<&str> = delivered
            .iter()
            .map(|o| o.claimed.endpoint_id.as_str())
            .collect();
        endpoints.sort_unstable();
        endpoints.dedup();
        let mut q = Dynamic::new(
            "UPDATE apierr_webhook_endpoints SET failure_run = 0
             WHERE failure_run <> 0 AND id IN ",
        );
        q.bind_in(endpoints.into_iter().map(str::to_owned).collect());
        q.query().execute(&mut **tx).await?;
        Ok(())
    }

    /// Warns that the endpoint of `c`, with `run` messages in a row failed, is one short
    /// of being paused: a report (with the earliest time the pause can come), and the
    /// [`FAILING_EVENT`] message to the owner's other endpoints. The report to notify
    /// about, if it is the first of its kind this hour; nothing if the endpoint is no
    /// longer active.
    async fn warn(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        c: &Claimed,
        run: i64,
        pause_after: i64,
        now: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        let active: Option<String> = sqlx::query_scalar(
            "SELECT state FROM apierr_webhook_endpoints WHERE id = $1 AND state = 'active'",
        )
        .bind(&c.endpoint_id)
        .fetch_optional(&mut **tx)
        .await?;
        if active.is_none() {
            return Ok(None);
        }
        // The next message to fail is one already waiting (the oldest round first) or
        // the next one written: it fails at its last retry at the earliest.
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(COALESCE(round_started, next_at)) FROM apierr_webhook_deliveries
             WHERE endpoint_id = $1 AND state = 'pending'",
        )
        .bind(&c.endpoint_id)
        .fetch_one(&mut **tx)
        .await?;
        let last_retry = c
            .target
            .schedule
            .offsets()
            .last()
            .map_or(0, |o| i64::try_from(o.as_micros()).unwrap_or(i64::MAX));
        let pauses_at = oldest.unwrap_or(now).max(now).saturating_add(last_retry);
        let left = Duration::from_micros(u64::try_from(pauses_at - now).unwrap_or(0));
        let summary = format!(
            "{run} messages in a row failed; one more failed message pauses the endpoint, \
             at the earliest at {} (in about {} s): fix the receiver, or new messages will be \
             kept until the endpoint is resumed",
            rfc3339(from_micros(pauses_at)),
            left.as_secs(),
        );
        let report = self
            .insert_report(
                tx,
                c,
                ReportKind::EndpointFailing,
                &summary,
                None,
                Some(pauses_at),
                now,
            )
            .await?;
        let data = serde_json::json!({
            "endpoint_id": c.endpoint_id,
            "report_id": report,
            "failure_run": run,
            "pause_after": pause_after,
            "pauses_at": rfc3339(from_micros(pauses_at)),
        });
        self.fan_out(
            tx,
            &c.owner,
            Some(&c.endpoint_id),
            FAILING_EVENT,
            &data,
            from_micros(now),
        )
        .await?;
        let first = self
            .first_this_hour(tx, &c.endpoint_id, ReportKind::EndpointFailing, now)
            .await?;
        Ok(first.then_some(report))
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_report(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        c: &Claimed,
        kind: ReportKind,
        summary: &str,
        attempts: Option<(i64, i64)>,
        pauses_at: Option<i64>,
        now: i64,
    ) -> Result<String, sqlx::Error> {
        let id = new_id("rpt_");
        let message = attempts.is_some();
        sqlx::query(
            "INSERT INTO apierr_webhook_reports
                 (id, owner, endpoint_id, kind, delivery_id, message_id, event_type,
                  first_attempt, last_attempt, summary, pauses_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6,
                     (SELECT event_type FROM apierr_webhook_messages WHERE id = $6),
                     $7, $8, $9, $10, $11)",
        )
        .bind(&id)
        .bind(&c.owner)
        .bind(&c.endpoint_id)
        .bind(kind.as_str())
        .bind(message.then_some(c.delivery_id.as_str()))
        .bind(message.then_some(c.message_id.as_str()))
        .bind(attempts.map(|a| a.0))
        .bind(attempts.map(|a| a.1))
        .bind(summary)
        .bind(pauses_at)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }

    /// Whether this is the first notice this hour about `endpoint` and `kind` (and
    /// records it).
    async fn first_this_hour(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        endpoint: &str,
        kind: ReportKind,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let hour = now / 3_600_000_000;
        let inserted = sqlx::query(
            "INSERT INTO apierr_webhook_notices (endpoint_id, kind, hour) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(endpoint)
        .bind(kind.as_str())
        .bind(hour)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        Ok(inserted > 0)
    }
}

fn failure_summary(o: &Outcome, made: i64, failure: Option<FailureKind>) -> String {
    let last = match (o.status, failure) {
        (_, Some(FailureKind::RetryAfterTooLong)) => {
            "the receiver asked to wait past the retry schedule".to_owned()
        }
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(FailureKind::Timeout)) => "no answer within the timeout".to_owned(),
        (None, Some(FailureKind::AddressNotAllowed)) => {
            "the endpoint's address is not allowed".to_owned()
        }
        (None, _) => "no connection".to_owned(),
    };
    let why = match o.verdict {
        Verdict::Retry => "no more retries",
        Verdict::Gone => "the endpoint is gone",
        _ => "not retried",
    };
    let attempts = if made == 1 { "attempt" } else { "attempts" };
    format!("the message was not delivered after {made} {attempts} ({why}); last: {last}")
}
