//! Stable error codes: numeric with sub-codes, or text.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// A stable catalog code.
///
/// Message text may change between versions of an API; codes never do. Two kinds are
/// first-class:
///
/// - **numeric** codes such as `3001`, where a *sub-code* is its parent followed by two
///   more digits (`200601` and `200602` refine `2006`);
/// - **text** codes such as `validation_error`, where a sub-code is its parent followed by
///   a dot and a suffix (`validation_error.email` refines `validation_error`).
///
/// Because the parent can be read off the code itself, a client that knows only `2006`
/// still understands `200601` (see [`Catalog::resolve`](crate::Catalog::resolve)).
///
/// On the wire a numeric code is a JSON number and a text code a JSON string.
///
/// ```
/// use apierr::Code;
///
/// let sub = Code::numeric(200601);
/// assert_eq!(sub.parent(), Some(Code::numeric(2006)));
/// assert!(sub.is_within(&Code::numeric(2006)));
/// assert_eq!(Code::text("validation_error.email").parent(), Some(Code::text("validation_error")));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// A numeric code such as `3001` or the sub-code `200601`.
    Numeric(u32),
    /// A text code such as `validation_error`.
    Text(Cow<'static, str>),
}

/// How many decimal digits a numeric sub-code adds to its parent (`2006` → `200601`).
const SUB_CODE_FACTOR: u32 = 100;

/// Numeric codes below this have no parent: `2006 / 100 = 20` is not a meaningful code,
/// so only codes of five or more digits are read as sub-codes.
const SMALLEST_SUB_CODE: u32 = 10_000;

impl Code {
    /// A numeric code.
    pub const fn numeric(code: u32) -> Self {
        Code::Numeric(code)
    }

    /// A text code from a string known at compile time.
    pub const fn text(code: &'static str) -> Self {
        Code::Text(Cow::Borrowed(code))
    }

    /// A text code from an owned string.
    pub fn owned(code: impl Into<String>) -> Self {
        Code::Text(Cow::Owned(code.into()))
    }

    /// The code this one refines, read off its form: `200601` → `2006`,
    /// `validation_error.email` → `validation_error`. Whether the parent is in a catalog
    /// is the catalog's business.
    pub fn parent(&self) -> Option<Code> {
        match self {
            Code::Numeric(n) if *n >= SMALLEST_SUB_CODE => Some(Code::Numeric(n / SUB_CODE_FACTOR)),
            Code::Numeric(_) => None,
            Code::Text(t) => t.rfind('.').map(|i| Code::owned(&t[..i])),
        }
    }

    /// Whether this code is `ancestor` or one of its sub-codes, at any depth.
    pub fn is_within(&self, ancestor: &Code) -> bool {
        match (self, ancestor) {
            (Code::Numeric(n), Code::Numeric(a)) => {
                let mut n = *n;
                loop {
                    if n == *a {
                        return true;
                    }
                    if n < SMALLEST_SUB_CODE {
                        return false;
                    }
                    n /= SUB_CODE_FACTOR;
                }
            }
            (Code::Text(t), Code::Text(a)) => {
                t == a
                    || (t.len() > a.len()
                        && t.starts_with(a.as_ref())
                        && t.as_bytes()[a.len()] == b'.')
            }
            _ => false,
        }
    }

