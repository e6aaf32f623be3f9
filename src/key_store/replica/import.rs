//! Imports into a shared store, whatever the backend: what an import
//! reports, the form a key travels in, and the reader that takes a checked
//! keys file's entries again, in batches, on a blocking thread.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::codec;
use crate::key_store::admin::AdminError;
use crate::key_store::keys_file::CheckedKeysFile;
use crate::key_store::{KeyEntry, KeyStoreError};

/// One key as an import writes it: digest (hex), id, record.
pub(crate) type ImportRow = [String; 3];

/// `entry` as an import writes it.
pub(crate) fn import_row(entry: &KeyEntry) -> ImportRow {
    [
        entry.digest().to_hex(),
        entry.id().to_owned(),
        codec::encode(entry),
    ]
}

/// Reads `file`'s entries again, one at a time, on a blocking thread, in
/// batches of `size` (at most `ahead` batches waiting): the batches, and
/// the reader, which stops when the batches are no longer taken.
pub(crate) fn read_batches(
    file: &CheckedKeysFile,
    size: usize,
    ahead: usize,
) -> (mpsc::Receiver<Vec<ImportRow>>, JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel::<Vec<ImportRow>>(ahead);
    let reader = file.clone();
    let reading = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(size);
        let mut open = true;
        reader.for_each_entry(|entry| {
            if !open {
                return;
            }
            batch.push(import_row(&entry));
            if batch.len() == size {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(size));
                open = sender.blocking_send(full).is_ok();
            }
        });
        if open && !batch.is_empty() {
            let _ = sender.blocking_send(batch);
        }
    });
    (receiver, reading)
}

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Keys that were not in the store.
    pub inserted: usize,
    /// Keys whose record changed.
    pub updated: usize,
    /// Keys already as the file has them.
    pub unchanged: usize,
    /// Keys removed because the file does not list them (with `replace`).
    pub removed: usize,
    /// The store's version after the import.
    pub version: u64,
}

/// The writes of an `update_many`: each key of `current` (its record as
/// read, and as an entry) that `change` changes, checked (same id and
/// digest, the entry's rules), with the record it must still have.
pub(crate) fn changed_entries(
    current: Vec<(String, KeyEntry)>,
    change: &mut impl FnMut(&KeyEntry) -> Option<KeyEntry>,
) -> Result<Vec<(KeyEntry, String)>, AdminError> {
    let mut writes = Vec::new();
    for (record, entry) in current {
        let Some(changed) = change(&entry) else {
            continue;
        };
        if changed.id() != entry.id() || changed.digest() != entry.digest() {
            return Err(AdminError::Invalid(KeyStoreError::InvalidId {
                id: changed.id().to_owned(),
            }));
        }
        if changed != entry {
            changed.validate()?;
            writes.push((changed, record));
        }
    }
    Ok(writes)
}
