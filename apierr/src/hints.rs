//! What a response's headers say about an error: the request id to quote, and how long to
//! wait before coming back. Read in one pass over the headers, which for the handful an
//! error response has is cheaper than a hashed look-up per name (each look-up by text
//! parses the name first).
//!
//! # Request ids
//!
//! A body member the format defines wins; then the headers [`REQUEST_ID_HEADERS`] in
//! their order; then the trace id of `traceparent` (W3C Trace Context).
//!
//! # Waits
//!
//! In this order, the first that answers:
//!
//! 1. `Retry-After`, in seconds or (with a clock) as an HTTP-date;
//! 2. a wait the body gives (Google's `RetryInfo`), read by the recognisers;
//! 3. when a quota header says the quota is spent: the IETF draft's `RateLimit` field
//!    (the structured list form `"policy";r=0;t=30` of draft 08 onwards, or the
//!    dictionary form `remaining=0, reset=30` of draft 07), else `X-RateLimit-Reset` or
//!    `RateLimit-Reset` beside a `…-Remaining: 0`. A reset above 10⁹ is a Unix time (in
//!    milliseconds above 10¹²), which needs a clock: [`retry_hint`] has one,
//!    [`parse_any`](crate::parse_any) does not and leaves it out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue};

/// Response headers that carry a request id, in the order they are looked for.
pub const REQUEST_ID_HEADERS: &[&str] = &[
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "x-ms-request-id",
    "x-github-request-id",
    "x-correlation-id",
    "x-trace-id",
    "cf-ray",
];

/// The longest wait a header may state and still be read: a century, so that adding it
/// to a clock cannot overflow.
const MAX_WAIT_SECS: f64 = 3.2e9;

/// The headers of an error response that matter, found in one pass.
#[derive(Default)]
pub(crate) struct HeaderFacts<'h> {
    /// `Content-Type` is `application/problem+json`.
    pub(crate) problem: bool,
    retry_after: Option<&'h HeaderValue>,
    /// The request id header found earliest in [`REQUEST_ID_HEADERS`], with its rank.
    request_id: Option<(usize, &'h HeaderValue)>,
    traceparent: Option<&'h HeaderValue>,
    /// `X-RateLimit-Remaining`, or the older drafts' `RateLimit-Remaining`.
    remaining: Option<&'h HeaderValue>,
    /// `X-RateLimit-Reset`, or the older drafts' `RateLimit-Reset`.
    reset: Option<&'h HeaderValue>,
    /// The IETF draft's structured `RateLimit` field.
    rate_limit: Option<&'h HeaderValue>,
}

/// A quota the headers report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    /// Nothing remains of it.
    pub(crate) spent: bool,
    /// When it is renewed, from now, when the headers say and it can be told.
    pub(crate) reset: Option<Duration>,
}

impl<'h> HeaderFacts<'h> {
    pub(crate) fn scan(headers: &'h HeaderMap) -> Self {
        let mut facts = HeaderFacts::default();
        for (name, value) in headers {
            if name == CONTENT_TYPE {
                facts.problem = value
                    .as_bytes()
                    .starts_with(crate::dialect::PROBLEM_CONTENT_TYPE.as_bytes());
                continue;
            }
            if name == RETRY_AFTER {
                facts.retry_after = Some(value);
                continue;
            }
            match name.as_str() {
                "traceparent" => facts.traceparent = Some(value),
                "x-ratelimit-remaining" | "ratelimit-remaining" => facts.remaining = Some(value),
                "x-ratelimit-reset" | "ratelimit-reset" => facts.reset = Some(value),
                "ratelimit" => facts.rate_limit = Some(value),
                other => {
                    if let Some(rank) = REQUEST_ID_HEADERS.iter().position(|h| *h == other)
                        && facts.request_id.is_none_or(|(r, _)| rank < r)
                    {
                        facts.request_id = Some((rank, value));
                    }
                }
            }
        }
        facts
    }

