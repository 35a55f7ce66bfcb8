//! A JSON document borrowed from the body it was read from, for the recognisers.
//!
//! `serde_json::Value` would do, but costs what a recogniser cannot afford on a body that
//! is read once and dropped: a `String` for every member name and string, and a
//! `BTreeMap` insert for every member. Here strings without escapes are slices of the
//! body and an object is its members in a vector, in the body's order. Measured with
//! `benches/instructions.py apierr recognise`, this is what brought recognising a vendor
//! body under 1.5× a `Value` parse of it.
//!
//! A member repeated in an object is kept twice; [`Obj::get`] gives the last, as
//! `Value` would. Depth is bounded by `serde_json`'s recursion limit (128).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value whose strings borrow from the body where they can.
#[derive(Debug, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Num(Num),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Obj<'a>),
}

/// A JSON number, as `serde_json` reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    U(u64),
    I(i64),
    F(f64),
}

/// A JSON object: its members in the body's order.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Obj<'a>(Vec<(Cow<'a, str>, Json<'a>)>);

impl<'a> Json<'a> {
    /// Reads a whole body; an error when it is not one JSON value.
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let json = Json::deserialize(&mut de)?;
        de.end()?;
        Ok(json)
    }

    /// The member `key`, when this is an object that has it.
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.as_object()?.get(key)
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub(crate) fn as_object(&self) -> Option<&Obj<'a>> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    pub(crate) fn is_number(&self) -> bool {
        matches!(self, Json::Num(_))
    }

    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => n.as_u64(),
            _ => None,
        }
    }
}

impl Num {
    pub(crate) fn as_u64(self) -> Option<u64> {
        match self {
            Num::U(n) => Some(n),
            Num::I(n) => u64::try_from(n).ok(),
            Num::F(_) => None,
        }
    }

    #[allow(clippy::cast_precision_loss)] // a wait in seconds: precision far beyond need
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::U(n) => n as f64,
            Num::I(n) => n as f64,
            Num::F(n) => n,
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::U(n) => n.fmt(f),
            Num::I(n) => n.fmt(f),
            Num::F(n) => n.fmt(f),
        }
    }
}

/// A scalar as text (`true`, `12`, the string itself); a container as `[…]` or `{…}`.
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => b.fmt(f),
            Json::Num(n) => n.fmt(f),
            Json::Str(s) => f.write_str(s),
            Json::Array(_) => f.write_str("[…]"),
            Json::Object(_) => f.write_str("{…}"),
        }
    }
}

impl<'a> Obj<'a> {
    /// The last member named `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// How many members it has, a repeated one counted each time.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Its members, in the body's order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor(std::marker::PhantomData))
    }
}

struct JsonVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for JsonVisitor<'a> {
    type Value = Json<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json<'a>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json<'a>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json<'a>, E> {
        Ok(Json::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json<'a>, E> {
        Ok(Json::Num(Num::U(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json<'a>, E> {
        Ok(Json::Num(Num::I(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json<'a>, E> {
        Ok(Json::Num(Num::F(v)))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Json<'a>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json<'a>, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json<'a>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'a>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'a>, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<Json<'a>>()? {
            let Json::Str(key) = key else {
                return Err(de::Error::custom("a member name that is not a string"));
            };
            members.push((key, map.next_value()?));
        }
        Ok(Json::Object(Obj(members)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_reads_what_value_reads() {
        // Scenario: every kind of value, escapes, a repeated member, and bad input.
        let body = br#"{"a": [1, -2, 1.5, true, null, "x\"y"], "b": {"c": "d"}, "a": "last"}"#;
        let json = Json::parse(body).unwrap();
        assert_eq!(json.get("a").and_then(Json::as_str), Some("last"));
        let Json::Object(o) = &json else {
            panic!("an object")
        };
        assert_eq!(o.len(), 3);
        let Some(Json::Array(items)) = o.iter().next().map(|(_, v)| v) else {
            panic!("the array")
        };
        assert_eq!(
            items,
            &[
                Json::Num(Num::U(1)),
                Json::Num(Num::I(-2)),
                Json::Num(Num::F(1.5)),
                Json::Bool(true),
                Json::Null,
                Json::Str(Cow::Owned("x\"y".into())),
            ]
        );
        assert!(matches!(
            json.get("b").and_then(|b| b.get("c")),
            Some(Json::Str(Cow::Borrowed("d")))
        ));
        assert!(Json::parse(b"{\"a\": 1} x").is_err());
        assert!(Json::parse(b"").is_err());
        let deep = "[".repeat(10_000);
        assert!(Json::parse(deep.as_bytes()).is_err());
    }
}
