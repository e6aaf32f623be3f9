//! A key set assembled record by record beside a store in force, for a
//! replica's full load: records arrive as the source's pages do, on the
//! thread that builds; a record equal to one the store in force holds
//! active is shared with it, not built again (a resync of an unchanged
//! million keys allocates no record), and conflicts leave keys out
//! instead of refusing the set.

use std::collections::HashMap;
use std::sync::Arc;

use super::catalog::Catalog;
use super::snapshot::Snapshot;
use super::store::KeyStore;
use crate::key_store::KeyEntry;
use crate::key_store::record::minutes_since_epoch;

/// Records gathered for a new key set; [`finish`](Self::finish) checks
/// them against each other and indexes them.
pub(crate) struct Assembly {
    catalog: Catalog,
    /// The active records of the store in force, shared when unchanged.
    previous: Arc<Snapshot>,
    require_checksum: bool,
    left_out: Vec<String>,
}

impl Assembly {
    pub(super) fn new(previous: Arc<Snapshot>, require_checksum: bool) -> Self {
        Self {
            catalog: Catalog::default(),
            previous,
            require_checksum,
            left_out: Vec::new(),
        }
    }

    /// Adds one entry (an invalid one is left out).
    pub(crate) fn push(&mut self, entry: KeyEntry) {
        if entry.validate().is_err() {
            self.left_out.push(entry.id);
            return;
        }
        let held = (!entry.revoked)
            .then(|| self.previous.get(&entry.digest))
            .flatten()
            .filter(|held| held.is_same_key(&entry))
            .map(Arc::clone)
            // Kept only when its owner's keys here share its account.
            .filter(|held| self.catalog.adopt_owner_account(held));
        if let Some(held) = held {
            if let Some(used) = entry.last_used_at {
                held.touch(minutes_since_epoch(used));
            }
            self.catalog.share_scopes(&held);
            self.catalog.push(held, false);
            return;
        }
        let revoked = entry.revoked;
        let record = self.catalog.record(entry);
        self.catalog.push(record, revoked);
    }

    /// The new store: the entries pushed, but for the ids and digests
    /// `newer` writes (changes logged after the load began, which win),
    /// then `newer`'s entries (`None`: the key is gone). Every entry that
    /// shares an id or a digest with another is left out; their ids are
    /// returned.
    pub(crate) fn finish(
        mut self,
        newer: HashMap<String, Option<KeyEntry>>,
    ) -> (KeyStore, Vec<String>) {
        if !newer.is_empty() {
            let digests: std::collections::HashSet<_> =
                newer.values().flatten().map(|entry| entry.digest).collect();
            self.catalog.retain(|record| {
                !newer.contains_key(record.id()) && !digests.contains(&record.digest)
            });
            for entry in newer.into_values().flatten() {
                self.push(entry);
            }
        }
        let mut left_out = self.left_out;
        // Nothing is refused when leaving out.
        let (catalog, snapshot) = self
            .catalog
            .settle(Some(&mut left_out))
            .unwrap_or_else(|_| (Catalog::default(), Snapshot::empty()));
        (
            KeyStore::from_parts(catalog, snapshot, self.require_checksum),
            left_out,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::key_store::TokenDigest;

    fn entry(id: &str, token: &str) -> KeyEntry {
        KeyEntry::new(id, "Label", TokenDigest::of(token))
            .with_created_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
    }

    fn assemble(entries: Vec<KeyEntry>, newer: HashMap<String, Option<KeyEntry>>) -> Built {
        let mut assembly = KeyStore::new().assembly();
        for entry in entries {
            assembly.push(entry);
        }
        assembly.finish(newer)
    }

    type Built = (KeyStore, Vec<String>);

    #[test]
    fn conflicts_leave_their_keys_out_and_the_rest_stands() {
        let (store, mut left_out) = assemble(
            vec![
                entry("key_a", "a"),
                entry("key_a", "a"), // the same record twice (a scan may): once
                entry("key_b", "shared"),
                entry("key_c", "shared"), // one digest, two ids: neither
                entry("key_d", "d1"),
                entry("key_d", "d2"), // one id, two digests: neither
                entry("key_e", "e").with_revoked(true),
                entry("bad id", "f"),
            ],
            HashMap::new(),
        );
        left_out.sort();
        left_out.dedup();
        assert_eq!(left_out, ["bad id", "key_b", "key_c", "key_d"]);
        assert!(store.verify("a").is_ok());
        for token in ["shared", "d1", "d2", "e", "f"] {
            assert!(store.verify(token).is_err(), "{token}");
        }
        assert_eq!(store.counts().active, 1);
        assert!(store.is_revoked("key_e"));
    }

    #[test]
    fn newer_changes_win_over_the_scan_by_id_and_by_digest() {
        let newer = HashMap::from([
            ("key_a".to_owned(), Some(entry("key_a", "a2"))),
            ("key_b".to_owned(), None),
            ("key_x".to_owned(), Some(entry("key_x", "c"))), // c's digest moved to key_x
        ]);
        let (store, left_out) = assemble(
            vec![
                entry("key_a", "a1"),
                entry("key_b", "b"),
                entry("key_c", "c"),
            ],
            newer,
        );
        assert!(left_out.is_empty(), "{left_out:?}");
        assert!(store.verify("a1").is_err());
        assert_eq!(store.verify("a2").unwrap().id(), "key_a");
        assert!(store.verify("b").is_err() && store.entry("key_b").is_none());
        assert_eq!(store.verify("c").unwrap().id(), "key_x");
        assert!(store.entry("key_c").is_none());
    }

    #[test]
    fn a_resync_shares_unchanged_records_and_builds_changed_ones() {
        let current = KeyStore::new();
        current
            .replace_all([entry("key_a", "a"), entry("key_b", "b")])
            .unwrap();
        let held_a = current.verify("a").unwrap();
        let held_b = current.verify("b").unwrap();
        let mut assembly = current.assembly();
        assembly.push(entry("key_a", "a"));
        assembly.push(entry("key_b", "b").with_label("Renamed"));
        let (built, _) = assembly.finish(HashMap::new());
        assert!(Arc::ptr_eq(&held_a.0, &built.verify("a").unwrap().0));
        let rebuilt = built.verify("b").unwrap();
        assert!(!Arc::ptr_eq(&held_b.0, &rebuilt.0));
        assert_eq!(rebuilt.label(), "Renamed");
    }

    #[test]
    fn ids_sort_as_strings_however_long_their_common_beginning() {
        let ids = [
            "key_0000000000000000b",
            "key_0000000000000000a",
            "key_000000000000000",
            "a",
            "key_00000000000",
            "Z",
            "key_0000000000000000",
            "key_00000000000000001",
        ];
        let entries = ids
            .iter()
            .map(|id| entry(id, id).with_revoked(id.len() % 2 == 0))
            .collect();
        let (store, left_out) = assemble(entries, HashMap::new());
        assert!(left_out.is_empty());
        // Lookups by id are binary searches: each finds its key only if
        // the lists are sorted.
        for id in ids {
            assert_eq!(store.entry(id).map(|found| found.id), Some(id.to_owned()));
        }
        assert!(store.entry("key_0000000000000000c").is_none());
    }
}
