//! The catalog: an API's error codes, declared once.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;

use crate::condition::{NUMERIC_DEFAULTS, TEXT_DEFAULTS};
use crate::{ApiError, Category, Code, Condition, FieldViolation};

/// Statuses a catalog entry may carry: every valid HTTP status class.
const STATUS_RANGE: std::ops::RangeInclusive<u16> = 100..=599;

/// The general catalog as a static, so that errors made from a bare
/// [`Condition`] and the `problem` profile can borrow it for `'static`.
pub(crate) static GENERAL_STATIC: Catalog = Catalog::GENERAL;

/// The placeholder a field message template fills with the violating field's name.
const FIELD_PLACEHOLDER: &str = "{field}";

/// One code of a catalog: its status, default message, description and documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    code: Code,
    status: u16,
    message: Cow<'static, str>,
    /// A message naming the field, used when the error is about one field
    /// (seed 004's `'id' does not validate`); `{field}` is replaced by its name.
    field_message: Option<Cow<'static, str>>,
    description: Cow<'static, str>,
    doc_url: Option<Cow<'static, str>>,
    /// The code this one refines, checked against the form of the code.
    parent: Option<Code>,
    /// Overrides the category the status implies.
    category: Option<Category>,
}

impl Entry {
    /// An entry with a code, an HTTP status and a default message.
    pub fn new(code: impl Into<Code>, status: u16, message: impl Into<Cow<'static, str>>) -> Self {
        Entry {
            code: code.into(),
            status,
            message: message.into(),
            field_message: None,
            description: Cow::Borrowed(""),
            doc_url: None,
            parent: None,
            category: None,
        }
    }

    /// Every part at once, for the [`catalog!`](crate::catalog!) macro and static tables.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn from_parts(
        code: Code,
        status: u16,
        message: &'static str,
        field_message: Option<&'static str>,
        description: &'static str,
        doc_url: Option<&'static str>,
        parent: Option<Code>,
        category: Option<Category>,
    ) -> Self {
        Entry {
            code,
            status,
            message: Cow::Borrowed(message),
            field_message: match field_message {
                Some(m) => Some(Cow::Borrowed(m)),
                None => None,
            },
            description: Cow::Borrowed(description),
            doc_url: match doc_url {
                Some(u) => Some(Cow::Borrowed(u)),
                None => None,
            },
            parent,
            category,
        }
    }

    /// Sets the description. Default is empty.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the documentation URL. Default is none.
    #[must_use]
    pub fn with_doc_url(mut self, url: impl Into<Cow<'static, str>>) -> Self {
        self.doc_url = Some(url.into());
        self
    }

    /// Declares the code this one refines. Default is none.
    #[must_use]
    pub fn with_parent(mut self, parent: impl Into<Code>) -> Self {
        self.parent = Some(parent.into());
        self
    }

    /// Overrides the category the status implies. Default is none.
    #[must_use]
    pub fn with_category(mut self, category: Category) -> Self {
        self.category = Some(category);
        self
    }

    /// Sets the message used when the error is about one field; `{field}` in it is
    /// replaced by the field's name. Default is none (the plain message is used).
    #[must_use]
    pub fn with_field_message(mut self, template: impl Into<Cow<'static, str>>) -> Self {
        self.field_message = Some(template.into());
        self
    }

    /// The code.
    pub fn code(&self) -> &Code {
        &self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        // Entries are checked to lie in 100..=599 before a catalog holds them.
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The default message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The default message, borrowed as stored.
    pub(crate) fn message_cow(&self) -> &Cow<'static, str> {
        &self.message
    }

    /// The documentation URL, borrowed as stored.
    pub(crate) fn doc_url_cow(&self) -> Option<&Cow<'static, str>> {
        self.doc_url.as_ref()
    }

    /// The message of an error with this entry about `violations`: the field template
    /// filled with the first field's name, or the plain message.
    pub(crate) fn message_for(&self, violations: &[FieldViolation]) -> Cow<'static, str> {
        match (&self.field_message, violations.first()) {
            (Some(template), Some(first)) => {
                Cow::Owned(template.replace(FIELD_PLACEHOLDER, first.field()))
            }
            _ => self.message.clone(),
        }
    }

    /// The message template for an error about one field, if any.
    pub fn field_message(&self) -> Option<&str> {
        self.field_message.as_deref()
    }

    /// What the code means.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Where the code is documented, if anywhere.
    pub fn doc_url(&self) -> Option<&str> {
        self.doc_url.as_deref()
    }

    /// The declared parent code, if this is a sub-code.
    pub fn parent(&self) -> Option<&Code> {
        self.parent.as_ref()
    }

    /// The category of errors with this code.
    pub fn category(&self) -> Category {
        self.category
            .unwrap_or_else(|| Category::from_status(self.status()))
    }

    /// A new error with this entry's status, code, message and category.
    pub fn error(&self) -> ApiError {
        ApiError::from_entry(
            self.status(),
            self.code.clone(),
            self.message.clone(),
            Some(self.message.clone()),
            self.doc_url.clone(),
            self.category(),
        )
    }

    /// A new error about one field: the message is the field template filled with the
    /// field's name (or the plain message when there is no template), and the violation
    /// is attached.
    pub fn field_error(&self, violation: FieldViolation) -> ApiError {
        let message = self.message_for(std::slice::from_ref(&violation));
        self.error()
            .with_catalog_message(message)
            .with_violation(violation)
    }

    /// Compile-time check of entry `i` against the ones before it, for
    /// [`catalog!`](crate::catalog!).
    #[doc(hidden)]
    pub const fn check_static(entries: &[Entry], i: usize) -> EntryCheck {
        let e = &entries[i];
        if e.status < *STATUS_RANGE.start() || e.status > *STATUS_RANGE.end() {
            return EntryCheck::StatusOutOfRange;
        }
        let mut j = 0;
        while j < i {
            if entries[j].code.const_eq(&e.code) {
                return EntryCheck::DuplicateCode;
            }
            j += 1;
        }
        if let Some(parent) = &e.parent
            && !e.code.const_is_sub_of(parent)
        {
            return EntryCheck::NotASubCode;
        }
        EntryCheck::Ok
    }
}

