//! The shared key set as an admin API changes it: writes through a
//! backend's writer ([`KeyWriter`]), reads from this replica, and every
//! write awaited until this replica has applied it (read-your-writes).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::writer::KeyWriter;
use super::{ReplicaState, SharedKeyStore};
use crate::key_policy::{Credits, OwnerLimits};
use crate::key_store::KeyEntry;
use crate::key_store::admin::{AdminError, CreditChange, KeyAdmin, stamped};

/// How long a write waits for this replica to apply it before answering
/// 503 (the write is done; other replicas follow).
const READ_YOUR_WRITES: Duration = Duration::from_secs(2);

/// The shared key set, as an admin API changes it: writes go through the
/// backend's writer (Redis: `RedisKeyWriter`, its scripts; Postgres:
/// `PostgresKeyWriter`, one transaction per write), reads come
/// from `replica`, and every write
/// returns only once `replica` has applied it, so a change applies to every
/// request this replica starts after the change returns (other replicas
/// follow within the propagation bound). Last uses are the later of this
/// replica's and what all replicas flushed to the source (once a minute).
///
/// ```no_run
/// use tower_bearer_auth::key_store::{redis::RedisKeyWriter, redis::SharedKeyAdmin, redis::SharedKeyStore};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let replica = SharedKeyStore::builder("redis://127.0.0.1/").start()?;
/// let admin = SharedKeyAdmin::new(
///     RedisKeyWriter::connect("redis://127.0.0.1/", "default").await?,
///     replica.clone(),
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SharedKeyAdmin<W: KeyWriter> {
    admin: Arc<W>,
    replica: SharedKeyStore,
}

impl<W: KeyWriter> Clone for SharedKeyAdmin<W> {
    fn clone(&self) -> Self {
        Self {
            admin: Arc::clone(&self.admin),
            replica: self.replica.clone(),
        }
    }
}

impl<W: KeyWriter> SharedKeyAdmin<W> {
    /// Writes through `admin`, reads from and waits for `replica` (both on
    /// the same store and namespace).
    #[must_use]
    pub fn new(admin: W, replica: SharedKeyStore) -> Self {
        Self {
            admin: Arc::new(admin),
            replica,
        }
    }

    /// The replica it reads from.
    #[must_use]
    pub fn replica(&self) -> &SharedKeyStore {
        &self.replica
    }

    fn fresh(&self) -> Result<(), AdminError> {
        match self.replica.state() {
            ReplicaState::Fresh | ReplicaState::ServingStale => Ok(()),
            state => Err(AdminError::Unavailable {
                problem: format!("this replica's copy of the key set is {}", state.as_str()),
            }),
        }
    }

    async fn applied(&self, version: u64) -> Result<(), AdminError> {
        if self
            .replica
            .wait_for_version(version, READ_YOUR_WRITES)
            .await
        {
            Ok(())
        } else {
            Err(AdminError::Unavailable {
                problem: "the change is made, but this replica has not applied it yet".to_owned(),
            })
        }
    }

    /// `entry` with the later of its own last use and the flushed one.
    fn with_last_use(entry: KeyEntry, flushed: Option<u32>) -> KeyEntry {
        let flushed = flushed
            .filter(|&minute| minute > 0)
            .map(|minute| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(minute) * 60));
        let later = entry.last_used_at().max(flushed);
        entry.with_last_used_at(later)
    }

    /// `entry` with its live credit balance, where the backend keeps
    /// balances apart from the records (Redis).
    async fn with_balance(&self, mut entry: KeyEntry) -> Result<KeyEntry, AdminError> {
        if let Some(given) = self.replica.credits_given(entry.id())
            && let Some(remaining) = self.admin.credit_balance(entry.id(), given, None).await?
        {
            let credits = entry.credits().map(|c| c.with_remaining(remaining));
            entry = entry.with_credits(credits);
        }
        Ok(entry)
    }

    /// Changes every key of `owner` this replica knows that `change`
    /// changes, each checked again as the source holds it, all in one
    /// atomic write; how many changed.
    async fn change_owner_keys(
        &self,
        owner: &str,
        mut change: impl FnMut(&KeyEntry) -> Option<KeyEntry> + Send,
    ) -> Result<usize, AdminError> {
        self.fresh()?;
        let ids: Vec<String> = self
            .replica
            .entries()
            .into_iter()
            .filter(|entry| entry.owner() == Some(owner))
            .map(|entry| entry.id().to_owned())
            .collect();
        let (changed, version) = self
            .admin
            .update_many(&ids, |entry| {
                (entry.owner() == Some(owner))
                    .then(|| change(entry))
                    .flatten()
            })
            .await?;
        self.applied(version).await?;
        Ok(changed)
    }
}

impl<W: KeyWriter> KeyAdmin for SharedKeyAdmin<W> {
    async fn entries(&self) -> Result<Vec<KeyEntry>, AdminError> {
        self.fresh()?;
        let flushed = self.admin.last_uses().await?;
        let mut entries = Vec::new();
        for entry in self.replica.entries() {
            let minute = flushed.get(entry.id()).copied();
            entries.push(
                self.with_balance(Self::with_last_use(entry, minute))
                    .await?,
            );
        }
        Ok(entries)
    }

