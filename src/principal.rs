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