/// The outcome of [`Entry::check_static`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryCheck {
    Ok,
    StatusOutOfRange,
    DuplicateCode,
    NotASubCode,
}

/// Whether a catalog's codes are numbers or text; decides the defaults of unbound
/// conditions.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeStyle {
    /// Every code is a number (seeds 003 and 004): an unbound condition's code is its
    /// HTTP status.
    Numeric,
    /// Some code is text (seed 002): an unbound condition gets the general catalog's text
    /// code (`not_found`).
    Text,
}

/// An API's error codes with, for each framework [`Condition`], the code it raises.
///
/// Declare one with the [`catalog!`](crate::catalog!) macro, checked at compile time, or
/// with [`Catalog::builder`], checked when built.
///
/// ```
/// use apierr::{Catalog, Code, Condition, Entry};
///
/// let catalog = Catalog::builder("shop")
///     .entry(Entry::new(3001, 404, "entity not found"))
///     .entry(Entry::new(2006, 400, "entity saving error"))
///     .entry(Entry::new(200601, 400, "entity saving error: number must be unique").with_parent(2006))
///     .bind(Condition::NotFound, 3001)
///     .build()?;
/// assert_eq!(catalog.condition(Condition::NotFound).code(), &Code::numeric(3001));
/// // Unbound conditions fall back to the status as code in a numeric catalog.
/// assert_eq!(catalog.condition(Condition::RateLimited).code(), &Code::numeric(429));
/// // A client that knows 2006 understands 200602 too.
/// assert_eq!(catalog.resolve(&Code::numeric(200602)).unwrap().code(), &Code::numeric(2006));
/// # Ok::<(), apierr::CatalogError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Catalog {
    name: Cow<'static, str>,
    entries: Cow<'static, [Entry]>,
    /// For each condition (by [`Condition::index`]), the index of its entry, if bound.
    bindings: [Option<u16>; Condition::COUNT],
    style: CodeStyle,
}

