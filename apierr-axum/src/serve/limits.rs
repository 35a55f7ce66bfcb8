//! [`Limits`]: how much a connection may take of the server.

use std::time::Duration;

/// A request's head (request line and headers) arrives within this, counted from when
/// the server starts waiting for it: a client that sends nothing, or a byte now and
/// then, is closed after it. Ten seconds is ample for any client on a real network and
/// keeps a slow-loris attack from holding a connection for longer.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A request's body arrives within this, counted from its head: long enough for the
/// largest body the API accepts on a slow link, short enough that a trickled body does
/// not hold a handler.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a drain waits for requests in flight before it closes what remains: the
/// 30 s a container runtime usually gives between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(30);

/// Open connections at most: far above what two cores answer at once, far below a file
/// descriptor limit a server is given (past it, new connections wait in the listen
/// backlog).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Headers a request may carry (hyper's own default): more is refused with 431.
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// The bytes of a request's head that are buffered at most (hyper's buffer, also the
/// largest head: a larger one is refused with 431). 64 KiB holds any real header set
/// (browsers and proxies stop well below) and bounds a connection's memory.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;

/// The longest any of the timeouts may be set to: a day is past any real use, and
/// bounds the timers a value read from a flag can make.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// How much a connection may take of the server: the timeouts of a request's head and
/// body, the open connections at most, the size of a head, and how long a drain waits
/// (see [`serve`](crate::serve())). The defaults are the hardened ones; each setter
/// refuses a value that would turn its bound off (zero) or make it meaningless.
///
/// An idle keep-alive connection is bounded by the header timeout too: the server waits
/// for the next request's head from the moment the last response is sent.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) grace_period: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_head_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            grace_period: DEFAULT_GRACE_PERIOD,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_headers: DEFAULT_MAX_HEADERS,
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
        }
    }
}

/// A limit that cannot be set to the value given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError(String);

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitError {}

fn timeout(name: &str, value: Duration) -> Result<Duration, LimitError> {
    if value.is_zero() || value > MAX_TIMEOUT {
        return Err(LimitError(format!(
            "the {name} is above zero and at most 24h, not {}",
            humantime::format_duration(value)
        )));
    }
    Ok(value)
}

fn count(
    name: &str,
    value: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, LimitError> {
    if !range.contains(&value) {
        return Err(LimitError(format!(
            "{name} is {}–{}, not {value}",
            range.start(),
            range.end()
        )));
    }
    Ok(value)
}

impl Limits {
    /// How long a request's head may take to arrive. Default is
    /// [`DEFAULT_HEADER_TIMEOUT`].
    pub fn header_timeout(mut self, value: Duration) -> Result<Self, LimitError> {
        self.header_timeout = timeout("header timeout", value)?;
        Ok(self)
    }

    /// How long a request's body may take to arrive after its head; past it, reading
    /// the body fails with [`BodyTimeout`](crate::BodyTimeout), which apierr's
    /// extractors and layers answer with the request-timeout condition (408). Default
    /// is [`DEFAULT_BODY_TIMEOUT`].
    pub fn body_timeout(mut self, value: Duration) -> Result<Self, LimitError> {
        self.body_timeout = timeout("body timeout", value)?;
        Ok(self)
    }

    /// How long a drain waits for requests in flight before it closes the connections
    /// that remain. Default is [`DEFAULT_GRACE_PERIOD`].
    pub fn grace_period(mut self, value: Duration) -> Result<Self, LimitError> {
        self.grace_period = timeout("grace period", value)?;
        Ok(self)
    }

    /// The grace period set by [`Limits::grace_period`], for the other work a process
    /// drains at the same stop (a webhook dispatcher beside the server).
    pub fn grace(&self) -> Duration {
        self.grace_period
    }

    /// How many connections may be open at once (1–1 000 000); past it, the server
    /// accepts no more until one closes. Default is [`DEFAULT_MAX_CONNECTIONS`].
    pub fn max_connections(mut self, value: usize) -> Result<Self, LimitError> {
        self.max_connections = count("the connection limit", value, 1..=1_000_000)?;
        Ok(self)
    }

    /// How many headers a request may carry (1–10 000). Default is
    /// [`DEFAULT_MAX_HEADERS`].
    pub fn max_headers(mut self, value: usize) -> Result<Self, LimitError> {
        self.max_headers = count("the header count limit", value, 1..=10_000)?;
        Ok(self)
    }

    /// The largest request head, in bytes (8 KiB–16 MiB; hyper's buffer cannot be
    /// smaller than 8 KiB). Default is [`DEFAULT_MAX_HEAD_BYTES`].
    pub fn max_head_bytes(mut self, value: usize) -> Result<Self, LimitError> {
        self.max_head_bytes = count("the head size limit", value, 8192..=16 * 1024 * 1024)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_refused() {
        // Scenario: zero, too large and too small values are errors that name the limit.
        let limits = Limits::default();
        let e = limits.clone().header_timeout(Duration::ZERO).unwrap_err();
        assert!(e.to_string().contains("header timeout"), "{e}");
        assert!(
            limits
                .clone()
                .body_timeout(Duration::from_secs(90_000))
                .is_err()
        );
        assert!(limits.clone().max_connections(0).is_err());
        assert!(limits.clone().max_head_bytes(100).is_err());
        let set = limits.max_connections(7).unwrap();
        assert_eq!(set.max_connections, 7);
    }
}
