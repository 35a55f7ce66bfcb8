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

/// Reads a body's members into a [`Wire`] in place.
struct Fill<'w, 'a> {
    wire: &'w mut Wire<'a>,
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
                Member::Errors => match map.next_value()? {
                    ListOrMap::List(items) => w.errors = items,
                    // A map from field to messages (Rails, ASP.NET): another format.
                    ListOrMap::Map => w.foreign = true,
                },
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
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `errors`: a list in apierr's dialects, a map from field to messages in Rails' and
/// ASP.NET's formats (only noticed: reading it as a list would fail with an error of
/// `serde_json`'s, which costs more than skipping it).
enum ListOrMap<'a> {
    List(Option<Vec<Item<'a>>>),
    Map,
}

impl<'de: 'a, 'a> Deserialize<'de> for ListOrMap<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ListOrMap<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of errors")
            }
            fn visit_unit<E: de::Error>(self) -> Result<ListOrMap<'a>, E> {
                Ok(ListOrMap::List(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<ListOrMap<'a>, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(|items| ListOrMap::List(Some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ListOrMap<'a>, A::Error> {
                de::IgnoredAny::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ListOrMap::Map)
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// One element of an error or violation list, in any dialect.
#[derive(Debug, Default)]
pub(crate) struct Item<'a> {
    /// `errorCode`.
    pub(crate) error_code: Option<Code>,
    pub(crate) message: Option<Str<'a>>,
    pub(crate) subject: Option<Str<'a>>,
    /// `subjectType`.
    pub(crate) subject_type: Option<Str<'a>>,
    pub(crate) detail: Option<Str<'a>>,
    pub(crate) field: Option<Str<'a>>,
    /// `in`.
    pub(crate) location: Option<Str<'a>>,
    /// Seed 003 (as apierr writes it): the error's additional messages, on its first
    /// element.
    pub(crate) messages: Option<Vec<Str<'a>>>,
    /// It holds a member of other vendors' items ([`ItemMember::Foreign`]).
    foreign: bool,
}

/// The names of [`Item`]'s members.
#[derive(Deserialize)]
#[serde(field_identifier)]
enum ItemMember {
    #[serde(rename = "errorCode")]
    ErrorCode,
    #[serde(rename = "message")]
    Message,
    #[serde(rename = "subject")]
    Subject,
    #[serde(rename = "subjectType")]
    SubjectType,
    #[serde(rename = "detail")]
    Detail,
    #[serde(rename = "field")]
    Field,
    #[serde(rename = "in")]
    In,
    #[serde(rename = "messages")]
    Messages,
    /// Members of other vendors' items (JSON:API, GraphQL, GitHub, RFC 9457's
    /// `pointer`), only noticed.
    #[serde(
        rename = "pointer",
        alias = "source",
        alias = "title",
        alias = "status",
        alias = "extensions",
        alias = "locations",
        alias = "path",
        alias = "resource",
        alias = "code"
    )]
    Foreign,
    #[serde(other)]
    Other,
}

impl Item<'_> {
    /// Whether it holds a member no dialect of apierr's writes in an item.
    pub(crate) fn is_foreign(&self) -> bool {
        self.foreign
    }
}

/// The `error` object of the `nested` dialect.
#[derive(Debug, Default)]
pub(crate) struct NestedError<'a> {
    pub(crate) code: Option<Code>,
    pub(crate) message: Option<Str<'a>>,
    pub(crate) extra: Option<NestedExtra<'a>>,
    /// It holds a member of other vendors' `error` objects ([`NestedMember::Foreign`]).
    foreign: bool,
}

/// The names of [`NestedError`]'s members.
#[derive(Deserialize)]
#[serde(field_identifier)]
enum NestedMember {
    #[serde(rename = "code")]
    Code,
    #[serde(rename = "message")]
    Message,
    #[serde(rename = "extra")]
    Extra,
    /// Members of other vendors' `error` objects (Google, Microsoft, Stripe), only
    /// noticed.
    #[serde(
        rename = "status",
        alias = "details",
        alias = "innererror",
        alias = "innerError",
        alias = "target",
        alias = "type",
        alias = "param",
        alias = "doc_url"
    )]
    Foreign,
    #[serde(other)]
    Other,
}

