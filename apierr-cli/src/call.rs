//! `apierr call`: one logical request through apierr-client, told attempt by attempt.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apierr_client::{AttemptEvent, Client, Error, RetryPolicy};
use http::Method;
use serde_json::{Value, json};

/// What `apierr call` sends.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// The method.
    pub method: Method,
    /// The URL.
    pub url: String,
    /// Headers, as `Name: value`.
    pub headers: Vec<String>,
    /// A JSON body.
    pub data: Option<String>,
    /// The `Idempotency-Key`; a POST without one gets one generated.
    pub idempotency_key: Option<String>,
    /// Attempts in all.
    pub max_attempts: u32,
    /// One deadline for the whole call.
    pub deadline: Option<Duration>,
}

/// What happened: every attempt, then the answer or the error.
#[derive(Debug)]
pub struct CallReport {
    attempts: Vec<AttemptEvent>,
    outcome: Result<(u16, String), Error>,
}

/// The exit code of a category: 0 success, 2 content, 3 auth, 4 rate-limited, 5 server,
/// 6 network, 7 decode (1 is a request that could not be built).
impl CallReport {
    /// The process exit code for this outcome.
    pub fn exit_code(&self) -> u8 {
        let Err(e) = &self.outcome else { return 0 };
        if e.is_content() {
            2
        } else if e.is_auth() {
            3
        } else if e.is_rate_limited() {
            4
        } else if e.is_server() {
            5
        } else if e.is_network() {
            6
        } else if e.is_decode() {
            7
        } else {
            1
        }
    }

    fn attempt_json(a: &AttemptEvent) -> Value {
        json!({
            "attempt": a.attempt,
            "status": a.status.map(|s| s.as_u16()),
            "network": a.network.map(|n| match n {
                apierr_client::Sent::NotSent => "not-sent",
                apierr_client::Sent::MaybeProcessed => "maybe-processed",
            }),
            "retry_in_ms": a.retry_in.map(|d| d.as_millis() as u64),
            "stopped": a.stop.map(|s| s.as_str()),
        })
    }

    fn error_json(e: &Error) -> Value {
        let api = e.api_error();
        json!({
            "category": e.category().map(|c| c.as_str()),
            "status": e.status().map(|s| s.as_u16()),
            "dialect": e.dialect(),
            "format": api.and_then(|a| a.format()),
            "code": api.map(|a| a.code().to_string()),
            "message": api.map(|a| a.message().to_owned()).unwrap_or_else(|| e.to_string()),
            "violations": api.map(|a| a.violations().iter().map(|v| json!({
                "field": v.field(), "in": v.kind().as_str(), "message": v.message(),
            })).collect::<Vec<_>>()).unwrap_or_default(),
            "doc_url": api.and_then(|a| a.doc_url()),
            "request_id": api.and_then(|a| a.request_id()),
            "retry_after_secs": e.retry_after().map(|d| d.as_secs()),
            "attempts": e.attempts(),
            "stopped": e.stop_reason().as_str(),
            // The vendor's body as it came: JSON as JSON, anything else as text.
            "body": e.body().map(|b| serde_json::from_slice::<Value>(b)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned()))),
        })
    }

    /// The report as one JSON document.
    pub fn to_json(&self) -> Value {
        let attempts: Vec<Value> = self.attempts.iter().map(Self::attempt_json).collect();
        match &self.outcome {
            Ok((status, body)) => json!({
                "attempts": attempts,
                "status": status,
                "body": serde_json::from_str::<Value>(body).unwrap_or_else(|_| Value::String(body.clone())),
            }),
            Err(e) => json!({"attempts": attempts, "error": Self::error_json(e)}),
        }
    }

    /// The report as text, an attempt a line, then the answer.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for a in &self.attempts {
            let what = match (a.status, a.network) {
                (Some(status), _) => status.to_string(),
                (None, Some(apierr_client::Sent::NotSent)) => "not sent (connection failed)".into(),
                (None, _) => "no answer (maybe processed)".into(),
            };
            let next = match (a.retry_in, a.stop) {
                (Some(d), _) => format!(" -> retry in {} ms", d.as_millis()),
                (None, Some(stop)) => format!(" -> stop: {stop}"),
                (None, None) => String::new(),
            };
            out.push_str(&format!("attempt {}: {what}{next}\n", a.attempt));
        }
        match &self.outcome {
            Ok((status, body)) => {
                out.push_str(&format!("{status}\n{}\n", printable(body, true)));
            }
            Err(e) => {
                let v = Self::error_json(e);
                out.push_str(&format!(
                    "error after {} attempt(s), stopped: {}\n",
                    e.attempts(),
                    e.stop_reason()
                ));
                for key in [
                    "category",
                    "status",
                    "dialect",
                    "format",
                    "code",
                    "message",
                    "request_id",
                    "retry_after_secs",
                    "doc_url",
                ] {
                    if !v[key].is_null() {
                        let shown = v[key]
                            .as_str()
                            .map_or_else(|| v[key].to_string(), str::to_owned);
                        out.push_str(&format!("  {key}: {}\n", printable(&shown, false)));
                    }
                }
                for violation in v["violations"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "  violation: {}: {}\n",
                        printable(violation["field"].as_str().unwrap_or(""), false),
                        printable(violation["message"].as_str().unwrap_or(""), false)
                    ));
                }
                if let Some(body) = e.body().filter(|b| !b.is_empty()) {
                    out.push_str(&format!(
                        "  body:\n{}\n",
                        printable(&String::from_utf8_lossy(body), true)
                    ));
                }
            }
        }
        out
    }
}

