//! Every violation of a request's data, in plain words.
//!
//! serde stops at the first field it cannot read, and says why in Rust's terms
//! (``invalid type: integer `5`, expected a string``). A partner needs every field at once
//! (the dialects that report all violations promise it), in words it can show a person.
//! On the error path only, the data is read again: after each violation the offending
//! member is replaced by a stand-in (or a missing one supplied), until the data reads or
//! the budget below runs out. Each message is rewritten in plain words.

use apierr::{ApiError, Condition, FieldViolation, ViolationKind};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::reading::{self, Skips};

/// The most violations one request reports: enough for any real form, and a bound on the
/// work a hostile body can cause.
const MAX_VIOLATIONS: usize = 32;

/// The most readings of the data one request costs (each violation takes one, and each
/// stand-in tried for it one more): the bound that holds even if stand-ins chase each
/// other.
const MAX_READINGS: usize = 8 * MAX_VIOLATIONS;

/// Bodies larger than this report their first violation only: each further one costs
/// a few more reads of the whole body.
pub(crate) const FULL_REPORT_LIMIT: usize = 64 * 1024;

/// What went wrong with one field, read off serde's message.
#[derive(Debug, PartialEq, Eq)]
enum Problem {
    /// `missing field `x``: the field, under the path of its parent.
    Missing(String),
    /// `unknown field `x``: the field, under the path of its parent.
    Unknown(String),
    /// Anything else about the value at the path, in plain words.
    Invalid(String),
}

impl Problem {
    /// The violation of `field`, and whether it is a missing one.
    fn violation(&self, kind: &ViolationKind, field: String) -> (bool, FieldViolation) {
        let (missing, message) = match self {
            Problem::Missing(_) => (true, "is required".to_owned()),
            Problem::Unknown(_) => (false, "is not a known field".to_owned()),
            Problem::Invalid(message) => (false, message.clone()),
        };
        (missing, FieldViolation::new(kind.clone(), field, message))
    }
}

fn classify(message: &str) -> Problem {
    // serde_json appends the position, which names nothing a caller wrote.
    let message = message.split(" at line ").next().unwrap_or(message);
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = quoted("missing field `") {
        return Problem::Missing(field);
    }
    if let Some(field) = quoted("unknown field `") {
        return Problem::Unknown(field);
    }
    Problem::Invalid(plain(message))
}

/// serde's (and `str::parse`'s) messages in plain words.
pub(crate) fn plain(message: &str) -> String {
    let expected = message
        .split_once(", expected ")
        .map(|(_, expected)| expected.trim());
    if (message.starts_with("invalid type") || message.starts_with("invalid value"))
        && let Some(expected) = expected
    {
        return format!("must be {}", kind_of(expected));
    }
    if let Some(variants) = message
        .strip_prefix("unknown variant `")
        .and_then(|rest| rest.split_once("expected "))
        .map(|(_, variants)| variants)
    {
        return format!("must be {}", variants.replace('`', ""));
    }
    match message {
        m if m.starts_with("invalid length") => "has the wrong number of items".to_owned(),
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            "must be a whole number".to_owned()
        }
        "number too large to fit in target type" => "is too large".to_owned(),
        "number too small to fit in target type" => "is too small".to_owned(),
        "invalid float literal" => "must be a number".to_owned(),
        "provided string was not `true` or `false`" => "must be true or false".to_owned(),
        m if m.contains("out of range") => "is out of range".to_owned(),
        _ => "is not valid".to_owned(),
    }
}

/// What a Rust type or serde's description of one means to a caller.
pub(crate) fn kind_of(expected: &str) -> &'static str {
    let expected = expected.trim_start_matches("a ").trim_start_matches("an ");
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "string" | "borrowed string" | "str" | "String" | "char" | "character" => "a string",
        "boolean" | "bool" => "true or false",
        "sequence" | "tuple" | "vec" | "seq" => "a list",
        "map" => "an object",
        "unit" | "null" => "null",
        s if s.starts_with("struct ") || s.starts_with("tuple struct ") => "an object",
        s if s.starts_with("tuple of ") => "a list",
        _ => "of another kind",
    }
}

