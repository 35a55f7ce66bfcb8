//! The union of every dialect's fields, read in one pass so that detecting the dialect
//! costs no second parse.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::{Code, FieldViolation, ViolationKind};

/// Every top-level member any built-in dialect uses. Unknown members are skipped.
///
/// Read in place ([`Wire::fill`]) rather than derived: the struct is large, and serde's
/// derive builds it from locals and moves it out, several copies per parse that cost
/// more than the small bodies take to read.
#[derive(Debug, Default)]
pub(crate) struct Wire<'a> {
    // problem (RFC 9457)
    /// `type`.
    pub(crate) type_uri: Option<Str<'a>>,
    pub(crate) title: Option<Str<'a>>,
    /// A number in `problem`, `"success"`/`"fail"` in `wrapper`.
    pub(crate) status: Option<StatusMember>,
    pub(crate) detail: Option<Str<'a>>,
    pub(crate) code: Option<Code>,
    pub(crate) request_id: Option<Str<'a>>,
    /// Violations in `problem`, the error list in `errors-array`.
    pub(crate) errors: Option<Vec<Item<'a>>>,
    pub(crate) messages: Option<Vec<Str<'a>>>,
    // OAuth and nested
    /// A string in the OAuth form, an object in `nested`.
    pub(crate) error: Option<ErrorMember<'a>>,
    pub(crate) error_description: Option<Str<'a>>,
    // wrapper and specific-code
    pub(crate) message: Option<Str<'a>>,
    /// `requestId`.
    pub(crate) request_id_camel: Option<Str<'a>>,
    /// `validationErrors`.
    pub(crate) validation_errors: Option<Vec<Item<'a>>>,
    /// `errorCode`.
    pub(crate) error_code: Option<Code>,
    /// `specificCode`.
    pub(crate) specific_code: Option<Code>,
    /// `additionalMessages`.
    pub(crate) additional_messages: Option<Vec<Str<'a>>>,
    /// A member none of apierr's dialects writes was seen: the body may be another
    /// vendor's format (see `recognise`).
    pub(crate) foreign: bool,
}

impl Wire<'_> {
    /// Whether the body holds members, at the top, in `error` or in an item, that no
    /// dialect of apierr's writes.
    pub(crate) fn is_foreign(&self) -> bool {
        self.foreign
            || matches!(&self.error, Some(ErrorMember::Object(e)) if e.is_foreign())
            || self
                .errors
                .as_ref()
                .is_some_and(|items| items.iter().any(Item::is_foreign))
    }
}

/// The names of [`Wire`]'s members, matched without allocating.
#[derive(Deserialize)]
#[serde(field_identifier)]
enum Member {
    #[serde(rename = "type")]
    Type,
    #[serde(rename = "title")]
    Title,
    #[serde(rename = "status")]
    Status,
    #[serde(rename = "detail")]
    Detail,
    #[serde(rename = "code")]
    Code,
    #[serde(rename = "request_id")]
    RequestId,
    #[serde(rename = "errors")]
    Errors,
    #[serde(rename = "messages")]
    Messages,
    #[serde(rename = "error")]
    Error,
    #[serde(rename = "error_description")]
    ErrorDescription,
    #[serde(rename = "message")]
    Message,
    #[serde(rename = "requestId")]
    RequestIdCamel,
    #[serde(rename = "validationErrors")]
    ValidationErrors,
    #[serde(rename = "errorCode")]
    ErrorCode,
    #[serde(rename = "specificCode")]
    SpecificCode,
    #[serde(rename = "additionalMessages")]
    AdditionalMessages,
    /// Members apierr's dialects write and no reader needs.
    #[serde(
        rename = "instance",
        alias = "entity",
        alias = "resultCount",
        alias = "totalCount",
        alias = "error_uri"
    )]
    Known,
    #[serde(other)]
    Other,
}

/// Reads a body's members into a [`Wire`] in place; with `stop`, only until the first
/// member no dialect of apierr's writes.
struct Fill<'w, 'a> {
    wire: &'w mut Wire<'a>,
    stop: bool,
}

