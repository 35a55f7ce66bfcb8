//! The union of every dialect's fields, read in one pass so that detecting the dialect
//! costs no second parse.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::{Code, FieldViolation, ViolationKind};

/// Every top-level member any built-in dialect uses. Unknown members are skipped.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Wire {
    // problem (RFC 9457)
    #[serde(rename = "type")]
    pub(crate) type_uri: Option<String>,
    pub(crate) title: Option<String>,
    /// A number in `problem`, `"success"`/`"fail"` in `wrapper`.
    pub(crate) status: Option<StatusMember>,
    pub(crate) detail: Option<String>,
    pub(crate) code: Option<Code>,
    pub(crate) request_id: Option<String>,
    /// Violations in `problem`, the error list in `errors-array`.
    pub(crate) errors: Option<Vec<Item>>,
    pub(crate) messages: Option<Vec<String>>,
    // OAuth and nested
    /// A string in the OAuth form, an object in `nested`.
    pub(crate) error: Option<ErrorMember>,
    pub(crate) error_description: Option<String>,
    // wrapper and specific-code
    pub(crate) message: Option<String>,
    #[serde(rename = "requestId")]
    pub(crate) request_id_camel: Option<String>,
    #[serde(rename = "validationErrors")]
    pub(crate) validation_errors: Option<Vec<Item>>,
    #[serde(rename = "errorCode")]
    pub(crate) error_code: Option<Code>,
    #[serde(rename = "specificCode")]
    pub(crate) specific_code: Option<Code>,
    #[serde(rename = "additionalMessages")]
    pub(crate) additional_messages: Option<Vec<String>>,
}

/// One element of an error or violation list, in any dialect.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Item {
    #[serde(rename = "errorCode")]
    pub(crate) error_code: Option<Code>,
    pub(crate) message: Option<String>,
    pub(crate) subject: Option<String>,
    #[serde(rename = "subjectType")]
    pub(crate) subject_type: Option<String>,
    pub(crate) detail: Option<String>,
    pub(crate) field: Option<String>,
    #[serde(rename = "in")]
    pub(crate) location: Option<String>,
}

/// The `error` object of the `nested` dialect.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NestedError {
    pub(crate) code: Option<Code>,
    pub(crate) message: Option<String>,
    pub(crate) extra: Option<NestedExtra>,
}

/// The `extra` object of the `nested` dialect.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NestedExtra {
    #[serde(rename = "invalid-params")]
    pub(crate) invalid_params: Option<Vec<Item>>,
    pub(crate) messages: Option<Vec<String>>,
    pub(crate) request_id: Option<String>,
}

/// `status`: a number or a string.
#[derive(Debug)]
pub(crate) enum StatusMember {
    Number,
    Text,
}

/// `error`: a string (OAuth) or an object (nested).
#[derive(Debug)]
pub(crate) enum ErrorMember {
    Text(String),
    Object(Box<NestedError>),
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

impl<'de> Deserialize<'de> for ErrorMember {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ErrorMember;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error string or object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrorMember, E> {
                Ok(ErrorMember::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ErrorMember, E> {
                Ok(ErrorMember::Text(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ErrorMember, A::Error> {
                NestedError::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|e| ErrorMember::Object(Box::new(e)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl Wire {
    /// Reads a body; `None` when it is not a JSON object of compatible member types.
    pub(crate) fn read(body: &[u8]) -> Option<Wire> {
        serde_json::from_slice(body).ok()
    }
}

impl Item {
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
