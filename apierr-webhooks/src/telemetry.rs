//! The dispatcher's metrics, through the `metrics` facade (feature `metrics`), to
//! whatever recorder the process installed:
//!
//! - `apierr_webhook_attempts_total{outcome, failure}`: every recorded attempt, `outcome`
//!   one of `delivered`, `retry`, `refused`, `gone`, `failure` its kind (`timeout`,
//!   `connection`, `status`, …) or empty;
//! - `apierr_webhook_attempt_duration_seconds{outcome}`: each attempt's latency;
//! - `apierr_webhook_reports_total{kind}`: failure reports written (`message_failed`,
//!   `endpoint_paused`, `endpoint_disabled`), so that pauses and disables are counted;
//! - `apierr_webhook_queue_depth{state}` and `apierr_webhook_queue_oldest_age_seconds`:
//!   deliveries waiting (`pending`, `held`) and the age of the oldest pending one, read
//!   from the database by [`Dispatcher::run`](crate::Dispatcher::run) every few seconds.
//!
//! No label names an endpoint, partner or message: the set stays bounded however many
//! partners register endpoints; which endpoint failed is in its failure reports.

use crate::queue::Outcome;
use crate::report::ReportKind;

/// Counts the outcomes and reports of one committed recording.
pub(crate) fn recorded(outcomes: &[Outcome], reports: &[ReportKind]) {
    #[cfg(feature = "metrics")]
    {
        for o in outcomes {
            let outcome = o.verdict.as_str();
            let failure = o.failure.map_or("", crate::FailureKind::as_str);
            metrics::counter!(
                "apierr_webhook_attempts_total",
                "outcome" => outcome,
                "failure" => failure,
            )
            .increment(1);
            metrics::histogram!("apierr_webhook_attempt_duration_seconds", "outcome" => outcome)
                .record(o.latency.as_secs_f64());
        }
        for kind in reports {
            metrics::counter!("apierr_webhook_reports_total", "kind" => kind.as_str()).increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (outcomes, reports);
}

/// Sets the queue gauges from one reading of the queue.
#[cfg(feature = "metrics")]
pub(crate) fn queue(pending: u64, held: u64, oldest_age: std::time::Duration) {
    metrics::gauge!("apierr_webhook_queue_depth", "state" => "pending").set(pending as f64);
    metrics::gauge!("apierr_webhook_queue_depth", "state" => "held").set(held as f64);
    metrics::gauge!("apierr_webhook_queue_oldest_age_seconds").set(oldest_age.as_secs_f64());
}

/// How often [`Dispatcher::run`](crate::Dispatcher::run) reads the queue for its gauges.
#[cfg(feature = "metrics")]
pub(crate) const QUEUE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads the queue (deliveries waiting, by state, and the oldest pending one's creation)
/// and sets its gauges.
#[cfg(feature = "metrics")]
pub(crate) async fn read_queue(
    pool: &sqlx::AnyPool,
    now: std::time::SystemTime,
) -> Result<(), sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT state, COUNT(*) AS n, MIN(created_at) AS oldest
         FROM apierr_webhook_deliveries WHERE state IN ('pending', 'held') GROUP BY state",
    )
    .fetch_all(pool)
    .await?;
    let (mut pending, mut held, mut oldest) = (0, 0, None);
    for row in rows {
        let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
        match row.try_get::<String, _>("state")?.as_str() {
            "pending" => {
                pending = n;
                oldest = row.try_get::<Option<i64>, _>("oldest")?;
            }
            _ => held = n,
        }
    }
    let now = crate::endpoint::unix_micros(now);
    let age = oldest.map_or(0, |created| now.saturating_sub(created).max(0));
    queue(
        pending,
        held,
        std::time::Duration::from_micros(u64::try_from(age).unwrap_or(0)),
    );
    Ok(())
}
