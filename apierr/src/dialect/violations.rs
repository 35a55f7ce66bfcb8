//! Field violations as a JSON list, the shape `problem`, `wrapper` and `nested` share:
//! `[{"field", <reason>, "in"}]`, differing only in the reason's name and whether a body
//! field states its location.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::{FieldViolation, ViolationKind};

/// The violations of an error, serialised without a copy.
pub(crate) struct ViolationList<'a> {
    pub(crate) violations: &'a [FieldViolation],
    /// The member holding the reason (`detail` in RFC 9457, `message` elsewhere).
    pub(crate) reason: &'static str,
    /// Whether `in` is left out for body fields (seed 002's form fields carry none).
    pub(crate) body_implicit: bool,
}

impl ViolationList<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }
}

struct One<'a>(&'a FieldViolation, &'a ViolationList<'a>);

impl Serialize for One<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (v, list) = (self.0, self.1);
        let location = !(list.body_implicit && v.kind() == &ViolationKind::Body);
        let mut map = s.serialize_map(Some(2 + usize::from(location)))?;
        map.serialize_entry("field", v.field())?;
        map.serialize_entry(list.reason, v.message())?;
        if location {
            map.serialize_entry("in", v.kind().as_str())?;
        }
        map.end()
    }
}

impl Serialize for ViolationList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.violations.iter().map(|v| One(v, self)))
    }
}