impl<'de: 'a, 'a> de::DeserializeSeed<'de> for Fill<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Fill<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an error body (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let w = self.wire;
        while let Some(member) = map.next_key()? {
            match member {
                Member::Type => w.type_uri = map.next_value()?,
                Member::Title => w.title = map.next_value()?,
                Member::Status => w.status = map.next_value()?,
                Member::Detail => w.detail = map.next_value()?,
                Member::Code => w.code = map.next_value()?,
                Member::RequestId => w.request_id = map.next_value()?,
                Member::Errors => w.errors = map.next_value()?,
                Member::Messages => w.messages = map.next_value()?,
                Member::Error => w.error = map.next_value()?,
                Member::ErrorDescription => w.error_description = map.next_value()?,
                Member::Message => w.message = map.next_value()?,
                Member::RequestIdCamel => w.request_id_camel = map.next_value()?,
                Member::ValidationErrors => w.validation_errors = map.next_value()?,
                Member::ErrorCode => w.error_code = map.next_value()?,
                Member::SpecificCode => w.specific_code = map.next_value()?,
                Member::AdditionalMessages => w.additional_messages = map.next_value()?,
                Member::Known => {
                    map.next_value::<de::IgnoredAny>()?;
                }
                Member::Other => {
                    w.foreign = true;
                    if self.stop {
                        // Another vendor's body: the recognisers read it whole, so the
                        // rest need not be read here.
                        return Err(de::Error::custom("a member of another format"));
                    }
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// One element of an error or violation list, in any dialect.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Item<'a> {
    #[serde(rename = "errorCode")]
    pub(crate) error_code: Option<Code>,
    #[serde(borrow)]
    pub(crate) message: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) subject: Option<Str<'a>>,
    #[serde(rename = "subjectType")]
    #[serde(borrow)]
    pub(crate) subject_type: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) detail: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) field: Option<Str<'a>>,
    #[serde(rename = "in")]
    #[serde(borrow)]
    pub(crate) location: Option<Str<'a>>,
    /// Seed 003 (as apierr writes it): the error's additional messages, on its first
    /// element.
    #[serde(borrow)]
    pub(crate) messages: Option<Vec<Str<'a>>>,
    /// Members of other vendors' items (JSON:API, GraphQL, GitHub, RFC 9457's
    /// `pointer`), only noticed. Two of them in one item fail the read, which also
    /// leaves the body to the recognisers.
    #[serde(
        default,
        alias = "source",
        alias = "title",
        alias = "status",
        alias = "extensions",
        alias = "locations",
        alias = "path",
        alias = "resource",
        alias = "code"
    )]
    pointer: Option<de::IgnoredAny>,
}

impl Item<'_> {
    /// Whether it holds a member no dialect of apierr's writes in an item.
    pub(crate) fn is_foreign(&self) -> bool {
        self.pointer.is_some()
    }
}

/// The `error` object of the `nested` dialect.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NestedError<'a> {
    pub(crate) code: Option<Code>,
    #[serde(borrow)]
    pub(crate) message: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) extra: Option<NestedExtra<'a>>,
    /// Members of other vendors' `error` objects (Google, Microsoft, Stripe), only
    /// noticed.
    #[serde(
        default,
        alias = "details",
        alias = "innererror",
        alias = "innerError",
        alias = "target",
        alias = "type",
        alias = "param",
        alias = "doc_url"
    )]
    status: Option<de::IgnoredAny>,
}

impl NestedError<'_> {
    /// Whether it holds a member the `nested` dialect does not write.
    pub(crate) fn is_foreign(&self) -> bool {
        self.status.is_some()
    }
}

/// The `extra` object of the `nested` dialect.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NestedExtra<'a> {
    #[serde(rename = "invalid-params")]
    #[serde(borrow)]
    pub(crate) invalid_params: Option<Vec<Item<'a>>>,
    #[serde(borrow)]
    pub(crate) messages: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    pub(crate) request_id: Option<Str<'a>>,
}

/// `status`: a number or a string.
#[derive(Debug)]
pub(crate) enum StatusMember {
    Number,
    Text,
}

