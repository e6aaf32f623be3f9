//! Many changes applied to a store in one step (a replica's round of the
//! change log): the same outcome as applying them one by one with
//! `upsert`, `remove` and `remove_digest`, for the cost of one pass over
//! the catalog and one copy of each shard touched, instead of one of each
//! per change (a million keys: about 1 ms per change one by one, so a
//! follower could not keep up with an import).

use std::collections::HashMap;
use std::sync::Arc;

use super::catalog::Catalog;
use super::store::KeyStore;
use crate::key_store::record::KeyRecord;
use crate::key_store::{KeyEntry, KeyStoreError, TokenDigest};

/// One change of a batch.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// Put this entry in force (as `upsert`); another key holding its
    /// digest is removed first: the newer write wins.
    Put(Box<KeyEntry>),
    /// Forget the key with this id and whatever key holds this digest (as
    /// `remove` then `remove_digest`).
    Forget {
        id: String,
        digest: Option<TokenDigest>,
    },
}

/// Up to this many changes are applied one by one (a pass over a million
/// keys costs more than a few inserts).
const ONE_BY_ONE: usize = 32;

impl KeyStore {
    /// Applies `changes`, in order: a few one by one, more in one step
    /// (readers then see the store before them or after all of them). An
    /// invalid entry is skipped.
    pub(crate) fn apply_batch(&self, changes: Vec<Change>) {
        if changes.len() <= ONE_BY_ONE {
            for change in changes {
                self.apply_one(change);
            }
            return;
        }
        self.apply_all(changes);
    }

    /// One change, as a replica applied each before batches.
    fn apply_one(&self, change: Change) {
        match change {
            Change::Put(entry) => {
                if let Err(KeyStoreError::DuplicateDigest { .. }) = self.upsert((*entry).clone()) {
                    // Another id holds this digest locally (a write this
                    // replica missed is being replayed): the newer wins.
                    self.remove_digest(&entry.digest);
                    let _ = self.upsert(*entry);
                }
            }
            Change::Forget { id, digest } => {
                let _ = self.remove(&id);
                if let Some(digest) = digest {
                    self.remove_digest(&digest);
                }
            }
        }
    }

    /// Many changes in one step.
    fn apply_all(&self, changes: Vec<Change>) {
        let mut catalog = self.lock();
        let snapshot = self.snapshot();
        // What each touched id ends as, in order: the last change wins,
        // and a digest claimed by a newer put leaves its older holder.
        let mut finals: HashMap<String, Option<KeyEntry>> = HashMap::new();
        let mut staged_owner: HashMap<TokenDigest, String> = HashMap::new();
        let holder = |finals: &HashMap<String, Option<KeyEntry>>,
                      staged_owner: &HashMap<TokenDigest, String>,
                      digest: &TokenDigest|
         -> Option<String> {
            if let Some(owner) = staged_owner.get(digest) {
                return Some(owner.clone());
            }
            let held = snapshot
                .get(digest)
                .map(|record| record.id().to_owned())
                .or_else(|| catalog.revoked_holder(digest))?;
            // A key the batch changed already holds what the batch says.
            (!finals.contains_key(&held)).then_some(held)
        };
        for change in changes {
            match change {
                Change::Put(entry) => {
                    if entry.validate().is_err() {
                        continue;
                    }
                    if let Some(other) = holder(&finals, &staged_owner, &entry.digest)
                        .filter(|other| *other != entry.id)
                    {
                        staged_owner.remove(&entry.digest);
                        finals.insert(other, None);
                    }
                    if let Some(Some(previous)) = finals.get(&entry.id) {
                        staged_owner.remove(&previous.digest);
                    }
                    staged_owner.insert(entry.digest, entry.id.clone());
                    finals.insert(entry.id.clone(), Some(*entry));
                }
                Change::Forget { id, digest } => {
                    if let Some(Some(previous)) = finals.get(&id) {
                        staged_owner.remove(&previous.digest);
                    }
                    finals.insert(id, None);
                    if let Some(digest) = digest
                        && let Some(other) = holder(&finals, &staged_owner, &digest)
                    {
                        staged_owner.remove(&digest);
                        finals.insert(other, None);
                    }
                }
            }
        }
        let (removed, added) = catalog.replace_ids(finals);
        let next = snapshot.with_changes(&removed, added);
        self.store_snapshot(next);
    }
}

