//! A full load's key set, built on a blocking thread as the source's pages
//! arrive: the follower only reads pages and keeps proving the copy in
//! force fresh, the builder reads the records and indexes them meanwhile.
//! Records unchanged since the copy in force are shared with it
//! ([`Assembly`]), so a resync of an unchanged set allocates no record.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::apply::scanned;
use crate::key_store::memory::Assembly;
use crate::key_store::{KeyEntry, KeyStore};

/// Pages in flight between the follower and the builder: the follower
/// waits when the builder is this far behind.
const PAGES_IN_FLIGHT: usize = 8;

/// The new store, and the ids its records conflict on (left out).
pub(super) type Built = (KeyStore, Vec<String>);

/// A build under way.
pub(super) struct Build {
    pages: mpsc::Sender<Vec<(String, String)>>,
    newer: oneshot::Sender<HashMap<String, Option<KeyEntry>>>,
    done: JoinHandle<Option<Built>>,
}

impl Build {
    /// Starts building beside `current`, whose unchanged records it shares.
    pub(super) fn start(current: &KeyStore) -> Self {
        let (pages, mut page_rx) = mpsc::channel::<Vec<(String, String)>>(PAGES_IN_FLIGHT);
        let (newer, newer_rx) = oneshot::channel();
        let mut assembly: Assembly = current.assembly();
        let done = tokio::task::spawn_blocking(move || {
            while let Some(page) = page_rx.blocking_recv() {
                for (digest, record) in page {
                    if let Some(entry) = scanned(&digest, &record) {
                        assembly.push(entry);
                    }
                }
            }
            // The load was given up when the changes never come.
            let newer = newer_rx.blocking_recv().ok()?;
            Some(assembly.finish(newer))
        });
        Self { pages, newer, done }
    }

    /// Hands one page of `(digest, record)` to the builder.
    pub(super) async fn page(&self, page: Vec<(String, String)>) -> Result<(), String> {
        self.pages
            .send(page)
            .await
            .map_err(|_| "building the key set failed: the builder stopped".to_owned())
    }

    /// No more pages: the changes logged after the load's start (by id:
    /// the key's entry now, or `None`: gone), which win over the pages.
    /// Resolves to the new store.
    pub(super) fn finish(
        self,
        newer: HashMap<String, Option<KeyEntry>>,
    ) -> JoinHandle<Option<Built>> {
        drop(self.pages);
        // A builder that stopped answers `None` through the handle.
        let _ = self.newer.send(newer);
        self.done
    }
}