/// `error`: a string (OAuth) or an object (nested).
#[derive(Debug)]
pub(crate) enum ErrorMember<'a> {
    Text(Str<'a>),
    Object(Box<NestedError<'a>>),
}

impl<'de> Deserialize<'de> for StatusMember {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusMember;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status number or string")
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<StatusMember, E> {
                Ok(StatusMember::Number)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<StatusMember, E> {
                Ok(StatusMember::Number)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<StatusMember, E> {
                Ok(StatusMember::Number)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<StatusMember, E> {
                Ok(StatusMember::Text)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ErrorMember<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ErrorMember<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error string or object")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<ErrorMember<'a>, E> {
                Ok(ErrorMember::Text(Str(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrorMember<'a>, E> {
                Ok(ErrorMember::Text(Str(Cow::Owned(v.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ErrorMember<'a>, A::Error> {
                NestedError::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|e| ErrorMember::Object(Box::new(e)))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// How far [`Wire::fill`] read a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filled {
    /// Whole: a JSON object of compatible member types.
    Whole,
    /// Up to a top-level member that no dialect of apierr's writes, where it stopped.
    Foreign,
    /// Not a JSON object of compatible member types, or not JSON.
    Failed,
}

/// The body length from which stopping at a foreign member pays: stopping costs an
/// error of `serde_json`'s (about 650 instructions, most of them spent formatting and
/// searching its message), which is what reading a few hundred more bytes costs.
const STOP_FROM_LEN: usize = 512;

/// The first member name of a JSON object, when it is plain (no escapes).
fn first_member(body: &[u8]) -> Option<&str> {
    let rest = body.trim_ascii_start().strip_prefix(b"{")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    (rest[end] == b'"').then(|| std::str::from_utf8(&rest[..end]).ok())?
}

impl<'a> Wire<'a> {
    /// Reads a body into an empty wire (a repeated member keeps its last value); with
    /// `stop`, only until the first top-level member of another format: at once when it
    /// is the first member, else on a body long enough for stopping to pay.
    pub(crate) fn fill(&mut self, body: &'a [u8], stop: bool) -> Filled {
        if stop
            && let Some(name) = first_member(body)
            && matches!(
                Member::deserialize(de::value::BorrowedStrDeserializer::<de::value::Error>::new(
                    name
                )),
                Ok(Member::Other)
            )
        {
            self.foreign = true;
            return Filled::Foreign;
        }
        let stop = stop && body.len() >= STOP_FROM_LEN;
        let mut de = serde_json::Deserializer::from_slice(body);
        let read = de::DeserializeSeed::deserialize(Fill { wire: self, stop }, &mut de);
        match read.and_then(|()| de.end()) {
            Ok(()) => Filled::Whole,
            Err(_) if stop && self.foreign => Filled::Foreign,
            Err(_) => Filled::Failed,
        }
    }
}

impl Item<'_> {
    /// The violation an item describes, in any dialect's spelling: the field is `field`
    /// or `subject`, the reason `detail` or `message`, the kind `in` or `subjectType`.
    pub(crate) fn into_violation(self, default_kind: ViolationKind) -> FieldViolation {
        let kind = self
            .location
            .or(self.subject_type)
            .map_or(default_kind, |k| ViolationKind::from_wire(&k));
        FieldViolation::new(
            kind,
            self.field.or(self.subject).unwrap_or_default(),
            self.detail.or(self.message).unwrap_or_default(),
        )
    }
}

/// A list of violations, in a vector of its own: collecting in place over the larger
/// items would shrink their allocation afterwards, which costs more than a new one.
pub(crate) fn violations(
    items: Option<Vec<Item<'_>>>,
    kind: &ViolationKind,
) -> Vec<FieldViolation> {
    let Some(items) = items else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    out.extend(items.into_iter().map(|i| i.into_violation(kind.clone())));
    out
}

/// A list of messages, collected in place over the strings' allocation.
pub(crate) fn messages(list: Option<Vec<Str<'_>>>) -> Vec<Cow<'static, str>> {
    list.unwrap_or_default()
        .into_iter()
        .map(Cow::from)
        .collect()
}

/// A string of the body, borrowed from it when it has no escapes, so that members that
/// are read and dropped cost no allocation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Str<'a>(Cow<'a, str>);

impl<'a> Str<'a> {
    /// A string that outlives the body.
    pub(crate) const fn fixed(s: &'static str) -> Self {
        Str(Cow::Borrowed(s))
    }
}

impl Deref for Str<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<Str<'_>> for Cow<'static, str> {
    fn from(s: Str<'_>) -> Self {
        Cow::Owned(s.0.into_owned())
    }
}

impl From<Str<'_>> for String {
    fn from(s: Str<'_>) -> Self {
        s.0.into_owned()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V(std::marker::PhantomData))
    }
}
