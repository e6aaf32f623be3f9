//! The embedded key set: an in-memory [`KeyStore`], persisted to its keys
//! file when it has one. Every change is checked, written to the file, and
//! only then put in force; a failed write changes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Mutex, OwnedMutexGuard};

use super::audit::{AuditEvent, AuditPage, AuditQuery, EmbeddedAudit};
use super::{AdminError, CreditChange, KeyAdmin, stamped};
use crate::key_policy::{Credits, OwnerLimits};
use crate::key_store::keys_file::KeysFile;
use crate::key_store::usage::{DayUsage, UsageBook, last_days, today};
use crate::key_store::{KeyEntry, KeyStore, KeyStoreError};

/// A [`KeyStore`] changed at runtime, and persisted to a keys file when
/// given one: each change is written to the file atomically (a new file
/// renamed over the old, as [`KeysFile::save`]) *before* it is put in force,
/// so memory and file never diverge; if the write fails, nothing changes and
/// the caller gets [`AdminError::Unavailable`]. Changes are serialized.
///
/// Before each write the file is read back: if it no longer holds exactly
/// the keys in force (someone edited it by hand and did not reload it, or a
/// reload refused some of its entries), the change is refused with
/// [`AdminError::Unavailable`] rather than overwrite that edit. Reload the
/// file (fixing what `--check-keys` reports), then retry.
///
/// ```
/// use tower_bearer_auth::{KeyEntry, KeyStore};
/// use tower_bearer_auth::key_store::{admin::EmbeddedKeyAdmin, admin::KeyAdmin, TokenDigest};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = KeyStore::new();
/// let admin = EmbeddedKeyAdmin::with_keys_file(store.clone(), "keys.json");
/// admin.insert(KeyEntry::new("key_a", "Staging Server", TokenDigest::of("sk_a"))).await?;
/// admin.update("key_a", |key| Ok(key.with_revoked(true))).await?;
/// assert!(store.verify("sk_a").is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EmbeddedKeyAdmin {
    inner: Arc<Inner>,
}

struct Inner {
    store: KeyStore,
    file: Option<PathBuf>,
    /// One change at a time: read, check, write the file, apply.
    writes: Arc<Mutex<()>>,
    /// The audit log: `<keys>.audit.jsonl` beside the keys file, else in
    /// memory.
    audit: EmbeddedAudit,
    /// Usage per key and day: `<keys>.usage.json` beside the keys file,
    /// else in memory.
    book: UsageBook,
}

/// Admin changes held back: see [`EmbeddedKeyAdmin::hold_changes`]. Changes
/// resume when this is dropped.
#[must_use = "changes resume as soon as this is dropped"]
#[derive(Debug)]
pub struct ChangesHeld {
    _guard: OwnedMutexGuard<()>,
}

impl EmbeddedKeyAdmin {
    /// Changes `store` in memory only (a demo, tests).
    #[must_use]
    pub fn new(store: KeyStore) -> Self {
        Self::build(store, None)
    }

    /// Changes `store` and persists every change to the keys file `path`
    /// first. The file should hold the keys of `store` (it was loaded from
    /// it), or not exist while the store is empty.
    #[must_use]
    pub fn with_keys_file(store: KeyStore, path: impl Into<PathBuf>) -> Self {
        Self::build(store, Some(path.into()))
    }

    fn build(store: KeyStore, file: Option<PathBuf>) -> Self {
        let audit = file.as_ref().map_or_else(EmbeddedAudit::memory, |file| {
            EmbeddedAudit::file(file.with_extension("audit.jsonl"))
        });
        let book = UsageBook::at(file.as_ref().map(|file| file.with_extension("usage.json")));
        Self {
            inner: Arc::new(Inner {
                store,
                file,
                writes: Arc::new(Mutex::new(())),
                audit,
                book,
            }),
        }
    }

    /// The store it changes.
    #[must_use]
    pub fn store(&self) -> &KeyStore {
        &self.inner.store
    }

