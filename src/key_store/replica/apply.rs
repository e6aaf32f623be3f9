//! Records into key sets: a full load's scanned records ([`scanned`]) and
//! the changes logged after its start ([`Newer`]), and one logged change
//! applied to the set in force ([`staged`]). A record that cannot be read,
//! or conflicts with another, leaves its key out: it fails, the safe side.
//!
//! Revocations and deletions are remembered ([`Tombstones`]). A record
//! read in a full load's scan (the source's state, which may be older than
//! what this replica saw) never makes a remembered digest valid: the
//! follower keeps it revoked once the set is built. A logged change that
//! follows what the replica applied (the next version: a newer write, made
//! on purpose, as re-importing a key) is applied as written and forgets
//! the digest.

use std::collections::HashMap;

use super::feed::Change;
use super::report;
use super::tombstones::Tombstones;
use crate::key_store::memory::BatchChange;
use crate::key_store::{KeyEntry, TokenDigest};

/// The entry of `record`, filed under `digest` (and `id`, when the change
/// names one), checked against both.
fn read(digest: &str, id: Option<&str>, record: &str) -> Result<KeyEntry, String> {
    let entry = super::codec::decode(digest, record)?;
    if id.is_some_and(|id| id != entry.id()) {
        return Err("the record's id does not match the log".to_owned());
    }
    Ok(entry)
}

/// `entry`, a newer write: remembered if revoked; a remembered digest it
/// makes valid again is forgotten (the write was made on purpose, as
/// re-importing a key).
fn remember(entry: KeyEntry, tombstones: &mut Tombstones) -> KeyEntry {
    if entry.is_revoked() {
        tombstones.note(*entry.digest());
    } else {
        tombstones.forget(entry.digest());
    }
    entry
}

/// The entry of a record a full load's scan read; `None`, logged, when
/// it cannot be read (its key is left out). Whether the replica saw it
/// revoked is decided once the set is built.
pub(super) fn scanned(digest: &str, record: &str) -> Option<KeyEntry> {
    read(digest, None, record)
        .map_err(|problem| report::unreadable(digest, &problem))
        .ok()
}

/// The changes logged after a full load's start, by id: the key's entry
/// now, or `None` (deleted, or an unreadable record: left out). They win
/// over the scan.
#[derive(Default)]
pub(super) struct Newer {
    pub(super) by_id: HashMap<String, Option<KeyEntry>>,
}

impl Newer {
    /// A logged change made after the load's start (a newer write).
    pub(super) fn apply(&mut self, change: &Change, tombstones: &mut Tombstones) {
        match change {
            Change::Put { digest, id, record } => match read(digest, Some(id), record) {
                Ok(entry) => {
                    let entry = remember(entry, tombstones);
                    self.by_id.insert(id.clone(), Some(entry));
                }
                Err(problem) => {
                    report::unreadable(digest, &problem);
                    self.by_id.insert(id.clone(), None);
                }
            },
            Change::Delete { digest, id } => {
                if let Some(digest) = TokenDigest::from_hex(digest) {
                    tombstones.note(digest);
                }
                self.by_id.insert(id.clone(), None);
            }
        }
    }
}

/// One logged change, the next version after what was applied, as the
/// set in force takes it (in a batch with the rest of its round:
/// [`KeyStore::apply_batch`]): a readable put is put in force (another key
/// holding its digest leaves: the newer write wins), an unreadable one
/// forgets its key, a delete forgets it and is remembered.
pub(super) fn staged(change: &Change, tombstones: &mut Tombstones) -> BatchChange {
    match change {
        Change::Put { digest, id, record } => match read(digest, Some(id), record) {
            Ok(entry) => BatchChange::Put(Box::new(remember(entry, tombstones))),
            Err(problem) => {
                report::unreadable(digest, &problem);
                BatchChange::Forget {
                    id: id.clone(),
                    digest: TokenDigest::from_hex(digest),
                }
            }
        },
        Change::Delete { digest, id } => {
            let digest = TokenDigest::from_hex(digest);
            if let Some(digest) = digest {
                tombstones.note(digest);
            }
            BatchChange::Forget {
                id: id.clone(),
                digest,
            }
        }
    }
}
