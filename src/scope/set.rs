//! Scope sets (RFC 6749 §3.3): validated, canonical, cheap to clone.

use std::fmt;
use std::sync::Arc;

/// A set of OAuth 2.0 scopes, validated against RFC 6749 §3.3
/// (`scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`), sorted and deduplicated.
///
/// Comparison is exact and case-sensitive. Cloning is a reference-count
/// increment, so a set can be shared by many keys and many policies.
///
/// ```
/// use tower_bearer_auth::ScopeSet;
///
/// let scopes = ScopeSet::parse("profile:read calls:write")?;
/// assert!(scopes.contains("calls:write"));
/// assert!(!scopes.contains("Calls:Write"));
/// assert_eq!(scopes.as_str(), "calls:write profile:read");
/// # Ok::<(), tower_bearer_auth::scope::InvalidScope>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeSet(Arc<str>);

impl ScopeSet {
    /// Builds a set from individual scopes.
    ///
    /// # Errors
    ///
    /// [`InvalidScope`] if a scope is empty or contains a space, `"`, `\`, a
    /// control character or a non-ASCII byte.
    pub fn new<I, S>(scopes: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Vec::new();
        for scope in scopes {
            let scope = scope.as_ref();
            validate_scope(scope)?;
            list.push(scope.to_owned());
        }
        list.sort_unstable();
        list.dedup();
        Ok(Self(Arc::from(list.join(" "))))
    }

    /// Parses a space-separated list, as in an OAuth `scope` parameter.
    /// Runs of spaces are allowed.
    ///
    /// # Errors
    ///
    /// [`InvalidScope`] as for [`ScopeSet::new`].
    pub fn parse(space_separated: &str) -> Result<Self, InvalidScope> {
        Self::new(space_separated.split(' ').filter(|s| !s.is_empty()))
    }

    /// The empty set.
    #[must_use]
    pub fn empty() -> Self {
        Self(Arc::from(""))
    }

    /// Whether `scope` is in the set (exact, case-sensitive).
    #[must_use]
    pub fn contains(&self, scope: &str) -> bool {
        !scope.is_empty() && self.iter().any(|s| s == scope)
    }

    /// Whether every scope of `other` is in this set.
    #[must_use]
    pub fn contains_all(&self, other: &Self) -> bool {
        other.iter().all(|scope| self.contains(scope))
    }

    /// Whether at least one scope of `other` is in this set.
    #[must_use]
    pub fn contains_any(&self, other: &Self) -> bool {
        other.iter().any(|scope| self.contains(scope))
    }

    /// The scopes, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.split(' ').filter(|s| !s.is_empty())
    }

    /// How many scopes the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The space-separated form, as sent in the challenge's `scope` attribute.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn validate_scope(scope: &str) -> Result<(), InvalidScope> {
    if scope.is_empty() {
        return Err(InvalidScope {
            scope: String::new(),
        });
    }
    let valid = scope
        .bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E));
    if valid {
        Ok(())
    } else {
        Err(InvalidScope {
            scope: scope.escape_debug().to_string(),
        })
    }
}

/// A scope that RFC 6749 §3.3 does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidScope {
    scope: String,
}

impl fmt::Display for InvalidScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scope.is_empty() {
            f.write_str("empty scope")
        } else {
            write!(
                f,
                "invalid scope \"{}\": a scope is printable ASCII without spaces, '\"' or '\\'",
                self.scope
            )
        }
    }
}

impl std::error::Error for InvalidScope {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_sorted_and_deduplicated() {
        let a = ScopeSet::new(["b", "a", "b"]).expect("valid");
        let b = ScopeSet::parse("a  b").expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "a b");
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn comparison_is_exact() {
        let set = ScopeSet::parse("profile:read").expect("valid");
        assert!(set.contains("profile:read"));
        assert!(!set.contains("profile"));
        assert!(!set.contains("PROFILE:READ"));
        assert!(!set.contains(""));
    }

    #[test]
    fn refuses_what_rfc6749_refuses() {
        for bad in ["", "a b", "a\"b", "a\\b", "caf\u{e9}", "a\u{7f}", "a\tb"] {
            assert!(ScopeSet::new([bad]).is_err(), "{bad:?}");
        }
        assert!(ScopeSet::new(["!#[]~"]).is_ok());
    }

    #[test]
    fn empty_set_behaves() {
        let empty = ScopeSet::empty();
        assert!(empty.is_empty());
        assert_eq!(empty.len(), 0);
        assert_eq!(ScopeSet::parse("").expect("valid"), empty);
        let set = ScopeSet::parse("a").expect("valid");
        assert!(set.contains_all(&empty));
        assert!(!set.contains_any(&empty));
    }
}
