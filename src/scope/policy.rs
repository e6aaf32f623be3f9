//! Deciding, once a token is valid, whether its scopes allow this request.

use http::request::Parts;

use super::ScopeSet;
use crate::error::ConfigError;
use crate::principal::Principal;

/// Decides from the request and the authenticated principal whether the
/// principal's scopes suffice.
///
/// On refusal it returns the scopes the resource requires; they are sent in
/// the 403 challenge's `scope` attribute (RFC 6750 §3). Built in:
/// [`AuthenticatedOnly`] (the default), [`ScopeRequirement`] (all of a set, or
/// any of a set), [`ScopeTable`](super::ScopeTable) (per route or gRPC
/// method), and closures `Fn(&Parts, &P) -> Result<(), ScopeSet>`.
///
/// ```
/// use http::{Method, request::Parts};
/// use tower_bearer_auth::{ApiKey, BearerAuthLayer, KeyStore, Principal, ScopeSet};
///
/// let writes = ScopeSet::parse("calls:write")?;
/// let layer = BearerAuthLayer::builder(KeyStore::new())
///     .scope_policy(move |request: &Parts, key: &ApiKey| {
///         if request.method == Method::GET || key.has_scope("calls:write") {
///             Ok(())
///         } else {
///             Err(writes.clone())
///         }
///     })
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ScopePolicy<P> {
    /// `Ok(())` to let the request through, or the required scopes to refuse
    /// it with 403 `insufficient_scope`.
    ///
    /// # Errors
    ///
    /// The scopes the resource requires, when `principal` lacks them.
    fn authorize(&self, request: &Parts, principal: &P) -> Result<(), ScopeSet>;
}

impl<F, P> ScopePolicy<P> for F
where
    F: Fn(&Parts, &P) -> Result<(), ScopeSet>,
{
    fn authorize(&self, request: &Parts, principal: &P) -> Result<(), ScopeSet> {
        self(request, principal)
    }
}

/// The default policy: any valid token may access any resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthenticatedOnly;

impl<P> ScopePolicy<P> for AuthenticatedOnly {
    fn authorize(&self, _request: &Parts, _principal: &P) -> Result<(), ScopeSet> {
        Ok(())
    }
}

/// Require all of a set of scopes, or any one of them.
///
/// ```
/// use tower_bearer_auth::ScopeRequirement;
///
/// let write = ScopeRequirement::all(["calls:write"])?;
/// let read = ScopeRequirement::any(["profile:read", "profile:admin"])?;
/// # Ok::<(), tower_bearer_auth::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRequirement {
    scopes: ScopeSet,
    needs: Needs,
}

/// How many of a requirement's scopes a principal must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    All,
    Any,
}

impl ScopeRequirement {
    /// The principal must hold every scope in `scopes`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if a scope is invalid (RFC 6749 §3.3).
    pub fn all<I, S>(scopes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Self {
            scopes: ScopeSet::new(scopes)?,
            needs: Needs::All,
        })
    }

    /// The principal must hold at least one scope in `scopes`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if a scope is invalid, or the set is empty (nobody
    /// could ever pass).
    pub fn any<I, S>(scopes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes = ScopeSet::new(scopes)?;
        if scopes.is_empty() {
            return Err(ConfigError::EmptyAnyRequirement);
        }
        Ok(Self {
            scopes,
            needs: Needs::Any,
        })
    }

    /// The scopes this requirement names.
    #[must_use]
    pub const fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// Whether `principal` satisfies the requirement.
    pub fn is_satisfied_by<P: Principal>(&self, principal: &P) -> bool {
        let mut scopes = self.scopes.iter();
        match self.needs {
            Needs::All => scopes.all(|scope| principal.has_scope(scope)),
            Needs::Any => scopes.any(|scope| principal.has_scope(scope)),
        }
    }
}

impl<P: Principal> ScopePolicy<P> for ScopeRequirement {
    fn authorize(&self, _request: &Parts, principal: &P) -> Result<(), ScopeSet> {
        if self.is_satisfied_by(principal) {
            Ok(())
        } else {
            Err(self.scopes.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> Parts {
        http::Request::new(()).into_parts().0
    }

    fn holder(scopes: &str) -> ScopeSet {
        ScopeSet::parse(scopes).expect("valid scopes")
    }

    #[test]
    fn all_needs_every_scope() {
        let policy = ScopeRequirement::all(["a", "b"]).expect("valid");
        assert_eq!(policy.authorize(&parts(), &holder("a b c")), Ok(()));
        assert_eq!(policy.authorize(&parts(), &holder("a")), Err(holder("a b")));
    }

    #[test]
    fn any_needs_one_scope() {
        let policy = ScopeRequirement::any(["a", "b"]).expect("valid");
        assert_eq!(policy.authorize(&parts(), &holder("b")), Ok(()));
        assert_eq!(policy.authorize(&parts(), &holder("c")), Err(holder("a b")));
        assert!(ScopeRequirement::any(Vec::<String>::new()).is_err());
    }

    #[test]
    fn all_of_nothing_is_authentication_only() {
        let policy = ScopeRequirement::all(Vec::<String>::new()).expect("valid");
        assert_eq!(policy.authorize(&parts(), &holder("")), Ok(()));
    }

    #[test]
    fn comparison_is_case_sensitive() {
        let policy = ScopeRequirement::all(["Admin"]).expect("valid");
        assert!(policy.authorize(&parts(), &holder("admin")).is_err());
    }

    #[test]
    fn closures_see_the_request() {
        let policy = |request: &Parts, principal: &ScopeSet| {
            if request.method == http::Method::GET || principal.contains("write") {
                Ok(())
            } else {
                Err(ScopeSet::parse("write").expect("valid"))
            }
        };
        let mut post = parts();
        post.method = http::Method::POST;
        assert_eq!(policy.authorize(&parts(), &holder("")), Ok(()));
        assert_eq!(policy.authorize(&post, &holder("")), Err(holder("write")));
    }
}
