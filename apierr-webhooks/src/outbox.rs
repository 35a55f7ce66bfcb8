//! The transactional outbox: endpoints, messages and their deliveries, failed attempts
//! and reports, in the application's own database (SQLite or PostgreSQL).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use apierr_store::{Database, Keyring};
use sqlx::{Any, AnyConnection, AnyPool, Row};
use tokio::sync::Notify;

use crate::endpoint::{Endpoint, EndpointState, Schedule, Secret, from_micros, unix_micros};
use crate::events::{Subscription, like_pattern};
use crate::report::{Attempt, FailureKind, Report, ReportKind, rfc3339};
use crate::schema::{RETENTION, SCHEMA, SCHEMA_COMPONENT, room, subscriptions};

/// The outbox. Cheap to clone (a pool and a flag).
///
/// Messages are written with [`Outbox::enqueue`] inside the application's transaction, so a
/// message exists exactly when the change it announces does; a [`Dispatcher`](crate::Dispatcher)
/// delivers them.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub(crate) pool: AnyPool,
    /// PostgreSQL claims with `FOR UPDATE SKIP LOCKED`; SQLite has one writer and needs
    /// no row locks.
    pub(crate) postgres: bool,
    /// Wakes this process's dispatchers when a message is committed here, so the first
    /// attempt does not wait for the next poll.
    wake: Arc<Notify>,
    /// Seals endpoint secrets at rest, when set ([`Outbox::seal`]).
    pub(crate) keyring: Option<Arc<Keyring>>,
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryState {
    /// Waiting for its next attempt (or being attempted).
    Pending,
    /// The receiver answered with a success.
    Delivered,
    /// Its attempts ran out or the receiver refused it; a report was written.
    Failed,
    /// Kept while its endpoint is paused or disabled; sent when it is resumed.
    Held,
    /// Its endpoint was deleted.
    Cancelled,
}

impl DeliveryState {
    /// The state as stored: `pending`, `delivered`, `failed`, `held`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Held => "held",
            DeliveryState::Cancelled => "cancelled",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<DeliveryState> {
        Some(match s {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            "held" => DeliveryState::Held,
            "cancelled" => DeliveryState::Cancelled,
            _ => return None,
        })
    }
}

/// One message's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The message (its `webhook-id`).
    pub message_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made, over every round (replays start new rounds).
    pub attempts: i64,
    /// The last status the receiver answered with.
    pub last_status: Option<u16>,
    /// When the message was written.
    pub created_at: SystemTime,
}

/// A message as its partner may see it: what was sent, and how each delivery of it
/// stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// Its id (its `webhook-id`).
    pub id: String,
    /// Its event type.
    pub event_type: String,
    /// When it was written.
    pub created_at: SystemTime,
    /// Its deliveries, by endpoint (deleted endpoints' included).
    pub deliveries: Vec<Delivery>,
}

/// Which deliveries to send again (all the given conditions hold). Delivered, failed and
/// held deliveries are replayed; pending ones are on their way already.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Only this partner's.
    pub owner: Option<String>,
    /// Only this message's.
    pub message_id: Option<String>,
    /// Only to this endpoint.
    pub endpoint_id: Option<String>,
    /// Only messages written at or after this time.
    pub since: Option<SystemTime>,
    /// Only messages written before this time.
    pub until: Option<SystemTime>,
    /// Only deliveries in this state.
    pub state: Option<DeliveryState>,
}

/// A statement whose conditions depend on the request: text with `$n` placeholders and
/// the values in order. (sqlx's `QueryBuilder` writes `?` for the `Any` driver, which
/// PostgreSQL does not read.)
#[derive(Debug, Default)]
pub(crate) struct Dynamic {
    sql: String,
    args: Vec<Arg>,
}

#[derive(Debug)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

