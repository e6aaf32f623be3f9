//! The Redis feed's own log events, compiled away without `tracing`.

use std::sync::atomic::{AtomicBool, Ordering};

/// A problem with Redis (unreachable, a failed read or write): at most one
/// line a second, with the count of problems since the last.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn problem(problem: &str) {
    #[cfg(feature = "tracing")]
    {
        static PROBLEMS: crate::log_limit::OncePerSecond = crate::log_limit::OncePerSecond::new();
        if let Some(count) = PROBLEMS.count() {
            trace_event!(warn!(count, "shared key store: {problem}"));
        }
    }
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
