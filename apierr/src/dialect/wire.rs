//! The union of every dialect's fields, read in one pass so that detecting the dialect
//! costs no second parse.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::{Code, FieldViolation, ViolationKind};

/// Every top-level member any built-in dialect uses. Unknown members are skipped.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Wire<'a> {
    // problem (RFC 9457)
    #[serde(rename = "type")]
    #[serde(borrow)]
    pub(crate) type_uri: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) title: Option<Str<'a>>,
    /// A number in `problem`, `"success"`/`"fail"` in `wrapper`.
    pub(crate) status: Option<StatusMember>,
    #[serde(borrow)]
    pub(crate) detail: Option<Str<'a>>,
    pub(crate) code: Option<Code>,
    #[serde(borrow)]
    pub(crate) request_id: Option<Str<'a>>,
    /// Violations in `problem`, the error list in `errors-array`.
    #[serde(borrow)]
    pub(crate) errors: Option<Vec<Item<'a>>>,
    #[serde(borrow)]
    pub(crate) messages: Option<Vec<Str<'a>>>,
    // OAuth and nested
    /// A string in the OAuth form, an object in `nested`.
    #[serde(borrow)]
    pub(crate) error: Option<ErrorMember<'a>>,
    #[serde(borrow)]
    pub(crate) error_description: Option<Str<'a>>,
    // wrapper and specific-code
    #[serde(borrow)]
    pub(crate) message: Option<Str<'a>>,
    #[serde(rename = "requestId")]
    #[serde(borrow)]
    pub(crate) request_id_camel: Option<Str<'a>>,
    #[serde(rename = "validationErrors")]
    #[serde(borrow)]
    pub(crate) validation_errors: Option<Vec<Item<'a>>>,
    #[serde(rename = "errorCode")]
    pub(crate) error_code: Option<Code>,
    #[serde(rename = "specificCode")]
    pub(crate) specific_code: Option<Code>,
    #[serde(rename = "additionalMessages")]
    #[serde(borrow)]
    pub(crate) additional_messages: Option<Vec<Str<'a>>>,
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
}

/// The `error` object of the `nested` dialect.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NestedError<'a> {
    pub(crate) code: Option<Code>,
    #[serde(borrow)]
    pub(crate) message: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) extra: Option<NestedExtra<'a>>,
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

impl<'a> Wire<'a> {
    /// Reads a body; `None` when it is not a JSON object of compatible member types.
    pub(crate) fn read(body: &'a [u8]) -> Option<Wire<'a>> {
        serde_json::from_slice(body).ok()
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
