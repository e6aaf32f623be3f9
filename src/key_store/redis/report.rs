//! The shared store's log events, compiled away without `tracing`. Records
//! are named by their digest's first 8 hex digits at most, never by their
//! content.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A problem the sync task met (Redis unreachable, a gap in the log).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn problem(problem: &str) {
    trace_event!(warn!("shared key store: {problem}"));
}

/// A full load finished.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn resync(keys: usize, version: u64, took: Duration) {
    trace_event!(info!(
        keys,
        version,
        took_ms = took.as_millis(),
        "shared key store: key set loaded in full"
    ));
}

/// A record the replica could not read; its key is left out. Names the
/// record by its digest's first 8 hex digits (not enough to matter, enough
/// to find it with `HSCAN`), never the record's content.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn unreadable(digest: &str, problem: &str) {
    trace_event!(error!(
        record = digest.get(..8).unwrap_or(""),
        "shared key store: a key record is unreadable, its key is refused: {problem}"
    ));
}

/// Values of the last-use hash that are not a minute were left out (once
/// per process: the hash is read on every admin read).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn unreadable_last_uses(count: usize) {
    static LOGGED: AtomicBool = AtomicBool::new(false);
    if !LOGGED.swap(true, Ordering::Relaxed) {
        trace_event!(warn!(
            count,
            "shared key store: the last-use hash holds values that are not minutes; they are ignored (logged once)"
        ));
    }
}
