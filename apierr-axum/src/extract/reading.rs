//! One reading of a JSON value as a Rust type, that says where it stopped and can skip
//! what an earlier reading passed.
//!
//! The search for every violation (`violations`) reads the value again after each
//! violation. `serde_path_to_error` would say where each reading stopped, but copies
//! every member name it passes into a `String` (most of a reading's cost), and each
//! reading would start again from the first element of every list. Here the path is a
//! stack of borrowed names and indices, and a list that an earlier reading passed up to
//! element `n` (the elements before the violation, unchanged since) starts at `n`:
//! the readings together cost about one reading of the whole value, not one per
//! violation. (Measured: `benches/instructions.py apierr-axum violations`.)
//!
//! Skipping is only done for `deserialize_seq`, which the standard collections use and
//! whose elements are read alike and apart; tuples and fixed-size arrays
//! (`deserialize_tuple`) are read whole. A type that checks a list's length could see a
//! shorter list than the caller sent: a problem found at or above a skipped list, and
//! the end of a reading that skipped, are confirmed by a reading that skips nothing.

use std::cell::RefCell;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Number, Value};

use super::violations::Segment;

type Error = serde_json::Error;

/// One step of the path, borrowed from the value.
#[derive(Debug, Clone, Copy)]
enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

impl Step<'_> {
    fn is(&self, segment: &Segment) -> bool {
        match (self, segment) {
            (Step::Key(a), Segment::Key(b)) => *a == b.as_str(),
            (Step::Index(a), Segment::Index(b)) => a == b,
            _ => false,
        }
    }

    fn owned(self) -> Segment {
        match self {
            Step::Key(key) => Segment::Key(key.to_owned()),
            Step::Index(index) => Segment::Index(index),
        }
    }
}

/// The lists to start further in: at each location, the first element to read.
pub(crate) type Skips = Vec<(Vec<Segment>, usize)>;

/// A reading: where it is, and what it may skip.
pub(crate) struct Reading<'v, 's> {
    path: RefCell<Vec<Step<'v>>>,
    skips: &'s Skips,
    skipped: std::cell::Cell<bool>,
}

/// Where a failed reading stopped, and whether it skipped any element on the way.
pub(crate) struct Stop {
    pub(crate) location: Vec<Segment>,
    pub(crate) error: Error,
    pub(crate) skipped: bool,
}

/// Reads `T` from `value`, skipping as `skips` says. `Ok(skipped)` when it reads.
pub(crate) fn read<T: de::DeserializeOwned>(value: &Value, skips: &Skips) -> Result<bool, Stop> {
    let reading = Reading {
        path: RefCell::new(Vec::new()),
        skips,
        skipped: std::cell::Cell::new(false),
    };
    let de = De {
        value,
        reading: &reading,
        depth: 0,
    };
    match T::deserialize(de) {
        Ok(_) => Ok(reading.skipped.get()),
        Err(error) => Err(Stop {
            location: reading
                .path
                .into_inner()
                .into_iter()
                .map(Step::owned)
                .collect(),
            error,
            skipped: reading.skipped.get(),
        }),
    }
}

/// A value at a depth of the path.
struct De<'r, 'v, 's> {
    value: &'v Value,
    reading: &'r Reading<'v, 's>,
    depth: usize,
}

impl<'r, 'v, 's> De<'r, 'v, 's> {
    /// The child at `step`: the path is cut back to this depth and the step pushed
    /// (a sibling that failed and was recovered from leaves nothing behind).
    fn child(&self, value: &'v Value, step: Step<'v>) -> De<'r, 'v, 's> {
        let mut path = self.reading.path.borrow_mut();
        path.truncate(self.depth);
        path.push(step);
        De {
            value,
            reading: self.reading,
            depth: self.depth + 1,
        }
    }

    /// The path back at this depth, after a child read.
    fn done(&self) {
        self.reading.path.borrow_mut().truncate(self.depth);
    }

    /// The first element to read of the list here.
    fn skip(&self) -> usize {
        let path = self.reading.path.borrow();
        let here = &path[..self.depth.min(path.len())];
        self.reading
            .skips
            .iter()
            .find(|(at, _)| at.len() == here.len() && here.iter().zip(at).all(|(s, a)| s.is(a)))
            .map_or(0, |(_, from)| *from)
    }

    fn seq(&self, items: &'v [Value], from: usize) -> Seq<'r, 'v, 's, '_> {
        Seq {
            parent: self,
            items,
            next: from,
        }
    }

    fn map(&self, members: &'v Map<String, Value>) -> Members<'r, 'v, 's, '_> {
        Members {
            parent: self,
            iter: members.iter(),
            value: None,
        }
    }
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => number_unexpected(n),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