impl Catalog {
    /// The general catalog: one text code per condition (`not_found`, `rate_limited`…).
    /// The `problem` profile uses it.
    pub const GENERAL: Catalog = {
        let mut bindings = [None; Condition::COUNT];
        let mut i = 0;
        while i < Condition::COUNT {
            bindings[i] = Some(i as u16);
            i += 1;
        }
        Catalog::from_static("general", &TEXT_DEFAULTS, bindings)
    };

    /// A catalog over static entries, for [`catalog!`](crate::catalog!).
    #[doc(hidden)]
    pub const fn from_static(
        name: &'static str,
        entries: &'static [Entry],
        bindings: [Option<u16>; Condition::COUNT],
    ) -> Self {
        let mut style = CodeStyle::Numeric;
        let mut i = 0;
        while i < entries.len() {
            if let Code::Text(_) = entries[i].code {
                style = CodeStyle::Text;
            }
            i += 1;
        }
        Catalog {
            name: Cow::Borrowed(name),
            entries: Cow::Borrowed(entries),
            bindings,
            style,
        }
    }

    /// Starts a catalog to be built and checked at run time.
    pub fn builder(name: impl Into<Cow<'static, str>>) -> CatalogBuilder {
        CatalogBuilder {
            name: name.into(),
            entries: Vec::new(),
            bindings: Vec::new(),
        }
    }

    /// The catalog's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every entry, in declaration order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Whether the codes are numbers or text.
    pub fn style(&self) -> CodeStyle {
        self.style
    }

    /// The entry with exactly this code.
    pub fn lookup(&self, code: &Code) -> Option<&Entry> {
        self.entries.iter().find(|e| &e.code == code)
    }

    /// The entry with this code or, failing that, with its nearest ancestor: how a client
    /// that knows only `2006` understands `200601`.
    pub fn resolve(&self, code: &Code) -> Option<&Entry> {
        let mut code = Cow::Borrowed(code);
        loop {
            if let Some(e) = self.lookup(&code) {
                return Some(e);
            }
            code = Cow::Owned(code.parent()?);
        }
    }

    /// Whether the catalog binds the condition itself rather than leaving it to the
    /// default.
    pub fn is_bound(&self, condition: Condition) -> bool {
        self.bindings[condition.index()].is_some()
    }

    /// The entry a condition raises: the bound one, or the default for the catalog's
    /// [`CodeStyle`].
    pub fn condition(&self, condition: Condition) -> &Entry {
        match self.bindings[condition.index()] {
            Some(i) => &self.entries[usize::from(i)],
            None => match self.style {
                CodeStyle::Numeric => &NUMERIC_DEFAULTS[condition.index()],
                CodeStyle::Text => &TEXT_DEFAULTS[condition.index()],
            },
        }
    }

    /// A new error for a condition.
    pub fn error(&self, condition: Condition) -> ApiError {
        self.condition(condition).error().with_condition(condition)
    }

    /// Makes an error that stands for a framework [`Condition`] speak this catalog: it
    /// takes the status, code, title, documentation URL and category of the entry the
    /// catalog binds to the condition, and its message (filled with the first field's
    /// name where the entry has a field template) unless the application set one.
    /// Violations, additional messages, `Retry-After`, request id and source are kept.
    /// Any other error is returned as it is.
    ///
    /// ```
    /// use apierr::{ApiError, Code, Condition, FieldViolation, Profile};
    ///
    /// let err = ApiError::from(Condition::InvalidParameter)
    ///     .with_violation(FieldViolation::parameter("id", "must be a whole number"));
    /// let err = Profile::SPECIFIC_CODE.catalog().adopt(err);
    /// assert_eq!(err.code(), &Code::numeric(23016));
    /// assert_eq!(err.message(), "'id' does not validate");
    /// ```
    pub fn adopt(&self, mut error: ApiError) -> ApiError {
        if let Some(condition) = error.condition() {
            let entry = self.condition(condition);
            let message = entry.message_for(error.violations());
            error.adopt_entry(entry, message);
        }
        error
    }

