//! The write side of the key store: every key by id, active or revoked.
//! Only writers touch it, under the store's mutex; readers never do.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::key_store::api_key::KeyRecord;
use crate::key_store::key_entry::KeyEntry;
use crate::key_store::key_store_error::KeyStoreError;
use crate::key_store::snapshot::ByDigest;
use crate::key_store::token_digest::{BuildDigestHasher, TokenDigest};
use crate::scope::ScopeSet;

/// A record, hashed and compared by its id.
#[derive(Clone)]
pub(crate) struct ById(pub(crate) Arc<KeyRecord>);

impl Borrow<str> for ById {
    fn borrow(&self) -> &str {
        &self.0.id
    }
}

impl Hash for ById {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

impl PartialEq for ById {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for ById {}

/// All keys by id, plus the digests of revoked keys (active digests are in
/// the snapshot) and the interned scope sets.
#[derive(Default)]
pub(crate) struct Catalog {
    pub(crate) active: HashSet<ById>,
    pub(crate) revoked: HashSet<ById>,
    revoked_digests: HashSet<ByDigest, BuildDigestHasher>,
    scope_sets: HashSet<ScopeSet>,
}

impl Catalog {
    /// Checks `entry` against the catalog and `active_holder` (which finds
    /// the active key holding a digest) and turns it into a record. Nothing
    /// is added yet.
    pub(crate) fn prepare<'a>(
        &mut self,
        entry: KeyEntry,
        active_holder: impl Fn(&TokenDigest) -> Option<&'a KeyRecord>,
    ) -> Result<Arc<KeyRecord>, KeyStoreError> {
        validate(&entry)?;
        if self.active.contains(entry.id.as_str()) || self.revoked.contains(entry.id.as_str()) {
            return Err(KeyStoreError::DuplicateId { id: entry.id });
        }
        let holder = active_holder(&entry.digest).map(|record| record.id.to_string()).or_else(|| {
            self.revoked_digests
                .get(&entry.digest)
                .map(|slot| slot.0.id.to_string())
        });
        if let Some(existing) = holder {
            return Err(KeyStoreError::DuplicateDigest {
                id: entry.id,
                existing,
            });
        }
        let scopes = self.intern(entry.scopes);
        Ok(Arc::new(KeyRecord {
            digest: entry.digest,
            id: entry.id.into_boxed_str(),
            label: entry.label.into_boxed_str(),
            scopes,
            created_at: entry.created_at,
            expires_at: entry.expires_at,
            metadata: (!entry.metadata.is_empty()).then(|| Box::new(entry.metadata)),
        }))
    }

    /// Records a prepared key.
    pub(crate) fn add(&mut self, record: Arc<KeyRecord>, revoked: bool) {
        if revoked {
            self.revoked_digests.insert(ByDigest(Arc::clone(&record)));
            self.revoked.insert(ById(record));
        } else {
            self.active.insert(ById(record));
        }
    }

    /// Moves an active key to the revoked set; returns its record.
    pub(crate) fn revoke(&mut self, id: &str) -> Option<Arc<KeyRecord>> {
        let ById(record) = self.active.take(id)?;
        self.add(Arc::clone(&record), true);
        Some(record)
    }

    /// Forgets a key entirely; returns its record and whether it was active.
    pub(crate) fn remove(&mut self, id: &str) -> Option<(Arc<KeyRecord>, bool)> {
        if let Some(ById(record)) = self.active.take(id) {
            return Some((record, true));
        }
        let ById(record) = self.revoked.take(id)?;
        self.revoked_digests.remove(&record.digest);
        Some((record, false))
    }

    /// Every key, active and revoked, sorted by creation time then id.
    pub(crate) fn entries(&self) -> Vec<KeyEntry> {
        let active = self.active.iter().map(|k| KeyEntry::from_record(&k.0, false));
        let revoked = self.revoked.iter().map(|k| KeyEntry::from_record(&k.0, true));
        let mut entries: Vec<KeyEntry> = active.chain(revoked).collect();
        entries.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        entries
    }

    /// One shared copy of each distinct scope set, however many keys use it.
    fn intern(&mut self, scopes: ScopeSet) -> ScopeSet {
        if let Some(existing) = self.scope_sets.get(&scopes) {
            return existing.clone();
        }
        self.scope_sets.insert(scopes.clone());
        scopes
    }
}

fn validate(entry: &KeyEntry) -> Result<(), KeyStoreError> {
    let id_ok = (1..=128).contains(&entry.id.len())
        && entry
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if !id_ok {
        return Err(KeyStoreError::InvalidId {
            id: entry.id.escape_debug().to_string(),
        });
    }
    if entry.label.len() > 256 || entry.label.chars().any(char::is_control) {
        return Err(KeyStoreError::InvalidLabel {
            id: entry.id.clone(),
        });
    }
    Ok(())
}
