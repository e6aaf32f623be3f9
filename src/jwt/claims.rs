//! What a valid JWT says about its bearer: the principal handlers get.

use std::sync::Arc;
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
///
/// Cloning is a reference-count increment: the claims are shared, so that
/// a cached token hands out the same claims again at no cost.
#[derive(Debug)]
pub struct JwtClaims<C = NoCustomClaims> {
    data: Arc<ClaimsData<C>>,
}

impl<C> Clone for JwtClaims<C> {
    fn clone(&self) -> Self {
        Self {
            data: Arc::clone(&self.data),
        }
    }
}

/// The claims themselves.
#[derive(Debug)]
struct ClaimsData<C> {
    subject: Option<String>,
    scopes: ScopeSet,
    issuer: Option<String>,
    expires_at: SystemTime,
    /// `nbf`, in seconds since the epoch, if the token has one (checked
    /// again when a cached token is used).
    not_before: Option<u64>,
    custom: C,
    /// What the rate limit counts this token under (see
    /// [`rate_limit_key`](crate::rate_limit::RateLimited::rate_limit_key)).
    #[cfg(feature = "rate-limit")]
    limit_key: Box<str>,
}

impl<C> JwtClaims<C> {
    /// `sub`, if the token has one.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.data.subject.as_deref()
    }

    /// The scopes, from `scope` (a space-separated string) or `scp` (an
    /// array of strings, or a string), as configured.
    #[must_use]
    pub fn scopes(&self) -> &ScopeSet {
        &self.data.scopes
    }

    /// `iss`, if the token has one.
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.data.issuer.as_deref()
    }

    /// `exp`.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        self.data.expires_at
    }

    /// `nbf`, in whole seconds since the epoch, if the token has one.
    pub(super) fn not_before(&self) -> Option<u64> {
        self.data.not_before
    }

    /// The application's own claims.
    #[must_use]
    pub fn custom(&self) -> &C {
        &self.data.custom
    }
}

impl<C: Clone + Send + Sync + 'static> Principal for JwtClaims<C> {
    fn has_scope(&self, scope: &str) -> bool {
        self.data.scopes.contains(scope)
    }

    fn subject(&self) -> Option<&str> {
        self.data.subject.as_deref()
    }

    fn credential(&self) -> crate::principal::CredentialKind {
        crate::principal::CredentialKind::Jwt
    }
}

#[cfg(feature = "rate-limit")]
impl<C: Clone + Send + Sync + 'static> crate::rate_limit::RateLimited for JwtClaims<C> {
    /// `jwt/<length of iss>/<iss>/<sub>`: one quota per subject of an
    /// issuer. A token without `sub` is counted under its own hash,
    /// `jwt-token/<32 hex digits>`, never in a bucket shared with other
    /// tokens. Both hold a `/`, which no API key id can: a JWT never shares
    /// an API key's quota, and the length keeps `iss` and `sub` apart.
    fn rate_limit_key(&self) -> &str {
        &self.data.limit_key
    }
}

/// The rate-limit key of a token with these `iss` and `sub` (see
/// [`JwtClaims::rate_limit_key`](crate::rate_limit::RateLimited::rate_limit_key)).
#[cfg(feature = "rate-limit")]
fn limit_key(issuer: Option<&str>, subject: Option<&str>, token: &str) -> Box<str> {
    use sha2::Digest;
    use std::fmt::Write;
    let mut key = String::new();
    match subject {
        Some(subject) => {
            let issuer = issuer.unwrap_or_default();
            let _ = write!(key, "jwt/{}/{issuer}/{subject}", issuer.len());
        }
        None => {
            key.push_str("jwt-token/");
            for byte in &sha2::Sha256::digest(token.as_bytes())[..16] {
                let _ = write!(key, "{byte:02x}");
            }
        }
    }
    key.into_boxed_str()
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

/// `exp` read as the JOSE library reads it before we do: a whole number,
/// or a finite non-negative number below 2^64, rounded (so that a token
/// the library accepts is never refused here as malformed); anything else
/// is absent here, and the library has refused it already.
fn numeric_date<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    struct Visitor;

    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a NumericDate")
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Option<u64>, E> {
            Ok(Some(value))
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Option<u64>, E> {
            Ok(u64::try_from(value).ok())
        }

        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "range checked first, as the JOSE library does"
        )]
        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Option<u64>, E> {
            Ok(
                (value.is_finite() && value >= 0.0 && value < u64::MAX as f64)
                    .then(|| value.round() as u64),
            )
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }

        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Option<u64>, E> {
            Ok(None)
        }

        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Option<u64>, E> {
            Ok(None)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Option<u64>, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Option<u64>, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }

    deserializer.deserialize_any(Visitor)
}

/// The registered claims the validator reads, and the custom ones.
#[derive(Deserialize)]
pub(super) struct RawClaims<C> {
    sub: Option<String>,
    iss: Option<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<u64>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<u64>,
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
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<u64>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<u64>,
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
    /// An `exp` past what a `SystemTime` holds (2^63 seconds and more).
    ExpiryOutOfRange,
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
    /// The principal of these registered claims and the application's own,
    /// for `token` (its hash is the rate-limit key when there is no `sub`).
    pub(super) fn into_claims<C>(
        self,
        from: ScopeClaim,
        custom: C,
        token: &str,
    ) -> Result<JwtClaims<C>, ClaimsProblem> {
        let exp = self.exp.ok_or(ClaimsProblem::NoExpiry)?;
        let expires_at = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(exp))
            .ok_or(ClaimsProblem::ExpiryOutOfRange)?;
        let chosen = match from {
            ScopeClaim::ScopeOrScp => self.scope.or(self.scp),
            ScopeClaim::Scope => self.scope,
            ScopeClaim::Scp => self.scp,
        };
        #[cfg(not(feature = "rate-limit"))]
        let _ = token;
        Ok(JwtClaims {
            data: Arc::new(ClaimsData {
                #[cfg(feature = "rate-limit")]
                limit_key: limit_key(self.iss.as_deref(), self.sub.as_deref(), token),
                subject: self.sub,
                scopes: scopes(chosen)?,
                issuer: self.iss,
                expires_at,
                not_before: self.nbf,
                custom,
            }),
        })
    }
}

impl<C> RawClaims<C> {
    pub(super) fn into_claims(
        self,
        from: ScopeClaim,
        token: &str,
    ) -> Result<JwtClaims<C>, ClaimsProblem> {
        let registered = BasicClaims {
            sub: self.sub,
            iss: self.iss,
            exp: self.exp,
            nbf: self.nbf,
            scope: self.scope,
            scp: self.scp,
        };
        registered.into_claims(from, self.custom, token)
    }
}

/// The custom claims of a validator: `NoCustomClaims`, or an application
/// type read with serde.
pub trait CustomClaims: DeserializeOwned + Clone + Send + Sync + 'static {}

impl<C: DeserializeOwned + Clone + Send + Sync + 'static> CustomClaims for C {}