    /// Waits for the change in progress, if any, and holds back the next
    /// ones until the returned guard is dropped. Hold it while reloading
    /// the keys file from outside (on `SIGHUP`): a reload that read the file
    /// before a change and applied it after would undo the change in memory.
    pub async fn hold_changes(&self) -> ChangesHeld {
        ChangesHeld {
            _guard: Arc::clone(&self.inner.writes).lock_owned().await,
        }
    }

    /// Writes the keys' last uses and credit balances to the keys file
    /// (both move in memory on the request path and are saved with every
    /// change): call it before a graceful shutdown, and now and then
    /// ([`save_every`](Self::save_every)), so that a restart keeps them.
    /// Nothing to do without a keys file.
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if the file cannot be written or no
    /// longer holds the keys in force (a hand edit not reloaded yet).
    pub async fn save_last_uses(&self) -> Result<(), AdminError> {
        let _one_at_a_time = self.inner.writes.lock().await;
        self.inner.book.drain(&self.inner.store);
        self.inner.book.save(&self.inner.store).await?;
        self.persist(self.inner.store.entries()).await
    }

    /// Saves last uses, credit balances and usage counts every `every`, in a task of the
    /// current tokio runtime, when they moved since the last save. After a
    /// crash (no graceful [`save_last_uses`](Self::save_last_uses)), a key
    /// gets back at most the credits it spent in one period. A failed save
    /// is logged and tried again next period.
    pub fn save_every(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let admin = self.clone();
        tokio::spawn(async move {
            let mut saved = usage(&admin.inner.store.entries());
            loop {
                tokio::time::sleep(every).await;
                let now = usage(&admin.inner.store.entries());
                let counted = admin.inner.book.drain(&admin.inner.store);
                if now == saved && !counted {
                    continue;
                }
                match admin.save_last_uses().await {
                    Ok(()) => saved = now,
                    Err(problem) => {
                        tracing::warn!("keys file: last uses and credits not saved: {problem}");
                    }
                }
            }
        })
    }

    /// Every key `change` changes, written to the file at once, then put
    /// in force; how many changed.
    async fn change_many(
        &self,
        mut change: impl FnMut(&KeyEntry) -> Option<KeyEntry>,
    ) -> Result<usize, AdminError> {
        let _one_at_a_time = self.inner.writes.lock().await;
        let store = &self.inner.store;
        let mut changed = Vec::new();
        let next = store
            .entries()
            .into_iter()
            .map(|entry| match change(&entry) {
                Some(new) => {
                    changed.push(new.clone());
                    new
                }
                None => entry,
            })
            .collect();
        if changed.is_empty() {
            return Ok(0);
        }
        for entry in &changed {
            entry.validate()?;
        }
        // One write of the file for all of them.
        self.persist(next).await?;
        let count = changed.len();
        for entry in changed {
            store.upsert(entry).map_err(AdminError::Invalid)?;
        }
        Ok(count)
    }

    /// [`KeyAdmin::update`], the writes' lock held.
    async fn update_held<F>(&self, id: &str, mut change: F) -> Result<KeyEntry, AdminError>
    where
        F: FnMut(KeyEntry) -> Result<KeyEntry, AdminError> + Send,
    {
        let store = &self.inner.store;
        let Some(current) = store.entry(id) else {
            return Err(AdminError::UnknownId { id: id.to_owned() });
        };
        let changed = change(current.clone())?;
        if changed.id() != id || changed.digest() != current.digest() {
            return Err(AdminError::Invalid(KeyStoreError::InvalidId {
                id: changed.id().to_owned(),
            }));
        }
        changed.validate()?;
        if changed == current {
            return Ok(current);
        }
        let next = store
            .entries()
            .into_iter()
            .map(|entry| {
                if entry.id() == id {
                    changed.clone()
                } else {
                    entry
                }
            })
            .collect();
        self.persist(next).await?;
        store.upsert(changed).map_err(AdminError::Invalid)?;
        store
            .entry(id)
            .ok_or_else(|| AdminError::UnknownId { id: id.to_owned() })
    }

