//! Profiles: a dialect plus a catalog, one API's whole error contract.

use std::sync::Arc;

use http::{HeaderMap, StatusCode};

use crate::seeds::{SEED_000, SEED_002, SEED_003, SEED_004};
use crate::{
    ApiError, Catalog, Condition, Dialect, ErrorsArray, FieldViolation, Nested, OAUTH_TOKEN, OAuth,
    Problem, Rendered, SpecificCode, Wrapper, parse_any,
};

/// One API's error contract: the wire [`Dialect`] and the [`Catalog`] of codes.
///
/// apierr ships the default [`Profile::PROBLEM`] and one profile per seed contract.
///
/// ```
/// use apierr::{Condition, FieldViolation, Profile};
///
/// let profile = Profile::SPECIFIC_CODE;
/// let err = profile.field_error(
///     Condition::InvalidParameter,
///     [FieldViolation::parameter("id", "Value must be a whole number")],
/// );
/// let rendered = profile.render(&err);
/// assert_eq!(rendered.status.as_u16(), 400);
/// assert_eq!(
///     String::from_utf8(rendered.body).unwrap(),
///     r#"{"errorCode":400,"message":"'id' does not validate","specificCode":23016,"additionalMessages":["Value must be a whole number"]}"#,
/// );
/// ```
///
/// A profile is cheap to clone: the built-in ones borrow static catalogs, and one over a
/// catalog built at run time ([`Profile::shared`]) shares it.
#[derive(Debug, Clone)]
pub struct Profile {
    name: &'static str,
    dialect: &'static dyn Dialect,
    catalog: CatalogRef,
}

/// A catalog a profile speaks: declared statically, or built at run time and shared.
#[derive(Debug, Clone)]
enum CatalogRef {
    Static(&'static Catalog),
    Shared(Arc<Catalog>),
}

use crate::catalog::GENERAL_STATIC as GENERAL;

impl Profile {
    /// RFC 9457 problem details with the general catalog (`not_found`, `rate_limited`…):
    /// the default.
    pub const PROBLEM: Profile = Profile::new("problem", &Problem, &GENERAL);
    /// Seed 000: the response wrapper, token errors in the OAuth form.
    pub const WRAPPER: Profile = Profile::new("wrapper", &Wrapper, &SEED_000);
    /// Seed 002: the nested error object with `invalid-params`.
    pub const NESTED: Profile = Profile::new("nested", &Nested, &SEED_002);
    /// Seed 003: the errors array with numeric codes and sub-codes.
    pub const ERRORS_ARRAY: Profile = Profile::new("errors-array", &ErrorsArray, &SEED_003);
    /// Seed 004: the status as `errorCode` with a `specificCode`, first violation only.
    pub const SPECIFIC_CODE: Profile = Profile::new("specific-code", &SpecificCode, &SEED_004);

    /// An OAuth 2.0 token endpoint (RFC 6749 §5.2): the `{"error", "error_description"}`
    /// form with RFC 6749's codes, which OAuth client libraries understand whatever the
    /// rest of the API speaks. Not among [`Profile::ALL`]: it answers one endpoint.
    pub const OAUTH_TOKEN: Profile = Profile::new("oauth-token", &OAuth, &OAUTH_TOKEN);

    /// Every built-in profile, the default first.
    pub const ALL: &'static [Profile] = &[
        Profile::PROBLEM,
        Profile::WRAPPER,
        Profile::NESTED,
        Profile::ERRORS_ARRAY,
        Profile::SPECIFIC_CODE,
    ];

    /// A profile of one's own over a catalog declared with [`catalog!`](crate::catalog!).
    pub const fn new(
        name: &'static str,
        dialect: &'static dyn Dialect,
        catalog: &'static Catalog,
    ) -> Self {
        Profile {
            name,
            dialect,
            catalog: CatalogRef::Static(catalog),
        }
    }

    /// A profile over a catalog built at run time (with [`Catalog::builder`], say from a
    /// configuration file), shared rather than leaked for `'static`.
    ///
    /// ```
    /// use apierr::{Catalog, Condition, Entry, Problem, Profile};
    ///
    /// let catalog = Catalog::builder("loaded")
    ///     .entry(Entry::new("gone_fishing", 404, "nobody here"))
    ///     .bind(Condition::NotFound, "gone_fishing")
    ///     .build()?;
    /// let profile = Profile::shared("loaded", &Problem, catalog.into());
    /// assert_eq!(profile.error(Condition::NotFound).message(), "nobody here");
    /// # Ok::<(), apierr::CatalogError>(())
    /// ```
    pub fn shared(
        name: &'static str,
        dialect: &'static dyn Dialect,
        catalog: Arc<Catalog>,
    ) -> Self {
        Profile {
            name,
            dialect,
            catalog: CatalogRef::Shared(catalog),
        }
    }

    /// The built-in profile with this name.
    pub fn by_name(name: &str) -> Option<Profile> {
        Profile::ALL.iter().find(|p| p.name == name).cloned()
    }

    /// The profile's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The wire format.
    pub fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    /// The codes.
    pub fn catalog(&self) -> &Catalog {
        match &self.catalog {
            CatalogRef::Static(catalog) => catalog,
            CatalogRef::Shared(catalog) => catalog,
        }
    }

    /// A new error for a framework condition.
    pub fn error(&self, condition: Condition) -> ApiError {
        self.catalog().error(condition)
    }

    /// Makes an error built from a bare [`Condition`] speak this profile's catalog (see
    /// [`Catalog::adopt`]); any other error is returned as it is.
    pub fn adopt(&self, error: ApiError) -> ApiError {
        self.catalog().adopt(error)
    }

    /// A new error for a condition about fields (see [`Catalog::field_error`]).
    pub fn field_error(
        &self,
        condition: Condition,
        violations: impl IntoIterator<Item = FieldViolation>,
    ) -> ApiError {
        self.catalog().field_error(condition, violations)
    }

    /// Renders an error in the profile's dialect. An error made from a bare
    /// [`Condition`] is rendered with the code this profile's catalog binds to it (on a
    /// copy of its parts: [`Profile::adopt`] an owned error first to spare it).
    pub fn render(&self, error: &ApiError) -> Rendered {
        let catalog = self.catalog();
        if catalog.speaks(error) {
            self.dialect.render(error)
        } else {
            self.dialect.render(&catalog.adopt(error.share()))
        }
    }

    /// Parses a response from an API with this contract. The dialect is detected (an API
    /// may answer from a proxy in another format); a code the catalog knows, or whose parent
    /// it knows, brings the entry's category, title and documentation URL.
    pub fn parse(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
        let error = parse_any(status, headers, body);
        match self.catalog().resolve(error.code()) {
            Some(entry) => {
                let mut error = error.with_category(entry.category());
                if error.title().is_none() {
                    error = error.with_title(entry.message().to_owned());
                }
                if let (None, Some(url)) = (error.doc_url(), entry.doc_url()) {
                    error = error.with_doc_url(url.to_owned());
                }
                error
            }
            None => error,
        }
    }

    /// The catalog as Markdown, with an example body per code in this profile's dialect.
    pub fn docs(&self) -> String {
        self.catalog().markdown(self.dialect)
    }
}
