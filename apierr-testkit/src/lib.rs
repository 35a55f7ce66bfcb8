//! Test support shared by apierr's crates (`publish = false`).
//!
//! Every test that touches a service gets a place of its own and gives it back:
//!
//! - [`TestDatabase`]: a new SQLite file or PostgreSQL schema, removed or dropped when the
//!   value is dropped (and, for a test process that was killed, by the next test process
//!   to start: every name carries the process id that made it);
//! - [`TestRedis`]: a key prefix, whose keys are deleted on drop;
//! - [`python_with`]: a Python interpreter that has a given package, or a failure that
//!   names the package and how to get it.
//!
//! Service addresses come from the environment, with the machine's defaults:
//!
//! | variable | default |
//! |---|---|
//! | `APIERR_TEST_POSTGRES_URL` | `postgres://postgres@127.0.0.1:5432/test` |
//! | `APIERR_TEST_REDIS_URL` | `redis://127.0.0.1:6379` |
//! | `APIERR_PYTHON` | the venv `scripts/test` makes (`APIERR_VENV`, default `~/.cache/apierr/venv`) |
//!
//! A missing service is never skipped: the test fails, naming it and the variable.
//!
//! # Layout
//!
//! - `names`: [`unique`] names and the process ids inside them.
//! - `database`: [`Backend`], [`TestDatabase`].
//! - `redis`: [`TestRedis`].
//! - `python`: [`python_with`].

mod database;
mod names;
mod node;
mod python;
mod redis;

pub use crate::database::{BACKENDS, Backend, TestDatabase, postgres_url};
pub use crate::names::unique;
pub use crate::node::{node_modules_with, node_tools};
pub use crate::python::{python_with, venv};
pub use crate::redis::{TestRedis, redis_url};

/// Runs `work` to completion on a runtime of its own, on a thread of its own: clean-up
/// from `Drop`, which may run inside a test's runtime (where blocking on it would
/// stall) or outside any.
pub(crate) fn block_on_own_thread<F>(work: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let thread = std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(work),
            Err(e) => eprintln!("apierr-testkit: no runtime for clean-up: {e}"),
        }
    });
    let _ = thread.join();
}