impl NestedError<'_> {
    /// Whether it holds a member the `nested` dialect does not write.
    pub(crate) fn is_foreign(&self) -> bool {
        self.foreign
    }
}

/// A repeated member keeps its last value, as in [`Wire`].
impl<'de: 'a, 'a> Deserialize<'de> for Item<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Item<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error item (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item<'a>, A::Error> {
                let mut item = Item::default();
                while let Some(member) = map.next_key()? {
                    match member {
                        ItemMember::ErrorCode => item.error_code = map.next_value()?,
                        ItemMember::Message => item.message = map.next_value()?,
                        ItemMember::Subject => item.subject = map.next_value()?,
                        ItemMember::SubjectType => item.subject_type = map.next_value()?,
                        ItemMember::Detail => item.detail = map.next_value()?,
                        ItemMember::Field => item.field = map.next_value()?,
                        ItemMember::In => item.location = map.next_value()?,
                        ItemMember::Messages => item.messages = map.next_value()?,
                        ItemMember::Foreign => {
                            item.foreign = true;
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        ItemMember::Other => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(item)
            }
        }
        deserializer.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A repeated member keeps its last value, as in [`Wire`].
impl<'de: 'a, 'a> Deserialize<'de> for NestedError<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = NestedError<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NestedError<'a>, A::Error> {
                let mut error = NestedError::default();
                while let Some(member) = map.next_key()? {
                    match member {
                        NestedMember::Code => error.code = map.next_value()?,
                        NestedMember::Message => error.message = map.next_value()?,
                        NestedMember::Extra => error.extra = map.next_value()?,
                        NestedMember::Foreign => {
                            error.foreign = true;
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        NestedMember::Other => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(error)
            }
        }
        deserializer.deserialize_map(V(std::marker::PhantomData))
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
    /// Not read: a top-level member says it is another vendor's body.
    Foreign,
    /// Not a JSON object of compatible member types, or not JSON.
    Failed,
}

/// Whether a JSON object's first member says, by its name alone, that the body is
/// another vendor's: a name no dialect of apierr's writes ([`Member::Other`]), an
/// `errors` map (Rails', ASP.NET's), a string member holding something else (FastAPI's
/// `detail` list), or a first item of `errors` or an `error` object whose own first
/// member only other formats have ([`ItemMember::Foreign`], [`NestedMember::Foreign`]).
/// Each is a case the full read marks foreign or fails on, so the outcome is the same;
/// only the read into a [`Wire`], which the recognisers would follow with a second parse,
/// is spared.
///
/// Only first members are looked at: skimming every member name costs apierr's own
/// bodies, which have none of these, a third of their parse (measured with
/// `benches/instructions.py apierr dialects parse`); a foreign member further on is
/// found by the full read.
fn has_foreign_member(body: &[u8]) -> bool {
    let mut skim = Skim { body, at: 0 };
    let Some((name, value)) = skim.first_member() else {
        return false;
    };
    let classify = de::value::BorrowedStrDeserializer::<de::value::Error>::new;
    match Member::deserialize(classify(name)) {
        Ok(Member::Other) => true,
        Ok(
            Member::Type
            | Member::Title
            | Member::Detail
            | Member::RequestId
            | Member::ErrorDescription
            | Member::Message
            | Member::RequestIdCamel,
        ) => !matches!(value, b'"' | b'n'),
        Ok(Member::Errors) if value == b'{' => true,
        // The list's `[` is consumed: its first item starts here.
        Ok(Member::Errors) if value == b'[' => skim.first_member().is_some_and(|(name, _)| {
            matches!(
                ItemMember::deserialize(classify(name)),
                Ok(ItemMember::Foreign)
            )
        }),
        Ok(Member::Error) if value == b'{' => {
            // Back to the object's `{`, consumed as the value's first byte.
            skim.at -= 1;
            skim.first_member().is_some_and(|(name, _)| {
                matches!(
                    NestedMember::deserialize(classify(name)),
                    Ok(NestedMember::Foreign)
                )
            })
        }
        _ => false,
    }
}

/// A cursor over a body for [`has_foreign_member`].
struct Skim<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Skim<'a> {
    /// The next byte that is not white space, consumed.
    fn next(&mut self) -> Option<u8> {
        while let Some(&b) = self.body.get(self.at) {
            self.at += 1;
            if !b.is_ascii_whitespace() {
                return Some(b);
            }
        }
        None
    }

    /// The name of the first member of the object that starts here, and the first byte
    /// of its value (consumed); `None` when there is none or its name has an escape.
    fn first_member(&mut self) -> Option<(&'a str, u8)> {
        if self.next()? != b'{' || self.next()? != b'"' {
            return None;
        }
        // Member names are short: a plain loop beats `memchr`'s set-up.
        let rest = &self.body[self.at..];
        let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
        if rest[end] != b'"' {
            return None;
        }
        let name = std::str::from_utf8(&rest[..end]).ok()?;
        self.at += end + 1;
        if self.next()? != b':' {
            return None;
        }
        Some((name, self.next()?))
    }
}

impl<'a> Wire<'a> {
    /// Reads a body into an empty wire (a repeated member keeps its last value); with
    /// `skim`, not when its member names say it is another vendor's body
    /// ([`Filled::Foreign`]).
    pub(crate) fn fill(&mut self, body: &'a [u8], skim: bool) -> Filled {
        if skim && has_foreign_member(body) {
            self.foreign = true;
            return Filled::Foreign;
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        let read = de::DeserializeSeed::deserialize(Fill { wire: self }, &mut de);
        match read.and_then(|()| de.end()) {
            Ok(()) => Filled::Whole,
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Filled, Wire, has_foreign_member};

    /// Objects whose members (and items' and `error`'s) mix apierr's names and others'.
    fn bodies() -> impl Strategy<Value = String> {
        let names = prop::sample::select(vec![
            "type",
            "title",
            "status",
            "detail",
            "code",
            "errors",
            "error",
            "message",
            "errorCode",
            "source",
            "pointer",
            "details",
            "ok",
            "instance",
            "innererror",
            "field",
            "extra",
            "messages",
        ]);
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("1".to_owned()),
            "\"[a-z\\\\\" ]{0,6}\"",
        ];
        leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((names.clone(), inner), 0..4).prop_map(|kv| {
                    let m: Vec<_> = kv.iter().map(|(k, v)| format!("\"{k}\" : {v}")).collect();
                    format!("{{ {} }}", m.join(", "))
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_skim_agrees_with_the_full_read(body in bodies()) {
            // Scenario: whenever the skim calls a body foreign, the full read would have
            // failed or found it foreign too, so skipping the read changes no outcome.
            if has_foreign_member(body.as_bytes()) {
                let mut wire = Wire::default();
                let filled = wire.fill(body.as_bytes(), false);
                prop_assert!(
                    filled == Filled::Failed || wire.is_foreign(),
                    "{body}: {filled:?}"
                );
            }
        }
    }

    #[test]
    fn the_skim_reads_first_members_only() {
        // Scenario: the forms it knows, and a foreign member it is not meant to see.
        for (body, foreign) in [
            (r#"{"ok": false, "error": "x"}"#, true),
            (r#" { "errors" : {"email": ["bad"]}}"#, true),
            (r#"{"detail": [{"loc": ["body"]}]}"#, true),
            (r#"{"errors": [{"source": {"pointer": "/a"}}]}"#, true),
            (r#"{"error": {"status": "X", "code": 1}}"#, true),
            (r#"{"error": {"code": 1, "status": "X"}}"#, false),
            (r#"{"message": "m", "documentation_url": "u"}"#, false),
            (r#"{"type": "about:blank", "title": "t"}"#, false),
            (r#"{"detail": null}"#, false),
            (r#"{"\u0074ype": 1}"#, false),
            ("[1]", false),
            ("", false),
            ("{", false),
        ] {
            assert_eq!(has_foreign_member(body.as_bytes()), foreign, "{body}");
        }
    }
}