impl Dynamic {
    pub(crate) fn new(sql: &str) -> Dynamic {
        Dynamic {
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Dynamic {
        self.sql.push_str(sql);
        self
    }

    pub(crate) fn bind(&mut self, arg: Arg) -> &mut Dynamic {
        self.args.push(arg);
        self.sql.push_str(&format!("${}", self.args.len()));
        self
    }

    /// `(…)`: an `IN` list of `items`, padded with its last item to a power of two, so
    /// that a batch of any size is one of a few statements the connection has prepared
    /// already (PostgreSQL would otherwise parse and plan each length anew).
    pub(crate) fn bind_in(&mut self, items: Vec<String>) -> &mut Dynamic {
        let len = items.len().max(1).next_power_of_two();
        let last = items.last().cloned().unwrap_or_default();
        self.sql.push('(');
        for (i, item) in items
            .into_iter()
            .chain(std::iter::repeat(last))
            .take(len)
            .enumerate()
        {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(Arg::Text(item));
        }
        self.sql.push(')');
        self
    }

    pub(crate) fn query(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for arg in &self.args {
            q = match arg {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

fn status_of(v: Option<i64>) -> Option<u16> {
    v.and_then(|s| u16::try_from(s).ok())
}

/// An attempt's row (`at, status, latency_us, response_head, error_kind, error`).
fn attempt_from(a: &sqlx::any::AnyRow) -> Result<Attempt, sqlx::Error> {
    Ok(Attempt {
        at: from_micros(a.try_get("at")?),
        status: status_of(a.try_get("status")?),
        latency: Duration::from_micros(
            u64::try_from(a.try_get::<i64, _>("latency_us")?).unwrap_or(0),
        ),
        response_head: a.try_get("response_head")?,
        kind: FailureKind::from_column(
            a.try_get::<Option<String>, _>("error_kind")?
                .as_deref()
                .unwrap_or("status"),
        ),
        detail: a.try_get("error")?,
    })
}

const ENDPOINT_COLUMNS: &str =
    "id, owner, url, state, failure_run, schedule, event_types, created_at";

fn endpoint_from(row: &sqlx::any::AnyRow) -> Result<Endpoint, sqlx::Error> {
    let schedule: Option<String> = row.try_get("schedule")?;
    Ok(Endpoint {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        url: row.try_get("url")?,
        state: EndpointState::from_column(&row.try_get::<String, _>("state")?),
        failure_run: row.try_get("failure_run")?,
        schedule: Schedule::from_column(schedule.as_deref()),
        subscription: Subscription::from_column(
            row.try_get::<Option<String>, _>("event_types")?.as_deref(),
        ),
        created_at: from_micros(row.try_get("created_at")?),
    })
}

impl Outbox {
    /// Opens the database at `url` (`sqlite://…` or `postgres://…`) with a pool of its
    /// own, through apierr-store's one connection setup ([`Database`]: SQLite files are
    /// created and run in write-ahead-log mode, a commit survives a crash of the process,
    /// which is what at-least-once needs), and creates the outbox's tables if they are
    /// missing.
    pub async fn connect(url: &str) -> Result<Outbox, sqlx::Error> {
        Outbox::new(Database::connect(url).await?.pool().clone()).await
    }

    /// The outbox in an existing pool (the application's, so that [`Outbox::enqueue`]
    /// can join its transactions), creating the tables if they are missing.
    pub async fn new(pool: AnyPool) -> Result<Outbox, sqlx::Error> {
        let postgres = {
            let conn = pool.acquire().await?;
            conn.backend_name().eq_ignore_ascii_case("postgresql")
        };
        apierr_store::migrate(
            &pool,
            SCHEMA_COMPONENT,
            &[SCHEMA, RETENTION, subscriptions(postgres), room(postgres)],
        )
        .await?;
        Ok(Outbox {
            pool,
            postgres,
            wake: Arc::new(Notify::new()),
            keyring: None,
        })
    }

    /// The same outbox through another pool of the same database: a dispatcher's own
    /// connections beside the application's, sharing this outbox's wake-ups.
    pub fn with_pool(&self, pool: AnyPool) -> Outbox {
        Outbox {
            pool,
            postgres: self.postgres,
            wake: self.wake.clone(),
            keyring: self.keyring.clone(),
        }
    }

    /// How a statement asks for the rows whose id a subquery lists: `IN (…)` on SQLite;
    /// on PostgreSQL `= ANY(ARRAY(…))`, which looks each id up where `IN` may hash the
    /// list and scan the whole table for it.
    pub(crate) fn id_in(&self) -> (&'static str, &'static str) {
        if self.postgres {
            ("= ANY(ARRAY(", "))")
        } else {
            ("IN (", ")")
        }
    }

    /// The pool the outbox uses.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Tells this process's dispatchers that messages were committed, so they do not wait
    /// for their next poll. Dispatchers in other processes find them when they poll.
    pub fn wake(&self) {
        self.wake.notify_waiters();
        // And one kept for a dispatcher busy claiming right now, which would otherwise
        // miss this and wait for its next poll.
        self.wake.notify_one();
    }

    pub(crate) fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Writes a message of `event_type` with `data` for every endpoint of `owner` whose
    /// subscription includes that type, on `conn`: pass the application's transaction
    /// (`&mut *tx`) so that the message is committed, or rolled back, with the change it
    /// announces. Endpoints that are paused or disabled keep it (held) until they are
    /// resumed; when no endpoint of `owner` takes it, nothing is written. Returns the
    /// message's id, the `webhook-id` every attempt carries. Call [`Outbox::wake`] after
    /// the commit.
    ///
    /// The body is Standard Webhooks' suggested form: `{"type", "timestamp", "data"}`.
    pub async fn enqueue(
        &self,
        conn: &mut AnyConnection,
        owner: &str,
        event_type: &str,
        data: &serde_json::Value,
        now: SystemTime,
    ) -> Result<String, sqlx::Error> {
        self.fan_out(conn, owner, None, event_type, data, now).await
    }

    /// [`Outbox::enqueue`], leaving out the endpoint `except` (a warning about it).
    pub(crate) async fn fan_out(
        &self,
        conn: &mut AnyConnection,
        owner: &str,
        except: Option<&str>,
        event_type: &str,
        data: &serde_json::Value,
        now: SystemTime,
    ) -> Result<String, sqlx::Error> {
        let id = new_id("msg_");
        let payload = serde_json::json!({
            "type": event_type,
            "timestamp": rfc3339(now),
            "data": data,
        })
        .to_string();
        let now = unix_micros(now);
        // The deliveries first: a partner without endpoints costs one statement, and
        // no message is kept that nobody will receive.
        let deliveries = sqlx::query(
            "INSERT INTO apierr_webhook_deliveries
                 (id, message_id, endpoint_id, owner, state, next_at, created_at, updated_at)
             SELECT $1 || '.' || e.id, $1, e.id, e.owner,
                    CASE WHEN e.state = 'active' THEN 'pending' ELSE 'held' END, $2, $2, $2
             FROM apierr_webhook_endpoints e
             WHERE e.owner = $3 AND e.state <> 'deleted' AND e.id <> $5
               AND (e.event_types IS NULL OR e.event_types LIKE $4 ESCAPE '\\')",
        )
        .bind(&id)
        .bind(now)
        .bind(owner)
        .bind(like_pattern(event_type))
        .bind(except.unwrap_or(""))
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if deliveries > 0 {
            sqlx::query(
                "INSERT INTO apierr_webhook_messages (id, owner, event_type, payload, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&id)
            .bind(owner)
            .bind(event_type)
            .bind(&payload)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        Ok(id)
    }

    /// Registers an endpoint of `owner` at `url` (check it first with
    /// [`AddressPolicy::check_url`](crate::AddressPolicy::check_url)), signed with
    /// `secret`, retried on `schedule`, receiving the event types of `subscription`
    /// (check a partner's list with [`EventTypes::subscription`](crate::EventTypes::subscription)).
    pub async fn register(
        &self,
        owner: &str,
        url: &str,
        secret: &Secret,
        schedule: &Schedule,
        subscription: &Subscription,
        now: SystemTime,
    ) -> Result<Endpoint, sqlx::Error> {
        let id = new_id("ep_");
        let at = unix_micros(now);
        let column = (schedule != &Schedule::default()).then(|| schedule.to_column());
        sqlx::query(
            "INSERT INTO apierr_webhook_endpoints
                 (id, owner, url, secret, schedule, event_types, state, failure_run,
                  created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'active', 0, $7, $7)",
        )
        .bind(&id)
        .bind(owner)
        .bind(url)
        .bind(self.stored_secret(&id, secret).as_ref())
        .bind(column)
        .bind(subscription.to_column())
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(Endpoint {
            id,
            owner: owner.to_owned(),
            url: url.to_owned(),
            state: EndpointState::Active,
            failure_run: 0,
            schedule: schedule.clone(),
            subscription: subscription.clone(),
            created_at: from_micros(at),
        })
    }

    /// Changes which event types an endpoint of `owner` receives, from the next message
    /// on: messages already written keep the endpoints they were written for. Whether the
    /// endpoint exists.
    pub async fn subscribe(
        &self,
        owner: &str,
        id: &str,
        subscription: &Subscription,
        now: SystemTime,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE apierr_webhook_endpoints SET event_types = $3, updated_at = $4
             WHERE owner = $1 AND id = $2 AND state <> 'deleted'",
        )
        .bind(owner)
        .bind(id)
        .bind(subscription.to_column())
        .bind(unix_micros(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The endpoints of `owner`, oldest first.
    pub async fn endpoints(&self, owner: &str) -> Result<Vec<Endpoint>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM apierr_webhook_endpoints
             WHERE owner = $1 AND state <> 'deleted' ORDER BY created_at, id"
        ))
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(endpoint_from).collect()
    }

    /// The endpoint `id` of `owner`.
    pub async fn endpoint(&self, owner: &str, id: &str) -> Result<Option<Endpoint>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM apierr_webhook_endpoints
             WHERE owner = $1 AND id = $2 AND state <> 'deleted'"
        ))
        .bind(owner)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(endpoint_from).transpose()
    }

    /// Where an endpoint of `owner` receives and the secrets a message to it is signed
    /// with at `now` (the current one, and the previous one while it still signs).
    pub(crate) async fn signing(
        &self,
        owner: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<Option<(String, Vec<Secret>)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT url, secret, previous_secret, previous_until FROM apierr_webhook_endpoints
             WHERE owner = $1 AND id = $2 AND state <> 'deleted'",
        )
        .bind(owner)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let secrets = self.secrets_of(id, &row, unix_micros(now))?;
        Ok(Some((row.try_get("url")?, secrets)))
    }

    /// The secrets of an endpoint's row (`secret`, `previous_secret`, `previous_until`)
    /// that sign at `now` (Unix µs), opened. A secret that does not open is an error: a
    /// message is never sent unsigned.
    pub(crate) fn secrets_of(
        &self,
        endpoint: &str,
        row: &sqlx::any::AnyRow,
        now: i64,
    ) -> Result<Vec<Secret>, sqlx::Error> {
        let mut stored = vec![row.try_get::<String, _>("secret")?];
        let previous: Option<String> = row.try_get("previous_secret")?;
        let until: Option<i64> = row.try_get("previous_until")?;
        if let (Some(previous), Some(until)) = (previous, until)
            && until > now
        {
            stored.push(previous);
        }
        stored
            .iter()
            .map(|s| self.open_secret(endpoint, s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }

    /// Deletes an endpoint: its waiting deliveries are cancelled, its history and
    /// reports stay. Whether it existed. Nothing is claimed for it from then on, and a
    /// running dispatcher drops what it had claimed for it and not started at its next
    /// claim (within its poll interval). Attempts already under way finish, and their
    /// outcomes are not recorded: the deliveries stay cancelled.
    pub async fn delete_endpoint(
        &self,
        owner: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<bool, sqlx::Error> {
        let now = unix_micros(now);
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query(
            // Its secrets go with it: nothing signs for it again.
            "UPDATE apierr_webhook_endpoints SET state = 'deleted', updated_at = $3,
                 secret = '', previous_secret = NULL
             WHERE owner = $1 AND id = $2 AND state <> 'deleted'",
        )
        .bind(owner)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if deleted {
            sqlx::query(
                "UPDATE apierr_webhook_deliveries
                 SET state = 'cancelled', lease = NULL, lease_until = NULL, updated_at = $2
                 WHERE endpoint_id = $1 AND state IN ('pending', 'held')",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// Replaces an endpoint's secret with `secret`; messages keep being signed with the
    /// old one too for `overlap`, so a receiver can switch without dropping any. Whether
    /// the endpoint exists.
    pub async fn rotate_secret(
        &self,
        owner: &str,
        id: &str,
        secret: &Secret,
        overlap: Duration,
        now: SystemTime,
    ) -> Result<bool, sqlx::Error> {
        let until = unix_micros(now + overlap);
        let done = sqlx::query(
            "UPDATE apierr_webhook_endpoints
             SET previous_secret = secret, previous_until = $3, secret = $4, updated_at = $5
             WHERE owner = $1 AND id = $2 AND state <> 'deleted'",
        )
        .bind(owner)
        .bind(id)
        .bind(until)
        .bind(self.stored_secret(id, secret).as_ref())
        .bind(unix_micros(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Resumes a paused or disabled endpoint: its run of failures is forgotten and the
    /// messages held for it are sent. The number of messages queued again, or `None` if
    /// there is no such endpoint.
    pub async fn resume(
        &self,
        owner: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<Option<u64>, sqlx::Error> {
        let now = unix_micros(now);
        let mut tx = self.pool.begin().await?;
        let found = sqlx::query(
            "UPDATE apierr_webhook_endpoints
             SET state = 'active', failure_run = 0, updated_at = $3
             WHERE owner = $1 AND id = $2 AND state <> 'deleted'",
        )
        .bind(owner)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if !found {
            return Ok(None);
        }
        let queued = sqlx::query(
            "UPDATE apierr_webhook_deliveries
             SET state = 'pending', attempts = 0, round_started = NULL, next_at = $2,
                 lease = NULL, lease_until = NULL, updated_at = $2
             WHERE endpoint_id = $1 AND state = 'held'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        self.wake();
        Ok(Some(queued))
    }

    /// Sends the deliveries `filter` selects again, as new rounds of attempts (with the
    /// same message ids, so receivers can recognise what they already have). Deliveries
    /// to a paused or disabled endpoint are held until it is resumed. How many were
    /// queued or held.
    pub async fn replay(&self, filter: &Replay, now: SystemTime) -> Result<u64, sqlx::Error> {
        let now = unix_micros(now);
        let mut q = Dynamic::new(
            "UPDATE apierr_webhook_deliveries
             SET attempts = 0, round_started = NULL, lease = NULL, lease_until = NULL, next_at = ",
        );
        q.bind(Arg::Int(now))
            .push(", updated_at = ")
            .bind(Arg::Int(now))
            .push(
                ", state = CASE WHEN (SELECT e.state FROM apierr_webhook_endpoints e
                               WHERE e.id = apierr_webhook_deliveries.endpoint_id) = 'active'
                     THEN 'pending' ELSE 'held' END
             WHERE ",
            );
        self.replay_selection(&mut q, filter);
        let n = q.query().execute(&self.pool).await?.rows_affected();
        if n > 0 {
            self.wake();
        }
        Ok(n)
    }

    /// How many deliveries [`Outbox::replay`] would send again with `filter`, so that an
    /// API can refuse a replay larger than it allows before queuing any.
    pub async fn replay_count(&self, filter: &Replay) -> Result<u64, sqlx::Error> {
        let mut q = Dynamic::new("SELECT COUNT(*) AS n FROM apierr_webhook_deliveries WHERE ");
        self.replay_selection(&mut q, filter);
        let n: i64 = q.query().fetch_one(&self.pool).await?.try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The deliveries a replay selects, as the condition of a statement on the
    /// deliveries table.
    fn replay_selection(&self, q: &mut Dynamic, filter: &Replay) {
        q.push("state IN ('delivered', 'failed', 'held')");
        // The deliveries are found through their messages and endpoints (by id, or by
        // owner and time), whose indexes are never written again: the deliveries table,
        // rewritten at every claim and outcome, keeps two indexes only.
        let (open, close) = self.id_in();
        q.push(" AND id ").push(open).push(
            "SELECT m.id || '.' || e.id
             FROM apierr_webhook_messages m
             JOIN apierr_webhook_endpoints e ON e.owner = m.owner
             WHERE e.state <> 'deleted'",
        );
        if let Some(owner) = &filter.owner {
            q.push(" AND m.owner = ").bind(Arg::Text(owner.clone()));
        }
        if let Some(message) = &filter.message_id {
            q.push(" AND m.id = ").bind(Arg::Text(message.clone()));
        }
        if let Some(endpoint) = &filter.endpoint_id {
            q.push(" AND e.id = ").bind(Arg::Text(endpoint.clone()));
        }
        if let Some(since) = filter.since {
            q.push(" AND m.created_at >= ")
                .bind(Arg::Int(unix_micros(since)));
        }
        if let Some(until) = filter.until {
            q.push(" AND m.created_at < ")
                .bind(Arg::Int(unix_micros(until)));
        }
        q.push(close);
        if let Some(state) = filter.state {
            q.push(" AND state = ")
                .bind(Arg::Text(state.as_str().to_owned()));
        }
    }

    /// How many endpoints `owner` has (deleted ones not counted), so that an API can
    /// bound them.
    pub async fn endpoint_count(&self, owner: &str) -> Result<u64, sqlx::Error> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM apierr_webhook_endpoints WHERE owner = $1 AND state <> 'deleted'",
        )
        .bind(owner)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The newest messages of `owner`, at most `limit`, newest first, with their
    /// deliveries: through the index of the partner's messages by time, a few rows each.
    pub async fn messages(&self, owner: &str, limit: i64) -> Result<Vec<Message>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, event_type, created_at FROM apierr_webhook_messages
             WHERE owner = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(owner)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            messages.push(Message {
                deliveries: self.deliveries(&id).await?,
                event_type: row.try_get("event_type")?,
                created_at: from_micros(row.try_get("created_at")?),
                id,
            });
        }
        Ok(messages)
    }

    /// The message `id` of `owner`, with its deliveries.
    pub async fn message(&self, owner: &str, id: &str) -> Result<Option<Message>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT event_type, created_at FROM apierr_webhook_messages
             WHERE owner = $1 AND id = $2",
        )
        .bind(owner)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Message {
            deliveries: self.deliveries(id).await?,
            event_type: row.try_get("event_type")?,
            created_at: from_micros(row.try_get("created_at")?),
            id: id.to_owned(),
        }))
    }

    /// The failed attempts of a message's delivery to an endpoint, oldest first (a
    /// delivered attempt is the delivery's state and last status: no history is written
    /// for it, so that a success costs no extra row).
    pub async fn attempts(
        &self,
        message_id: &str,
        endpoint_id: &str,
    ) -> Result<Vec<Attempt>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT at, status, latency_us, response_head, error_kind, error
             FROM apierr_webhook_attempts WHERE delivery_id = $1 ORDER BY n",
        )
        .bind(format!("{message_id}.{endpoint_id}"))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attempt_from).collect()
    }

    /// The deliveries of a message, by endpoint.
    pub async fn deliveries(&self, message_id: &str) -> Result<Vec<Delivery>, sqlx::Error> {
        let (open, close) = self.id_in();
        let rows = sqlx::query(&format!(
            "SELECT message_id, endpoint_id, state, total_attempts, last_status, created_at
             FROM apierr_webhook_deliveries
             WHERE id {open}SELECT m.id || '.' || e.id
                     FROM apierr_webhook_messages m
                     JOIN apierr_webhook_endpoints e ON e.owner = m.owner
                     WHERE m.id = $1{close}
             ORDER BY endpoint_id"
        ))
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Delivery {
                    message_id: row.try_get("message_id")?,
                    endpoint_id: row.try_get("endpoint_id")?,
                    state: DeliveryState::parse(&row.try_get::<String, _>("state")?)
                        .unwrap_or(DeliveryState::Pending),
                    attempts: row.try_get("total_attempts")?,
                    last_status: status_of(row.try_get("last_status")?),
                    created_at: from_micros(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// How many deliveries are in `state`, to one endpoint or to all.
    pub async fn count(
        &self,
        endpoint_id: Option<&str>,
        state: DeliveryState,
    ) -> Result<i64, sqlx::Error> {
        let mut q =
            Dynamic::new("SELECT COUNT(*) AS n FROM apierr_webhook_deliveries WHERE state = ");
        q.bind(Arg::Text(state.as_str().to_owned()));
        if let Some(endpoint) = endpoint_id {
            q.push(" AND endpoint_id = ")
                .bind(Arg::Text(endpoint.to_owned()));
        }
        q.query().fetch_one(&self.pool).await?.try_get("n")
    }

    /// Reports written at or after `since`, newest first, at most `limit`; only
    /// `owner`'s when given.
    pub async fn reports(
        &self,
        owner: Option<&str>,
        since: SystemTime,
        limit: i64,
    ) -> Result<Vec<Report>, sqlx::Error> {
        let mut q = Dynamic::new(
            "SELECT r.id, r.owner, r.endpoint_id, e.url, r.kind, r.delivery_id, r.message_id,
                    r.event_type, r.first_attempt, r.last_attempt, r.summary, r.pauses_at,
                    r.created_at
             FROM apierr_webhook_reports r
             JOIN apierr_webhook_endpoints e ON e.id = r.endpoint_id
             WHERE r.created_at >= ",
        );
        q.bind(Arg::Int(unix_micros(since)));
        if let Some(owner) = owner {
            q.push(" AND r.owner = ").bind(Arg::Text(owner.to_owned()));
        }
        q.push(" ORDER BY r.created_at DESC, r.id LIMIT ")
            .bind(Arg::Int(limit));
        let rows = q.query().fetch_all(&self.pool).await?;
        let mut reports = Vec::with_capacity(rows.len());
        for row in &rows {
            reports.push(self.report_from(row).await?);
        }
        Ok(reports)
    }

    /// The report `id`; only if it is `owner`'s when given.
    pub async fn report(
        &self,
        owner: Option<&str>,
        id: &str,
    ) -> Result<Option<Report>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT r.id, r.owner, r.endpoint_id, e.url, r.kind, r.delivery_id, r.message_id,
                    r.event_type, r.first_attempt, r.last_attempt, r.summary, r.pauses_at,
                    r.created_at
             FROM apierr_webhook_reports r
             JOIN apierr_webhook_endpoints e ON e.id = r.endpoint_id
             WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let report = self.report_from(&row).await?;
        Ok((owner.is_none_or(|o| o == report.owner)).then_some(report))
    }

    async fn report_from(&self, row: &sqlx::any::AnyRow) -> Result<Report, sqlx::Error> {
        let delivery: Option<String> = row.try_get("delivery_id")?;
        let first: Option<i64> = row.try_get("first_attempt")?;
        let last: Option<i64> = row.try_get("last_attempt")?;
        let attempts = match (delivery, first, last) {
            (Some(delivery), Some(first), Some(last)) => {
                let rows = sqlx::query(
                    "SELECT at, status, latency_us, response_head, error_kind, error
                     FROM apierr_webhook_attempts
                     WHERE delivery_id = $1 AND n >= $2 AND n <= $3 ORDER BY n",
                )
                .bind(delivery)
                .bind(first)
                .bind(last)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(attempt_from)
                    .collect::<Result<Vec<_>, sqlx::Error>>()?
            }
            _ => Vec::new(),
        };
        Ok(Report {
            id: row.try_get("id")?,
            owner: row.try_get("owner")?,
            endpoint_id: row.try_get("endpoint_id")?,
            endpoint_url: row.try_get("url")?,
            kind: ReportKind::from_column(&row.try_get::<String, _>("kind")?),
            message_id: row.try_get("message_id")?,
            event_type: row.try_get("event_type")?,
            summary: row.try_get("summary")?,
            created_at: from_micros(row.try_get("created_at")?),
            attempts,
            pauses_at: row.try_get::<Option<i64>, _>("pauses_at")?.map(from_micros),
        })
    }
}
