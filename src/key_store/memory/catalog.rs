//! The write side of the key store: every key by id, active or revoked.
//! Only writers touch it, under the store's mutex; readers never do.
//!
//! Keys are kept in vectors sorted by id (8 bytes per key): lookups are
//! binary searches, and an insert moves pointers, which is cheap next to the
//! shard copy every write makes anyway.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::snapshot::{ByDigest, Snapshot};
use crate::key_policy::{CreditAccount, Credits};
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
    /// The live account of each owner's credits, shared by its keys.
    owner_accounts: HashMap<Box<str>, Arc<CreditAccount>>,
}

/// A record taken out of the catalog, and whether it was active.
pub(super) type Removed = (Arc<KeyRecord>, bool);

/// Sorts `list` by id. Sorts by the ids' first 16 bytes held in place
/// first (no pointer to follow per comparison), then each run of equal
/// beginnings by the whole id: about five times faster than comparing ids
/// at a million keys.
fn sort_by_id(list: &mut Vec<Arc<KeyRecord>>) {
    fn beginning(id: &str) -> u128 {
        let mut bytes = [0_u8; 16];
        let len = id.len().min(16);
        bytes[..len].copy_from_slice(&id.as_bytes()[..len]);
        u128::from_be_bytes(bytes)
    }
    let mut keyed: Vec<(u128, Arc<KeyRecord>)> = std::mem::take(list)
        .into_iter()
        .map(|record| (beginning(record.id()), record))
        .collect();
    keyed.sort_unstable_by_key(|(beginning, _)| *beginning);
    for run in keyed.chunk_by_mut(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            run.sort_unstable_by(|a, b| a.1.id().cmp(b.1.id()));
        }
    }
    *list = keyed.into_iter().map(|(_, record)| record).collect();
}

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
        for entry in entries {
            entry.validate()?;
            let revoked = entry.revoked;
            let record = catalog.record(entry);
            catalog.push(record, revoked);
        }
        catalog.settle(None)
    }

    /// Adds a record as it comes, unsorted and unchecked against the
    /// others: [`settle`](Self::settle) sorts and checks them all.
    pub(super) fn push(&mut self, record: Arc<KeyRecord>, revoked: bool) {
        if revoked {
            self.revoked.push(record);
        } else {
            self.active.push(record);
        }
    }

    /// Keeps only the records pushed that `keep` accepts.
    #[cfg(feature = "replica")]
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&KeyRecord) -> bool) {
        self.active.retain(|record| keep(record));
        self.revoked.retain(|record| keep(record));
    }

    /// Interns the scope set of a record shared with another catalog.
    #[cfg(feature = "replica")]
    pub(super) fn share_scopes(&mut self, record: &KeyRecord) {
        if !self.scope_sets.contains(&record.scopes) {
            self.scope_sets.insert(Arc::clone(&record.scopes));
        }
    }

    /// Calls `visit` with the digest of every revoked key.
    #[cfg(feature = "replica")]
    pub(super) fn for_each_revoked_digest(&self, mut visit: impl FnMut(&TokenDigest)) {
        for record in &self.revoked {
            visit(&record.digest);
        }
    }

    /// Takes out the keys with these ids (found by binary search, removed
    /// in one pass per list): each record, and whether it was active.
    #[cfg(feature = "replica")]
    pub(super) fn take_out(&mut self, ids: &[&str]) -> Vec<Removed> {
        let mut taken = Vec::new();
        for (list, active) in [(&mut self.active, true), (&mut self.revoked, false)] {
            let mut doomed: Vec<usize> = ids.iter().filter_map(|id| find(list, id).ok()).collect();
            if doomed.is_empty() {
                continue;
            }
            doomed.sort_unstable();
            let mut doomed = doomed.into_iter().peekable();
            let mut index = 0;
            list.retain(|record| {
                let gone = doomed.next_if_eq(&index).is_some();
                index += 1;
                if gone {
                    taken.push((Arc::clone(record), active));
                }
                !gone
            });
        }
        for (record, active) in &taken {
            if !active {
                self.revoked_digests.remove(&record.digest);
            }
        }
        taken
    }

    /// Merges new records (ids not in the lists) into the sorted lists:
    /// one pass, not an insert each.
    #[cfg(feature = "replica")]
    pub(super) fn merge_in(&mut self, active: Vec<Arc<KeyRecord>>, revoked: Vec<Arc<KeyRecord>>) {
        for record in &revoked {
            self.revoked_digests.insert(ByDigest(Arc::clone(record)));
        }
        for (list, mut new) in [(&mut self.active, active), (&mut self.revoked, revoked)] {
            if new.is_empty() {
                continue;
            }
            new.sort_unstable_by(|a, b| a.id().cmp(b.id()));
            let old = std::mem::take(list);
            let mut merged = Vec::with_capacity(old.len() + new.len());
            let mut new = new.into_iter().peekable();
            for record in old {
                while let Some(next) = new.next_if(|next| next.id() < record.id()) {
                    merged.push(next);
                }
                merged.push(record);
            }
            merged.extend(new);
            *list = merged;
        }
    }

    /// Sorts the records pushed, checks them against each other and builds
    /// the digest indexes. A digest or id held twice (an entry given twice,
    /// same id and digest, counts once) is refused, or, with `left_out`,
    /// each entry holding it is left out and its id noted there: for a
    /// replica's full load, where one bad record must not refuse the whole
    /// key set.
    pub(super) fn settle(
        mut self,
        mut left_out: Option<&mut Vec<String>>,
    ) -> Result<(Self, Snapshot), KeyStoreError> {
        // Digests first: one walk in push order, active keys then revoked.
        let mut digests = DigestSet::default();
        let mut shared: HashSet<TokenDigest, BuildDigestHasher> = HashSet::default();
        let mut repeated: HashSet<*const KeyRecord> = HashSet::new();
        for record in self.active.iter().chain(&self.revoked) {
            let Some(first) = digests.get(&record.digest) else {
                digests.insert(ByDigest(Arc::clone(record)));
                continue;
            };
            let same_key = first.0.id() == record.id();
            match left_out.as_deref_mut() {
                Some(_) if same_key => {
                    repeated.insert(Arc::as_ptr(record));
                }
                Some(_) => {
                    shared.insert(record.digest);
                }
                None if same_key => {
                    return Err(KeyStoreError::DuplicateId {
                        id: record.id().to_owned(),
                    });
                }
                None => {
                    return Err(KeyStoreError::DuplicateDigest {
                        existing: first.0.id().to_owned(),
                        id: record.id().to_owned(),
                    });
                }
            }
        }
        drop(digests);
        if let Some(left_out) = left_out.as_deref_mut() {
            for list in [&mut self.active, &mut self.revoked] {
                list.retain(|record| {
                    if shared.contains(&record.digest) {
                        left_out.push(record.id().to_owned());
                        return false;
                    }
                    !repeated.remove(&Arc::as_ptr(record))
                });
            }
        }
        let mut twice: HashSet<String> = HashSet::new();
        for list in [&mut self.active, &mut self.revoked] {
            sort_by_id(list);
            for pair in list.windows(2).filter(|pair| pair[0].id() == pair[1].id()) {
                if left_out.is_none() {
                    return Err(KeyStoreError::DuplicateId {
                        id: pair[0].id().to_owned(),
                    });
                }
                twice.insert(pair[0].id().to_owned());
            }
        }
        for record in &self.revoked {
            if find(&self.active, record.id()).is_ok() {
                if left_out.is_none() {
                    return Err(KeyStoreError::DuplicateId {
                        id: record.id().to_owned(),
                    });
                }
                twice.insert(record.id().to_owned());
            }
        }
        if let Some(left_out) = left_out.filter(|_| !twice.is_empty()) {
            for list in [&mut self.active, &mut self.revoked] {
                list.retain(|record| !twice.contains(record.id()));
            }
            left_out.extend(twice);
        }
        self.revoked_digests = self
            .revoked
            .iter()
            .map(|record| ByDigest(Arc::clone(record)))
            .collect();
        let snapshot = Snapshot::build(self.active.iter().cloned(), self.active.len());
        Ok((self, snapshot))
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
            record.usage.adopt(&old.usage);
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
    /// saved earlier must not forget uses seen since. One walk along each
    /// pair of lists (all sorted by id), not a search per key: a million
    /// keys take milliseconds.
    pub(super) fn keep_last_uses(&self, previous: &Self) {
        for list in [&self.active, &self.revoked] {
            for old_list in [&previous.active, &previous.revoked] {
                let mut old = old_list.iter().peekable();
                for record in list {
                    while old.next_if(|old| old.id() < record.id()).is_some() {}
                    let same = old.next_if(|old| old.id() == record.id());
                    if let Some(old) = same.filter(|old| old.digest == record.digest) {
                        record.touch(old.last_used_minute());
                        record.usage.adopt(&old.usage);
                    }
                }
            }
        }
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

    /// The record of the key with this id, active or revoked.
    #[cfg(any(feature = "admin", feature = "replica"))]
    pub(super) fn record_of(&self, id: &str) -> Option<&Arc<KeyRecord>> {
        self.active(id)
            .or_else(|| find(&self.revoked, id).ok().map(|at| &self.revoked[at]))
    }

    /// The id of the revoked key holding `digest`, if one does.
    #[cfg(any(feature = "replica", feature = "admin"))]
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

    /// Calls `visit` with every record, active then revoked.
    #[cfg(any(feature = "admin", feature = "replica"))]
    pub(super) fn for_each_record(&self, mut visit: impl FnMut(&KeyRecord)) {
        self.active
            .iter()
            .chain(&self.revoked)
            .for_each(|record| visit(record));
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
    pub(super) fn record(&mut self, mut entry: KeyEntry) -> Arc<KeyRecord> {
        let scopes = self.intern(std::mem::replace(&mut entry.scopes, ScopeSet::empty()));
        let owner_credits = match (entry.owner.as_deref(), entry.owner_limits.credits()) {
            (Some(owner), Some(credits)) => Some(self.owner_account(owner, credits)),
            _ => None,
        };
        Arc::new(KeyRecord::with_owner_account(entry, scopes, owner_credits))
    }

    /// The one live account of `owner`'s credits, shared by its keys: the
    /// one held while it was made from `credits`, else a new one.
    fn owner_account(&mut self, owner: &str, credits: Credits) -> Arc<CreditAccount> {
        if let Some(held) = self.owner_accounts.get(owner)
            && held.was_given(&credits)
        {
            return Arc::clone(held);
        }
        let account = Arc::new(CreditAccount::new(credits));
        self.owner_accounts
            .insert(owner.into(), Arc::clone(&account));
        account
    }

    /// Takes on the owner account of a record shared with another catalog;
    /// `false` when this catalog holds another account for that owner (the
    /// record must then be built again, so that the owner's keys share one).
    #[cfg(feature = "replica")]
    pub(super) fn adopt_owner_account(&mut self, record: &KeyRecord) -> bool {
        let Some((name, account)) = record
            .key_policies()
            .and_then(crate::key_policy::KeyPolicies::owner)
            .and_then(|owner| Some((&owner.name[1..], owner.credits.as_ref()?)))
        else {
            return true;
        };
        match self.owner_accounts.get(name) {
            Some(held) => Arc::ptr_eq(held, account),
            None => {
                self.owner_accounts.insert(name.into(), Arc::clone(account));
                true
            }
        }
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
