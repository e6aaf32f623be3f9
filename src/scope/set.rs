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
        // Sorted as given (no copy of each scope), then joined once.
        let mut list: Vec<S> = Vec::new();
        for scope in scopes {
            validate_scope(scope.as_ref())?;
            list.push(scope);
        }
        list.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
        list.dedup_by(|a, b| a.as_ref() == b.as_ref());
        let mut joined = String::with_capacity(list.iter().map(|s| s.as_ref().len() + 1).sum());
        for scope in &list {
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(scope.as_ref());
        }
        Ok(Self(Arc::from(joined)))
    }

    /// Parses a space-separated list, as in an OAuth `scope` parameter.
    /// Runs of spaces are allowed.
    ///
    /// # Errors
    ///
    /// [`InvalidScope`] as for [`ScopeSet::new`].
    pub fn parse(space_separated: &str) -> Result<Self, InvalidScope> {
        // Up to `ON_STACK` scopes are sorted in place on the stack; a text
        // already in canonical form is shared as it is (one allocation).
        const ON_STACK: usize = 16;
        let mut stack = [""; ON_STACK];
        let mut count = 0;
        let mut canonical = !space_separated.is_empty();
        let mut previous: Option<&str> = None;
        for scope in space_separated.split(' ') {
            if scope.is_empty() {
                canonical = false;
                continue;
            }
            validate_scope(scope)?;
            canonical &= previous.is_none_or(|before| before < scope);
            previous = Some(scope);
            if let Some(slot) = stack.get_mut(count) {
                *slot = scope;
            }
            count += 1;
        }
        if canonical {
            return Ok(Self(Arc::from(space_separated)));
        }
        if count > ON_STACK {
            return Self::new(space_separated.split(' ').filter(|s| !s.is_empty()));
        }
        let list = &mut stack[..count];
        list.sort_unstable();
        let mut joined = String::with_capacity(space_separated.len());
        let mut last: Option<&str> = None;
        for &scope in list.iter() {
            if last == Some(scope) {
                continue;
            }
            if last.is_some() {
                joined.push(' ');
            }
            joined.push_str(scope);
            last = Some(scope);
        }
        Ok(Self(Arc::from(joined)))
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
    fn parse_agrees_with_new_on_every_shape() {
        let many: Vec<String> = (0..40).rev().map(|n| format!("s{n:02}")).collect();
        let texts = [
            "a".to_owned(),
            "a b".to_owned(),
            "b a".to_owned(),
            "a a".to_owned(),
            " a b ".to_owned(),
            "b  a  b".to_owned(),
            "calls:write profile:read".to_owned(),
            "profile:read calls:write".to_owned(),
            many[..16].join(" "),
            many[..17].join(" "),
            many.join(" "),
            format!("{} {}", many.join(" "), many.join(" ")),
        ];
        for text in texts {
            let parsed = ScopeSet::parse(&text).expect("valid");
            let built = ScopeSet::new(text.split(' ').filter(|s| !s.is_empty())).expect("valid");
            assert_eq!(parsed, built, "{text:?}");
            assert_eq!(parsed.as_str(), built.as_str(), "{text:?}");
        }
        assert!(ScopeSet::parse("a b\"c").is_err());
        assert!(ScopeSet::parse(&format!("{} x\"", many.join(" "))).is_err());
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