    /// Writes `entries` to the keys file, if there is one, off the async
    /// workers, after checking that the file still holds the keys in force.
    async fn persist(&self, entries: Vec<KeyEntry>) -> Result<(), AdminError> {
        let Some(path) = self.inner.file.clone() else {
            return Ok(());
        };
        let in_force = self.inner.store.entries();
        tokio::task::spawn_blocking(move || {
            check_unchanged(&path, in_force)?;
            KeysFile::from_entries(entries)
                .save(&path)
                .map_err(|e| AdminError::Unavailable {
                    problem: e.to_string(),
                })
        })
        .await
        .map_err(|e| AdminError::Unavailable {
            problem: format!("writing the keys file failed: {e}"),
        })?
    }
}

/// Refuses to overwrite a keys file that does not hold exactly the keys in
/// force (last uses aside: the file may have older ones).
fn check_unchanged(path: &Path, in_force: Vec<KeyEntry>) -> Result<(), AdminError> {
    let on_disk = match std::fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        _ => {
            let (file, refused) =
                KeysFile::load_each(path).map_err(|e| AdminError::Unavailable {
                    problem: format!("{e}; fix the keys file, then retry"),
                })?;
            if !refused.is_empty() {
                return Err(AdminError::Unavailable {
                    problem: format!(
                        "the keys file has {} entries this process refused (see --check-keys); \
                         fix them and reload before changing keys here",
                        refused.len()
                    ),
                });
            }
            file.into_entries()
        }
    };
    if comparable(on_disk) != comparable(in_force) {
        return Err(AdminError::Unavailable {
            problem: "the keys file was changed on disk since it was loaded; \
                      reload it (SIGHUP), then retry"
                .to_owned(),
        });
    }
    Ok(())
}

/// What moves on the request path: each key's last use and credit balance.
fn usage(entries: &[KeyEntry]) -> Vec<(Option<SystemTime>, Option<u64>)> {
    entries
        .iter()
        .map(|entry| {
            (
                entry.last_used_at(),
                entry.credits().map(|credits| credits.remaining()),
            )
        })
        .collect()
}

/// Entries by id, without last uses or credit balances (both move on the
/// request path between writes).
fn comparable(entries: Vec<KeyEntry>) -> Vec<KeyEntry> {
    let mut entries: Vec<KeyEntry> = entries
        .into_iter()
        .map(|entry| {
            let credits = entry.credits().map(|credits| {
                let mut bare = Credits::new(0);
                if let Some(refill) = credits.refill() {
                    bare = bare.with_refill(refill);
                }
                bare
            });
            entry.with_last_used_at(None).with_credits(credits)
        })
        .collect();
    entries.sort_unstable_by(|a, b| a.id().cmp(b.id()));
    entries
}

impl KeyAdmin for EmbeddedKeyAdmin {
    async fn entries(&self) -> Result<Vec<KeyEntry>, AdminError> {
        Ok(self.inner.store.entries())
    }

    async fn entry(&self, id: &str) -> Result<Option<KeyEntry>, AdminError> {
        Ok(self.inner.store.entry(id))
    }

    async fn entry_by_digest(
        &self,
        digest: &crate::key_store::TokenDigest,
    ) -> Result<Option<KeyEntry>, AdminError> {
        Ok(self.inner.store.entry_by_digest(digest))
    }

    async fn insert(&self, entry: KeyEntry) -> Result<(), AdminError> {
        let _one_at_a_time = self.inner.writes.lock().await;
        let store = &self.inner.store;
        entry.validate()?;
        if store.entry(entry.id()).is_some() {
            return Err(AdminError::DuplicateId {
                id: entry.id().to_owned(),
            });
        }
        if store.holds_digest(entry.digest()) {
            return Err(AdminError::DuplicateDigest {
                id: entry.id().to_owned(),
            });
        }
        let mut next = store.entries();
        next.push(entry.clone());
        self.persist(next).await?;
        store.insert(entry).map(|_| ()).map_err(AdminError::Invalid)
    }

