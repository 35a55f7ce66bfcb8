//! Redis: rate limits and idempotency shared by many replicas, one Lua script a step.

use std::time::{Duration, SystemTime};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Script, Value};
use bytes::Bytes;

use crate::idempotency::{Claim, ClaimRequest, IdempotencyStore, StoredResponse, next_token};
use crate::rate_limit::{Decision, Quota, RateLimitStore};
use crate::{BoxFuture, SchemaTooNew, StoreError, duration_micros, micros, micros_duration};

/// The version of the key layout: `{prefix}idem:…` hashes (fields f t l e s h b) and
/// `{prefix}rl:…` GCRA times. A change to either is a new version.
const LAYOUT: i64 = 1;

/// GCRA as in [`Quota::decide`]: ARGV now, interval, window (µs). Returns allowed (0/1),
/// how far the TAT is ahead of now after the decision, and the wait when refused. Numbers
/// travel as integer strings: Lua's own formatting of large numbers is in exponent form.
const DECIDE: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nxt = tat + interval
if nxt - now > window then
  return {0, string.format('%.0f', tat - now), string.format('%.0f', nxt - window - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return {1, string.format('%.0f', nxt - now), '0'}
";

/// The claim: ARGV fingerprint, now, lock until, expires at, token for a new record (all
/// µs). Returns {'acquired', token} | {'mismatch'} | {'busy', µs left} | {'done', status,
/// head, body}. The key's own expiry (real time) only collects garbage; every decision
/// is on the times stored in it, by the caller's clock.
const CLAIM: &str = r"
local now = tonumber(ARGV[2])
local r = redis.call('HMGET', KEYS[1], 'f', 't', 'l', 'e', 's', 'h', 'b')
local token = tonumber(ARGV[5])
if r[2] then
  if tonumber(r[4]) > now then
    if r[1] ~= ARGV[1] then return {'mismatch'} end
    if r[5] then return {'done', r[5], r[6] or '', r[7] or ''} end
    if tonumber(r[3]) > now then return {'busy', string.format('%.0f', tonumber(r[3]) - now)} end
  end
  local previous = tonumber(r[2])
  if previous >= token then token = previous + 1 end
end
token = string.format('%.0f', token)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'f', ARGV[1], 't', token, 'l', ARGV[3], 'e', ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(ARGV[4]) - now) / 1000) + 1)
return {'acquired', token}
";

/// Completion (ARGV token, now, status, head, body) or release (ARGV token, now) by the
/// claim's owner: 1 if it still held the claim and its record had not expired.
const FINISH: &str = r"
local r = redis.call('HMGET', KEYS[1], 't', 's', 'e')
if r[1] ~= ARGV[1] or r[2] or not r[3] or tonumber(r[3]) <= tonumber(ARGV[2]) then return 0 end
if ARGV[3] then
  redis.call('HSET', KEYS[1], 's', ARGV[3], 'h', ARGV[4], 'b', ARGV[5], 'l', '0')
else
  redis.call('HSET', KEYS[1], 'l', '0')
end
return 1
";

/// Rate limits and idempotency records in Redis. Every decision is one `EVALSHA` round
/// trip, atomic in Redis, so replicas on one Redis share one limit and one claim per key.
/// Keys are under a prefix (`apierr:` by default) and expire on their own.
///
/// The reconciliation log is not kept here: it must survive Redis being run without
/// persistence, as caches often are; it belongs in SQL ([`SqlStore`](crate::SqlStore)).
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    decide: Script,
    claim: Script,
    finish: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://127.0.0.1:6379`); the connection reconnects on its own.
    ///
    /// A request must learn quickly that Redis is gone, so that the layers can fail open
    /// or closed as configured rather than hang: a command waits at most a second for its
    /// answer, a reconnection half a second, tried twice.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        RedisStore::connect_with_prefix(url, "apierr:").await
    }

    /// Connects to `url` with every key under `prefix` instead of `apierr:` (tests and
    /// tenants sharing one Redis). The key layout's version is kept at `{prefix}layout`:
    /// a layout newer than this program's is refused ([`SchemaTooNew`]).
    pub async fn connect_with_prefix(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = ::redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        let store = RedisStore {
            conn,
            prefix: prefix.to_owned(),
            decide: Script::new(DECIDE),
            claim: Script::new(CLAIM),
            finish: Script::new(FINISH),
        };
        store.check_layout().await?;
        Ok(store)
    }

    /// Records this program's layout where none is recorded, and refuses a newer one.
    async fn check_layout(&self) -> Result<(), StoreError> {
        let key = format!("{}layout", self.prefix);
        let mut conn = self.conn.clone();
        let _: Value = ::redis::cmd("SET")
            .arg(&key)
            .arg(LAYOUT)
            .arg("NX")
            .query_async(&mut conn)
            .await?;
        let found: Option<String> = ::redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        let found = found.and_then(|v| v.parse::<i64>().ok()).unwrap_or(LAYOUT);
        if found > LAYOUT {
            return Err(StoreError::new(SchemaTooNew {
                component: format!("Redis keys under {:?}", self.prefix),
                found,
                known: LAYOUT,
            }));
        }
        Ok(())
    }

    /// The record's key: the scope's length first, so that no scope and key pair can
    /// spell another's.
    fn record_key(&self, scope: &str, key: &str) -> String {
        format!("{}idem:{}:{scope}:{key}", self.prefix, scope.len())
    }

    /// Seals every stored response body that `keyring`'s current key did not seal under
    /// it (see `SqlStore::reseal`); how many were sealed again. Records are found with
    /// `SCAN`, and each is replaced only if its body did not change meanwhile.
    #[cfg(feature = "seal")]
    pub async fn reseal(&self, keyring: &crate::Keyring) -> Result<u64, StoreError> {
        let current = keyring.current_id();
        let swap = Script::new(
            "if redis.call('HGET', KEYS[1], 'b') == ARGV[1] then \
               redis.call('HSET', KEYS[1], 'b', ARGV[2]) return 1 end return 0",
        );
        let head = format!("{}idem:", self.prefix);
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut done = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{head}*"))
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await?;
            for name in keys {
                // `{len}:{scope}:{key}` after the head.
                let Some((scope, key)) = name
                    .strip_prefix(&head)
                    .and_then(|rest| rest.split_once(':'))
                    .and_then(|(len, rest)| {
                        let len = len.parse::<usize>().ok()?;
                        let scope = rest.get(..len)?;
                        Some((scope, rest.get(len + 1..)?))
                    })
                else {
                    continue;
                };
                let body: Option<Vec<u8>> = ::redis::cmd("HGET")
                    .arg(&name)
                    .arg("b")
                    .query_async(&mut conn)
                    .await?;
                let Some(body) = body else { continue };
                if crate::Keyring::sealed_by(&body).as_deref() == Some(current.as_str()) {
                    continue;
                }
                let context = crate::record_context(scope, key);
                let plain = keyring.open(&body, &context).map_err(StoreError::new)?;
                let sealed = keyring.seal(&plain, &context);
                let swapped: i64 = swap
                    .key(&name)
                    .arg(&body)
                    .arg(sealed)
                    .invoke_async(&mut conn)
                    .await?;
                done += u64::try_from(swapped).unwrap_or(0);
            }
            if next == 0 {
                return Ok(done);
            }
            cursor = next;
        }
    }
}