    /// Whether `error` already speaks this catalog: it stands for no condition, or has
    /// the code and status the catalog binds to its condition.
    pub(crate) fn speaks(&self, error: &ApiError) -> bool {
        error.condition().is_none_or(|c| {
            let entry = self.condition(c);
            entry.code() == error.code() && entry.status() == error.status()
        })
    }

    /// A new error for a condition about fields: the message names the first field where
    /// the entry has a field template, and every violation is attached.
    pub fn field_error(
        &self,
        condition: Condition,
        violations: impl IntoIterator<Item = FieldViolation>,
    ) -> ApiError {
        let entry = self.condition(condition);
        let mut violations = violations.into_iter();
        match violations.next() {
            Some(first) => entry.field_error(first).with_violations(violations),
            None => entry.error(),
        }
        .with_condition(condition)
    }

    /// The conditions bound to this entry's code.
    pub fn conditions_of(&self, code: &Code) -> impl Iterator<Item = Condition> + '_ {
        let code = code.clone();
        Condition::ALL
            .iter()
            .copied()
            .filter(move |c| self.bindings[c.index()].is_some() && self.condition(*c).code == code)
    }
}

/// Builds a [`Catalog`] at run time and checks it on [`CatalogBuilder::build`].
#[must_use]
#[derive(Debug)]
pub struct CatalogBuilder {
    name: Cow<'static, str>,
    entries: Vec<Entry>,
    bindings: Vec<(Condition, Code)>,
}

impl CatalogBuilder {
    /// Adds an entry. Default is no entries.
    pub fn entry(mut self, entry: Entry) -> Self {
        self.entries.push(entry);
        self
    }

    /// Binds a condition to the entry with `code`. Default is the [`CodeStyle`]'s default
    /// entry for the condition.
    pub fn bind(mut self, condition: Condition, code: impl Into<Code>) -> Self {
        self.bindings.push((condition, code.into()));
        self
    }

    /// Checks the catalog: statuses in 100–599, no duplicate codes, every declared parent
    /// present and matching the form of the sub-code, every binding to a present code and
    /// no condition bound twice.
    pub fn build(self) -> Result<Catalog, CatalogError> {
        let err = |entry: &Code, problem| CatalogError {
            catalog: self.name.to_string(),
            entry: entry.to_string(),
            problem,
        };
        for (i, e) in self.entries.iter().enumerate() {
            if !STATUS_RANGE.contains(&e.status) {
                return Err(err(&e.code, Problem::StatusOutOfRange(e.status)));
            }
            if self.entries[..i].iter().any(|o| o.code == e.code) {
                return Err(err(&e.code, Problem::DuplicateCode));
            }
            if let Some(parent) = &e.parent {
                if e.code.parent().as_ref() != Some(parent) {
                    return Err(err(&e.code, Problem::NotASubCode(parent.to_string())));
                }
                if !self.entries.iter().any(|o| &o.code == parent) {
                    return Err(err(&e.code, Problem::MissingParent(parent.to_string())));
                }
            }
        }
        let mut bindings = [None; Condition::COUNT];
        for (condition, code) in &self.bindings {
            let Some(i) = self.entries.iter().position(|e| &e.code == code) else {
                return Err(err(code, Problem::UnknownBinding(*condition)));
            };
            if bindings[condition.index()].is_some() {
                return Err(err(code, Problem::BoundTwice(*condition)));
            }
            let i = u16::try_from(i).map_err(|_| err(code, Problem::TooManyEntries))?;
            bindings[condition.index()] = Some(i);
        }
        let style = if self.entries.iter().all(|e| e.code.as_u32().is_some()) {
            CodeStyle::Numeric
        } else {
            CodeStyle::Text
        };
        Ok(Catalog {
            name: self.name,
            entries: Cow::Owned(self.entries),
            bindings,
            style,
        })
    }
}

/// A catalog that contradicts itself, with the entry at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError {
    catalog: String,
    entry: String,
    problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    StatusOutOfRange(u16),
    DuplicateCode,
    NotASubCode(String),
    MissingParent(String),
    UnknownBinding(Condition),
    BoundTwice(Condition),
    TooManyEntries,
}

