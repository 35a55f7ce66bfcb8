//! The webhooks crate's integration tests, one binary.

mod delivery;
mod events;
mod support;
mod workers;
