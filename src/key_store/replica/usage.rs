//! A replica's usage counts on their way to the source: drained from the
//! local keys' counters by a feed's flush, sorted by day, and put back
//! when the write fails.

use crate::key_store::KeyStore;
use crate::key_store::usage::DayCounts;

/// One key's counts of one day, drained and not written yet.
pub(crate) type Drained = (String, u32, DayCounts);

/// Takes the counts out of every local key, sorted by day then id.
pub(crate) fn drain_usage(local: &KeyStore) -> Vec<Drained> {
    let mut drained = Vec::new();
    local.for_each_usage(|id, usage| {
        for (day, counts) in usage.drain() {
            drained.push((id.to_owned(), day, counts));
        }
    });
    drained.sort_unstable_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    drained
}

/// Puts counts a failed write did not add back into the keys' counters
/// (those whose day's slot moved on meanwhile are lost, and logged).
pub(crate) fn restore_usage(local: &KeyStore, unsent: &[Drained]) {
    let mut lost = 0_u64;
    for (id, day, counts) in unsent {
        let mut restored = false;
        local.usage_of(id, |usage| restored = usage.restore(*day, *counts));
        if !restored {
            lost += counts.0.iter().sum::<u64>();
        }
    }
    if lost > 0 {
        super::report::source_problem(&format!(
            "{lost} usage counts could not be written nor kept for the next flush"
        ));
    }
}
