//! Imports into Postgres: batches of keys, each checked whole and written
//! in one transaction; from a [`KeysFile`] in memory, or from a
//! [`CheckedKeysFile`] read again entry by entry on a blocking thread
//! while the batches before are written.

use tokio::sync::mpsc;

use super::writer::PostgresKeyWriter;
use crate::key_store::KeyEntry;
use crate::key_store::admin::AdminError;
use crate::key_store::keys_file::{CheckedKeysFile, KeysFile};
use crate::key_store::replica::{ImportReport, ImportRow, import_row, read_batches};

/// Keys per transaction.
const BATCH: usize = 2_000;
/// Batches read ahead of the one being written.
const READ_AHEAD: usize = 3;

impl PostgresKeyWriter {
    /// Loads a keys file: each entry is inserted, or replaces the key of
    /// its id when it differs; with `replace`, keys the file does not list
    /// are removed, otherwise left alone. Initialises an empty store. Keys
    /// are written in batches of 2,000, each checked whole and written in
    /// one transaction (every key still takes a version and a log row, as a
    /// single write does); an error stops the import: the batches before it
    /// are written, the one refused is not, and running the import again
    /// completes it.
    ///
    /// # Errors
    ///
    /// [`AdminError::DuplicateDigest`] if a key's hash is held by another
    /// key in the store (or given twice in a batch),
    /// [`AdminError::DuplicateId`] for an id given twice in a batch,
    /// [`AdminError::Invalid`] for an invalid entry (nothing is written),
    /// [`AdminError::Unavailable`] if Postgres fails.
    pub async fn import(&self, file: &KeysFile, replace: bool) -> Result<ImportReport, AdminError> {
        for entry in file.entries() {
            entry.validate()?;
        }
        let (sender, receiver) = mpsc::channel::<Vec<ImportRow>>(READ_AHEAD);
        let batches: Vec<Vec<ImportRow>> = file
            .entries()
            .chunks(BATCH)
            .map(|chunk| chunk.iter().map(import_row).collect())
            .collect();
        let feeding = async move {
            for batch in batches {
                if sender.send(batch).await.is_err() {
                    return;
                }
            }
        };
        let ids: std::collections::HashSet<&str> =
            file.entries().iter().map(KeyEntry::id).collect();
        let (report, ()) = tokio::join!(
            self.import_batches(receiver, replace, |id| ids.contains(id)),
            feeding
        );
        report
    }

    /// [`import`](Self::import), from a file checked but not held as
    /// entries: its entries are read again, one at a time, on a blocking
    /// thread while earlier batches are written.
    ///
    /// # Errors
    ///
    /// As [`import`](Self::import).
    pub async fn import_checked(
        &self,
        file: &CheckedKeysFile,
        replace: bool,
    ) -> Result<ImportReport, AdminError> {
        let (receiver, reading) = read_batches(file, BATCH, READ_AHEAD);
        let report = self
            .import_batches(receiver, replace, |id| file.contains_id(id))
            .await;
        let _ = reading.await;
        report
    }

    async fn import_batches(
        &self,
        mut batches: mpsc::Receiver<Vec<ImportRow>>,
        replace: bool,
        listed: impl Fn(&str) -> bool,
    ) -> Result<ImportReport, AdminError> {
        let mut report = ImportReport::default();
        while let Some(batch) = batches.recv().await {
            let made = self.import_batch(&batch).await?;
            report.inserted += made.counts[0];
            report.updated += made.counts[1];
            report.unchanged += made.counts[2];
        }
        if replace {
            for id in self.ids().await? {
                if !listed(&id) {
                    self.remove(&id).await?;
                    report.removed += 1;
                }
            }
        }
        report.version = self.version().await?;
        Ok(report)
    }
}
