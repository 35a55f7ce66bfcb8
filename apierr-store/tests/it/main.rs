//! Every backend through the same conformance suite, on the real services.

mod backends;
mod conformance;
mod model;
