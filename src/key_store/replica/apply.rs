//! Records into key sets: a full load assembling a new set ([`KeySet`]),
//! and one logged change applied to the set in force ([`apply`]). A record
//! that cannot be read, or conflicts with another, leaves its key out: it
//! fails, the safe side.
//!
//! Revocations and deletions are remembered ([`Tombstones`]). A record
//! read in a full load's scan (the source's state, which may be older than
//! what this replica saw) never makes a remembered digest valid: it is kept
//! revoked. A logged change that follows what the replica applied (the
//! next version: a newer write, made on purpose, as re-importing a key) is
//! applied as written and forgets the digest.

use std::collections::HashMap;

use super::feed::Change;
use super::report;
use super::tombstones::Tombstones;
use crate::key_store::keys_file::parse_entry;
use crate::key_store::{KeyEntry, KeyStore, KeyStoreError, TokenDigest};

/// The entry of `record`, filed under `digest` (and `id`, when the change
/// names one), checked against both.
fn read(digest: &str, id: Option<&str>, record: &str) -> Result<KeyEntry, String> {
    let entry = parse_entry(record).map_err(|e| e.to_string())?;
    if entry.digest().to_hex() != digest {
        return Err("the record's hash is not its field".to_owned());
    }
    if id.is_some_and(|id| id != entry.id()) {
        return Err("the record's id does not match the log".to_owned());
    }
    Ok(entry)
}

/// Where a record comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A full load's scan: the source's state, maybe older than ours.
    Scan,
    /// A logged change after what was applied: a newer write.
    Newer,
}

/// `entry`, remembered if revoked; a remembered digest made valid again is
/// kept revoked from a scan, and forgotten from a newer write. Whether it
/// was kept revoked.
fn never_unrevoke(
    entry: KeyEntry,
    origin: Origin,
    tombstones: &mut Tombstones,
) -> (KeyEntry, bool) {
    if entry.is_revoked() {
        tombstones.note(*entry.digest());
        (entry, false)
    } else if !tombstones.holds(entry.digest()) {
        (entry, false)
    } else if origin == Origin::Scan {
        (entry.with_revoked(true), true)
    } else {
        tombstones.forget(entry.digest());
        (entry, false)
    }
}

/// A key set being assembled by a full load: by id, with every unreadable
/// or conflicting record left out.
#[derive(Default)]
pub(super) struct KeySet {
    by_id: HashMap<String, KeyEntry>,
    /// Which id holds each digest.
    holders: HashMap<TokenDigest, String>,
    /// Records the source holds active that this replica saw revoked.
    pub(super) kept_revoked: usize,
}

impl KeySet {
    /// A record of the load's scan.
    pub(super) fn put(&mut self, digest: &str, record: &str, tombstones: &mut Tombstones) {
        self.insert(digest, record, Origin::Scan, tombstones);
    }

    fn insert(&mut self, digest: &str, record: &str, origin: Origin, tombstones: &mut Tombstones) {
        let entry = match read(digest, None, record) {
            Ok(entry) => entry,
            Err(problem) => return report::unreadable(digest, &problem),
        };
        let (entry, kept) = never_unrevoke(entry, origin, tombstones);
        self.kept_revoked += usize::from(kept);
        self.delete(entry.id());
        if let Some(other) = self.holders.get(entry.digest()).cloned() {
            // A digest held by another id (a hand edit): neither wins.
            report::unreadable(digest, "two ids share this hash");
            self.delete(&other);
            return;
        }
        self.holders.insert(*entry.digest(), entry.id().to_owned());
        self.by_id.insert(entry.id().to_owned(), entry);
    }

    /// A logged change made after the load's start (a newer write).
    pub(super) fn apply(&mut self, change: &Change, tombstones: &mut Tombstones) {
        match change {
            Change::Put { digest, record, .. } => {
                self.insert(digest, record, Origin::Newer, tombstones);
            }
            Change::Delete { digest, id } => {
                if let Some(digest) = TokenDigest::from_hex(digest) {
                    tombstones.note(digest);
                }
                self.delete(id);
            }
        }
    }

    fn delete(&mut self, id: &str) {
        if let Some(entry) = self.by_id.remove(id) {
            self.holders.remove(entry.digest());
        }
    }

    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(super) fn into_entries(self) -> Vec<KeyEntry> {
        self.by_id.into_values().collect()
    }
}

/// Applies one logged change, the next version after what was applied, to
/// the set in force.
pub(super) fn apply(local: &KeyStore, change: &Change, tombstones: &mut Tombstones) {
    match change {
        Change::Put { digest, id, record } => match read(digest, Some(id), record) {
            Ok(entry) => {
                let (entry, _) = never_unrevoke(entry, Origin::Newer, tombstones);
                if let Err(KeyStoreError::DuplicateDigest { .. }) = local.upsert(entry.clone()) {
                    // Another id holds this digest locally (a write this
                    // replica missed is being replayed): the newer wins.
                    local.remove_digest(entry.digest());
                    let _ = local.upsert(entry);
                }
            }
            Err(problem) => {
                report::unreadable(digest, &problem);
                forget(local, id, digest);
            }
        },
        Change::Delete { digest, id } => {
            if let Some(digest) = TokenDigest::from_hex(digest) {
                tombstones.note(digest);
            }
            forget(local, id, digest);
        }
    }
}

fn forget(local: &KeyStore, id: &str, digest: &str) {
    let _ = local.remove(id);
    if let Some(digest) = TokenDigest::from_hex(digest) {
        local.remove_digest(&digest);
    }
}
