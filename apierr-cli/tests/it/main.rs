//! The reference Partner API, started for real on 127.0.0.1:0 over SQLite and PostgreSQL,
//! answering every condition in every profile.

mod abuse;
mod browser;
mod catalog_diff;
mod cli;
mod client;
mod conditions;
mod demo;
mod durable;
mod events;
mod frameworks;
mod fuzz;
mod listing;
mod oauth;
mod openapi;
mod partners;
mod plan;
mod portal;
mod probe;
mod replicas;
mod retention;
mod safe;
mod secrets;
mod success;
mod support;
mod telemetry;
mod upgrade;
mod webhooks;
