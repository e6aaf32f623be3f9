//! What a valid JWT says about its bearer: the principal handlers get.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Principal;
use crate::scope::ScopeSet;

/// The claims of a valid JWT: its subject, its scopes, its issuer and
/// expiry, and the custom claims `C` the application asked for (none by
/// default). It is the principal of a [`JwtValidator`](super::JwtValidator):
/// handlers read it from the request extensions, and scope policies check
/// its scopes exactly as they check a key's.
///
/// ```
/// use serde::Deserialize;
/// use tower_bearer_auth::jwt::JwtClaims;
///
/// /// A custom claim of the application's tokens.
/// #[derive(Clone, Debug, Deserialize)]
/// struct Tenant {
///     tenant_id: String,
/// }
///
/// fn tenant(claims: &JwtClaims<Tenant>) -> &str {
///     &claims.custom().tenant_id
/// }
/// ```
#[derive(Clone, Debug)]
pub struct JwtClaims<C = NoCustomClaims> {
    subject: Option<String>,
    scopes: ScopeSet,
    issuer: Option<String>,
    expires_at: SystemTime,
    custom: C,
}

impl<C> JwtClaims<C> {
    /// `sub`, if the token has one.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The scopes, from `scope` (a space-separated string) or `scp` (an
    /// array of strings, or a string), as configured.
    #[must_use]
    pub const fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// `iss`, if the token has one.
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// `exp`.
    #[must_use]
    pub const fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The application's own claims.
    #[must_use]
    pub const fn custom(&self) -> &C {
        &self.custom
    }
}

impl<C: Clone + Send + Sync + 'static> Principal for JwtClaims<C> {
    fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
}

#[cfg(feature = "rate-limit")]
impl<C: Clone + Send + Sync + 'static> crate::rate_limit::RateLimited for JwtClaims<C> {
    /// The subject; tokens without one share one quota (`""`).
    fn rate_limit_key(&self) -> &str {
        self.subject.as_deref().unwrap_or_default()
    }
}

/// No custom claims (the default): whatever else the token carries is
/// ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoCustomClaims;

impl<'de> Deserialize<'de> for NoCustomClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Self)
    }
}

/// Where the scopes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ScopeClaim {
    /// `scope` (RFC 9068: a space-separated string), else `scp` (an array
    /// of strings or a string, as Azure AD and Okta write it). The default.
    #[default]
    ScopeOrScp,
    /// `scope` only.
    Scope,
    /// `scp` only.
    Scp,
}

/// A scope claim's value: a space-separated string or an array of strings
/// (read by a visitor of its own: `#[serde(untagged)]` would buffer it).
enum ScopeValue {
    Text(String),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for ScopeValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ScopeValue;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a space-separated string or an array of strings")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ScopeValue, E> {
                Ok(ScopeValue::Text(text.to_owned()))
            }

            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<ScopeValue, E> {
                Ok(ScopeValue::Text(text))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ScopeValue, A::Error> {
                let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(scope) = seq.next_element::<String>()? {
                    list.push(scope);
                }
                Ok(ScopeValue::List(list))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// The registered claims the validator reads, and the custom ones.
#[derive(Deserialize)]
pub(super) struct RawClaims<C> {
    sub: Option<String>,
    iss: Option<String>,
    exp: Option<u64>,
    scope: Option<ScopeValue>,
    scp: Option<ScopeValue>,
    #[serde(flatten)]
    custom: C,
}

/// The same without custom claims: no buffering for `flatten`.
#[derive(Deserialize)]
pub(super) struct BasicClaims {
    sub: Option<String>,
    iss: Option<String>,
    exp: Option<u64>,
    scope: Option<ScopeValue>,
    scp: Option<ScopeValue>,
}

/// Why claims could not become a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClaimsProblem {
    /// A scope is not an RFC 6749 scope token.
    BadScope,
    /// No `exp` (the library checks it too; this is defense in depth).
    NoExpiry,
}

fn scopes(value: Option<ScopeValue>) -> Result<ScopeSet, ClaimsProblem> {
    match value {
        None => Ok(ScopeSet::empty()),
        Some(ScopeValue::Text(text)) => ScopeSet::parse(&text).map_err(|_| ClaimsProblem::BadScope),
        Some(ScopeValue::List(list)) => {
            ScopeSet::new(list.iter().map(String::as_str)).map_err(|_| ClaimsProblem::BadScope)
        }
    }
}

impl BasicClaims {
    /// The principal of these registered claims and the application's own.
    pub(super) fn into_claims<C>(
        self,
        from: ScopeClaim,
        custom: C,
    ) -> Result<JwtClaims<C>, ClaimsProblem> {
        let exp = self.exp.ok_or(ClaimsProblem::NoExpiry)?;
        let chosen = match from {
            ScopeClaim::ScopeOrScp => self.scope.or(self.scp),
            ScopeClaim::Scope => self.scope,
            ScopeClaim::Scp => self.scp,
        };
        Ok(JwtClaims {
            subject: self.sub,
            scopes: scopes(chosen)?,
            issuer: self.iss,
            expires_at: SystemTime::UNIX_EPOCH + Duration::from_secs(exp),
            custom,
        })
    }
}

impl<C> RawClaims<C> {
    pub(super) fn into_claims(self, from: ScopeClaim) -> Result<JwtClaims<C>, ClaimsProblem> {
        let registered = BasicClaims {
            sub: self.sub,
            iss: self.iss,
            exp: self.exp,
            scope: self.scope,
            scp: self.scp,
        };
        registered.into_claims(from, self.custom)
    }
}

/// The custom claims of a validator: `NoCustomClaims`, or an application
/// type read with serde.
pub trait CustomClaims: DeserializeOwned + Clone + Send + Sync + 'static {}

impl<C: DeserializeOwned + Clone + Send + Sync + 'static> CustomClaims for C {}
