//! The retrying client against a fault-injecting server; the verifier against signatures made by the published `standardwebhooks` package
//! (`tests/fixtures/standard_webhooks.json`, made by `standard_webhooks.py`), and against
//! tampered, stale, early and unsigned messages.

mod retry;
mod webhook;