    async fn entry(&self, id: &str) -> Result<Option<KeyEntry>, AdminError> {
        self.fresh()?;
        let Some(entry) = self.replica.entry(id) else {
            return Ok(None);
        };
        let flushed = self.admin.last_uses().await?;
        let entry = Self::with_last_use(entry, flushed.get(id).copied());
        Ok(Some(self.with_balance(entry).await?))
    }

    async fn revoke_owner(&self, owner: &str) -> Result<usize, AdminError> {
        self.change_owner_keys(owner, |entry| {
            (!entry.is_revoked()).then(|| entry.clone().with_revoked(true))
        })
        .await
    }

    async fn set_owner_limits(
        &self,
        owner: &str,
        limits: OwnerLimits,
    ) -> Result<usize, AdminError> {
        let limits = stamped(limits);
        self.change_owner_keys(owner, |entry| {
            (entry.owner_limits() != limits).then(|| entry.clone().with_owner_limits(limits))
        })
        .await
    }

    async fn owner_limits(&self, owner: &str) -> Result<Option<(OwnerLimits, usize)>, AdminError> {
        self.fresh()?;
        let keys: Vec<KeyEntry> = self
            .replica
            .entries()
            .into_iter()
            .filter(|entry| entry.owner() == Some(owner))
            .collect();
        let Some(entry) = keys
            .iter()
            .find(|entry| !entry.is_revoked())
            .or_else(|| keys.first())
        else {
            return Ok(None);
        };
        Ok(Some((entry.owner_limits(), keys.len())))
    }

    async fn owner_credits(&self, owner: &str) -> Result<Option<Credits>, AdminError> {
        self.fresh()?;
        let Some(key) = self
            .replica
            .entries()
            .into_iter()
            .find(|entry| entry.owner() == Some(owner) && !entry.is_revoked())
        else {
            return Ok(None);
        };
        let Some(given) = self.replica.owner_credits_given(key.id()) else {
            return Ok(None);
        };
        Ok(Some(
            match self
                .admin
                .credit_balance(&format!("@{owner}"), given, None)
                .await?
            {
                Some(remaining) => given.with_remaining(remaining),
                // Balances in the records: this replica's count.
                None => self.replica.owner_credits_now(key.id()).unwrap_or(given),
            },
        ))
    }

    async fn change_credits(&self, id: &str, change: CreditChange) -> Result<KeyEntry, AdminError> {
        self.fresh()?;
        if let Some(given) = self.replica.credits_given(id)
            && self
                .admin
                .credit_balance(id, given, Some(change))
                .await?
                .is_some()
        {
            return self
                .entry(id)
                .await?
                .ok_or_else(|| AdminError::UnknownId { id: id.to_owned() });
        }
        // Balances in the records (or a key without credits yet): the
        // record changes, compare-and-set.
        self.update(id, |entry| {
            let credits = entry
                .credits()
                .unwrap_or_else(|| Credits::new(0).with_refilled_at(SystemTime::now()));
            Ok(entry.with_credits(Some(
                credits.with_remaining(change.apply(credits.remaining())),
            )))
        })
        .await
    }

    async fn entry_by_digest(
        &self,
        digest: &crate::key_store::TokenDigest,
    ) -> Result<Option<KeyEntry>, AdminError> {
        self.fresh()?;
        Ok(self.replica.entry_by_digest(digest))
    }

    async fn insert(&self, entry: KeyEntry) -> Result<(), AdminError> {
        let version = self.admin.insert(entry).await?;
        self.applied(version).await
    }

    async fn update<F>(&self, id: &str, change: F) -> Result<KeyEntry, AdminError>
    where
        F: FnMut(KeyEntry) -> Result<KeyEntry, AdminError> + Send,
    {
        let version = self.admin.update(id, change).await?;
        self.applied(version).await?;
        self.entry(id)
            .await?
            .ok_or_else(|| AdminError::UnknownId { id: id.to_owned() })
    }

    async fn record_audit(
        &self,
        event: crate::key_store::admin::audit::AuditEvent,
    ) -> Result<(), AdminError> {
        self.admin.append_audit(event).await
    }

    async fn audit(
        &self,
        query: crate::key_store::admin::audit::AuditQuery,
    ) -> Result<crate::key_store::admin::audit::AuditPage, AdminError> {
        self.admin.audit(query).await
    }

    async fn usage(
        &self,
        id: &str,
        days: u32,
    ) -> Result<Vec<crate::key_store::usage::DayUsage>, AdminError> {
        use crate::key_store::usage::{last_days, today};
        let last = today();
        let first = last.saturating_sub(days.saturating_sub(1));
        let mut known = self.admin.usage(id, first, last).await?;
        // This replica's counts not flushed yet.
        known.extend(self.replica.unflushed_usage(id));
        Ok(last_days(days, last, &known))
    }

    async fn remove(&self, id: &str) -> Result<(), AdminError> {
        let version = self.admin.remove(id).await?;
        self.applied(version).await
    }
}
