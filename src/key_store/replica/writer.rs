//! The write half of a backend's seam: what [`SharedKeyAdmin`](super::SharedKeyAdmin)
//! asks of a backend's writer. Each write is atomic in the source (record,
//! version and change log together) and answers the version it made, which
//! the admin awaits on its replica (read-your-writes).
//!
//! A `pub` trait in a private module: nameable by no one outside the
//! crate, so only the crate's writers implement it (Redis today).

use std::collections::HashMap;
use std::future::Future;

use crate::key_policy::Credits;
use crate::key_store::KeyEntry;
use crate::key_store::admin::audit::{AuditEvent, AuditPage, AuditQuery};
use crate::key_store::admin::{AdminError, CreditChange};
use crate::key_store::usage::DayCounts;

/// A backend's writer of the shared key set.
pub trait KeyWriter: Send + Sync + 'static {
    /// Adds a key (initialising an empty store); the version made.
    fn insert(&self, entry: KeyEntry) -> impl Future<Output = Result<u64, AdminError>> + Send;

    /// Changes the key with this id with `change`, compare-and-set; the
    /// version made (the current one if nothing changed).
    fn update<F>(
        &self,
        id: &str,
        change: F,
    ) -> impl Future<Output = Result<u64, AdminError>> + Send
    where
        F: FnMut(KeyEntry) -> Result<KeyEntry, AdminError> + Send;

    /// Changes every key of `ids` that `change` changes (`None`: leave it)
    /// in one atomic write, compare-and-set for all of them: how many
    /// changed, and the version made. Ids no longer in the store are
    /// skipped.
    fn update_many<F>(
        &self,
        ids: &[String],
        change: F,
    ) -> impl Future<Output = Result<(usize, u64), AdminError>> + Send
    where
        F: FnMut(&KeyEntry) -> Option<KeyEntry> + Send;

    /// Forgets the key with this id; the version made.
    fn remove(&self, id: &str) -> impl Future<Output = Result<u64, AdminError>> + Send;

    /// When each key was last used, to the minute, as the replicas
    /// flushed it.
    fn last_uses(&self) -> impl Future<Output = Result<HashMap<String, u32>, AdminError>> + Send;

    /// Appends `event` to the audit log, durably.
    fn append_audit(
        &self,
        event: AuditEvent,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;

    /// One page of the audit log, newest first.
    fn audit(
        &self,
        query: AuditQuery,
    ) -> impl Future<Output = Result<AuditPage, AdminError>> + Send;

    /// The usage of key `id` every replica flushed, on the days
    /// `first..=last` that have any.
    fn usage(
        &self,
        id: &str,
        first: u32,
        last: u32,
    ) -> impl Future<Output = Result<Vec<(u32, DayCounts)>, AdminError>> + Send;

    /// The live credit balance of the key `id`, whose record gives
    /// `given`, after `change` (`None`: as it is), where the backend keeps
    /// balances apart from the records (Redis, counting for every
    /// replica). `Ok(None)` where balances live in the records (the
    /// default: the admin then changes the record).
    fn credit_balance(
        &self,
        id: &str,
        given: Credits,
        change: Option<CreditChange>,
    ) -> impl Future<Output = Result<Option<u64>, AdminError>> + Send {
        let _ = (id, given, change);
        std::future::ready(Ok(None))
    }
}
