//! What a validator hands to the service: the authenticated caller.

use crate::scope::ScopeSet;

/// An authenticated caller, as produced by a [`TokenValidator`](crate::TokenValidator)
/// and inserted into the request's extensions for handlers to read.
///
/// The only question the layer asks of a principal is which scopes it holds;
/// everything else (labels, tenants) is the application's business, but for
/// an identifier to name it in logs ([`subject`](Self::subject)).
/// Principals are cloned into the request extensions, so keep them cheap to
/// clone (an `Arc` inside, as [`ApiKey`](crate::ApiKey) does).
///
/// ```
/// use tower_bearer_auth::{Principal, ScopeSet};
///
/// #[derive(Clone)]
/// struct Customer {
///     id: u64,
///     scopes: ScopeSet,
/// }
///
/// impl Principal for Customer {
///     fn has_scope(&self, scope: &str) -> bool {
///         self.scopes.contains(scope)
///     }
/// }
/// ```
pub trait Principal: Clone + Send + Sync + 'static {
    /// Whether the principal holds `scope` (exact, case-sensitive; RFC 6749 §3.3).
    fn has_scope(&self, scope: &str) -> bool;

    /// Who the principal is, for logs: a stable identifier that is not a
    /// secret (an API key's id, a JWT's subject). The layer records it on the
    /// current tracing span and names it when a scope check refuses. Default:
    /// none.
    fn subject(&self) -> Option<&str> {
        None
    }

    /// What kind of credential authenticated the principal. The admin API
    /// lets only [`CredentialKind::ApiKey`] administer unless the
    /// application names more. Default: [`CredentialKind::Other`].
    fn credential(&self) -> CredentialKind {
        CredentialKind::Other
    }

    /// The per-key policies the layer enforces after admission (an
    /// address allowlist, usage credits), if the principal is a key that
    /// has any. [`ApiKey`](crate::ApiKey) answers its own; a principal
    /// wrapping one (`jwt::Caller`) forwards it. Default: none.
    fn key_policies(&self) -> Option<&crate::key_policy::KeyPolicies> {
        None
    }

    /// The counters the layer counts this principal's requests in, per
    /// day and outcome, if it is a key ([`ApiKey`](crate::ApiKey) answers
    /// its own; `jwt::KeyOrJwt` forwards it). Default: none.
    #[cfg(feature = "key-store")]
    fn key_usage(&self) -> Option<&crate::key_store::usage::KeyUsage> {
        None
    }
}

/// What kind of credential a [`Principal`] came from.
///
/// ```
/// use tower_bearer_auth::{CredentialKind, KeyEntry, KeyGenerator, KeyStore, Principal};
///
/// let store = KeyStore::new();
/// let key = KeyGenerator::new().generate()?;
/// store.insert(KeyEntry::new(key.id(), "Staging Server", key.digest()))?;
/// let principal = store.verify(key.token().expose())?;
/// assert_eq!(principal.credential(), CredentialKind::ApiKey);
/// assert_eq!(().credential(), CredentialKind::Other);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// An API key of a key store ([`ApiKey`](crate::ApiKey)).
    ApiKey,
    /// A JWT access token (`JwtClaims`, feature `jwt`).
    Jwt,
    /// Anything else: an application's own principal.
    Other,
}

/// A principal with no identity and no scopes, for validators that only say
/// yes or no.
impl Principal for () {
    fn has_scope(&self, _scope: &str) -> bool {
        false
    }
}

/// A bare scope set is a principal holding exactly those scopes.
impl Principal for ScopeSet {
    fn has_scope(&self, scope: &str) -> bool {
        self.contains(scope)
    }
}
