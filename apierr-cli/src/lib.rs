//! The `apierr` command's own part: `apierr call`, one logical request through
//! apierr-client with every attempt explained. Everything else the binary does is a
//! library's: the reference Partner API and its operator commands are
//! [`apierr_reference`]'s, the catalogs [`apierr`]'s.
//!
//! # Layout
//!
//! - `call`: [`call`], its [`CallRequest`] and [`CallReport`].
//! - [`diff`]: `apierr catalog diff`, the changes between two error contracts.
//! - [`probe`]: `apierr probe`, a live API's answers held to the error contract.
//! - [`telemetry`]: the process's log lines and OTLP span export.
//! - `main.rs`: argument parsing (clap) and the stop signal.

mod call;
pub mod diff;
pub mod probe;
pub mod telemetry;

pub use crate::call::{CallReport, CallRequest, call};
