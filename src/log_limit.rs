//! Log lines that scale: an event that can repeat with every request (a
//! refusal while the key set is unavailable, a failed reconnect) writes at
//! most one line per second, counting the events since the line before.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// One kind of repeated event.
#[derive(Debug, Default)]
pub(crate) struct OncePerSecond {
    /// The second (since the process's first count) of the last line, plus
    /// one (0: never).
    last: AtomicU64,
    /// Events since the last line.
    pending: AtomicU64,
}

impl OncePerSecond {
    #[cfg(feature = "replica")]
    pub(crate) const fn new() -> Self {
        Self {
            last: AtomicU64::new(0),
            pending: AtomicU64::new(0),
        }
    }

    /// Counts one event. `Some(n)` when a line is due now: `n` events since
    /// the last line, this one included; `None` while a line was written
    /// this second (the event is counted in the next line).
    pub(crate) fn count(&self) -> Option<u64> {
        static START: OnceLock<Instant> = OnceLock::new();
        let second = START.get_or_init(Instant::now).elapsed().as_secs() + 1;
        self.pending.fetch_add(1, Ordering::Relaxed);
        let last = self.last.load(Ordering::Relaxed);
        if last == second
            || self
                .last
                .compare_exchange(last, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        Some(self.pending.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_counting_the_rest() {
        let limit = OncePerSecond::default();
        assert_eq!(limit.count(), Some(1));
        let mut lines = 0;
        for _ in 0..10_000 {
            lines += usize::from(limit.count().is_some());
        }
        // Unless the second turned meanwhile, no line for the burst.
        assert!(lines <= 1, "{lines}");
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        let counted = limit.count().expect("a new second");
        assert!(counted >= 10_001 - 10_000 * lines as u64, "{counted}");
    }
}
