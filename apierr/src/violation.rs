//! Field violations: which input was wrong and why.

use std::borrow::Cow;
use std::fmt;

/// Where in the request a violating field sits.
///
/// Seed 003 calls this the `subjectType`; its example uses `parameter`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// A field of the request body (a form field, a JSON member).
    Body,
    /// A request parameter, wherever it was sent (seed 003 and 004's word for it).
    Parameter,
    /// A query-string parameter.
    Query,
    /// A path segment.
    Path,
    /// A request header.
    Header,
    /// Any other location, as named on the wire.
    Other(Cow<'static, str>),
}

impl ViolationKind {
    /// The wire name: `body`, `parameter`, `query`, `path`, `header`, or the other name.
    pub fn as_str(&self) -> &str {
        match self {
            ViolationKind::Body => "body",
            ViolationKind::Parameter => "parameter",
            ViolationKind::Query => "query",
            ViolationKind::Path => "path",
            ViolationKind::Header => "header",
            ViolationKind::Other(name) => name,
        }
    }

    /// Reads a wire name back; names other than the five known ones become
    /// [`ViolationKind::Other`].
    pub fn from_wire(name: &str) -> Self {
        match name {
            "body" => ViolationKind::Body,
            "parameter" => ViolationKind::Parameter,
            "query" => ViolationKind::Query,
            "path" => ViolationKind::Path,
            "header" => ViolationKind::Header,
            other => ViolationKind::Other(Cow::Owned(other.to_owned())),
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One input that failed validation: the field, why, and where it was.
///
/// ```
/// use apierr::{FieldViolation, ViolationKind};
///
/// let v = FieldViolation::body("first_name", "First name is required");
/// assert_eq!(v.field(), "first_name");
/// assert_eq!(v.kind(), &ViolationKind::Body);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    field: Cow<'static, str>,
    message: Cow<'static, str>,
    kind: ViolationKind,
}

impl FieldViolation {
    /// A violation of `field` of the given kind.
    pub fn new(
        kind: ViolationKind,
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        FieldViolation {
            field: field.into(),
            message: message.into(),
            kind,
        }
    }

    /// A violation of a body field.
    pub fn body(
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(ViolationKind::Body, field, message)
    }

    /// A violation of a request parameter.
    pub fn parameter(
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(ViolationKind::Parameter, field, message)
    }

    /// A violation of a request header.
    pub fn header(
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(ViolationKind::Header, field, message)
    }

    /// The name of the field.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Why the field was rejected.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the field was.
    pub fn kind(&self) -> &ViolationKind {
        &self.kind
    }
}

/// How many field violations a dialect can put on the wire.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationSupport {
    /// Every violation is reported.
    All,
    /// Only the first violation is reported (seed 004: "thrown when the first invalid
    /// parameter is found").
    FirstOnly,
    /// The format has no place for violations (the OAuth token error).
    None,
}