fn number_unexpected(n: &Number) -> Unexpected<'_> {
    if let Some(u) = n.as_u64() {
        Unexpected::Unsigned(u)
    } else if let Some(i) = n.as_i64() {
        Unexpected::Signed(i)
    } else {
        Unexpected::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

impl<'de, 'r, 's> de::Deserializer<'de> for De<'r, 'de, 's> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visit_list(visitor, self.seq(items, 0), items.len()),
            Value::Object(members) => {
                let mut map = self.map(members);
                let read = visitor.visit_map(&mut map)?;
                if map.iter.len() == 0 {
                    Ok(read)
                } else {
                    Err(de::Error::invalid_length(
                        members.len(),
                        &"fewer elements in map",
                    ))
                }
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Array(items) => {
                let from = self.skip().min(items.len());
                if from > 0 {
                    self.reading.skipped.set(true);
                }
                visit_list(visitor, self.seq(items, from), items.len())
            }
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::String(variant) => visitor.visit_enum(Variant {
                parent: self,
                variant,
                value: None,
            }),
            Value::Object(members) if members.len() == 1 => {
                let Some((variant, value)) = members.iter().next() else {
                    return Err(de::Error::invalid_value(
                        Unexpected::Map,
                        &"map with a single key",
                    ));
                };
                visitor.visit_enum(Variant {
                    parent: self,
                    variant,
                    value: Some(value),
                })
            }
            Value::Object(_) => Err(de::Error::invalid_value(
                Unexpected::Map,
                &"map with a single key",
            )),
            other => Err(de::Error::invalid_type(unexpected(other), &"string or map")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct tuple tuple_struct map struct identifier
    }
}

/// A list read to its end (from where its `Seq` starts), which must hold `len` items.
fn visit_list<'de, V: Visitor<'de>>(
    visitor: V,
    mut seq: Seq<'_, 'de, '_, '_>,
    len: usize,
) -> Result<V::Value, Error> {
    let read = visitor.visit_seq(&mut seq)?;
    if seq.next == len {
        Ok(read)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements in array"))
    }
}

struct Seq<'r, 'v, 's, 'p> {
    parent: &'p De<'r, 'v, 's>,
    items: &'v [Value],
    next: usize,
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de, '_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(item) = self.items.get(self.next) else {
            return Ok(None);
        };
        let child = self.parent.child(item, Step::Index(self.next));
        let read = seed.deserialize(child)?;
        self.parent.done();
        self.next += 1;
        Ok(Some(read))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct Members<'r, 'v, 's, 'p> {
    parent: &'p De<'r, 'v, 's>,
    iter: serde_json::map::Iter<'v>,
    value: Option<(&'v str, &'v Value)>,
}

impl<'de> MapAccess<'de> for Members<'_, 'de, '_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        seed.deserialize(Key(key)).map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom("value is missing"));
        };
        let child = self.parent.child(value, Step::Key(key));
        let read = seed.deserialize(child)?;
        self.parent.done();
        Ok(read)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An object's key: a string, or a number or boolean written as one (as serde_json
/// reads map keys).
struct Key<'v>(&'v str);

macro_rules! parsed_key {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self.0.parse::<$ty>() {
                    Ok(n) => visitor.$visit(n),
                    // serde_json's words for a key that does not parse.
                    Err(_) => Err(de::Error::custom(
                        "invalid value: expected key to be a number in quotes",
                    )),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    parsed_key! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
        deserialize_bool => visit_bool: bool,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        BorrowedStrDeserializer::new(self.0).deserialize_enum(name, variants, visitor)
    }

    forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// An enum's variant, and its content if it has one.
struct Variant<'r, 'v, 's> {
    parent: De<'r, 'v, 's>,
    variant: &'v str,
    value: Option<&'v Value>,
}

