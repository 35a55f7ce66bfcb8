//! Retention: how long each kind of record is kept, the purge `serve` and `webhooks
//! worker` run in the background, and `apierr purge`.
//!
//! | kind | kept | what goes |
//! |---|---|---|
//! | `tokens` | until expiry ([`Retention::expired_tokens`] after it, 0 by default) | expired access tokens, portal links and portal sessions |
//! | `idempotency` | 24 h (the layer's keep-for) | expired idempotency records (in the database; Redis expires its own) |
//! | `messages` | 30 days | webhook messages whose deliveries are all done and that no kept report shows, with their deliveries and attempts |
//! | `reports` | 90 days | failure reports, and the notification marks of that age |
//! | `reconciliation` | until acknowledged, and 90 days | acknowledged entries of that age (open ones stay) |
//!
//! Every purge deletes in batches of a few hundred rows, each its own short statement.

use std::fmt;
use std::time::{Duration, SystemTime};

use apierr_axum::store::{Database, IdempotencyStore, ReconciliationLog, SqlStore};
use apierr_webhooks::Outbox;

use crate::ServeError;
use crate::store::{Store, unix};

/// How long each kind of record is kept (see the module's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// How long an expired token is kept after its expiry.
    pub expired_tokens: Duration,
    /// How long a done webhook message is kept.
    pub messages: Duration,
    /// How long a failure report is kept.
    pub reports: Duration,
    /// How long an acknowledged reconciliation entry is kept.
    pub reconciliation: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            expired_tokens: Duration::ZERO,
            messages: apierr_webhooks::DEFAULT_MESSAGE_RETENTION,
            reports: apierr_webhooks::DEFAULT_REPORT_RETENTION,
            reconciliation: Duration::from_secs(90 * 24 * 60 * 60),
        }
    }
}

/// A kind of record that retention deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Expired access tokens.
    Tokens,
    /// Expired idempotency records.
    Idempotency,
    /// Done webhook messages, with deliveries and attempts.
    Messages,
    /// Failure reports.
    Reports,
    /// Acknowledged reconciliation entries.
    Reconciliation,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::Tokens,
        Kind::Idempotency,
        Kind::Messages,
        Kind::Reports,
        Kind::Reconciliation,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tokens => "tokens",
            Kind::Idempotency => "idempotency",
            Kind::Messages => "messages",
            Kind::Reports => "reports",
            Kind::Reconciliation => "reconciliation",
        }
    }

    /// The kind of a name.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many records of each kind a purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Expired tokens.
    pub tokens: u64,
    /// Idempotency records.
    pub idempotency: u64,
    /// Webhook messages (each with its deliveries and attempts).
    pub messages: u64,
    /// Failure reports.
    pub reports: u64,
    /// Reconciliation entries.
    pub reconciliation: u64,
}

impl Purged {
    /// Whether anything was deleted.
    pub fn any(&self) -> bool {
        *self != Purged::default()
    }
}

impl fmt::Display for Purged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tokens {}, idempotency records {}, messages {}, reports {}, reconciliation entries {}",
            self.tokens, self.idempotency, self.messages, self.reports, self.reconciliation
        )
    }
}

/// The stores a purge deletes from.
#[derive(Debug, Clone)]
pub(crate) struct Purger {
    store: Store,
    outbox: Outbox,
    log: SqlStore,
}

impl Purger {
    /// A purger on its own pool of `url`: on SQLite, a connection of its own, so that
    /// reads of requests go on beside its writes (write-ahead log).
    pub(crate) async fn connect(url: &str) -> Result<Purger, ServeError> {
        let database = Database::connect(url).await.map_err(ServeError::Database)?;
        let store = Store::open(&database, false)
            .await
            .map_err(ServeError::Database)?;
        let log = SqlStore::open(&database).await.map_err(ServeError::Store)?;
        Ok(Purger {
            outbox: store.outbox.clone(),
            store,
            log,
        })
    }

    /// Deletes what `retention` no longer keeps at `now`, of `kinds`.
    pub(crate) async fn purge(
        &self,
        retention: &Retention,
        kinds: &[Kind],
        now: SystemTime,
    ) -> Result<Purged, ServeError> {
        let ago = |d: Duration| now.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut purged = Purged::default();
        for kind in kinds {
            match kind {
                Kind::Tokens => {
                    purged.tokens = self
                        .store
                        .purge_tokens(unix(ago(retention.expired_tokens)))
                        .await
                        .map_err(ServeError::Database)?;
                }
                Kind::Idempotency => {
                    // A record expires its keep-for after it was made.
                    purged.idempotency = IdempotencyStore::purge(&self.log, now)
                        .await
                        .map_err(ServeError::Store)?;
                }
                Kind::Messages => {
                    purged.messages = self
                        .outbox
                        .purge_messages(retention.messages, now)
                        .await
                        .map_err(ServeError::Database)?;
                }
                Kind::Reports => {
                    purged.reports = self
                        .outbox
                        .purge_reports(retention.reports, now)
                        .await
                        .map_err(ServeError::Database)?;
                }
                Kind::Reconciliation => {
                    purged.reconciliation =
                        ReconciliationLog::purge(&self.log, ago(retention.reconciliation))
                            .await
                            .map_err(ServeError::Store)?;
                }
            }
        }
        Ok(purged)
    }
}

/// How often the background purge runs.
pub(crate) const PURGE_EVERY: Duration = Duration::from_secs(10 * 60);

/// Runs the purge of `retention` every [`PURGE_EVERY`] (the first one a minute after
/// the start), for as long as the process does; a failure is logged and tried again.
pub(crate) fn spawn_purge(purger: Purger, retention: Retention, clock: apierr_axum::Clock) {
    tokio::spawn(async move {
        let mut next = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            tokio::time::sleep_until(next).await;
            next += PURGE_EVERY;
            match purger.purge(&retention, &Kind::ALL, clock()).await {
                Ok(purged) if purged.any() => {
                    tracing::info!(%purged, "purged records past their retention")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not purge records past their retention")
                }
            }
        }
    });
}

/// `apierr purge`: deletes, now, the records of `kinds` in `database_url` older than
/// `older_than` (each kind's own retention when `None`; idempotency records go when
/// they expire, whatever `older_than` says).
pub async fn purge(
    database_url: &str,
    older_than: Option<Duration>,
    kinds: &[Kind],
) -> Result<Purged, ServeError> {
    let retention = match older_than {
        Some(d) => Retention {
            expired_tokens: d,
            messages: d,
            reports: d,
            reconciliation: d,
        },
        None => Retention::default(),
    };
    Purger::connect(database_url)
        .await?
        .purge(&retention, kinds, SystemTime::now())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_name_that_reads_back() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
        }
        assert_eq!(Kind::parse("everything"), None);
    }
}