    /// The request id header's value, in [`REQUEST_ID_HEADERS`]'s order.
    pub(crate) fn request_id_header(&self) -> Option<&'h HeaderValue> {
        self.request_id.map(|(_, v)| v)
    }

    /// `traceparent`'s trace id, when it has the W3C form.
    pub(crate) fn trace_id(&self) -> Option<&'h str> {
        // `version-traceid-parentid-flags`: the trace id is bytes 3 to 35.
        let parent = self.traceparent?.as_bytes();
        let trace = parent.get(3..35)?;
        let well_formed = parent.get(2) == Some(&b'-')
            && parent.get(35) == Some(&b'-')
            && trace.iter().all(u8::is_ascii_hexdigit);
        // Hex digits are ASCII, so this cannot fail.
        well_formed.then(|| std::str::from_utf8(trace).ok())?
    }

    /// `Retry-After`: seconds, or an HTTP-date when there is a clock (a date already past
    /// means now).
    pub(crate) fn retry_after(&self, now: Option<SystemTime>) -> Option<Duration> {
        let text = self.retry_after?.to_str().ok()?.trim();
        if let Ok(secs) = text.parse::<u64>() {
            // Beyond a century is no wait anyone can honour (nor add to a clock).
            #[allow(clippy::cast_precision_loss)]
            return ((secs as f64) < MAX_WAIT_SECS).then(|| Duration::from_secs(secs));
        }
        let at = httpdate::parse_http_date(text).ok()?;
        Some(at.duration_since(now?).unwrap_or_default())
    }

    /// The quota the headers report: the structured `RateLimit` field first, else the
    /// `…-Remaining` and `…-Reset` pair.
    pub(crate) fn quota(&self, now: Option<SystemTime>) -> Quota {
        if let Some(quota) = self.rate_limit.and_then(|v| structured_quota(v.as_bytes())) {
            return quota;
        }
        let Some(remaining) = self.remaining.and_then(number) else {
            return Quota::default();
        };
        Quota {
            spent: remaining == 0.0,
            reset: self.reset.and_then(number).and_then(|n| reset_wait(n, now)),
        }
    }
}

/// A header's value as a number of seconds (Discord and others send decimals).
#[allow(clippy::cast_precision_loss)] // seconds below 2^53 are exact
fn number(value: &HeaderValue) -> Option<f64> {
    let text = value.to_str().ok()?.trim();
    // Integers, the usual form, without the float parser's cost.
    if let Ok(n) = text.parse::<u64>() {
        return Some(n as f64);
    }
    let n = text.parse::<f64>().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// A reset time as a wait: a delta in seconds, or a Unix time in seconds (above 10⁹) or
/// milliseconds (above 10¹²), which takes a clock.
fn reset_wait(n: f64, now: Option<SystemTime>) -> Option<Duration> {
    let secs = if n >= 1e9 {
        let at = if n >= 1e12 { n / 1000.0 } else { n };
        let now = now?.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
        (at - now).max(0.0)
    } else {
        n
    };
    (secs < MAX_WAIT_SECS).then(|| Duration::from_secs_f64(secs))
}

/// The IETF `RateLimit` field: draft 08's list of policies with `r` (remaining) and `t`
/// (seconds to reset) parameters, the first spent policy answering; or draft 07's
/// dictionary with `remaining` and `reset` members. Parsed with `sfv`, RFC 9651's parser.
fn structured_quota(value: &[u8]) -> Option<Quota> {
    let int = |item: &sfv::BareItem| item.as_integer().map(i64::from);
    let wait = |t: Option<i64>| {
        t.and_then(|t| u64::try_from(t).ok())
            .map(Duration::from_secs)
    };
    // Draft 08's policies are strings; draft 07's members are keys. Telling them apart
    // by the first byte spares a parse that fails.
    let list_form = value.trim_ascii_start().first() == Some(&b'"');
    if list_form {
        let mut policies = Policies::default();
        sfv::Parser::new(value)
            .parse_list_with_visitor(&mut policies)
            .ok()?;
        return policies.first_spent.or(policies.first).map(|(r, t)| Quota {
            spent: r == 0,
            reset: wait(t),
        });
    }
    let dict = sfv::Parser::new(value).parse::<sfv::Dictionary>().ok()?;
    let member = |k: &str| match dict.iter().find(|(key, _)| key.as_str() == k)?.1 {
        sfv::ListEntry::Item(item) => int(&item.bare_item),
        sfv::ListEntry::InnerList(_) => None,
    };
    let remaining = member("remaining")?;
    Some(Quota {
        spent: remaining == 0,
        reset: wait(member("reset")),
    })
}

/// Draft 08's policies as `sfv`'s visitor reads them, without building the parsed
/// types (a hash map of parameters per policy, which cost most of reading a response):
/// the `r` and `t` parameters of the first policy that has `r`, and of the first spent.
#[derive(Default)]
struct Policies {
    first: Option<(i64, Option<i64>)>,
    first_spent: Option<(i64, Option<i64>)>,
}

/// One policy's parameters, kept in [`Policies`] when it is done.
struct Policy<'p> {
    policies: &'p mut Policies,
    remaining: Option<i64>,
    reset: Option<i64>,
}