impl<'de, 'r, 's> EnumAccess<'de> for Variant<'r, 'de, 's> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let variant = seed.deserialize(BorrowedStrDeserializer::<Error>::new(self.variant))?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_, 'de, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(de::Error::invalid_type(unexpected(other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.value {
            Some(value) => {
                let child = self.parent.child(value, Step::Key(self.variant));
                let read = seed.deserialize(child)?;
                self.parent.done();
                Ok(read)
            }
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Some(value @ Value::Array(items)) => {
                let child = self.parent.child(value, Step::Key(self.variant));
                let read = visit_list(visitor, child.seq(items, 0), items.len())?;
                self.parent.done();
                Ok(read)
            }
            Some(other) => Err(de::Error::invalid_type(unexpected(other), &"tuple variant")),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Some(value) => {
                let child = self.parent.child(value, Step::Key(self.variant));
                let read = de::Deserializer::deserialize_struct(child, "", fields, visitor)?;
                self.parent.done();
                Ok(read)
            }
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;
    use serde::de::DeserializeOwned;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    #[serde(deny_unknown_fields)]
    struct Item {
        name: String,
        age: u32,
        tags: Vec<String>,
        pair: (u8, bool),
        kind: Kind,
        note: Option<f64>,
        by_id: HashMap<u32, i8>,
        wrapped: Wrapped,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wrapped(i16);

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Plain,
        Sized(u32),
        Pair(u8, u8),
        Shaped { w: u32 },
    }

    fn base() -> Value {
        serde_json::json!({
            "name": "a", "age": 3, "tags": ["x"], "pair": [1, true], "kind": "plain",
            "note": 1.5, "by_id": {"7": -1}, "wrapped": 9,
        })
    }

    /// Where serde_path_to_error says the first problem is, and its message.
    fn reference<T: DeserializeOwned>(value: &Value) -> Option<(Vec<Segment>, String)> {
        use serde_path_to_error::Segment as Step;
        let err = serde_path_to_error::deserialize::<_, T>(value).err()?;
        let location = err
            .path()
            .iter()
            .filter_map(|step| match step {
                Step::Seq { index } => Some(Segment::Index(*index)),
                Step::Map { key } | Step::Enum { variant: key } => Some(Segment::Key(key.clone())),
                Step::Unknown => None,
            })
            .collect();
        Some((location, err.into_inner().to_string()))
    }

    fn ours<T: DeserializeOwned>(value: &Value) -> Option<(Vec<Segment>, String)> {
        read::<T>(value, &Skips::new())
            .err()
            .map(|stop| (stop.location, stop.error.to_string()))
    }

    #[test]
    fn a_reading_stops_where_and_as_serde_path_to_error_says() {
        // Scenario: one problem of each kind, anywhere in the value: the same location
        // and the same message as the reading of serde_json's value through
        // serde_path_to_error, and none for the valid value.
        let cases: Vec<(&str, Value)> = vec![
            ("name", serde_json::json!(5)),
            ("age", serde_json::json!("old")),
            ("age", serde_json::json!(-4)),
            ("age", serde_json::json!(5_000_000_000_u64)),
            ("tags", serde_json::json!(["x", 2])),
            ("tags", serde_json::json!({"a": 1})),
            ("pair", serde_json::json!([1])),
            ("pair", serde_json::json!([1, true, 3])),
            ("pair", serde_json::json!([300, true])),
            ("kind", serde_json::json!("other")),
            ("kind", serde_json::json!({"sized": "x"})),
            ("kind", serde_json::json!({"pair": [1]})),
            ("kind", serde_json::json!({"shaped": {"w": true}})),
            ("kind", serde_json::json!({"shaped": {}})),
            ("kind", serde_json::json!({"plain": 1, "sized": 2})),
            ("kind", serde_json::json!(4)),
            ("note", serde_json::json!("x")),
            ("by_id", serde_json::json!({"x": 1})),
            ("by_id", serde_json::json!({"7": 300})),
            ("wrapped", serde_json::json!(70_000)),
        ];
        assert_eq!(ours::<Item>(&base()), None);
        for (field, bad) in cases {
            let mut value = base();
            value[field] = bad.clone();
            assert_eq!(
                ours::<Item>(&value),
                reference::<Item>(&value),
                "{field}: {bad}"
            );
        }
        let mut value = base();
        value.as_object_mut().unwrap().remove("age");
        assert_eq!(ours::<Item>(&value), reference::<Item>(&value));
        // An unknown member: the same message, at the object that does not know it
        // (serde_path_to_error adds the member's name, which the caller does not want:
        // the member is what is removed).
        let mut value = base();
        value["extra"] = serde_json::json!(1);
        let (location, message) = reference::<Item>(&value).unwrap();
        assert_eq!(location, [Segment::Key("extra".to_owned())]);
        assert_eq!(ours::<Item>(&value), Some((Vec::new(), message)));
        let list = serde_json::json!([base(), base(), {"name": 1}]);
        assert_eq!(ours::<Vec<Item>>(&list), reference::<Vec<Item>>(&list));
        let map = serde_json::json!({"a": base(), "b": {"age": 1}});
        assert_eq!(
            ours::<BTreeMap<String, Item>>(&map),
            reference::<BTreeMap<String, Item>>(&map)
        );
    }

    #[test]
    fn a_list_starts_where_it_is_told() {
        // Scenario: a list told to start at element 2 reads from there, and says so; the
        // problem in element 1 is passed over, the one in element 3 is found at its index.
        let list = serde_json::json!([1, "x", 3, "y"]);
        let skips = vec![(Vec::new(), 2)];
        let stop = read::<Vec<u8>>(&list, &skips).unwrap_err();
        assert_eq!(stop.location, [Segment::Index(3)]);
        assert!(stop.skipped);
        let stop = read::<Vec<u8>>(&list, &Skips::new()).unwrap_err();
        assert_eq!(stop.location, [Segment::Index(1)]);
        assert!(!stop.skipped);
        // A tuple is never shortened.
        let tuple = serde_json::json!([1, "x"]);
        let stop = read::<(u8, u8)>(&tuple, &vec![(Vec::new(), 1)]).unwrap_err();
        assert_eq!(stop.location, [Segment::Index(1)]);
        assert!(!stop.skipped);
    }
}
