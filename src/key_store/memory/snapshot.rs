//! The read side of the key store: an immutable, sharded digest index.
//!
//! Readers load the current snapshot through `arc-swap` (no lock a writer
//! can hold) and probe one shard. Writers build a new snapshot that shares
//! every untouched shard with the old one, so a single insert or revoke
//! copies 1/256 of the index, and swap it in.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::key_store::TokenDigest;
use crate::key_store::digest::BuildDigestHasher;
use crate::key_store::record::KeyRecord;

/// Shards per snapshot (a power of two).
const SHARDS: usize = 256;

/// A record, hashed and compared by its digest (equality in constant time).
#[derive(Clone)]
pub(super) struct ByDigest(pub(super) Arc<KeyRecord>);

impl Borrow<TokenDigest> for ByDigest {
    fn borrow(&self) -> &TokenDigest {
        &self.0.digest
    }
}

impl Hash for ByDigest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.digest.hash(state);
    }
}

impl PartialEq for ByDigest {
    fn eq(&self, other: &Self) -> bool {
        self.0.digest == other.0.digest
    }
}

impl Eq for ByDigest {}

type Shard = HashSet<ByDigest, BuildDigestHasher>;

/// One immutable version of the index.
pub(super) struct Snapshot {
    shards: Box<[Arc<Shard>]>,
    len: usize,
}

impl Snapshot {
    pub(super) fn empty() -> Self {
        Self::build(std::iter::empty(), 0)
    }

    /// Indexes `records` (digests must be distinct; the catalog checks).
    pub(super) fn build(records: impl Iterator<Item = Arc<KeyRecord>>, len_hint: usize) -> Self {
        let per_shard = len_hint.div_ceil(SHARDS);
        let mut shards: Vec<Shard> = (0..SHARDS)
            .map(|_| HashSet::with_capacity_and_hasher(per_shard, BuildDigestHasher))
            .collect();
        let mut len = 0;
        for record in records {
            let shard = record.digest.shard(SHARDS);
            if shards[shard].insert(ByDigest(record)) {
                len += 1;
            }
        }
        Self {
            shards: shards.into_iter().map(Arc::new).collect(),
            len,
        }
    }

    /// The record stored under `digest`. The table's equality is constant-time.
    pub(super) fn get(&self, digest: &TokenDigest) -> Option<&Arc<KeyRecord>> {
        self.shards[digest.shard(SHARDS)]
            .get(digest)
            .map(|found| &found.0)
    }

    /// A new snapshot with `record` added (or replacing one with its digest).
    pub(super) fn with(&self, record: Arc<KeyRecord>) -> Self {
        let index = record.digest.shard(SHARDS);
        let mut shard = Shard::clone(&self.shards[index]);
        let added = shard.replace(ByDigest(record)).is_none();
        self.with_shard(index, shard, if added { self.len + 1 } else { self.len })
    }

    /// A new snapshot without the record stored under `digest`.
    pub(super) fn without(&self, digest: &TokenDigest) -> Self {
        let index = digest.shard(SHARDS);
        let mut shard = Shard::clone(&self.shards[index]);
        let removed = shard.remove(digest);
        self.with_shard(index, shard, if removed { self.len - 1 } else { self.len })
    }

    /// A new snapshot without `removed` and with `added`, each shard
    /// touched copied once.
    #[cfg(feature = "replica")]
    pub(super) fn with_changes(&self, removed: &[TokenDigest], added: Vec<Arc<KeyRecord>>) -> Self {
        let mut shards = self.shards.clone();
        let mut copied: std::collections::HashMap<usize, Shard> = std::collections::HashMap::new();
        let mut len = self.len;
        for digest in removed {
            let index = digest.shard(SHARDS);
            let shard = copied
                .entry(index)
                .or_insert_with(|| Shard::clone(&self.shards[index]));
            if shard.remove(digest) {
                len -= 1;
            }
        }
        for record in added {
            let index = record.digest.shard(SHARDS);
            let shard = copied
                .entry(index)
                .or_insert_with(|| Shard::clone(&self.shards[index]));
            if shard.replace(ByDigest(record)).is_none() {
                len += 1;
            }
        }
        for (index, shard) in copied {
            shards[index] = Arc::new(shard);
        }
        Self { shards, len }
    }

    fn with_shard(&self, index: usize, shard: Shard, len: usize) -> Self {
        let mut shards = self.shards.clone();
        shards[index] = Arc::new(shard);
        Self { shards, len }
    }

    /// Calls `visit` with every record.
    #[cfg(any(feature = "redis", feature = "postgres"))]
    pub(super) fn for_each(&self, mut visit: impl FnMut(&KeyRecord)) {
        for shard in &self.shards {
            for slot in shard.iter() {
                visit(&slot.0);
            }
        }
    }

    /// How many keys are indexed.
    pub(super) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::key_store::KeyEntry;
    use crate::scope::ScopeSet;

    fn record(digest: [u8; 32], id: &str) -> Arc<KeyRecord> {
        let entry = KeyEntry::new(id, "label", TokenDigest::from_bytes(digest))
            .with_created_at(SystemTime::UNIX_EPOCH);
        Arc::new(KeyRecord::new(entry, Arc::new(ScopeSet::empty())))
    }

    #[test]
    fn finds_exactly_the_stored_digests() {
        let snapshot = Snapshot::build([record([1; 32], "a"), record([2; 32], "b")].into_iter(), 2);
        assert_eq!(snapshot.len(), 2);
        let found = snapshot
            .get(&TokenDigest::from_bytes([1; 32]))
            .expect("stored");
        assert_eq!(found.id(), "a");
        assert!(snapshot.get(&TokenDigest::from_bytes([3; 32])).is_none());
    }

    #[test]
    fn digests_sharing_their_table_hash_are_told_apart() {
        // Same first eight bytes (same table hash) and same shard byte: only
        // the full constant-time comparison separates them.
        let mut a = [9; 32];
        let mut b = [9; 32];
        a[20] = 1;
        b[20] = 2;
        let snapshot = Snapshot::build([record(a, "a"), record(b, "b")].into_iter(), 2);
        assert_eq!(
            snapshot.get(&TokenDigest::from_bytes(a)).expect("a").id(),
            "a"
        );
        assert_eq!(
            snapshot.get(&TokenDigest::from_bytes(b)).expect("b").id(),
            "b"
        );
        let mut c = [9; 32];
        c[20] = 3;
        assert!(snapshot.get(&TokenDigest::from_bytes(c)).is_none());
    }

    #[test]
    fn with_and_without_leave_the_original_untouched() {
        let first = Snapshot::build([record([1; 32], "a")].into_iter(), 1);
        let second = first.with(record([2; 32], "b"));
        let third = second.without(&TokenDigest::from_bytes([1; 32]));
        assert_eq!((first.len(), second.len(), third.len()), (1, 2, 1));
        assert!(first.get(&TokenDigest::from_bytes([2; 32])).is_none());
        assert!(second.get(&TokenDigest::from_bytes([1; 32])).is_some());
        assert!(third.get(&TokenDigest::from_bytes([1; 32])).is_none());
    }
}
