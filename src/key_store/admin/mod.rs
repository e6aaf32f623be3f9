//! Changing a key set at runtime, whatever holds it: one async interface
//! ([`KeyAdmin`]) with two implementations, the embedded store persisted to
//! its keys file ([`EmbeddedKeyAdmin`]) and the key set shared through Redis
//! (`SharedKeyAdmin`, feature `redis`). The admin API and the portal are
//! written once, against the interface.
//!
//! A change applies to every request that starts after the change returns
//! (on the replica that made it, for the shared store; on the others within
//! the propagation bound). A refused change changes nothing.

pub mod audit;
#[cfg(feature = "admin")]
mod embedded;
mod error;

#[cfg(feature = "admin")]
use std::future::Future;

#[cfg(feature = "admin")]
use self::audit::{AuditEvent, AuditPage, AuditQuery};
#[cfg(feature = "admin")]
pub use self::embedded::{ChangesHeld, EmbeddedKeyAdmin};
pub use self::error::AdminError;
#[cfg(feature = "admin")]
use super::usage::DayUsage;
#[cfg(feature = "admin")]
use super::{KeyEntry, TokenDigest};
#[cfg(feature = "admin")]
use crate::key_policy::{Credits, OwnerLimits};

/// The write side of a key set, as an admin API needs it. Reads return
/// keys with their last use; no method ever sees a token, only digests.
///
/// Implemented by [`EmbeddedKeyAdmin`] and, with the `redis` feature, by
/// `SharedKeyAdmin`.
#[cfg(feature = "admin")]
pub trait KeyAdmin: Send + Sync + 'static {
    /// Every key, active and revoked.
    fn entries(&self) -> impl Future<Output = Result<Vec<KeyEntry>, AdminError>> + Send;

    /// The key with this id, active or revoked.
    fn entry(&self, id: &str) -> impl Future<Output = Result<Option<KeyEntry>, AdminError>> + Send;

    /// The key whose token has this digest, active or revoked. The
    /// default searches [`entries`](Self::entries); both stores override
    /// it with their index.
    fn entry_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> impl Future<Output = Result<Option<KeyEntry>, AdminError>> + Send {
        let digest = *digest;
        async move {
            Ok(self
                .entries()
                .await?
                .into_iter()
                .find(|entry| *entry.digest() == digest))
        }
    }

    /// Adds a key.
    fn insert(&self, entry: KeyEntry) -> impl Future<Output = Result<(), AdminError>> + Send;

    /// Changes the key with this id with `change`, which may run more than
    /// once (compare-and-set); returns the key as changed.
    fn update<F>(
        &self,
        id: &str,
        change: F,
    ) -> impl Future<Output = Result<KeyEntry, AdminError>> + Send
    where
        F: FnMut(KeyEntry) -> Result<KeyEntry, AdminError> + Send;

    /// Forgets a key entirely: it fails like a revoked one.
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), AdminError>> + Send;

    /// Writes an event to the audit log, durably (the admin API writes one
    /// per change, before it answers).
    fn record_audit(
        &self,
        event: AuditEvent,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;

    /// One page of the audit log, newest first.
    fn audit(
        &self,
        query: AuditQuery,
    ) -> impl Future<Output = Result<AuditPage, AdminError>> + Send;

    /// The usage of the key `id` on the `days` UTC days ending today,
    /// oldest first, days without requests included as zeros: what every
    /// replica flushed, plus this replica's counts not flushed yet.
    fn usage(
        &self,
        id: &str,
        days: u32,
    ) -> impl Future<Output = Result<Vec<DayUsage>, AdminError>> + Send;

    /// Changes the credit balance of the key with this id (a key without
    /// credits gets them, without refill); returns the key as changed.
    /// The default is one [`update`](Self::update); the embedded store
    /// changes its live balance, so that no request's spend is lost.
    fn change_credits(
        &self,
        id: &str,
        change: CreditChange,
    ) -> impl Future<Output = Result<KeyEntry, AdminError>> + Send {
        self.update(id, move |entry| {
            let credits = entry
                .credits()
                .unwrap_or_else(|| Credits::new(0).with_refilled_at(std::time::SystemTime::now()));
            Ok(entry.with_credits(Some(
                credits.with_remaining(change.apply(credits.remaining())),
            )))
        })
    }

    /// The limits `owner`'s keys carry (from one of them: they are written
    /// to all at once), and how many keys the owner has; `None` for an
    /// owner without keys.
    fn owner_limits(
        &self,
        owner: &str,
    ) -> impl Future<Output = Result<Option<(OwnerLimits, usize)>, AdminError>> + Send {
        async move {
            let keys: Vec<KeyEntry> = self
                .entries()
                .await?
                .into_iter()
                .filter(|entry| entry.owner() == Some(owner))
                .collect();
            Ok(keys
                .iter()
                .find(|entry| !entry.is_revoked())
                .or_else(|| keys.first())
                .map(|entry| (entry.owner_limits(), keys.len())))
        }
    }

    /// The owner's credits as they stand now (the live balance its keys
    /// share), if its keys carry owner credits. The default reads them as
    /// written; both stores override it with the live balance.
    fn owner_credits(
        &self,
        owner: &str,
    ) -> impl Future<Output = Result<Option<Credits>, AdminError>> + Send {
        async move {
            Ok(self
                .owner_limits(owner)
                .await?
                .and_then(|(limits, _)| limits.credits()))
        }
    }

    /// Writes `limits` to every key of `owner` (empty limits remove them):
    /// its keys without their own rate limit or credits then share the
    /// owner's. How many keys changed. The default changes them one
    /// [`update`](Self::update) at a time; both stores write them at once.
    fn set_owner_limits(
        &self,
        owner: &str,
        limits: OwnerLimits,
    ) -> impl Future<Output = Result<usize, AdminError>> + Send {
        async move {
            let limits = stamped(limits);
            let mut changed = 0;
            for entry in self.entries().await? {
                if entry.owner() == Some(owner) && entry.owner_limits() != limits {
                    self.update(entry.id(), |entry| Ok(entry.with_owner_limits(limits)))
                        .await?;
                    changed += 1;
                }
            }
            Ok(changed)
        }
    }

    /// Revokes every active key of `owner`; how many were revoked. The
    /// default revokes them one [`update`](Self::update) at a time; the
    /// embedded store writes its file once for all of them.
    fn revoke_owner(&self, owner: &str) -> impl Future<Output = Result<usize, AdminError>> + Send {
        async move {
            let mut revoked = 0;
            for entry in self.entries().await? {
                if entry.owner() == Some(owner) && !entry.is_revoked() {
                    self.update(entry.id(), |entry| Ok(entry.with_revoked(true)))
                        .await?;
                    revoked += 1;
                }
            }
            Ok(revoked)
        }
    }
}

/// `limits` with their credits' period starting now (when not given), the
/// same instant for every key and replica: the owner's keys then share one
/// balance.
#[cfg(feature = "admin")]
pub(crate) fn stamped(limits: OwnerLimits) -> OwnerLimits {
    match limits.credits() {
        Some(credits) if credits.refilled_at().is_none() => {
            limits.with_credits(Some(credits.with_refilled_at(std::time::SystemTime::now())))
        }
        _ => limits,
    }
}

/// A change to a key's credit balance (`POST /admin/v1/keys/{id}/credits`).
#[cfg(feature = "admin")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditChange {
    /// Adds to the balance.
    Add(u64),
    /// Sets the balance.
    Set(u64),
}

#[cfg(feature = "admin")]
impl CreditChange {
    /// The balance after the change of `remaining`.
    #[must_use]
    pub const fn apply(self, remaining: u64) -> u64 {
        match self {
            Self::Add(amount) => remaining.saturating_add(amount),
            Self::Set(remaining) => remaining,
        }
    }
}