/// One step from the root of the data to a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// An object member, or an enum variant.
    Key(String),
    /// A list element.
    Index(usize),
}

/// Where a violation is: the members and indices from the root.
type Location = Vec<Segment>;

fn segments(path: &serde_path_to_error::Path) -> Location {
    use serde_path_to_error::Segment as Step;
    path.iter()
        .filter_map(|step| match step {
            Step::Seq { index } => Some(Segment::Index(*index)),
            Step::Map { key } | Step::Enum { variant: key } => Some(Segment::Key(key.clone())),
            Step::Unknown => None,
        })
        .collect()
}

/// A location as a caller names the field: `a.b[0].c`, or `(root)`.
fn name(location: &[Segment]) -> String {
    let mut out = String::new();
    for segment in location {
        match segment {
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
        }
    }
    if out.is_empty() {
        "(root)".to_owned()
    } else {
        out
    }
}

/// Whether `location` is `at` or within it.
fn within(location: &[Segment], at: &[Segment]) -> bool {
    location.len() >= at.len() && location.iter().zip(at).all(|(a, b)| a == b)
}

/// The one error for a list of violations: missing parameters when every field is
/// missing, invalid ones otherwise.
pub(crate) fn error(violations: Vec<(bool, FieldViolation)>) -> ApiError {
    let all_missing = violations.iter().all(|(missing, _)| *missing);
    let condition = if all_missing {
        Condition::MissingParameter
    } else {
        Condition::InvalidParameter
    };
    ApiError::from(condition).with_violations(violations.into_iter().map(|(_, v)| v))
}

/// Whole numbers written with a fraction of zero (`2003.0`) as integers, as JSON Schema
/// counts them; serde would refuse them for an integer field.
pub(crate) fn integral_floats(value: &mut Value) -> bool {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Exactly representable, in range: safe to treat as the integer.
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                *value = Value::from(f as i64);
                true
            } else {
                false
            }
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, v| integral_floats(v) | c),
        Value::Object(members) => members
            .values_mut()
            .fold(false, |c, v| integral_floats(v) | c),
        _ => false,
    }
}

/// The value at a location, to replace; `None` when the path does not lead there.
fn at_mut<'v>(value: &'v mut Value, location: &[Segment]) -> Option<&'v mut Value> {
    location.iter().try_fold(value, |v, segment| match segment {
        Segment::Key(key) => v.as_object_mut()?.get_mut(key),
        Segment::Index(index) => v.as_array_mut()?.get_mut(*index),
    })
}

/// Sets the member at `location` (its parent must be an object or hold the index).
fn put(value: &mut Value, location: &[Segment], new: Value) -> bool {
    let Some((last, parent)) = location.split_last() else {
        *value = new;
        return true;
    };
    match (at_mut(value, parent), last) {
        (Some(Value::Object(members)), Segment::Key(key)) => {
            members.insert(key.clone(), new);
            true
        }
        (Some(Value::Array(items)), Segment::Index(index)) if *index < items.len() => {
            items[*index] = new;
            true
        }
        _ => false,
    }
}

/// The first problem reading `T` from `value`, with its full location. The reading
/// skips the elements of lists that an earlier one passed (`skips`, kept up to date
/// here); a problem found at or above a skipped list, and the end of a reading that
/// skipped, are confirmed by one that skips nothing (a type may check a list's length).
fn first_problem<T: DeserializeOwned>(
    value: &Value,
    skips: &mut Skips,
    readings: &mut usize,
) -> Option<(Location, Problem)> {
    let confirm = |readings: &mut usize| {
        *readings += 1;
        reading::read::<T>(value, &Skips::new()).err()
    };
    let stop = match reading::read::<T>(value, skips) {
        Ok(false) => return None,
        Ok(true) => confirm(readings)?,
        Err(stop)
            if stop.skipped
                && skips
                    .iter()
                    .any(|(at, from)| *from > 0 && within(at, &stop.location)) =>
        {
            confirm(readings)?
        }
        Err(stop) => stop,
    };
    let mut location = stop.location;
    // The elements before the violation read, and do not change: later readings start
    // at it.
    for (i, segment) in location.iter().enumerate() {
        if let Segment::Index(n) = segment {
            let at = &location[..i];
            match skips.iter_mut().find(|(s, _)| s.as_slice() == at) {
                Some((_, from)) => *from = *n,
                None => skips.push((at.to_vec(), *n)),
            }
        }
    }
    let problem = classify(&stop.error.to_string());
    if let Problem::Missing(field) | Problem::Unknown(field) = &problem {
        location.push(Segment::Key(field.clone()));
    }
    Some((location, problem))
}

