//! One layer, two validators: tokens shaped like a JWT go to the JWT
//! validator, all others to the key validator.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::request::Parts;

use crate::{Principal, TokenValidator, ValidationError};

/// Accepts API keys and JWTs on one layer: a token with exactly two dots
/// whose first part starts with `eyJ` (a base64url JSON object, as every
/// JWS header is) goes to `jwt`, any other to `keys` (the crate's keys have
/// no dots). Without a JWT validator, JWT-shaped tokens go to `keys`, which
/// refuses them. The principal is a [`Caller`]: either validator's.
///
/// ```
/// use jsonwebtoken::Algorithm;
/// use tower_bearer_auth::jwt::{JwtKey, JwtValidator, KeyOrJwt};
/// use tower_bearer_auth::{BearerAuthLayer, KeyStore, ScopeRequirement};
///
/// let jwt = JwtValidator::builder([Algorithm::HS256])
///     .key(JwtKey::hmac(b"a secret of at least 32 bytes!!!"))
///     .build()?;
/// let layer = BearerAuthLayer::new(KeyOrJwt::new(KeyStore::new(), Some(jwt)));
/// // `profile:read` from a key's scopes or a JWT's `scope` claim, alike.
/// let read = layer.require_scope(ScopeRequirement::all(["profile:read"])?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct KeyOrJwt<K, J> {
    keys: K,
    jwt: Option<J>,
}

impl<K, J> KeyOrJwt<K, J> {
    /// Keys through `keys`, JWTs through `jwt` (none: JWTs are refused).
    pub const fn new(keys: K, jwt: Option<J>) -> Self {
        Self { keys, jwt }
    }

    /// The key validator.
    pub const fn keys(&self) -> &K {
        &self.keys
    }

    /// The JWT validator, if any.
    pub const fn jwt(&self) -> Option<&J> {
        self.jwt.as_ref()
    }
}

/// Whether a token has the shape of a JWS in compact serialization.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|&b| b == b'.').count() == 2
}

/// Who a [`KeyOrJwt`] layer let in: a key's principal or a JWT's claims.
/// Scope policies, the axum extractor and the tonic helper treat it like
/// any principal.
#[derive(Clone, Debug)]
pub enum Caller<K, J> {
    /// An API key.
    Key(K),
    /// A JWT's claims.
    Jwt(J),
}

impl<K: Principal, J: Principal> Principal for Caller<K, J> {
    fn has_scope(&self, scope: &str) -> bool {
        match self {
            Self::Key(key) => key.has_scope(scope),
            Self::Jwt(claims) => claims.has_scope(scope),
        }
    }

    fn subject(&self) -> Option<&str> {
        match self {
            Self::Key(key) => key.subject(),
            Self::Jwt(claims) => claims.subject(),
        }
    }

    fn credential(&self) -> crate::principal::CredentialKind {
        match self {
            Self::Key(key) => key.credential(),
            Self::Jwt(claims) => claims.credential(),
        }
    }

    fn key_policies(&self) -> Option<&crate::key_policy::KeyPolicies> {
        match self {
            Self::Key(key) => key.key_policies(),
            Self::Jwt(claims) => claims.key_policies(),
        }
    }

    #[cfg(feature = "key-store")]
    fn key_usage(&self) -> Option<&crate::key_store::usage::KeyUsage> {
        match self {
            Self::Key(key) => key.key_usage(),
            Self::Jwt(claims) => claims.key_usage(),
        }
    }
}

#[cfg(feature = "rate-limit")]
impl<K, J> crate::rate_limit::RateLimited for Caller<K, J>
where
    K: crate::rate_limit::RateLimited,
    J: crate::rate_limit::RateLimited,
{
    fn rate_limit_key(&self) -> &str {
        match self {
            Self::Key(key) => key.rate_limit_key(),
            Self::Jwt(claims) => claims.rate_limit_key(),
        }
    }

    fn quota(&self) -> Option<crate::rate_limit::Quota> {
        match self {
            Self::Key(key) => key.quota(),
            Self::Jwt(claims) => claims.quota(),
        }
    }

    fn rate_limit_hash(&self) -> u64 {
        match self {
            Self::Key(key) => key.rate_limit_hash(),
            Self::Jwt(claims) => claims.rate_limit_hash(),
        }
    }
}

/// The future of [`KeyOrJwt`]: the chosen validator's.
pub struct KeyOrJwtFuture<KF, JF> {
    inner: Either<KF, JF>,
}

enum Either<KF, JF> {
    Key(KF),
    Jwt(JF),
}

impl<KF, JF, KP, JP> Future for KeyOrJwtFuture<KF, JF>
where
    KF: Future<Output = Result<KP, ValidationError>> + Unpin,
    JF: Future<Output = Result<JP, ValidationError>> + Unpin,
{
    type Output = Result<Caller<KP, JP>, ValidationError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            Either::Key(future) => Pin::new(future).poll(cx).map(|r| r.map(Caller::Key)),
            Either::Jwt(future) => Pin::new(future).poll(cx).map(|r| r.map(Caller::Jwt)),
        }
    }
}

impl<KF, JF> std::fmt::Debug for KeyOrJwtFuture<KF, JF> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyOrJwtFuture").finish_non_exhaustive()
    }
}

impl<K, J> TokenValidator for KeyOrJwt<K, J>
where
    K: TokenValidator,
    J: TokenValidator,
{
    type Principal = Caller<K::Principal, J::Principal>;
    type Future = KeyOrJwtFuture<K::Future, J::Future>;

    fn validate(&self, token: &str, request: &Parts) -> Self::Future {
        let inner = match &self.jwt {
            Some(jwt) if looks_like_jwt(token) => Either::Jwt(jwt.validate(token, request)),
            _ => Either::Key(self.keys.validate(token, request)),
        };
        KeyOrJwtFuture { inner }
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_jwt;

    /// A key counted through a `KeyStore` layer and through a `KeyOrJwt`
    /// layer sharing one local limiter is one bucket, not two.
    #[cfg(all(feature = "rate-limit", feature = "key-store"))]
    #[test]
    fn a_key_is_one_bucket_bare_or_inside_a_caller() {
        use crate::jwt::JwtClaims;
        use crate::rate_limit::limiter::Check;
        use crate::rate_limit::{Quota, RateLimited, RateLimiter};
        use crate::{KeyEntry, KeyGenerator, KeyStore};

        let store = KeyStore::new();
        let generated = KeyGenerator::new().generate().expect("random source");
        store
            .insert(KeyEntry::new(generated.id(), "Both", generated.digest()))
            .expect("insert");
        let key = store.verify(generated.token().expose()).expect("valid");
        let caller = super::Caller::<_, JwtClaims>::Key(key.clone());
        assert_eq!(key.rate_limit_hash(), caller.rate_limit_hash());

        let limiter = RateLimiter::builder()
            .default_quota(Quota::new(1, 60).expect("valid"))
            .build();
        let allowed = |check: Check| match check {
            Check::Ready(verdict) => verdict.decision.allowed,
            _ => panic!("the local table decides"),
        };
        assert!(allowed(limiter.check(&key)));
        assert!(!allowed(limiter.check(&caller)), "the same bucket");
    }

    #[test]
    fn only_jws_shaped_tokens_look_like_jwts() {
        assert!(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        for other in [
            "sk_0j8getr74edHoPo3MP54ozbDTfkKID40devq",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0",
            "eyJ.a.b.c",
            "abc.def.ghi",
        ] {
            assert!(!looks_like_jwt(other), "{other}");
        }
    }
}
