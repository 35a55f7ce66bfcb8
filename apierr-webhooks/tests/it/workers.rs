//! Dispatchers running for real (`Dispatcher::run`), with the real clock.