/// Text from the server made safe for a terminal: control characters (an escape
/// sequence could rewrite the screen or the title) and the bidirectional overrides (which
/// reorder what is shown) are written as `\u{..}` escapes; line breaks and tabs are kept
/// where `lines` (a body), escaped otherwise (a one-line field).
fn printable(text: &str, lines: bool) -> String {
    const BIDI: [char; 12] = [
        '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
        '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
    ];
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if lines && (c == '\n' || c == '\t') {
            out.push(c);
        } else if c.is_control() || BIDI.contains(&c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Sends `request` and reports every attempt.
pub async fn call(request: CallRequest) -> CallReport {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let seen = attempts.clone();
    let mut policy = RetryPolicy::new().max_attempts(request.max_attempts);
    if let Some(deadline) = request.deadline {
        policy = policy.deadline(deadline);
    }
    let client = Client::new().with_policy(policy).on_attempt(move |a| {
        seen.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(a.clone())
    });
    let mut builder = client.request(request.method, request.url.as_str());
    for header in &request.headers {
        if let Some((name, value)) = header.split_once(':') {
            builder = builder.header(name.trim(), value.trim());
        }
    }
    if let Some(key) = &request.idempotency_key {
        builder = builder.idempotency_key(key);
    }
    if let Some(data) = request.data {
        builder = builder
            .header("content-type", "application/json")
            .body(data);
    }
    let outcome = builder
        .send_text()
        .await
        .map(|(status, body)| (status.as_u16(), body));
    let attempts = std::mem::take(&mut *attempts.lock().unwrap_or_else(|p| p.into_inner()));
    CallReport { attempts, outcome }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn what_a_server_sends_cannot_drive_the_terminal() {
        // Scenario: a hostile server's body or error message carries an escape sequence
        // (clear the screen, set the title), a carriage return that overwrites the line,
        // or a right-to-left override; `apierr call` prints them as escapes.
        assert_eq!(
            printable("ok\u{1b}[2J\u{1b}]0;pwned\u{7}\rfake\u{202e}txt", true),
            "ok\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{d}fake\\u{202e}txt"
        );
        assert_eq!(
            printable("two\nlines\tand tab", true),
            "two\nlines\tand tab"
        );
        assert_eq!(printable("one\nline", false), "one\\u{a}line");
        assert_eq!(printable("café ✓", false), "café ✓");
    }
}