impl<'de> sfv::visitor::ListVisitor<'de> for &mut Policies {
    type Out = ();
    type Error = std::convert::Infallible;

    fn entry(&mut self) -> Result<impl sfv::visitor::EntryVisitor<'de>, Self::Error> {
        Ok(&mut **self)
    }

    fn finish(self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl<'de> sfv::visitor::EntryVisitor<'de> for &mut Policies {
    type Error = std::convert::Infallible;

    fn item(self) -> Result<impl sfv::visitor::ItemVisitor<'de>, Self::Error> {
        Ok(PolicyItem(self))
    }

    fn inner_list(self) -> Result<impl sfv::visitor::InnerListVisitor<'de>, Self::Error> {
        Ok(sfv::visitor::Ignored)
    }
}

/// A policy's item: its name is not needed, only its parameters.
struct PolicyItem<'p>(&'p mut Policies);

impl<'de> sfv::visitor::ItemVisitor<'de> for PolicyItem<'_> {
    type Out = ();
    type Error = std::convert::Infallible;

    fn bare_item(
        self,
        _: sfv::BareItemFromInput<'de>,
    ) -> Result<impl sfv::visitor::ParameterVisitor<'de, Out = ()>, Self::Error> {
        Ok(Policy {
            policies: self.0,
            remaining: None,
            reset: None,
        })
    }
}