    async fn update<F>(&self, id: &str, change: F) -> Result<KeyEntry, AdminError>
    where
        F: FnMut(KeyEntry) -> Result<KeyEntry, AdminError> + Send,
    {
        let _one_at_a_time = self.inner.writes.lock().await;
        self.update_held(id, change).await
    }

    async fn change_credits(&self, id: &str, change: CreditChange) -> Result<KeyEntry, AdminError> {
        let _one_at_a_time = self.inner.writes.lock().await;
        let store = &self.inner.store;
        let Some(account) = store.credit_account(id) else {
            // No credits yet: they are made, as any other change.
            return self
                .update_held(id, |entry| {
                    let credits = entry.credits().unwrap_or_else(|| {
                        Credits::new(0).with_refilled_at(std::time::SystemTime::now())
                    });
                    let remaining = change.apply(credits.remaining());
                    Ok(entry.with_credits(Some(credits.with_remaining(remaining))))
                })
                .await;
        };
        // The file first (nothing changes if it cannot be written), then
        // the live balance, relative to what requests spent meanwhile.
        let written = change.apply(account.credits().remaining());
        let next = store
            .entries()
            .into_iter()
            .map(|entry| match entry.credits() {
                Some(credits) if entry.id() == id => {
                    entry.with_credits(Some(credits.with_remaining(written)))
                }
                _ => entry,
            })
            .collect();
        self.persist(next).await?;
        match change {
            CreditChange::Add(amount) => {
                account.add(amount);
            }
            CreditChange::Set(remaining) => account.set(remaining),
        }
        store
            .entry(id)
            .ok_or_else(|| AdminError::UnknownId { id: id.to_owned() })
    }

    async fn revoke_owner(&self, owner: &str) -> Result<usize, AdminError> {
        self.change_many(|entry| {
            (entry.owner() == Some(owner) && !entry.is_revoked())
                .then(|| entry.clone().with_revoked(true))
        })
        .await
    }

    async fn owner_credits(&self, owner: &str) -> Result<Option<Credits>, AdminError> {
        let store = &self.inner.store;
        Ok(store
            .entries()
            .into_iter()
            .filter(|entry| entry.owner() == Some(owner) && !entry.is_revoked())
            .find_map(|entry| {
                let key = store.get(entry.id())?;
                crate::Principal::key_policies(&key)?.owner_credits_now()
            }))
    }

    async fn set_owner_limits(
        &self,
        owner: &str,
        limits: OwnerLimits,
    ) -> Result<usize, AdminError> {
        let limits = stamped(limits);
        self.change_many(|entry| {
            (entry.owner() == Some(owner) && entry.owner_limits() != limits)
                .then(|| entry.clone().with_owner_limits(limits))
        })
        .await
    }

    async fn record_audit(&self, event: AuditEvent) -> Result<(), AdminError> {
        self.inner.audit.record(event).await
    }

    async fn audit(&self, query: AuditQuery) -> Result<AuditPage, AdminError> {
        self.inner.audit.list(query).await
    }

    async fn usage(&self, id: &str, days: u32) -> Result<Vec<DayUsage>, AdminError> {
        self.inner.book.drain(&self.inner.store);
        Ok(last_days(days, today(), &self.inner.book.of(id)))
    }

    async fn remove(&self, id: &str) -> Result<(), AdminError> {
        let _one_at_a_time = self.inner.writes.lock().await;
        let store = &self.inner.store;
        if store.entry(id).is_none() {
            return Err(AdminError::UnknownId { id: id.to_owned() });
        }
        let next = store
            .entries()
            .into_iter()
            .filter(|entry| entry.id() != id)
            .collect();
        self.persist(next).await?;
        store.remove(id).map(|_| ()).map_err(AdminError::Invalid)
    }
}

impl std::fmt::Debug for EmbeddedKeyAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedKeyAdmin")
            .field("store", &self.inner.store)
            .field("file", &self.inner.file)
            .finish()
    }
}