/// Stand-ins tried for a missing or unreadable member, one of which reads as almost any
/// field type: the read then moves on to the next field.
fn stand_ins() -> [Value; 6] {
    [
        Value::Null,
        Value::from(""),
        Value::from(0),
        Value::from(false),
        Value::Array(Vec::new()),
        Value::Object(serde_json::Map::new()),
    ]
}

/// The order in which to try [`stand_ins`] for `problem`: the one of the kind the field
/// expects first (serde said which), so that one reading moves on instead of six.
fn preferred(problem: &Problem) -> [usize; 6] {
    let first = match problem {
        Problem::Invalid(message) => match message.as_str() {
            "must be a whole number" | "must be a number" => 2,
            "must be a string" => 1,
            "must be true or false" => 3,
            "must be a list" => 4,
            "must be an object" => 5,
            _ => 0,
        },
        Problem::Missing(_) | Problem::Unknown(_) => 0,
    };
    let mut order = [0, 1, 2, 3, 4, 5];
    order[..=first].rotate_right(1);
    order
}

/// Every violation of a JSON value against `T` (at most `max`, and [`MAX_VIOLATIONS`]),
/// each with whether it is a missing field.
///
/// Each reading of the value stops at its first problem, so the cost is a reading per
/// violation up to where it lies: the reading that shows a stand-in moved on is the one
/// that finds the next violation, never made twice.
pub(crate) fn json<T: DeserializeOwned>(
    mut value: Value,
    kind: ViolationKind,
    max: usize,
) -> Vec<(bool, FieldViolation)> {
    let max = max.min(MAX_VIOLATIONS);
    let mut found = Vec::new();
    let mut reported: Vec<Location> = Vec::new();
    // Each location's order of stand-ins, and how far along it the search is.
    let mut tried: Vec<(Location, [usize; 6], usize)> = Vec::new();
    let mut skips = Skips::new();
    let mut readings = 1;
    let mut next = first_problem::<T>(&value, &mut skips, &mut readings);
    while found.len() < max && readings < MAX_READINGS {
        let Some((location, problem)) = next.take() else {
            break;
        };
        if !reported.iter().any(|r| within(&location, r)) {
            found.push(problem.violation(&kind, name(&location)));
            reported.push(location.clone());
            if found.len() == max {
                break;
            }
        }
        if let Problem::Unknown(field) = &problem {
            let parent = &location[..location.len() - 1];
            match at_mut(&mut value, parent).and_then(Value::as_object_mut) {
                Some(members) => {
                    members.remove(field);
                }
                None => break,
            }
            readings += 1;
            next = first_problem::<T>(&value, &mut skips, &mut readings);
            continue;
        }
        // Supply something that reads, so that the next field gets its turn. Each
        // location tries each stand-in at most once: a stand-in that only seemed to
        // read (because another field failed first) is not tried again when the read
        // comes back to it.
        let seen = tried.iter().position(|(at, _, _)| *at == location);
        let (order, from) = seen.map_or((preferred(&problem), 0), |i| (tried[i].1, tried[i].2));
        let all = stand_ins();
        let mut moved_on = None;
        for (i, &which) in order.iter().enumerate().skip(from) {
            if readings >= MAX_READINGS {
                break;
            }
            readings += 1;
            if !put(&mut value, &location, all[which].clone()) {
                continue;
            }
            let after = first_problem::<T>(&value, &mut skips, &mut readings);
            if after.as_ref().is_none_or(|(at, _)| *at != location) {
                moved_on = Some((i, after));
                break;
            }
        }
        let Some((used, after)) = moved_on else {
            break;
        };
        next = after;
        match seen {
            Some(i) => tried[i].2 = used + 1,
            None => tried.push((location, order, used + 1)),
        }
    }
    found
}

