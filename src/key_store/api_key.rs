//! The principal of a request authenticated by an API key.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use super::record::{KeyRecord, Metadata};
use crate::principal::Principal;
use crate::scope::ScopeSet;

static NO_METADATA: Metadata = Metadata::new();

/// The principal of a request authenticated by a [`KeyStore`](crate::KeyStore)
/// key: its id, label and scopes. Handlers read it from the request
/// extensions. Cloning is a reference-count increment.
///
/// ```
/// use axum::Extension;
/// use tower_bearer_auth::ApiKey;
///
/// async fn profile(Extension(key): Extension<ApiKey>) -> String {
///     format!("{} ({}): {}", key.label(), key.id(), key.scopes())
/// }
/// ```
#[derive(Clone)]
pub struct ApiKey(pub(crate) Arc<KeyRecord>);

impl ApiKey {
    /// The key's own rate limit, if its record has one.
    #[must_use]
    pub fn rate_limit(&self) -> Option<crate::rate_limit::Quota> {
        self.0.rate_limit
    }

    /// The key's id, e.g. `key_3kTMd...`. Not secret.
    #[must_use]
    pub fn id(&self) -> &str {
        self.0.id()
    }

    /// The label given at generation, e.g. `Staging Server`.
    #[must_use]
    pub fn label(&self) -> &str {
        self.0.label()
    }

    /// The scopes the key grants.
    #[must_use]
    pub fn scopes(&self) -> &ScopeSet {
        &self.0.scopes
    }

    /// When the key was created.
    #[must_use]
    pub fn created_at(&self) -> SystemTime {
        self.0.created_at()
    }

    /// When the key expires, if it does.
    #[must_use]
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.0.expires_at()
    }

    /// The owner's rate limit this key counts under, when the key has
    /// none of its own: the owner's bucket (`@<owner>`) and quota.
    #[cfg(feature = "rate-limit")]
    pub(crate) fn owner_quota(&self) -> Option<(&str, crate::rate_limit::Quota)> {
        if self.0.rate_limit.is_some() {
            return None;
        }
        let owner = crate::Principal::key_policies(self)?.owner()?;
        Some((&owner.name, owner.limits.rate_limit()?))
    }

    /// The customer the key belongs to, if it has an owner.
    #[must_use]
    pub fn owner(&self) -> Option<&str> {
        self.0.owner()
    }

    /// The key's metadata (empty if none).
    #[must_use]
    pub fn metadata(&self) -> &Metadata {
        self.0.metadata().unwrap_or(&NO_METADATA)
    }
}

impl Principal for ApiKey {
    fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.contains(scope)
    }

    /// The key's id.
    fn subject(&self) -> Option<&str> {
        Some(self.0.id())
    }

    fn credential(&self) -> crate::principal::CredentialKind {
        crate::principal::CredentialKind::ApiKey
    }

    fn key_policies(&self) -> Option<&crate::key_policy::KeyPolicies> {
        self.0.key_policies()
    }

    fn key_usage(&self) -> Option<&super::usage::KeyUsage> {
        Some(&self.0.usage)
    }
}

impl PartialEq for ApiKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.id() == other.0.id()
    }
}

impl Eq for ApiKey {}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id())
            .field("label", &self.label())
            .field("scopes", self.scopes())
            .field("expires_at", &self.expires_at())
            .finish_non_exhaustive()
    }
}
