//! The write side of the key store: every key by id, active or revoked.
//! Only writers touch it, under the store's mutex; readers never do.
//!
//! Keys are kept in vectors sorted by id (8 bytes per key): lookups are
//! binary searches, and an insert moves pointers, which is cheap next to the
//! shard copy every write makes anyway.

use std::collections::HashSet;
use std::sync::Arc;

use super::snapshot::{ByDigest, Snapshot};
use crate::key_store::digest::BuildDigestHasher;
use crate::key_store::record::KeyRecord;
use crate::key_store::{KeyEntry, KeyStoreError, TokenDigest};
use crate::scope::ScopeSet;

type DigestSet = HashSet<ByDigest, BuildDigestHasher>;

/// All keys by id, the digests of revoked keys (active digests are in the
/// snapshot), and the interned scope sets.
#[derive(Default)]
pub(super) struct Catalog {
    active: Vec<Arc<KeyRecord>>,
    revoked: Vec<Arc<KeyRecord>>,
    revoked_digests: DigestSet,
    scope_sets: HashSet<Arc<ScopeSet>>,
}

/// A record taken out of the catalog, and whether it was active.
pub(super) type Removed = (Arc<KeyRecord>, bool);

fn find(list: &[Arc<KeyRecord>], id: &str) -> Result<usize, usize> {
    list.binary_search_by(|record| record.id().cmp(id))
}

impl Catalog {
    /// Builds a catalog and its snapshot from scratch, or names a problem;
    /// for `replace_all`. Streams the entries, so that a million keys are
    /// never held twice.
    pub(super) fn build(
        entries: impl IntoIterator<Item = KeyEntry>,
    ) -> Result<(Self, Snapshot), KeyStoreError> {
        let mut catalog = Self::default();
        let mut digests = DigestSet::default();
        for entry in entries {
            entry.validate()?;
            if let Some(first) = digests.get(&entry.digest) {
                return Err(if first.0.id() == entry.id {
                    KeyStoreError::DuplicateId { id: entry.id }
                } else {
                    KeyStoreError::DuplicateDigest {
                        existing: first.0.id().to_owned(),
                        id: entry.id,
                    }
                });
            }
            let revoked = entry.revoked;
            let record = catalog.record(entry);
            digests.insert(ByDigest(Arc::clone(&record)));
            if revoked {
                catalog.revoked.push(record);
            } else {
                catalog.active.push(record);
            }
        }
        drop(digests);
        for list in [&mut catalog.active, &mut catalog.revoked] {
            list.sort_unstable_by(|a, b| a.id().cmp(b.id()));
            if let Some(pair) = list.windows(2).find(|pair| pair[0].id() == pair[1].id()) {
                return Err(KeyStoreError::DuplicateId {
                    id: pair[0].id().to_owned(),
                });
            }
        }
        if let Some(both) = catalog
            .revoked
            .iter()
            .find(|record| find(&catalog.active, record.id()).is_ok())
        {
            return Err(KeyStoreError::DuplicateId {
                id: both.id().to_owned(),
            });
        }
        catalog.revoked_digests = catalog
            .revoked
            .iter()
            .map(|record| ByDigest(Arc::clone(record)))
            .collect();
        let snapshot = Snapshot::build(catalog.active.iter().cloned(), catalog.active.len());
        Ok((catalog, snapshot))
    }