impl Catalog {
    /// Takes out every key whose id is in `finals`, then puts in force
    /// the entries it holds (`None`: the key is gone), keeping a replaced
    /// key's last use. Returns the digests of the active keys taken out
    /// and the new active records, for the snapshot.
    pub(super) fn replace_ids(
        &mut self,
        finals: HashMap<String, Option<KeyEntry>>,
    ) -> (Vec<TokenDigest>, Vec<Arc<KeyRecord>>) {
        let mut previous: HashMap<String, Arc<KeyRecord>> = HashMap::new();
        let mut removed = Vec::new();
        let ids: Vec<&str> = finals.keys().map(String::as_str).collect();
        for (record, active) in self.take_out(&ids) {
            if active {
                removed.push(record.digest);
            }
            previous.insert(record.id().to_owned(), record);
        }
        let mut new_active = Vec::new();
        let mut new_revoked = Vec::new();
        for entry in finals.into_values().flatten() {
            let revoked = entry.revoked;
            let record = self.record(entry);
            if let Some(old) = previous.get(record.id()) {
                record.touch(old.last_used_minute());
                record.usage.adopt(&old.usage);
            }
            if revoked {
                new_revoked.push(record);
            } else {
                new_active.push(record);
            }
        }
        self.merge_in(new_active.clone(), new_revoked);
        (removed, new_active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKENS: [&str; 6] = ["t0", "t1", "t2", "t3", "t4", "t5"];

    /// The one-by-one reference: what a replica did before batches.
    fn one_by_one(store: &KeyStore, change: &Change) {
        store.apply_one(change.clone());
    }

    /// Every key (id, label, revoked), and which key each token reaches.
    type State = (Vec<(String, String, bool)>, Vec<Option<String>>);

    fn state(store: &KeyStore) -> State {
        let mut entries: Vec<_> = store
            .entries()
            .into_iter()
            .map(|entry| (entry.id.clone(), entry.label.clone(), entry.revoked))
            .collect();
        entries.sort();
        let answers = TOKENS
            .iter()
            .map(|token| store.verify(token).ok().map(|key| key.id().to_owned()))
            .collect();
        (entries, answers)
    }

    #[test]
    fn a_batch_ends_where_one_change_at_a_time_ends() {
        // xorshift: the same sequences every run.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        for round in 0..400 {
            let (batched, reference) = (KeyStore::new(), KeyStore::new());
            let mut changes = Vec::new();
            for step in 0..(2 + next(12)) {
                let id = format!("key_{}", next(5));
                let token = TOKENS[usize::try_from(next(6)).unwrap_or(0)];
                let change = match next(4) {
                    0 => Change::Forget {
                        id,
                        digest: (next(2) == 0).then(|| TokenDigest::of(token)),
                    },
                    kind => Change::Put(Box::new(
                        KeyEntry::new(id, format!("L{round}.{step}"), TokenDigest::of(token))
                            .with_revoked(kind == 3),
                    )),
                };
                changes.push(change);
            }
            // Some state first, applied both ways, then the batch.
            let (first, rest) = changes.split_at(changes.len() / 2);
            for change in first {
                one_by_one(&batched, change);
                one_by_one(&reference, change);
            }
            batched.apply_all(rest.to_vec());
            for change in rest {
                one_by_one(&reference, change);
            }
            assert_eq!(
                state(&batched),
                state(&reference),
                "round {round}: {rest:?}"
            );
        }
    }
}
