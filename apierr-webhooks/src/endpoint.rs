//! Endpoints: where a partner receives messages, the secret they are signed with, and
//! when failed deliveries are tried again.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::events::Subscription;

/// A signing secret in the Standard Webhooks form, `whsec_` and the base64 of the key.
/// Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A new random secret: 24 bytes (192 bits) from the operating system's generator,
    /// as Standard Webhooks suggests (between 24 and 64 bytes).
    pub fn generate() -> Secret {
        let mut key = Vec::with_capacity(32);
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        // Each v4 UUID has 6 fixed bits; 24 bytes taken from two hold 186 random bits.
        key.truncate(24);
        Secret(format!("whsec_{}", STANDARD.encode(key)))
    }

    /// A secret a partner chose: `whsec_` and base64 of 24 to 64 bytes.
    pub fn parse(text: &str) -> Option<Secret> {
        let key = STANDARD.decode(text.strip_prefix("whsec_")?).ok()?;
        (24..=64)
            .contains(&key.len())
            .then(|| Secret(text.to_owned()))
    }

    /// A secret as the outbox stored it (checked when it was made).
    pub(crate) fn stored(text: String) -> Secret {
        Secret(text)
    }

    /// The secret's text, to give to the partner once and to sign with.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// When a failed delivery is tried again: offsets from its first attempt. Each retry is
/// moved by up to a tenth of the gap before it, either way, so that the deliveries that
/// failed together in an outage do not all come back in the same second; the moves
/// never leave the schedule's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    offsets: Vec<Duration>,
}

/// The most retries a schedule may have.
pub const MAX_RETRIES: usize = 10;
/// The latest a retry may be scheduled after the first attempt: a message a day old is
/// better replayed by hand than retried.
pub const MAX_OFFSET: Duration = Duration::from_secs(24 * 60 * 60);

impl Default for Schedule {
    /// The seed contract's schedule: three more attempts within the minute after the
    /// first, about 5, 15 and 40 seconds after it.
    fn default() -> Self {
        Schedule {
            offsets: vec![
                Duration::from_secs(5),
                Duration::from_secs(15),
                Duration::from_secs(40),
            ],
        }
    }
}

/// Why a retry schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError;

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a retry schedule is at most 10 increasing offsets of at least one second and at most a day",
        )
    }
}

impl std::error::Error for ScheduleError {}

/// What happens after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Try again at this time (Unix µs).
    At(i64),
    /// The schedule is used up.
    Exhausted,
    /// The receiver asked to wait past the schedule's window.
    RetryAfterTooLong,
}

impl Schedule {
    /// A schedule of retries at these offsets from the first attempt: at most
    /// [`MAX_RETRIES`], increasing, each at least a second and at most [`MAX_OFFSET`].
    /// An empty schedule means a single attempt.
    pub fn new(offsets: Vec<Duration>) -> Result<Schedule, ScheduleError> {
        let increasing = offsets.windows(2).all(|w| w[0] < w[1]);
        let in_range = offsets
            .iter()
            .all(|o| *o >= Duration::from_secs(1) && *o <= MAX_OFFSET);
        if offsets.len() > MAX_RETRIES || !increasing || !in_range {
            return Err(ScheduleError);
        }
        Ok(Schedule { offsets })
    }

    /// The offsets from the first attempt.
    pub fn offsets(&self) -> &[Duration] {
        &self.offsets
    }

    /// How long after the first attempt the last may be: the last offset, and never less
    /// than a minute, so a `Retry-After` of a few seconds can always be honoured.
    pub fn window(&self) -> Duration {
        self.offsets
            .last()
            .copied()
            .unwrap_or_default()
            .max(Duration::from_secs(60))
    }

    /// The schedule as stored: offsets in milliseconds, comma-separated.
    pub(crate) fn to_column(&self) -> String {
        let ms: Vec<String> = self
            .offsets
            .iter()
            .map(|o| o.as_millis().to_string())
            .collect();
        ms.join(",")
    }

    pub(crate) fn from_column(text: Option<&str>) -> Schedule {
        let Some(text) = text else {
            return Schedule::default();
        };
        let offsets = text
            .split(',')
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .map(Duration::from_millis)
            .collect();
        Schedule { offsets }
    }