fn text(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn number(value: &Value) -> Result<i64, StoreError> {
    match value {
        Value::Int(n) => Ok(*n),
        other => text(other)
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| StoreError::new(format!("unexpected reply from Redis: {other:?}"))),
    }
}

fn reply(value: Value) -> Result<Vec<Value>, StoreError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(StoreError::new(format!(
            "unexpected reply from Redis: {other:?}"
        ))),
    }
}

impl RateLimitStore for RedisStore {
    fn check<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Decision, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let value: Value = self
                .decide
                .key(format!("{}rl:{key}", self.prefix))
                .arg(micros(now))
                .arg(quota.interval())
                .arg(quota.window_micros())
                .invoke_async(&mut conn)
                .await?;
            let items = reply(value)?;
            let [allowed, ahead, wait] = &items[..] else {
                return Err(StoreError::new("unexpected reply from Redis"));
            };
            Ok(quota.decision(number(allowed)? == 1, number(ahead)?, number(wait)?))
        })
    }
}

impl IdempotencyStore for RedisStore {
    fn claim<'a>(
        &'a self,
        request: &'a ClaimRequest<'a>,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let now = micros(request.now);
            let mut conn = self.conn.clone();
            let value: Value = self
                .claim
                .key(self.record_key(request.scope, request.key))
                .arg(&request.fingerprint.0[..])
                .arg(now)
                .arg(now.saturating_add(duration_micros(request.lock_for)))
                .arg(now.saturating_add(duration_micros(request.keep_for)))
                .arg(next_token(None, now))
                .invoke_async(&mut conn)
                .await?;
            let items = reply(value)?;
            let kind = items.first().and_then(text).unwrap_or_default();
            Ok(match (kind, &items[1..]) {
                (b"acquired", [token]) => Claim::Acquired {
                    token: number(token)?,
                },
                (b"mismatch", []) => Claim::Mismatch,
                (b"busy", [left]) => Claim::InFlight {
                    lock_expires_in: micros_duration(number(left)?),
                },
                (b"done", [status, head, body]) => Claim::Completed(StoredResponse::from_parts(
                    number(status)?,
                    text(head).unwrap_or_default(),
                    Bytes::copy_from_slice(text(body).unwrap_or_default()).into(),
                )),
                _ => return Err(StoreError::new("unexpected reply from Redis")),
            })
        })
    }

    fn complete<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        token: i64,
        now: SystemTime,
        response: &'a StoredResponse,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let done: i64 = self
                .finish
                .key(self.record_key(scope, key))
                .arg(token)
                .arg(micros(now))
                .arg(response.status)
                .arg(response.head())
                .arg(&response.body[..])
                .invoke_async(&mut conn)
                .await?;
            Ok(done == 1)
        })
    }

    fn release<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        token: i64,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let done: i64 = self
                .finish
                .key(self.record_key(scope, key))
                .arg(token)
                .arg(micros(now))
                .invoke_async(&mut conn)
                .await?;
            Ok(done == 1)
        })
    }

    /// Redis expires records on its own; nothing to do.
    fn purge(&self, _now: SystemTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(std::future::ready(Ok(0)))
    }
}