impl<'de> sfv::visitor::ParameterVisitor<'de> for Policy<'_> {
    type Out = ();
    type Error = std::convert::Infallible;

    fn parameter(
        &mut self,
        key: &'de sfv::KeyRef,
        value: sfv::BareItemFromInput<'de>,
    ) -> Result<(), Self::Error> {
        let n = value.as_integer().map(i64::from);
        match key.as_str() {
            "r" => self.remaining = n,
            "t" => self.reset = n,
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<(), Self::Error> {
        if let Some(r) = self.remaining {
            let policy = Some((r, self.reset));
            if self.policies.first.is_none() {
                self.policies.first = policy;
            }
            if r == 0 && self.policies.first_spent.is_none() {
                self.policies.first_spent = policy;
            }
        }
        Ok(())
    }
}

/// How long the headers of a refused response ask a client to wait, read with the
/// client's clock: `Retry-After` (seconds or HTTP-date), else the reset of a quota the
/// rate-limit headers say is spent (see the module's order). `None` when they ask no
/// wait.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use http::HeaderMap;
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
/// headers.insert("x-ratelimit-reset", "1700000042".parse().unwrap());
/// assert_eq!(apierr::retry_hint(&headers, now), Some(Duration::from_secs(42)));
///
/// let mut headers = HeaderMap::new();
/// headers.insert("ratelimit", r#""default";r=0;t=7"#.parse().unwrap());
/// assert_eq!(apierr::retry_hint(&headers, now), Some(Duration::from_secs(7)));
/// ```
pub fn retry_hint(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let facts = HeaderFacts::scan(headers);
    facts.retry_after(Some(now)).or_else(|| {
        let quota = facts.quota(Some(now));
        quota.reset.filter(|_| quota.spent)
    })
}

/// A request id from the headers: the first of [`REQUEST_ID_HEADERS`] present, else
/// `traceparent`'s trace id.
pub fn request_id_from_headers(headers: &HeaderMap) -> Option<String> {
    let facts = HeaderFacts::scan(headers);
    facts
        .request_id_header()
        .and_then(|v| v.to_str().ok())
        .or_else(|| facts.trace_id())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn the_structured_field_gives_the_first_spent_policy() {
        // Scenario: draft 08's list, draft 07's dictionary, and bad values.
        let q = structured_quota(br#""hour";r=10;t=3000, "minute";r=0;t=12"#).unwrap();
        assert_eq!((q.spent, q.reset), (true, Some(Duration::from_secs(12))));
        let q = structured_quota(br#""hour";r=10;t=3000"#).unwrap();
        assert!(!q.spent);
        let q = structured_quota(b"limit=10, remaining=0, reset=30").unwrap();
        assert_eq!((q.spent, q.reset), (true, Some(Duration::from_secs(30))));
        // `reset` here is a parameter of `remaining`, not a member.
        let q = structured_quota(b"remaining=0;reset").unwrap();
        assert_eq!((q.spent, q.reset), (true, None));
        assert_eq!(structured_quota(b"limit=10, reset=30"), None);
        assert_eq!(structured_quota(b"\"p\";t=-5"), None);
        assert_eq!(structured_quota(b"((("), None);
        let q = structured_quota(b"\"p\";r=0;t=-5").unwrap();
        assert_eq!((q.spent, q.reset), (true, None));
    }

    #[test]
    fn resets_are_deltas_or_unix_times() {
        // Scenario: a delta needs no clock; seconds and milliseconds since the epoch do.
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(reset_wait(30.0, None), Some(Duration::from_secs(30)));
        assert_eq!(reset_wait(1_700_000_030.0, None), None);
        assert_eq!(
            reset_wait(1_700_000_030.0, Some(now)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            reset_wait(1_700_000_030_000.0, Some(now)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(reset_wait(1_600_000_000.0, Some(now)), Some(Duration::ZERO));
        assert_eq!(reset_wait(f64::MAX, Some(now)), None);
    }

    #[test]
    fn request_ids_follow_the_documented_order() {
        // Scenario: `x-request-id` outranks a vendor's header seen first; traceparent
        // is the last resort and must be well formed.
        let h = facts(&[("x-amzn-requestid", "amz-1"), ("x-request-id", "req-1")]);
        assert_eq!(request_id_from_headers(&h).as_deref(), Some("req-1"));
        let h = facts(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )]);
        assert_eq!(
            request_id_from_headers(&h).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let h = facts(&[("traceparent", "00-zz-00f067aa0ba902b7-01")]);
        assert_eq!(request_id_from_headers(&h), None);
    }

    #[test]
    fn retry_after_wins_over_a_quota_reset() {
        // Scenario: Retry-After is the HTTP-level answer; a quota reset only counts when
        // the quota is spent.
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = facts(&[
            ("retry-after", "5"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "60"),
        ]);
        assert_eq!(retry_hint(&h, now), Some(Duration::from_secs(5)));
        let h = facts(&[("x-ratelimit-remaining", "3"), ("x-ratelimit-reset", "60")]);
        assert_eq!(retry_hint(&h, now), None);
        let h = facts(&[("retry-after", "Tue, 14 Nov 2023 22:13:40 GMT")]);
        assert_eq!(retry_hint(&h, now), Some(Duration::from_secs(20)));
    }
}
