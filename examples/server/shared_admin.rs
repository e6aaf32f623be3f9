//! The admin of a shared key set, whichever backend holds it (Redis or
//! Postgres): one type for the admin API to take.

use tower_bearer_auth::KeyEntry;
use tower_bearer_auth::key_policy::{Credits, OwnerLimits};
use tower_bearer_auth::key_store::TokenDigest;
use tower_bearer_auth::key_store::admin::audit::{AuditEvent, AuditPage, AuditQuery};
use tower_bearer_auth::key_store::admin::{AdminError, CreditChange, KeyAdmin};
use tower_bearer_auth::key_store::postgres::PostgresKeyWriter;
use tower_bearer_auth::key_store::redis::{RedisKeyWriter, SharedKeyAdmin};
use tower_bearer_auth::key_store::usage::DayUsage;

/// A shared key set's admin: writes through the backend, reads from this
/// replica.
#[derive(Clone)]
pub(crate) enum SharedAdmin {
    Redis(SharedKeyAdmin<RedisKeyWriter>),
    Postgres(SharedKeyAdmin<PostgresKeyWriter>),
}

impl SharedAdmin {
    /// The backend's name, for `/health` and the logs.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Self::Redis(_) => "redis",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl KeyAdmin for SharedAdmin {
    async fn entries(&self) -> Result<Vec<KeyEntry>, AdminError> {
        match self {
            Self::Redis(admin) => admin.entries().await,
            Self::Postgres(admin) => admin.entries().await,
        }
    }

    async fn entry(&self, id: &str) -> Result<Option<KeyEntry>, AdminError> {
        match self {
            Self::Redis(admin) => admin.entry(id).await,
            Self::Postgres(admin) => admin.entry(id).await,
        }
    }

    async fn insert(&self, entry: KeyEntry) -> Result<(), AdminError> {
        match self {
            Self::Redis(admin) => admin.insert(entry).await,
            Self::Postgres(admin) => admin.insert(entry).await,
        }
    }

    async fn update<F>(&self, id: &str, change: F) -> Result<KeyEntry, AdminError>
    where
        F: FnMut(KeyEntry) -> Result<KeyEntry, AdminError> + Send,
    {
        match self {
            Self::Redis(admin) => admin.update(id, change).await,
            Self::Postgres(admin) => admin.update(id, change).await,
        }
    }

    async fn remove(&self, id: &str) -> Result<(), AdminError> {
        match self {
            Self::Redis(admin) => admin.remove(id).await,
            Self::Postgres(admin) => admin.remove(id).await,
        }
    }

    async fn record_audit(&self, event: AuditEvent) -> Result<(), AdminError> {
        match self {
            Self::Redis(admin) => admin.record_audit(event).await,
            Self::Postgres(admin) => admin.record_audit(event).await,
        }
    }

    async fn audit(&self, query: AuditQuery) -> Result<AuditPage, AdminError> {
        match self {
            Self::Redis(admin) => admin.audit(query).await,
            Self::Postgres(admin) => admin.audit(query).await,
        }
    }

    async fn usage(&self, id: &str, days: u32) -> Result<Vec<DayUsage>, AdminError> {
        match self {
            Self::Redis(admin) => admin.usage(id, days).await,
            Self::Postgres(admin) => admin.usage(id, days).await,
        }
    }

    // The provided methods each backend overrides, forwarded too (their
    // defaults would not use the backend's balances or atomic writes).
    async fn entry_by_digest(&self, digest: &TokenDigest) -> Result<Option<KeyEntry>, AdminError> {
        match self {
            Self::Redis(admin) => admin.entry_by_digest(digest).await,
            Self::Postgres(admin) => admin.entry_by_digest(digest).await,
        }
    }

    async fn change_credits(&self, id: &str, change: CreditChange) -> Result<KeyEntry, AdminError> {
        match self {
            Self::Redis(admin) => admin.change_credits(id, change).await,
            Self::Postgres(admin) => admin.change_credits(id, change).await,
        }
    }

    async fn owner_limits(&self, owner: &str) -> Result<Option<(OwnerLimits, usize)>, AdminError> {
        match self {
            Self::Redis(admin) => admin.owner_limits(owner).await,
            Self::Postgres(admin) => admin.owner_limits(owner).await,
        }
    }

    async fn owner_credits(&self, owner: &str) -> Result<Option<Credits>, AdminError> {
        match self {
            Self::Redis(admin) => admin.owner_credits(owner).await,
            Self::Postgres(admin) => admin.owner_credits(owner).await,
        }
    }

    async fn set_owner_limits(
        &self,
        owner: &str,
        limits: OwnerLimits,
    ) -> Result<usize, AdminError> {
        match self {
            Self::Redis(admin) => admin.set_owner_limits(owner, limits).await,
            Self::Postgres(admin) => admin.set_owner_limits(owner, limits).await,
        }
    }

    async fn revoke_owner(&self, owner: &str) -> Result<usize, AdminError> {
        match self {
            Self::Redis(admin) => admin.revoke_owner(owner).await,
            Self::Postgres(admin) => admin.revoke_owner(owner).await,
        }
    }
}