/// Every violation of URL-encoded pairs against `T`, each with whether it is missing.
pub(crate) fn urlencoded<T: DeserializeOwned>(
    mut pairs: Vec<(String, String)>,
    kind: ViolationKind,
) -> Vec<(bool, FieldViolation)> {
    let read = |pairs: &[(String, String)]| -> Option<(String, Problem)> {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        let err = serde_path_to_error::deserialize::<_, T>(de).err()?;
        let path = name(&segments(err.path()));
        let problem = classify(&err.into_inner().to_string());
        let field = match &problem {
            Problem::Missing(field) | Problem::Unknown(field) => field.clone(),
            Problem::Invalid(_) => path,
        };
        Some((field, problem))
    };
    let mut found = Vec::new();
    let mut reported: Vec<String> = Vec::new();
    let mut readings = 0;
    while found.len() < MAX_VIOLATIONS && readings < MAX_READINGS {
        readings += 1;
        let Some((field, problem)) = read(&pairs) else {
            break;
        };
        if !reported.contains(&field) {
            found.push(problem.violation(&kind, field.clone()));
            reported.push(field.clone());
        }
        pairs.retain(|(key, _)| *key != field);
        if matches!(problem, Problem::Unknown(_)) {
            continue;
        }
        // The stand-in goes first, so that a read that gets past it has read it.
        let moved_on = ["", "0", "false"].into_iter().any(|stand_in| {
            readings += 1;
            let mut with = Vec::with_capacity(pairs.len() + 1);
            with.push((field.clone(), stand_in.to_owned()));
            with.extend(pairs.iter().cloned());
            let ok = read(&with).is_none_or(|(next, _)| next != field);
            if ok {
                pairs = with;
            }
            ok
        });
        if !moved_on {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        first_name: String,
        last_name: String,
        year: i64,
        tags: Vec<String>,
        inner: Inner,
        note: Option<String>,
    }

    fn fields(found: &[(bool, FieldViolation)]) -> Vec<(String, String)> {
        found
            .iter()
            .map(|(_, v)| (v.field().to_owned(), v.message().to_owned()))
            .collect()
    }

    #[test]
    fn every_missing_and_wrong_typed_field_is_found() {
        // Scenario: two missing fields, a wrong type, a nested wrong type and a wrong list
        // element, all in one answer, in plain words.
        let value: Value = serde_json::from_str(
            r#"{"year": "x", "tags": ["a", 5], "inner": {"n": -1}, "note": 7}"#,
        )
        .unwrap();
        let found = json::<Body>(value, ViolationKind::Body, usize::MAX);
        let mut got = fields(&found);
        got.sort();
        assert_eq!(
            got,
            [
                ("first_name", "is required"),
                ("inner.n", "must be a whole number"),
                ("last_name", "is required"),
                ("note", "must be a string"),
                ("tags[1]", "must be a string"),
                ("year", "must be a whole number"),
            ]
            .map(|(f, m)| (f.to_owned(), m.to_owned()))
        );
    }

    fn exactly_four<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<Inner>, D::Error> {
        let items = Vec::<Inner>::deserialize(de)?;
        if items.len() == 4 {
            Ok(items)
        } else {
            Err(serde::de::Error::invalid_length(items.len(), &"4 items"))
        }
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Four {
        #[serde(deserialize_with = "exactly_four")]
        items: Vec<Inner>,
    }

    #[test]
    fn a_list_whose_length_is_checked_is_not_reported_short() {
        // Scenario: later readings start lists after the elements already read; a type
        // that checks the list's length must not see it shorter: the wrong elements are
        // reported, the length (which is right) is not.
        let value: Value =
            serde_json::from_str(r#"{"items": [{"n": 1}, {"n": "a"}, {"n": 2}, {"n": "b"}]}"#)
                .unwrap();
        let found = json::<Four>(value, ViolationKind::Body, usize::MAX);
        assert_eq!(
            fields(&found),
            [
                ("items[1].n", "must be a whole number"),
                ("items[3].n", "must be a whole number"),
            ]
            .map(|(f, m)| (f.to_owned(), m.to_owned()))
        );
        // And a wrong length is reported once the elements read.
        let value: Value =
            serde_json::from_str(r#"{"items": [{"n": 1}, {"n": "a"}, {"n": 2}]}"#).unwrap();
        let found = json::<Four>(value, ViolationKind::Body, usize::MAX);
        assert_eq!(
            fields(&found),
            [
                ("items[1].n", "must be a whole number"),
                ("items", "has the wrong number of items"),
            ]
            .map(|(f, m)| (f.to_owned(), m.to_owned()))
        );
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        n: u32,
        inner: Vec<Inner>,
    }

    #[test]
    fn unknown_members_are_reported_with_the_rest() {
        // Scenario: unknown members at the top and in a list's element, and wrong
        // values after them: all of them, each unknown one by its own name.
        let value: Value =
            serde_json::from_str(r#"{"a": 1, "inner": [{"n": 1}, {"n": "x"}], "n": "y", "z": 2}"#)
                .unwrap();
        let found = json::<Strict>(value, ViolationKind::Body, usize::MAX);
        let mut got = fields(&found);
        got.sort();
        assert_eq!(
            got,
            [
                ("a", "is not a known field"),
                ("inner[1].n", "must be a whole number"),
                ("n", "must be a whole number"),
                ("z", "is not a known field"),
            ]
            .map(|(f, m)| (f.to_owned(), m.to_owned()))
        );
    }

    #[test]
    fn a_missing_object_is_one_violation() {
        // Scenario: a missing nested object is reported once, not its members.
        let value: Value =
            serde_json::from_str(r#"{"first_name": "a", "last_name": "b", "year": 1, "tags": []}"#)
                .unwrap();
        let found = json::<Body>(value, ViolationKind::Body, usize::MAX);
        assert_eq!(
            fields(&found),
            [("inner".to_owned(), "is required".to_owned())]
        );
        assert!(found[0].0);
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Page {
        page: u32,
        per_page: u32,
        q: String,
    }

    #[test]
    fn query_violations_are_all_found() {
        // Scenario: two numbers that do not parse and a missing string.
        let pairs = vec![
            ("page".to_owned(), "abc".to_owned()),
            ("per_page".to_owned(), "-3".to_owned()),
        ];
        let found = urlencoded::<Page>(pairs, ViolationKind::Query);
        assert_eq!(
            fields(&found),
            [
                ("page", "must be a whole number"),
                ("per_page", "must be a whole number"),
                ("q", "is required"),
            ]
            .map(|(f, m)| (f.to_owned(), m.to_owned()))
        );
    }

    #[test]
    fn integral_floats_become_integers() {
        // Scenario: 2003.0 is an integer to JSON Schema; 2003.5 stays a float.
        let mut v: Value = serde_json::from_str(r#"{"a": 2003.0, "b": [1.5, 2.0]}"#).unwrap();
        assert!(integral_floats(&mut v));
        assert_eq!(v, serde_json::json!({"a": 2003, "b": [1.5, 2]}));
    }

    #[test]
    fn messages_are_plain() {
        assert_eq!(
            plain("invalid type: integer `5`, expected a string"),
            "must be a string"
        );
        assert_eq!(
            plain("invalid digit found in string"),
            "must be a whole number"
        );
        assert_eq!(
            plain("invalid value: integer `-1`, expected u32"),
            "must be a whole number"
        );
        assert_eq!(
            plain("unknown variant `x`, expected `a` or `b`"),
            "must be a or b"
        );
    }
}
