//! Retention: old messages (with their deliveries and attempts), reports and notices are
//! deleted in small batches, each its own short transaction, so that a purge of millions
//! of rows never holds a lock that requests or deliveries wait long for.

use std::time::{Duration, SystemTime};

use sqlx::Row;

use crate::Outbox;
use crate::endpoint::unix_micros;
use crate::outbox::{Arg, Dynamic};

/// Delivered messages (and failed ones without a report), with their attempts, are kept
/// 30 days: the window a partner may replay in.
pub const DEFAULT_MESSAGE_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Failure reports, and the messages and attempts they show, are kept 90 days.
pub const DEFAULT_REPORT_RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// How many messages or reports one batch deletes.
pub const PURGE_BATCH: usize = 500;

impl Outbox {
    /// Deletes, in batches of [`PURGE_BATCH`], every message older than `now -
    /// messages` whose deliveries are all done (delivered, failed or cancelled: none
    /// pending or held) and that no kept report shows, with its deliveries and attempts.
    pub async fn purge_messages(
        &self,
        messages: Duration,
        now: SystemTime,
    ) -> Result<u64, sqlx::Error> {
        let before = unix_micros(now.checked_sub(messages).unwrap_or(SystemTime::UNIX_EPOCH));
        let mut purged = 0;
        loop {
            let ids: Vec<String> = sqlx::query(
                "SELECT m.id FROM apierr_webhook_messages m
                 WHERE m.created_at < $1
                   AND NOT EXISTS (SELECT 1 FROM apierr_webhook_deliveries d
                                   WHERE d.message_id = m.id AND d.state IN ('pending', 'held'))
                   AND NOT EXISTS (SELECT 1 FROM apierr_webhook_reports r WHERE r.message_id = m.id)
                 ORDER BY m.created_at LIMIT $2",
            )
            .bind(before)
            .bind(PURGE_BATCH as i64)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
            if ids.is_empty() {
                return Ok(purged);
            }
            let full = ids.len() == PURGE_BATCH;
            let mut tx = self.pool.begin().await?;
            // A delivery queued again meanwhile (a replay) keeps its message: only done
            // deliveries go, and a message only once it has none left.
            let mut attempts = Dynamic::new(
                "DELETE FROM apierr_webhook_attempts WHERE delivery_id IN
                 (SELECT id FROM apierr_webhook_deliveries
                  WHERE state NOT IN ('pending', 'held') AND message_id IN ",
            );
            attempts.bind_in(ids.clone()).push(")");
            attempts.query().execute(&mut *tx).await?;
            let mut deliveries = Dynamic::new(
                "DELETE FROM apierr_webhook_deliveries
                 WHERE state NOT IN ('pending', 'held') AND message_id IN ",
            );
            deliveries.bind_in(ids.clone());
            deliveries.query().execute(&mut *tx).await?;
            let mut gone = Dynamic::new(
                "DELETE FROM apierr_webhook_messages
                 WHERE NOT EXISTS (SELECT 1 FROM apierr_webhook_deliveries d
                                   WHERE d.message_id = apierr_webhook_messages.id)
                   AND id IN ",
            );
            gone.bind_in(ids);
            purged += gone.query().execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            if !full {
                return Ok(purged);
            }
            // Room between batches for the writes of requests and deliveries.
            tokio::task::yield_now().await;
        }
    }

    /// Deletes, in batches, every failure report older than `now - reports`, and the
    /// notification marks of that age.
    pub async fn purge_reports(
        &self,
        reports: Duration,
        now: SystemTime,
    ) -> Result<u64, sqlx::Error> {
        let before = unix_micros(now.checked_sub(reports).unwrap_or(SystemTime::UNIX_EPOCH));
        let mut purged = 0;
        loop {
            let done = sqlx::query(
                "DELETE FROM apierr_webhook_reports WHERE id IN
                 (SELECT id FROM apierr_webhook_reports WHERE created_at < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(PURGE_BATCH as i64)
            .execute(&self.pool)
            .await?
            .rows_affected();
            purged += done;
            if done < PURGE_BATCH as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let mut notices = Dynamic::new("DELETE FROM apierr_webhook_notices WHERE hour < ");
        notices.bind(Arg::Int(before / 3_600_000_000));
        notices.query().execute(&self.pool).await?;
        Ok(purged)
    }
}
