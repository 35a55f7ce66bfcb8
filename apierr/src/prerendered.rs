//! [`Prerendered`]: a profile's condition bodies rendered once, for servers that answer
//! the same condition many times.
//!
//! Most error responses of a busy API are bare conditions (a 404 from the router, a
//! malformed body, a missing credential): the body is the same every time but for the
//! request id. Rendering it afresh is most of what an error response costs a server
//! (about 1,600 of the 2,800 instructions the contract layer spent on a 404, measured
//! with `benches/instructions.py apierr-axum stack`); copying a rendered prefix and
//! suffix around the id is a tenth of that.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use crate::dialect::{Dialect, json};
use crate::{ApiError, Code, Condition, Profile};

/// Request ids the templates are rendered with, to find where a dialect writes the id:
/// distinct, plain (nothing to escape) and of mixed case, so that a dialect that changed
/// an id rather than writing it as given would not be taken for one that writes it.
const MARKERS: [&str; 2] = ["Apierr-Id-Marker-7q9Z", "Apierr-Id-Marker-K3x0"];

/// The bodies of a [`Profile`]'s conditions, each rendered once in its dialect, with the
/// place of the request id found: an error that is a bare condition (made from a
/// [`Condition`], with no message, violation, additional message, `Retry-After` or
/// request id of its own) is then answered by copying the rendered bytes around its
/// request id, the same bytes [`Profile::render`] writes. Anything else, and every error
/// of a dialect that does not declare itself [pure](Dialect::is_pure), is `None`: render
/// it as usual.
///
/// ```
/// use apierr::{ApiError, Condition, Prerendered, Profile};
/// use http::HeaderValue;
///
/// let profile = Profile::PROBLEM;
/// let bodies = Prerendered::new(&profile);
/// let id = HeaderValue::from_static("req-1");
/// let fast = bodies.render(&ApiError::from(Condition::NotFound), &id).unwrap();
/// let slow = profile.render(&ApiError::from(Condition::NotFound).with_request_id("req-1"));
/// assert_eq!(fast.body, slow.body);
/// assert_eq!(fast.status, slow.status);
/// ```
#[derive(Debug, Clone)]
pub struct Prerendered {
    /// One per condition, at the condition's index; none where the dialect is not pure
    /// or writes the id in a way a copy cannot reproduce.
    templates: Box<[Option<Template>]>,
}

/// One condition's rendering.
#[derive(Debug, Clone)]
struct Template {
    status: StatusCode,
    content_type: HeaderValue,
    code: Code,
    body: Body,
}

/// A condition's body, with or without a place for the request id.
#[derive(Debug, Clone)]
enum Body {
    /// The dialect writes no request id: every answer is these bytes, shared.
    Fixed(Bytes),
    /// The request id goes between these.
    Around { before: Box<[u8]>, after: Box<[u8]> },
}

/// A bare condition answered from its pre-rendered body (see [`Prerendered::render`]).
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct PrerenderedError<'p> {
    /// The status the profile gives the condition.
    pub status: StatusCode,
    /// The dialect's `Content-Type`.
    pub content_type: HeaderValue,
    /// The code the profile's catalog gives the condition.
    pub code: &'p Code,
    /// The body, with the request id.
    pub body: Bytes,
}

impl Prerendered {
    /// Renders every condition of `profile` once.
    pub fn new(profile: &Profile) -> Self {
        let dialect = profile.dialect();
        let templates = Condition::ALL
            .iter()
            .map(|&condition| {
                dialect
                    .is_pure()
                    .then(|| template(profile, dialect, condition))
                    .flatten()
            })
            .collect();
        Prerendered { templates }
    }

    /// `error` with `request_id` as the profile renders it, when `error` is a bare
    /// condition and the id needs no escaping in JSON (visible ASCII without `"` or `\`);
    /// else `None`.
    pub fn render(
        &self,
        error: &ApiError,
        request_id: &HeaderValue,
    ) -> Option<PrerenderedError<'_>> {
        let condition = error.bare_condition()?;
        let template = self.templates.get(condition.index())?.as_ref()?;
        let body = match &template.body {
            Body::Fixed(body) => body.clone(),
            Body::Around { before, after } => {
                let id = request_id.as_bytes();
                if !json::is_plain_ascii(id) {
                    return None;
                }
                let mut body = Vec::with_capacity(before.len() + id.len() + after.len());
                body.extend_from_slice(before);
                body.extend_from_slice(id);
                body.extend_from_slice(after);
                Bytes::from(body)
            }
        };
        Some(PrerenderedError {
            status: template.status,
            content_type: template.content_type.clone(),
            code: &template.code,
            body,
        })
    }
}

