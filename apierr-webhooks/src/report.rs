//! Failure reports, and who is told about them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReportKind {
    /// A message was not delivered: its attempts ran out, or the receiver refused it.
    MessageFailed,
    /// The endpoint was paused after a run of failed messages; new messages are kept.
    EndpointPaused,
    /// The receiver answered 410 Gone; the endpoint was disabled, new messages are kept.
    EndpointDisabled,
    /// A warning: one more failed message pauses the endpoint (see
    /// [`Report::pauses_at`]).
    EndpointFailing,
}

impl ReportKind {
    /// The kind as stored and sent: `message_failed`, `endpoint_paused`,
    /// `endpoint_disabled`, `endpoint_failing`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::MessageFailed => "message_failed",
            ReportKind::EndpointPaused => "endpoint_paused",
            ReportKind::EndpointDisabled => "endpoint_disabled",
            ReportKind::EndpointFailing => "endpoint_failing",
        }
    }

    pub(crate) fn from_column(s: &str) -> ReportKind {
        match s {
            "endpoint_paused" => ReportKind::EndpointPaused,
            "endpoint_disabled" => ReportKind::EndpointDisabled,
            "endpoint_failing" => ReportKind::EndpointFailing,
            _ => ReportKind::MessageFailed,
        }
    }
}

/// Why an attempt failed, in terms a partner can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The receiver answered with a status that is not a success.
    Status,
    /// No answer within the timeout.
    Timeout,
    /// No connection could be made (refused, reset, name not found, TLS).
    Connection,
    /// The receiver answered with a redirect, which is not followed.
    Redirect,
    /// The endpoint's address is not one the platform may connect to.
    AddressNotAllowed,
    /// The receiver asked (`Retry-After`) to wait past the retry schedule.
    RetryAfterTooLong,
}

impl FailureKind {
    /// The kind as stored and shown: `status`, `timeout`, `connection`, `redirect`,
    /// `address_not_allowed`, `retry_after_too_long`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Status => "status",
            FailureKind::Timeout => "timeout",
            FailureKind::Connection => "connection",
            FailureKind::Redirect => "redirect",
            FailureKind::AddressNotAllowed => "address_not_allowed",
            FailureKind::RetryAfterTooLong => "retry_after_too_long",
        }
    }

    pub(crate) fn from_column(s: &str) -> FailureKind {
        match s {
            "timeout" => FailureKind::Timeout,
            "connection" => FailureKind::Connection,
            "redirect" => FailureKind::Redirect,
            "address_not_allowed" => FailureKind::AddressNotAllowed,
            "retry_after_too_long" => FailureKind::RetryAfterTooLong,
            _ => FailureKind::Status,
        }
    }
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When it was made.
    pub at: SystemTime,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// From sending to the first bytes of the answer (or the failure).
    pub latency: Duration,
    /// The first bytes of the receiver's answer (at most 1 KiB, as text).
    pub response_head: Option<String>,
    /// Why it failed.
    pub kind: FailureKind,
    /// The error in full, for the operator: not shown to partners.
    pub detail: Option<String>,
}

/// A durable record of a failure, with every attempt it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Its id, `rpt_` and 32 hex digits.
    pub id: String,
    /// The partner whose endpoint failed.
    pub owner: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The endpoint's URL when the report was read.
    pub endpoint_url: String,
    /// What happened.
    pub kind: ReportKind,
    /// The message, for [`ReportKind::MessageFailed`].
    pub message_id: Option<String>,
    /// The message's event type.
    pub event_type: Option<String>,
    /// One line: what happened and what it means.
    pub summary: String,
    /// When it was written.
    pub created_at: SystemTime,
    /// The attempts of the failed delivery, oldest first.
    pub attempts: Vec<Attempt>,
    /// For [`ReportKind::EndpointFailing`]: the earliest time one more failed message
    /// can pause the endpoint (its last retry).
    pub pauses_at: Option<SystemTime>,
}

/// A time as RFC 3339 text in UTC, to the millisecond.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// The URL without its query: a partner may have put a token there.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

impl Report {
    /// The report as JSON. `for_partner` leaves out what only the platform's operators
    /// should see (the error details, the owner, the endpoint URL's query); secrets are in
    /// neither form.
    pub fn to_json(&self, for_partner: bool) -> Value {
        serde_json::to_value(self.view(for_partner)).unwrap_or(Value::Null)
    }

