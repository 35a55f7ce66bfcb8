//! The webhooks crate's integration tests, one binary.

mod delivery;
mod support;
mod workers;
