//! The admin API in-process (axum `oneshot`, no server process): who may
//! administer, every request the API must refuse and how, rotation as one
//! step per key (on the embedded store and on Redis), list cursors over
//! every legal id. What needs a process (the demo's printed keys, logs,
//! persistence across restarts, replicas) stays in `tests/demo`.

#[path = "../support/mod.rs"]
mod support;

mod access;
mod client;
mod cursors;
mod customers;
mod history;
mod last_use;
mod leaks;
mod openapi;
mod requests;
mod rotation;
