//! The Redis feed's own log events, compiled away without `tracing`.

use std::sync::atomic::{AtomicBool, Ordering};

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