    /// When to try again after `made` attempts of a round that began at `started` (both
    /// in Unix µs), the last at `now`, the receiver having asked to wait `retry_after`.
    pub(crate) fn next(
        &self,
        made: usize,
        started: i64,
        now: i64,
        retry_after: Option<Duration>,
    ) -> Next {
        let Some(offset) = self.offsets.get(made.saturating_sub(1)) else {
            return Next::Exhausted;
        };
        let previous = made
            .checked_sub(2)
            .and_then(|i| self.offsets.get(i))
            .copied()
            .unwrap_or_default();
        let gap = micros(offset.saturating_sub(previous));
        let jitter = if gap >= 10 {
            fastrand::i64(-(gap / 10)..=gap / 10)
        } else {
            0
        };
        let window_end = started.saturating_add(micros(self.window()));
        let mut at = started
            .saturating_add(micros(*offset))
            .saturating_add(jitter)
            .min(window_end);
        if let Some(wait) = retry_after {
            let asked = now.saturating_add(micros(wait));
            if asked > window_end {
                return Next::RetryAfterTooLong;
            }
            at = at.max(asked);
        }
        Next::At(at.max(now))
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Whether an endpoint receives messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndpointState {
    /// Messages are delivered.
    Active,
    /// Too many messages in a row failed; new messages are kept (held) until the
    /// endpoint is resumed.
    Paused,
    /// The receiver answered 410 Gone; messages are kept until it is resumed.
    Disabled,
}

impl EndpointState {
    /// The state as stored and shown: `active`, `paused`, `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Active => "active",
            EndpointState::Paused => "paused",
            EndpointState::Disabled => "disabled",
        }
    }

    pub(crate) fn from_column(s: &str) -> EndpointState {
        match s {
            "paused" => EndpointState::Paused,
            "disabled" => EndpointState::Disabled,
            _ => EndpointState::Active,
        }
    }
}

/// A registered endpoint, as its partner may see it (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its id, `ep_` and 32 hex digits.
    pub id: String,
    /// The partner it belongs to.
    pub owner: String,
    /// Where messages are posted.
    pub url: String,
    /// Whether it receives messages.
    pub state: EndpointState,
    /// How many messages in a row have failed (reset by a delivery).
    pub failure_run: i64,
    /// The retry schedule.
    pub schedule: Schedule,
    /// The event types it receives.
    pub subscription: Subscription,
    /// When it was registered.
    pub created_at: SystemTime,
}

/// The Unix µs of a time (0 before the epoch).
pub(crate) fn unix_micros(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The time of Unix µs.
pub(crate) fn from_micros(us: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_stays_within_the_minute() {
        // Three retries, jittered, all within 60 s of the first attempt, in order.
        let s = Schedule::default();
        for _ in 0..1000 {
            let start = 1_000_000_000;
            let mut now = start;
            let mut times = vec![];
            for made in 1.. {
                match s.next(made, start, now, None) {
                    Next::At(at) => {
                        assert!(at > now);
                        times.push(at);
                        now = at;
                    }
                    Next::Exhausted => break,
                    Next::RetryAfterTooLong => unreachable!(),
                }
            }
            assert_eq!(times.len(), 3);
            assert!(times[2] - start < 60_000_000);
            assert!((4_500_000..=5_500_000).contains(&(times[0] - start)));
        }
    }

    #[test]
    fn retry_after_is_honoured_inside_the_window_only() {
        // A receiver's 20 s wait moves the 5 s retry; a 2 min wait is past the window.
        let s = Schedule::default();
        let Next::At(at) = s.next(1, 0, 0, Some(Duration::from_secs(20))) else {
            panic!()
        };
        assert_eq!(at, 20_000_000);
        assert_eq!(
            s.next(1, 0, 0, Some(Duration::from_secs(120))),
            Next::RetryAfterTooLong
        );
    }

    #[test]
    fn schedules_are_validated_and_stored() {
        // Increasing offsets between a second and a day, at most ten.
        assert!(Schedule::new(vec![Duration::from_secs(2), Duration::from_secs(1)]).is_err());
        assert!(Schedule::new(vec![Duration::from_millis(10)]).is_err());
        assert!(Schedule::new(vec![Duration::from_secs(1); 11]).is_err());
        let s = Schedule::new(vec![Duration::from_secs(1), Duration::from_secs(3)]).unwrap();
        assert_eq!(Schedule::from_column(Some(&s.to_column())), s);
        assert_eq!(Schedule::from_column(None), Schedule::default());
        assert!(Secret::parse(Secret::generate().expose()).is_some());
        assert!(Secret::parse("whsec_c2hvcnQ=").is_none());
    }
}
