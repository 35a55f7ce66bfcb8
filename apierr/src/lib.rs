//! The error contract of an HTTP API, as one value.
//!
//! apierr's core: the [`ApiError`] model, the [`Catalog`] of stable codes declared once
//! with [`catalog!`], the framework [`Condition`]s a catalog binds, and the [`Dialect`]s
//! that render an error for the wire and parse it back, auto-detected by [`parse_any`].
//! A [`Profile`] (dialect + catalog) is one API's whole contract; one ships per seed
//! contract, plus the RFC 9457 default.
//!
//! This crate has no async runtime and no web framework, so anything can depend on it.
//!
//! ```
//! use apierr::{ApiError, Profile};
//! use http::{HeaderMap, StatusCode};
//!
//! apierr::catalog! {
//!     /// The codes of the shop API.
//!     pub static SHOP: Catalog("shop");
//!     /// A code of the shop API.
//!     pub enum ShopCode {
//!         /// The basket has expired.
//!         BasketExpired("basket_expired") = 410, "basket expired";
//!     }
//!     bind {}
//! }
//!
//! let shop = Profile::new("shop", &apierr::Problem, &SHOP);
//! let err: ApiError = ShopCode::BasketExpired.into();
//! let rendered = shop.render(&err.with_request_id("req-1"));
//! assert_eq!(rendered.status, StatusCode::GONE);
//! assert_eq!(rendered.content_type, "application/problem+json");
//!
//! // A client reads it back, whatever the dialect.
//! let parsed = shop.parse(rendered.status, &rendered.headers(), &rendered.body);
//! assert_eq!(parsed.code(), err_code());
//! # fn err_code() -> &'static apierr::Code { ShopCode::BasketExpired.entry().code() }
//! ```
//!
//! # Layout
//!
//! - [`advice`]: the retry rules, and what a partner does about each error.
//! - `code`: [`Code`], numeric with sub-codes or text.
//! - `category`: [`Category`], the kind of failure and its retry meaning.
//! - `violation`: [`FieldViolation`], [`ViolationKind`], [`ViolationSupport`].
//! - `error`: [`ApiError`].
//! - `condition`: [`Condition`], the failures the framework raises, with defaults.
//! - `catalog`: [`Catalog`], [`Entry`], the run-time builder and its checks.
//! - `catalog_macro`: [`catalog!`], the compile-time-checked declaration.
//! - `dialect`: the [`Dialect`] trait, the six built-in dialects and [`parse_any`].
//! - `profile`: [`Profile`], dialect + catalog.
//! - `into_response` (with the `axum` feature): `IntoResponse` for [`ApiError`], which
//!   carries the error out on its response ([`ErrorResponse`]) for a server layer to
//!   render in the router's contract.
//! - `hints`: request ids and waits from a response's headers ([`retry_hint`]).
//! - `oauth_token`: [`OAUTH_TOKEN`], RFC 6749's token endpoint errors.
//! - [`seeds`]: the catalogs of the seed contracts.
//! - `docs`: [`Catalog::markdown`].
//! - [`export`]: [`CatalogExport`], the catalog as data for tools.
//! - `plan`: [`Plan`], seed 001's error-handling plan from an OpenAPI document.

pub mod advice;
mod catalog;
mod catalog_macro;
mod category;
mod code;
mod condition;
mod dialect;
mod docs;
mod error;
pub mod export;
mod hints;
#[cfg(feature = "axum")]
mod into_response;
mod oauth_token;
mod plan;
mod prerendered;
mod profile;
mod recognise;
pub mod seeds;
mod violation;

pub use crate::catalog::{Catalog, CatalogBuilder, CatalogError, CodeStyle, Entry};
pub use crate::category::Category;
pub use crate::code::Code;
pub use crate::condition::Condition;
pub use crate::dialect::{
    DIALECTS, Dialect, ErrorsArray, Nested, OAuth, Problem, REQUEST_ID, Rendered, SpecificCode,
    Wrapper, dialect, format_of, parse_any,
};
pub use crate::error::ApiError;
pub use crate::export::{CatalogExport, CodeExport, Member, ProfileExport};
pub use crate::hints::{REQUEST_ID_HEADERS, request_id_from_headers, retry_hint};
#[cfg(feature = "axum")]
pub use crate::into_response::ErrorResponse;
pub use crate::oauth_token::{OAUTH_TOKEN, TokenError};
pub use crate::plan::{OperationPlan, Plan, PlannedError, Repeatable, WebhookPlan};
pub use crate::prerendered::{Prerendered, PrerenderedError};
pub use crate::profile::Profile;
pub use crate::violation::{FieldViolation, ViolationKind, ViolationSupport};

#[doc(hidden)]
pub use crate::catalog::EntryCheck;
#[doc(hidden)]
pub use crate::code::CodeLiteral;

/// An error documents nothing itself: apierr-axum's `openapi::finish` states every
/// error of an operation in the router's profile.
#[cfg(feature = "openapi")]
impl aide::OperationOutput for ApiError {
    type Inner = Self;
}
