//! A key's usage counters on the request path: two day slots of four
//! atomic counts, allocated on the key's first counted request. Counting
//! is two relaxed loads and one atomic add, never a lock; a background
//! task (the keys file's save, a replica's flush) drains them.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::{DayCounts, UsageOutcome};
use crate::key_store::clock;

/// Minutes in a day.
const MINUTES_PER_DAY: u32 = 24 * 60;

/// One day's counts. The slot of day `d` is `d % 2`: the drain (at least
/// once a day) empties a day's slot before the day after next reuses it.
#[derive(Default)]
struct Slot {
    /// Days since the Unix epoch these counts belong to (0: never used).
    day: AtomicU32,
    counts: [AtomicU64; 4],
}

/// How often a key was used, per UTC day and outcome, as counted on this
/// replica and not drained yet. Reached through
/// [`Principal::key_usage`](crate::Principal::key_usage); the layer counts,
/// nothing else needs to.
#[derive(Default)]
pub struct KeyUsage {
    slots: OnceLock<Arc<[Slot; 2]>>,
}

impl KeyUsage {
    /// Counts one request of `outcome` today (UTC).
    pub(crate) fn count(&self, outcome: UsageOutcome) {
        let today = clock::minute() / MINUTES_PER_DAY;
        let slots = self.slots.get_or_init(Arc::default);
        let slot = &slots[(today % 2) as usize];
        let day = slot.day.load(Ordering::Relaxed);
        if day != today {
            // The slot held the day before yesterday, never drained (no
            // task drains this store): start it again rather than count
            // today's requests to that day.
            if slot
                .day
                .compare_exchange(day, today, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                for count in &slot.counts {
                    count.store(0, Ordering::Relaxed);
                }
            }
        }
        slot.counts[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Moves one of today's passes to `outcome`: a layer inside the
    /// layer (a route's scope check, a separate rate limit) refused a
    /// request the layer had passed. (If the pass was drained meanwhile,
    /// it stays counted as a pass.)
    pub(crate) fn refused_after_passing(&self, outcome: UsageOutcome) {
        let today = clock::minute() / MINUTES_PER_DAY;
        let Some(slots) = self.slots.get() else {
            return;
        };
        let slot = &slots[(today % 2) as usize];
        if slot.day.load(Ordering::Relaxed) != today {
            return;
        }
        let passed = &slot.counts[UsageOutcome::Passed as usize];
        if passed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |count| {
                count.checked_sub(1)
            })
            .is_ok()
        {
            slot.counts[outcome as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes the counts out (they restart at zero), per day.
    #[cfg(any(feature = "admin", feature = "replica"))]
    pub(crate) fn drain(&self) -> Vec<(u32, DayCounts)> {
        self.visit(|count| count.swap(0, Ordering::Relaxed))
    }

    /// The counts as they stand, per day, leaving them in place.
    pub(crate) fn peek(&self) -> Vec<(u32, DayCounts)> {
        self.visit(|count| count.load(Ordering::Relaxed))
    }

    fn visit(&self, mut read: impl FnMut(&AtomicU64) -> u64) -> Vec<(u32, DayCounts)> {
        let Some(slots) = self.slots.get() else {
            return Vec::new();
        };
        slots
            .iter()
            .filter_map(|slot| {
                let day = slot.day.load(Ordering::Acquire);
                let counts = DayCounts(slot.counts.each_ref().map(&mut read));
                (day != 0 && !counts.is_zero()).then_some((day, counts))
            })
            .collect()
    }

    /// Puts drained counts back (a flush that failed), if their day's
    /// slot still holds that day; returns whether they went back.
    #[cfg(any(test, feature = "replica"))]
    pub(crate) fn restore(&self, day: u32, counts: DayCounts) -> bool {
        let slots = self.slots.get_or_init(Arc::default);
        let slot = &slots[(day % 2) as usize];
        if slot.day.load(Ordering::Acquire) != day {
            return false;
        }
        for (count, add) in slot.counts.iter().zip(counts.0) {
            count.fetch_add(add, Ordering::Relaxed);
        }
        true
    }

    /// Shares the counters of `previous` (the record this one replaces),
    /// so that a change to a key loses none of its counts.
    pub(crate) fn adopt(&self, previous: &Self) {
        if let Some(slots) = previous.slots.get() {
            let _ = self.slots.set(Arc::clone(slots));
        }
    }
}

impl fmt::Debug for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyUsage")
            .field("undrained", &self.peek())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_drain_and_restore() {
        clock::start();
        let usage = KeyUsage::default();
        assert!(usage.peek().is_empty());
        usage.count(UsageOutcome::Passed);
        usage.count(UsageOutcome::Passed);
        usage.count(UsageOutcome::Refused);
        let today = clock::minute() / MINUTES_PER_DAY;
        assert_eq!(usage.peek(), vec![(today, DayCounts([2, 0, 0, 1]))]);
        let drained = usage.drain();
        assert_eq!(drained, vec![(today, DayCounts([2, 0, 0, 1]))]);
        assert!(usage.peek().is_empty());
        assert!(usage.restore(today, DayCounts([2, 0, 0, 1])));
        assert!(!usage.restore(today + 1, DayCounts([1, 0, 0, 0])));
        let next = KeyUsage::default();
        next.adopt(&usage);
        next.count(UsageOutcome::UsageExceeded);
        assert_eq!(usage.peek(), vec![(today, DayCounts([2, 0, 1, 1]))]);
    }
}