    /// Adds one key; `active_holder` finds the active key holding a digest.
    /// Returns the record, or why the key is refused (nothing changes then).
    pub(super) fn insert<'a>(
        &mut self,
        entry: KeyEntry,
        active_holder: impl Fn(&TokenDigest) -> Option<&'a KeyRecord>,
    ) -> Result<Arc<KeyRecord>, KeyStoreError> {
        let (Err(active_at), Err(_)) = (
            find(&self.active, &entry.id),
            find(&self.revoked, &entry.id),
        ) else {
            return Err(KeyStoreError::DuplicateId { id: entry.id });
        };
        entry.validate()?;
        self.check_digest_is_new(&entry, active_holder)?;
        let revoked = entry.revoked;
        let record = self.record(entry);
        if revoked {
            self.add_revoked(Arc::clone(&record));
        } else {
            self.active.insert(active_at, Arc::clone(&record));
        }
        Ok(record)
    }

    /// Puts `entry` in force as given: a new key, or the replacement of the
    /// key with its id (whatever that key's digest). Refuses a digest that
    /// another id holds. Returns the new record, and the replaced one with
    /// whether it was active.
    pub(super) fn upsert<'a>(
        &mut self,
        entry: KeyEntry,
        active_holder: impl Fn(&TokenDigest) -> Option<&'a KeyRecord>,
    ) -> Result<(Arc<KeyRecord>, Option<Removed>), KeyStoreError> {
        entry.validate()?;
        match self.check_digest_is_new(&entry, active_holder) {
            // The digest is this id's own: a replacement.
            Ok(()) | Err(KeyStoreError::DuplicateId { .. }) => {}
            Err(other) => return Err(other),
        }
        let replaced = self.remove(&entry.id);
        let revoked = entry.revoked;
        let record = self.record(entry);
        if let Some((old, _)) = &replaced {
            // A change to a key (a label, a revocation) keeps its last use.
            record.touch(old.last_used_minute());
        }
        if revoked {
            self.add_revoked(Arc::clone(&record));
        } else {
            let at = find(&self.active, record.id()).unwrap_or_else(|at| at);
            self.active.insert(at, Arc::clone(&record));
        }
        Ok((record, replaced))
    }
    /// Carries the last uses of `previous` over to the same keys (same id
    /// and digest) here, keeping the later minute: a reload from a file
    /// saved earlier must not forget uses seen since.
    pub(super) fn keep_last_uses(&self, previous: &Self) {
        for record in self.active.iter().chain(&self.revoked) {
            let old = previous
                .find_any(record.id())
                .filter(|old| old.digest == record.digest);
            if let Some(old) = old {
                record.touch(old.last_used_minute());
            }
        }
    }

    fn find_any(&self, id: &str) -> Option<&Arc<KeyRecord>> {
        find(&self.active, id)
            .ok()
            .map(|at| &self.active[at])
            .or_else(|| find(&self.revoked, id).ok().map(|at| &self.revoked[at]))
    }

    /// Moves an active key to the revoked set; returns its record.
    pub(super) fn revoke(&mut self, id: &str) -> Option<Arc<KeyRecord>> {
        let at = find(&self.active, id).ok()?;
        let record = self.active.remove(at);
        self.add_revoked(Arc::clone(&record));
        Some(record)
    }

    /// Forgets a key entirely; returns its record and whether it was active.
    pub(super) fn remove(&mut self, id: &str) -> Option<Removed> {
        if let Ok(at) = find(&self.active, id) {
            return Some((self.active.remove(at), true));
        }
        let at = find(&self.revoked, id).ok()?;
        let record = self.revoked.remove(at);
        self.revoked_digests.remove(&record.digest);
        Some((record, false))
    }

    /// The active key with this id.
    pub(super) fn active(&self, id: &str) -> Option<&Arc<KeyRecord>> {
        find(&self.active, id).ok().map(|at| &self.active[at])
    }

    /// The key with this id, active or revoked, as an entry.
    pub(super) fn entry(&self, id: &str) -> Option<KeyEntry> {
        if let Some(record) = self.active(id) {
            return Some(KeyEntry::from_record(record, false));
        }
        let at = find(&self.revoked, id).ok()?;
        Some(KeyEntry::from_record(&self.revoked[at], true))
    }

    /// The id of the revoked key holding `digest`, if one does.
    #[cfg(any(feature = "redis", feature = "admin"))]
    pub(super) fn revoked_holder(&self, digest: &TokenDigest) -> Option<String> {
        self.revoked_digests
            .get(digest)
            .map(|slot| slot.0.id().to_owned())
    }

    /// Whether the key with this id is revoked.
    pub(super) fn is_revoked(&self, id: &str) -> bool {
        find(&self.revoked, id).is_ok()
    }

    /// Active and revoked key counts.
    pub(super) fn counts(&self) -> (usize, usize) {
        (self.active.len(), self.revoked.len())
    }

    /// Every key, active and revoked, sorted by creation time then id.
    pub(super) fn entries(&self) -> Vec<KeyEntry> {
        let active = self.active.iter().map(|k| KeyEntry::from_record(k, false));
        let revoked = self.revoked.iter().map(|k| KeyEntry::from_record(k, true));
        let mut entries: Vec<KeyEntry> = active.chain(revoked).collect();
        entries.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        entries
    }

    fn add_revoked(&mut self, record: Arc<KeyRecord>) {
        self.revoked_digests.insert(ByDigest(Arc::clone(&record)));
        let at = find(&self.revoked, record.id()).unwrap_or_else(|at| at);
        self.revoked.insert(at, record);
    }

    /// Refuses `entry` if an active key (found by `active_holder`) or a
    /// revoked one already has its digest.
    fn check_digest_is_new<'a>(
        &self,
        entry: &KeyEntry,
        active_holder: impl Fn(&TokenDigest) -> Option<&'a KeyRecord>,
    ) -> Result<(), KeyStoreError> {
        let holder = active_holder(&entry.digest)
            .map(|record| record.id().to_owned())
            .or_else(|| {
                self.revoked_digests
                    .get(&entry.digest)
                    .map(|slot| slot.0.id().to_owned())
            });
        match holder {
            // The same entry twice: the repeated id is the clearer message.
            Some(existing) if existing == entry.id => Err(KeyStoreError::DuplicateId {
                id: entry.id.clone(),
            }),
            Some(existing) => Err(KeyStoreError::DuplicateDigest {
                id: entry.id.clone(),
                existing,
            }),
            None => Ok(()),
        }
    }

    /// The record of a checked entry, with its scope set interned.
    fn record(&mut self, mut entry: KeyEntry) -> Arc<KeyRecord> {
        let scopes = self.intern(std::mem::replace(&mut entry.scopes, ScopeSet::empty()));
        Arc::new(KeyRecord::new(entry, scopes))
    }

    /// One shared copy of each distinct scope set, however many keys use it.
    fn intern(&mut self, scopes: ScopeSet) -> Arc<ScopeSet> {
        if let Some(existing) = self.scope_sets.get(&scopes) {
            return Arc::clone(existing);
        }
        let scopes = Arc::new(scopes);
        self.scope_sets.insert(Arc::clone(&scopes));
        scopes
    }
}