impl CatalogError {
    /// The code of the entry at fault.
    pub fn entry(&self) -> &str {
        &self.entry
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "catalog {}: entry {}: ", self.catalog, self.entry)?;
        match &self.problem {
            Problem::StatusOutOfRange(s) => write!(f, "status {s} is outside 100-599"),
            Problem::DuplicateCode => f.write_str("code is declared more than once"),
            Problem::NotASubCode(p) => write!(f, "code is not a sub-code of its parent {p}"),
            Problem::MissingParent(p) => write!(f, "parent code {p} is not in the catalog"),
            Problem::UnknownBinding(c) => {
                write!(f, "condition {c} is bound to a code not in the catalog")
            }
            Problem::BoundTwice(c) => write!(f, "condition {c} is bound more than once"),
            Problem::TooManyEntries => f.write_str("catalog has more than 65535 entries"),
        }
    }
}

impl std::error::Error for CatalogError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(entries: Vec<Entry>) -> Result<Catalog, CatalogError> {
        entries
            .into_iter()
            .fold(Catalog::builder("t"), CatalogBuilder::entry)
            .build()
    }

    #[test]
    fn inconsistent_catalogs_are_rejected_naming_the_entry() {
        // Scenario: each kind of inconsistency is refused with the offending code named.
        let e = build(vec![Entry::new(3001, 404, "a"), Entry::new(3001, 400, "b")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "catalog t: entry 3001: code is declared more than once"
        );
        let e = build(vec![Entry::new(200601, 400, "a").with_parent(2006)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "catalog t: entry 200601: parent code 2006 is not in the catalog"
        );
        let e = build(vec![
            Entry::new(2006, 400, "p"),
            Entry::new(3001, 400, "a").with_parent(2006),
        ])
        .unwrap_err();
        assert_eq!(e.entry(), "3001");
        let e = build(vec![Entry::new("x", 600, "a")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "catalog t: entry x: status 600 is outside 100-599"
        );
        let e = build(vec![Entry::new("x", 99, "a")]).unwrap_err();
        assert!(e.to_string().contains("status 99"));
        let e = Catalog::builder("t")
            .entry(Entry::new("x", 400, "a"))
            .bind(Condition::NotFound, "y")
            .build()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "catalog t: entry y: condition not_found is bound to a code not in the catalog"
        );
        let e = Catalog::builder("t")
            .entry(Entry::new("x", 400, "a"))
            .bind(Condition::NotFound, "x")
            .bind(Condition::NotFound, "x")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("bound more than once"));
    }

    #[test]
    fn unbound_conditions_follow_the_code_style() {
        // Scenario: a text catalog falls back to text codes, a numeric one to the status.
        let text = build(vec![Entry::new(
            "validation_error",
            400,
            "Validation error",
        )])
        .unwrap();
        assert_eq!(text.style(), CodeStyle::Text);
        assert_eq!(
            text.condition(Condition::NotFound).code(),
            &Code::text("not_found")
        );
        let num = build(vec![Entry::new(3001, 404, "entity not found")]).unwrap();
        assert_eq!(
            num.condition(Condition::MethodNotAllowed).code(),
            &Code::numeric(405)
        );
        assert_eq!(
            num.condition(Condition::MethodNotAllowed).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn field_errors_fill_the_template() {
        // Scenario: seed 004's "'id' does not validate" comes from a template.
        let entry = Entry::new(23016, 400, "parameter does not validate")
            .with_field_message("'{field}' does not validate");
        let e = entry.field_error(FieldViolation::parameter(
            "id",
            "Value must be a whole number",
        ));
        assert_eq!(e.message(), "'id' does not validate");
        assert_eq!(e.title(), Some("parameter does not validate"));
        assert_eq!(e.violations()[0].message(), "Value must be a whole number");
    }

    #[test]
    fn general_catalog_binds_every_condition() {
        // Scenario: the problem profile's catalog covers each condition with its own code.
        for c in Condition::ALL {
            assert!(Catalog::GENERAL.is_bound(*c));
            assert_eq!(
                Catalog::GENERAL.condition(*c).code(),
                &Code::text(c.default_code())
            );
        }
    }
}
