//! The operators' side: the reconciliation log over HTTP and for `apierr reconcile`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use apierr::{ApiError, Condition, FieldViolation};
use apierr_axum::Query;
use apierr_axum::store::{Entry, ReconciliationLog, SqlStore, StoreError};
use axum::Router;
use axum::routing::get;
use http::HeaderMap;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::store::digest;

/// The most entries one page holds.
const MAX_LIMIT: u32 = 1_000;

/// `GET /admin/reconciliation?since=24h&after=0&limit=100`, for the bearer of `token`.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(token: &str, log: SqlStore) -> Router<S> {
    let expected = Arc::new(digest(token));
    Router::new().route(
        "/admin/reconciliation",
        get(move |headers: HeaderMap, query: Query<Page>| {
            let expected = expected.clone();
            let log = log.clone();
            async move { list(&expected, &log, &headers, query.0).await }
        }),
    )
}

/// The query of a page of the log.
#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    /// How far back, as a duration (`90s`, `24h`, `7days`); 24 hours by default.
    since: Option<String>,
    /// The last sequence number already seen; 0 by default.
    after: Option<i64>,
    /// Entries a page, 1 to 1 000; 100 by default.
    limit: Option<u32>,
}

fn parse_since(since: Option<&str>) -> Result<Duration, ApiError> {
    let Some(since) = since else {
        return Ok(Duration::from_secs(24 * 60 * 60));
    };
    humantime::parse_duration(since).map_err(|_| {
        ApiError::from(Condition::InvalidParameter).with_violation(FieldViolation::parameter(
            "since",
            "must be a duration such as 90s, 24h or 7days",
        ))
    })
}

async fn list(
    expected: &str,
    log: &SqlStore,
    headers: &HeaderMap,
    page: Page,
) -> Result<([(http::HeaderName, &'static str); 1], String), ApiError> {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        None => return Err(Condition::Unauthenticated.into()),
        // Digests of equal length compared: no early exit on the secret itself.
        Some(token) if digest(token) != expected => return Err(Condition::InvalidToken.into()),
        Some(_) => {}
    }
    let since = parse_since(page.since.as_deref())?;
    let limit = page.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::from(Condition::InvalidParameter)
            .with_violation(FieldViolation::parameter("limit", "must be from 1 to 1000")));
    }
    let from = SystemTime::now()
        .checked_sub(since)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let entries = log
        .list(from, page.after.unwrap_or(0).max(0), limit)
        .await
        .map_err(|e| ApiError::from(Condition::Internal).with_source(e))?;
    let next = entries.last().map(|e| e.seq);
    let body = json!({
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
        "next_after": next,
    });
    Ok(([(CONTENT_TYPE, "application/json")], body.to_string()))
}

/// An entry as JSON: the log's fields, the time in RFC 3339.
fn entry_json(e: &Entry) -> Value {
    json!({
        "seq": e.seq,
        "at": humantime::format_rfc3339_micros(e.at).to_string(),
        "request_id": e.request_id,
        "caller": e.caller,
        "method": e.method,
        "route": e.route,
        "idempotency_key": e.idempotency_key,
        "fingerprint": e.fingerprint,
        "status": e.status,
        "outcome": e.outcome.as_str(),
        "acknowledged_at": e.acknowledged_at.map(|t| humantime::format_rfc3339_micros(t).to_string()),
    })
}

/// Which entries `apierr reconcile` lists.
#[derive(Debug, Clone, Copy)]
pub enum Selection {
    /// Every entry written within this long before now, acknowledged or not.
    Since(Duration),
    /// The open (unacknowledged) entries, of any age: the work still to do.
    Open,
}

/// `apierr reconcile`: the chosen entries of the log of `database_url`, as a table or
/// as JSON lines, all of them (page by page).
pub async fn reconcile_report(
    database_url: &str,
    selection: Selection,
    json_lines: bool,
) -> Result<String, StoreError> {
    let log = SqlStore::connect(database_url).await?;
    let mut out = String::new();
    if !json_lines {
        out.push_str(
            "SEQ\tAT\tSTATUS\tOUTCOME\tMETHOD\tROUTE\tCALLER\tIDEMPOTENCY_KEY\tREQUEST_ID\tACKNOWLEDGED\n",
        );
    }
    let mut after = 0;
    loop {
        let entries = match selection {
            Selection::Since(since) => {
                let from = SystemTime::now()
                    .checked_sub(since)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                log.list(from, after, MAX_LIMIT).await?
            }
            Selection::Open => log.open(after, MAX_LIMIT).await?,
        };
        let Some(last) = entries.last() else { break };
        after = last.seq;
        for e in &entries {
            if json_lines {
                out.push_str(&entry_json(e).to_string());
                out.push('\n');
            } else {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    e.seq,
                    humantime::format_rfc3339_seconds(e.at),
                    e.status,
                    e.outcome,
                    e.method,
                    e.route.escape_debug(),
                    e.caller.as_deref().unwrap_or("-").escape_debug(),
                    e.idempotency_key.as_deref().unwrap_or("-").escape_debug(),
                    e.request_id,
                    e.acknowledged_at.map_or_else(
                        || "-".to_owned(),
                        |t| humantime::format_rfc3339_seconds(t).to_string()
                    ),
                );
            }
        }
    }
    Ok(out)
}

/// `apierr reconcile ack SEQ…`: marks the entries reconciled; for each, whether it was
/// open (an entry acknowledged already, or unknown, is `false`).
pub async fn reconcile_ack(database_url: &str, seqs: &[i64]) -> Result<Vec<bool>, StoreError> {
    let log = SqlStore::connect(database_url).await?;
    let mut done = Vec::with_capacity(seqs.len());
    for &seq in seqs {
        done.push(log.acknowledge(seq, SystemTime::now()).await?);
    }
    Ok(done)
}

/// `--since` of `apierr reconcile`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| e.to_string())
}
