//! The digests a replica saw revoked or deleted, so that no source can
//! bring them back: bounded, oldest forgotten first.

use std::collections::{HashSet, VecDeque};

use crate::key_store::TokenDigest;

/// How many digests a replica remembers: 1,048,576 (about 40 MB at most:
/// the digest twice, in the set and in the order). A replica that saw more
/// revocations than this forgets the oldest; they are then as safe as the
/// source is.
pub(crate) const MAX_TOMBSTONES: usize = 1 << 20;

/// Revoked and deleted digests, in the order they were seen.
#[derive(Debug)]
pub(super) struct Tombstones {
    held: HashSet<TokenDigest>,
    order: VecDeque<TokenDigest>,
    cap: usize,
}

impl Tombstones {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            held: HashSet::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Remembers `digest` (once).
    pub(super) fn note(&mut self, digest: TokenDigest) {
        if self.held.insert(digest) {
            self.order.push_back(digest);
            while self.order.len() > self.cap {
                if let Some(oldest) = self.order.pop_front() {
                    self.held.remove(&oldest);
                }
            }
        }
    }

    /// Forgets `digest`: a newer write made it valid again on purpose.
    pub(super) fn forget(&mut self, digest: &TokenDigest) {
        if self.held.remove(digest) {
            self.order.retain(|held| held != digest);
        }
    }

    /// Every digest remembered.
    pub(super) fn iter(&self) -> impl Iterator<Item = &TokenDigest> {
        self.order.iter()
    }

    #[cfg(test)]
    pub(super) fn holds(&self, digest: &TokenDigest) -> bool {
        self.held.contains(digest)
    }

    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    /// Forgets everything (the operator accepted the source as it is).
    pub(super) fn clear(&mut self) {
        self.held.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_oldest_first() {
        let mut tombstones = Tombstones::new(2);
        let [a, b, c] = ["a", "b", "c"].map(TokenDigest::of);
        tombstones.note(a);
        tombstones.note(a);
        tombstones.note(b);
        assert_eq!(tombstones.len(), 2);
        tombstones.note(c);
        assert!(!tombstones.holds(&a) && tombstones.holds(&b) && tombstones.holds(&c));
        tombstones.clear();
        assert_eq!(tombstones.len(), 0);
    }
}