    /// The report as it is sent: for its partner (`for_partner`: no internal details,
    /// the endpoint's URL without its query) or for the operator.
    pub fn view(&self, for_partner: bool) -> ReportView {
        let attempts = self
            .attempts
            .iter()
            .map(|a| AttemptView {
                at: rfc3339(a.at),
                status: a.status,
                latency_ms: u64::try_from(a.latency.as_millis()).unwrap_or(u64::MAX),
                failure: a.kind,
                response_head: a.response_head.clone(),
                detail: (!for_partner).then(|| a.detail.clone()),
            })
            .collect();
        ReportView {
            id: self.id.clone(),
            kind: self.kind,
            endpoint_id: self.endpoint_id.clone(),
            endpoint_url: if for_partner {
                without_query(&self.endpoint_url).to_owned()
            } else {
                self.endpoint_url.clone()
            },
            message_id: self.message_id.clone(),
            event_type: self.event_type.clone(),
            summary: self.summary.clone(),
            created_at: rfc3339(self.created_at),
            pauses_at: self.pauses_at.map(rfc3339),
            attempts,
            owner: (!for_partner).then(|| self.owner.clone()),
        }
    }
}

/// A report as it is sent ([`Report::view`]); its schema (feature `schemars`) is the
/// partner's form.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ReportView {
    /// Its id, `rpt_` and 32 hex digits.
    pub id: String,
    /// What happened.
    pub kind: ReportKind,
    /// The endpoint.
    pub endpoint_id: String,
    /// The endpoint's URL (without its query, for the partner).
    pub endpoint_url: String,
    /// The message, for a failed message.
    pub message_id: Option<String>,
    /// The message's event type.
    pub event_type: Option<String>,
    /// One line: what happened and what it means.
    pub summary: String,
    /// When it was written, RFC 3339 in UTC.
    pub created_at: String,
    /// For a warning (`endpoint_failing`): the earliest time one more failed message can
    /// pause the endpoint, RFC 3339 in UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pauses_at: Option<String>,
    /// The attempts of the failed delivery, oldest first.
    pub attempts: Vec<AttemptView>,
    /// The partner whose endpoint failed: the operator's view only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(skip))]
    pub owner: Option<String>,
}

/// An attempt as it is sent (see [`ReportView`]).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AttemptView {
    /// When it was made, RFC 3339 in UTC.
    pub at: String,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// Milliseconds from sending to the first bytes of the answer (or the failure).
    pub latency_ms: u64,
    /// Why it failed.
    pub failure: FailureKind,
    /// The first KiB of the receiver's answer, as text.
    pub response_head: Option<String>,
    /// The error in full: the operator's view only (where it may be null).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(skip))]
    pub detail: Option<Option<String>>,
}

/// Who is told when a report is written: called once per report, after it is stored,
/// at most once an hour per endpoint and kind (the outbox keeps track), so a dead endpoint
/// does not flood the operators.
pub trait Notifier: Send + Sync + 'static {
    /// Tells about `report`. Failures are the notifier's to log: the report is stored
    /// whatever happens here.
    fn notify<'a>(&'a self, report: &'a Report) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

/// Logs each report as an `error` event (without error details' secrets: there are none
/// in a report).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify<'a>(&'a self, report: &'a Report) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        tracing::error!(
            report = %report.id,
            kind = report.kind.as_str(),
            endpoint = %report.endpoint_id,
            owner = %report.owner,
            message = report.message_id.as_deref().unwrap_or(""),
            summary = %report.summary,
            "webhook failure report"
        );
        Box::pin(std::future::ready(()))
    }
}

/// Logs each report, and posts its operator form as JSON to an operator's URL (an
/// incident tool's inbound webhook, a chat channel's hook). The operator's URL is the
/// operator's choice, so the partner address policy does not apply to it.
#[derive(Clone)]
pub struct OperatorWebhook {
    url: reqwest::Url,
    http: reqwest::Client,
}

impl fmt::Debug for OperatorWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold the hook's token.
        f.debug_struct("OperatorWebhook").finish_non_exhaustive()
    }
}

impl OperatorWebhook {
    /// Posts to `url`, waiting ten seconds at most, following no redirect and no proxy
    /// of the environment. Fails as reqwest's `ClientBuilder::build` does.
    pub fn new(url: reqwest::Url) -> Result<OperatorWebhook, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()?;
        Ok(OperatorWebhook { url, http })
    }
}

impl Notifier for OperatorWebhook {
    fn notify<'a>(&'a self, report: &'a Report) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            LogNotifier.notify(report).await;
            let sent = self
                .http
                .post(self.url.clone())
                .json(&report.to_json(false))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status);
            if let Err(e) = sent {
                tracing::warn!(report = %report.id, error = %e.without_url(), "could not post a failure report to the operator webhook");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kinds_are_sent_under_the_names_they_are_stored_under() {
        // Scenario: a report's JSON (serde) and its database column (`as_str`) name each
        // kind alike, and a stored name reads back as its kind.
        for kind in [
            ReportKind::MessageFailed,
            ReportKind::EndpointPaused,
            ReportKind::EndpointDisabled,
            ReportKind::EndpointFailing,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(ReportKind::from_column(kind.as_str()), kind);
        }
        for kind in [
            FailureKind::Status,
            FailureKind::Timeout,
            FailureKind::Connection,
            FailureKind::Redirect,
            FailureKind::AddressNotAllowed,
            FailureKind::RetryAfterTooLong,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(FailureKind::from_column(kind.as_str()), kind);
        }
    }
}