/// The template of one condition: its body rendered with each marker as the request id,
/// taken apart where the marker is. `None` unless both renderings agree on everything
/// but the marker, each holding it exactly once, or neither holding it (and then equal).
fn template(profile: &Profile, dialect: &dyn Dialect, condition: Condition) -> Option<Template> {
    let error = profile.adopt(ApiError::from(condition));
    let [a, b] = MARKERS.map(|marker| profile.render(&error.share().with_request_id(marker)));
    if a.status != b.status || a.retry_after.is_some() || b.retry_after.is_some() {
        return None;
    }
    let split = |body: &[u8], marker: &str| -> Option<Option<(Vec<u8>, Vec<u8>)>> {
        let marker = marker.as_bytes();
        let mut at = memchr::memmem::find_iter(body, marker);
        match (at.next(), at.next()) {
            (None, _) => Some(None),
            (Some(i), None) => Some(Some((
                body[..i].to_vec(),
                body[i + marker.len()..].to_vec(),
            ))),
            (Some(_), Some(_)) => None,
        }
    };
    let body = match (split(&a.body, MARKERS[0])?, split(&b.body, MARKERS[1])?) {
        (None, None) if a.body == b.body => Body::Fixed(Bytes::from(a.body)),
        (Some(a), Some(b)) if a == b => Body::Around {
            before: a.0.into_boxed_slice(),
            after: a.1.into_boxed_slice(),
        },
        _ => return None,
    };
    Some(Template {
        status: a.status,
        content_type: dialect.content_type(),
        code: error.code().clone(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::FieldViolation;

    /// Every built-in profile.
    fn profiles() -> [Profile; 6] {
        [
            Profile::PROBLEM,
            Profile::WRAPPER,
            Profile::OAUTH_TOKEN,
            Profile::NESTED,
            Profile::ERRORS_ARRAY,
            Profile::SPECIFIC_CODE,
        ]
    }

    /// What the contract layer renders without templates.
    fn slow(profile: &Profile, error: ApiError, id: &HeaderValue) -> crate::Rendered {
        let mut error = profile.adopt(error);
        if error.request_id().is_none() {
            error.set_request_id_header(id);
        }
        profile.render(&error)
    }

    #[test]
    fn every_condition_of_every_profile_has_a_template() {
        // Scenario: the built-in dialects are pure and write the id as given, so every
        // condition is pre-rendered.
        for profile in profiles() {
            let bodies = Prerendered::new(&profile);
            for (condition, template) in Condition::ALL.iter().zip(bodies.templates.iter()) {
                assert!(template.is_some(), "{} {condition:?}", profile.name());
            }
        }
    }

    proptest! {
        #[test]
        fn templates_render_what_the_dialect_renders(
            profile in 0..6usize,
            condition in 0..Condition::COUNT,
            id in "[!-~]{1,40}",
        ) {
            // Scenario: any profile, any condition, any request id a contract layer
            // accepts (visible ASCII, with quotes and backslashes): the template's bytes,
            // status, type and code are the slow path's, or there is no template answer
            // and the slow path is taken.
            let profile = &profiles()[profile];
            let condition = Condition::ALL[condition];
            let id = HeaderValue::from_str(&id).unwrap();
            let bodies = Prerendered::new(profile);
            let expected = slow(profile, ApiError::from(condition), &id);
            match bodies.render(&ApiError::from(condition), &id) {
                Some(fast) => {
                    prop_assert_eq!(&fast.body[..], &expected.body[..]);
                    prop_assert_eq!(fast.status, expected.status);
                    prop_assert_eq!(&fast.content_type, &expected.content_type);
                    let expected_code = profile.error(condition);
                    prop_assert_eq!(fast.code, expected_code.code());
                }
                None => prop_assert!(id.as_bytes().iter().any(|b| matches!(b, b'"' | b'\\'))),
            }
        }
    }

    #[test]
    fn errors_with_parts_of_their_own_are_not_prerendered() {
        // Scenario: a message, violation, additional message, Retry-After or request id
        // of the error's own changes the body, so each is rendered as usual; a source
        // does not show in the body and keeps the template.
        let bodies = Prerendered::new(&Profile::PROBLEM);
        let id = HeaderValue::from_static("id");
        let base = || ApiError::from(Condition::InvalidParameter);
        let own = [
            base().with_message("mine"),
            base().with_violation(FieldViolation::parameter("a", "b")),
            base().with_additional_message("more"),
            base().with_retry_after(std::time::Duration::from_secs(1)),
            base().with_request_id("theirs"),
            ApiError::new(StatusCode::NOT_FOUND, Code::text("gone"), "gone"),
        ];
        for error in own {
            assert!(bodies.render(&error, &id).is_none(), "{error:?}");
        }
        assert!(bodies.render(&base().with_source("db down"), &id).is_some());
    }

    /// A dialect that stamps every body with a count, so a copy would be wrong.
    #[derive(Debug)]
    struct Counting(std::sync::atomic::AtomicU32);

    impl Dialect for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn violations(&self) -> crate::ViolationSupport {
            crate::ViolationSupport::None
        }
        fn write_body(&self, _: &ApiError, out: &mut Vec<u8>) {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out.extend_from_slice(n.to_string().as_bytes());
        }
        fn parse(&self, _: StatusCode, _: &http::HeaderMap, _: &[u8]) -> Option<ApiError> {
            None
        }
    }

    #[test]
    fn an_impure_dialect_is_never_prerendered() {
        // Scenario: a dialect of one's own that does not say it is pure renders every
        // answer itself.
        static COUNTING: Counting = Counting(std::sync::atomic::AtomicU32::new(0));
        let profile = Profile::new("counting", &COUNTING, &crate::catalog::GENERAL_STATIC);
        let bodies = Prerendered::new(&profile);
        let id = HeaderValue::from_static("id");
        assert!(
            bodies
                .render(&ApiError::from(Condition::NotFound), &id)
                .is_none()
        );
    }
}
