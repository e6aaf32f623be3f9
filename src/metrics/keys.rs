//! Per-key labels with a cap: the first `max` key ids seen get their own
//! series, the others share `_other`. A read lock per request (no writer
//! once the cap is reached or the key was seen).

use std::collections::HashSet;
use std::sync::{PoisonError, RwLock};

/// The label of keys past the cap.
const OTHER: &str = "_other";

/// The key ids that have their own series.
#[derive(Debug)]
pub(super) struct KeyLabels {
    max: usize,
    seen: RwLock<HashSet<Box<str>>>,
}

impl Default for KeyLabels {
    fn default() -> Self {
        Self::new(0)
    }
}

impl KeyLabels {
    pub(super) fn new(max: usize) -> Self {
        Self {
            max,
            seen: RwLock::new(HashSet::new()),
        }
    }

    /// The label for `key`: itself while under the cap, else `_other`.
    pub(super) fn label(&self, key: &str) -> String {
        {
            let seen = self.seen.read().unwrap_or_else(PoisonError::into_inner);
            if seen.contains(key) {
                return key.to_owned();
            }
            if seen.len() >= self.max {
                return OTHER.to_owned();
            }
        }
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        if seen.len() < self.max {
            seen.insert(key.into());
            key.to_owned()
        } else if seen.contains(key) {
            key.to_owned()
        } else {
            OTHER.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stop_at_the_cap() {
        let labels = KeyLabels::new(2);
        assert_eq!(labels.label("key_a"), "key_a");
        assert_eq!(labels.label("key_b"), "key_b");
        assert_eq!(labels.label("key_c"), "_other");
        assert_eq!(labels.label("key_a"), "key_a");
    }
}
