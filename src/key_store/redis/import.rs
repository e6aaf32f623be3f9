//! Imports into Redis: batches of keys, each written by one script call
//! that checks the whole batch before writing any of it; from a
//! [`KeysFile`] in memory, or from a [`CheckedKeysFile`] read again entry
//! by entry on a blocking thread while the batches before are written (a
//! million keys without holding their entries).

use redis::Script;
use tokio::sync::mpsc;

use super::layout::LOG_LENGTH;
use super::writer::RedisKeyWriter;
use crate::key_store::KeyEntry;
use crate::key_store::admin::AdminError;
use crate::key_store::keys_file::{CheckedKeysFile, KeysFile};
use crate::key_store::replica::{ImportReport, ImportRow, import_row, read_batches};

/// Keys per script call.
const BATCH: usize = 1_000;
/// Batches read ahead of the one being written.
const READ_AHEAD: usize = 3;

/// Where an import's batches come from.
enum Batches<'a> {
    /// A file in memory.
    Entries(std::slice::Chunks<'a, KeyEntry>),
    /// A reader on another thread.
    Read(mpsc::Receiver<Vec<ImportRow>>),
}

impl Batches<'_> {
    async fn next(&mut self) -> Option<Vec<ImportRow>> {
        match self {
            Self::Entries(chunks) => chunks
                .next()
                .map(|chunk| chunk.iter().map(import_row).collect()),
            Self::Read(receiver) => receiver.recv().await,
        }
    }
}

impl RedisKeyWriter {
    /// Loads a keys file: each entry is inserted, or replaces the key of
    /// its id when it differs; with `replace`, keys the file does not list
    /// are removed, otherwise left alone. Initialises an empty store.
    /// Keys are written in batches of 1,000, each checked whole and then
    /// written by one script call (every key still bumps the version and is
    /// logged, as a single write is); an error stops the import: the
    /// batches before it are written, the one refused is not, and running
    /// the import again completes it. A key stored in an older record
    /// version counts as updated (it is rewritten in the current one).
    ///
    /// # Errors
    ///
    /// [`AdminError::DuplicateDigest`] if a key's hash is held by another
    /// key in the store (or given twice in a batch),
    /// [`AdminError::DuplicateId`] for an id given twice in a batch,
    /// [`AdminError::Invalid`] for an invalid entry (nothing is written),
    /// [`AdminError::Unavailable`] if Redis fails.
    pub async fn import(&self, file: &KeysFile, replace: bool) -> Result<ImportReport, AdminError> {
        // A file made with `KeysFile::from_entries` was never checked.
        for entry in file.entries() {
            entry.validate()?;
        }
        let batches = Batches::Entries(file.entries().chunks(BATCH));
        let ids: std::collections::HashSet<&str> = if replace {
            file.entries().iter().map(KeyEntry::id).collect()
        } else {
            std::collections::HashSet::new()
        };
        self.import_batches(batches, replace, |id| ids.contains(id))
            .await
    }

    /// [`import`](Self::import), from a file checked but not held as
    /// entries: its entries are read again, one at a time, on a blocking
    /// thread while earlier batches are written. About 150 MB of memory
    /// for a million keys (the file's text and its ids).
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
            .import_batches(Batches::Read(receiver), replace, |id| file.contains_id(id))
            .await;
        // The reader stops when the batches are no longer taken.
        let _ = reading.await;
        report
    }

    async fn import_batches(
        &self,
        mut batches: Batches<'_>,
        replace: bool,
        listed: impl Fn(&str) -> bool,
    ) -> Result<ImportReport, AdminError> {
        let epoch = self.epoch(true).await?.unwrap_or_default();
        let script = Script::new(IMPORT_SCRIPT);
        let mut con = self.connection().await?;
        let mut report = ImportReport::default();
        while let Some(batch) = batches.next().await {
            let mut call = script.key(&self.layout.script_keys()[..]);
            call.arg(&epoch).arg(LOG_LENGTH);
            for [digest, id, record] in &batch {
                call.arg(digest).arg(id).arg(record);
            }
            let (inserted, updated, unchanged): (usize, usize, usize) =
                match call.invoke_async(&mut con).await {
                    Ok(counts) => counts,
                    Err(error) => return Err(self.import_error(&error).await),
                };
            report.inserted += inserted;
            report.updated += updated;
            report.unchanged += unchanged;
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

    /// What the import script's refusal means.
    async fn import_error(&self, error: &redis::RedisError) -> AdminError {
        match (error.code(), error.detail()) {
            (Some("TBA_DUP_DIGEST"), Some(id)) => AdminError::DuplicateDigest { id: id.to_owned() },
            (Some("TBA_DUP_ID"), Some(id)) => AdminError::DuplicateId { id: id.to_owned() },
            (Some("TBA_EPOCH"), _) => AdminError::Conflict {
                id: "(the store was reset during the import)".to_owned(),
            },
            _ => self.failed(error).await,
        }
    }

    /// Every key id in the store.
    async fn ids(&self) -> Result<Vec<String>, AdminError> {
        let mut ids = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, page): (u64, Vec<(String, String)>) = self
                .read(
                    redis::cmd("HSCAN")
                        .arg(&self.layout.ids)
                        .arg(cursor)
                        .arg("COUNT")
                        .arg(1_000),
                )
                .await?;
            ids.extend(page.into_iter().map(|(id, _)| id));
            cursor = next;
            if cursor == 0 {
                return Ok(ids);
            }
        }
    }
}

/// The import script's source.
const IMPORT_SCRIPT: &str = include_str!("scripts/import.lua");