    /// The numeric value, if this is a numeric code.
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Code::Numeric(n) => Some(*n),
            Code::Text(_) => None,
        }
    }

    /// The text, if this is a text code.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Code::Numeric(_) => None,
            Code::Text(t) => Some(t),
        }
    }

    /// Compile-time equality, used by the [`catalog!`](crate::catalog!) checks.
    #[doc(hidden)]
    pub const fn const_eq(&self, other: &Code) -> bool {
        match (self, other) {
            (Code::Numeric(a), Code::Numeric(b)) => *a == *b,
            (Code::Text(Cow::Borrowed(a)), Code::Text(Cow::Borrowed(b))) => const_str_eq(a, b),
            _ => false,
        }
    }

    /// Compile-time parent check: whether `self` is a direct sub-code of `parent`.
    #[doc(hidden)]
    pub const fn const_is_sub_of(&self, parent: &Code) -> bool {
        match (self, parent) {
            (Code::Numeric(c), Code::Numeric(p)) => {
                *c >= SMALLEST_SUB_CODE && *c / SUB_CODE_FACTOR == *p
            }
            (Code::Text(Cow::Borrowed(c)), Code::Text(Cow::Borrowed(p))) => {
                let (c, p) = (c.as_bytes(), p.as_bytes());
                if c.len() <= p.len() + 1 || c[p.len()] != b'.' {
                    return false;
                }
                // The suffix after the parent's dot must not hold another dot, or the
                // direct parent would be a longer code.
                let mut i = p.len() + 1;
                while i < c.len() {
                    if c[i] == b'.' {
                        return false;
                    }
                    i += 1;
                }
                let mut i = 0;
                while i < p.len() {
                    if c[i] != p[i] {
                        return false;
                    }
                    i += 1;
                }
                true
            }
            _ => false,
        }
    }
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Numeric(n) => fmt::Display::fmt(n, f),
            Code::Text(t) => f.write_str(t),
        }
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Numeric(n) => fmt::Debug::fmt(n, f),
            Code::Text(t) => fmt::Debug::fmt(t, f),
        }
    }
}

impl From<u32> for Code {
    fn from(code: u32) -> Self {
        Code::Numeric(code)
    }
}

impl From<&'static str> for Code {
    fn from(code: &'static str) -> Self {
        Code::text(code)
    }
}

impl From<String> for Code {
    fn from(code: String) -> Self {
        Code::Text(Cow::Owned(code))
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Code::Numeric(n) => serializer.serialize_u32(*n),
            Code::Text(t) => serializer.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;

        impl Visitor<'_> for CodeVisitor {
            type Value = Code;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error code (a non-negative integer or a string)")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Code, E> {
                u32::try_from(v)
                    .map(Code::Numeric)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Code, E> {
                u32::try_from(v)
                    .map(Code::Numeric)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Code, E> {
                Ok(Code::owned(v))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Code, E> {
                Ok(Code::owned(v))
            }
        }

        deserializer.deserialize_any(CodeVisitor)
    }
}

/// Turns a `catalog!` code literal (integer or string) into a [`Code`] at compile time.
#[doc(hidden)]
#[derive(Debug)]
pub struct CodeLiteral<T>(pub T);

impl CodeLiteral<u32> {
    #[doc(hidden)]
    pub const fn code(self) -> Code {
        Code::Numeric(self.0)
    }
}

impl CodeLiteral<&'static str> {
    #[doc(hidden)]
    pub const fn code(self) -> Code {
        Code::text(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_sub_codes_know_their_parent() {
        // Scenario: seed 003's 200601 refines 2006, and short codes have no parent.
        assert_eq!(Code::numeric(200601).parent(), Some(Code::numeric(2006)));
        assert_eq!(Code::numeric(2006).parent(), None);
        assert!(Code::numeric(20060107).is_within(&Code::numeric(2006)));
        assert!(!Code::numeric(200601).is_within(&Code::numeric(3001)));
        assert!(!Code::numeric(2006).is_within(&Code::numeric(200601)));
    }

    #[test]
    fn text_sub_codes_know_their_parent() {
        // Scenario: a dotted text code refines the text before its last dot.
        let c = Code::text("validation_error.email");
        assert!(c.is_within(&Code::text("validation_error")));
        assert!(!Code::text("validation_errors").is_within(&Code::text("validation_error")));
        assert!(Code::text("a.b").const_is_sub_of(&Code::text("a")));
        assert!(!Code::text("a.b.c").const_is_sub_of(&Code::text("a")));
        assert!(!Code::text("ab").const_is_sub_of(&Code::text("a")));
    }

    #[test]
    fn codes_keep_their_json_type() {
        // Scenario: numeric codes travel as numbers, text codes as strings, both ways.
        assert_eq!(serde_json::to_string(&Code::numeric(3001)).unwrap(), "3001");
        assert_eq!(serde_json::to_string(&Code::text("x")).unwrap(), "\"x\"");
        let c: Code = serde_json::from_str("200601").unwrap();
        assert_eq!(c, Code::numeric(200601));
        assert!(serde_json::from_str::<Code>("-1").is_err());
        assert!(serde_json::from_str::<Code>("1.5").is_err());
    }
}
