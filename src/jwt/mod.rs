//! JWT access tokens (feature `jwt`): [`JwtValidator`] checks them against
//! static keys or a JWKS, and [`KeyOrJwt`] accepts API keys and JWTs on one
//! layer.
//!
//! ```
//! use jsonwebtoken::Algorithm;
//! use tower_bearer_auth::jwt::{JwtValidator, KeyOrJwt};
//! use tower_bearer_auth::{BearerAuthLayer, KeyStore};
//!
//! // Keys from the issuer's JWKS, found by OIDC discovery, refreshed in
//! // the background (plain HTTP built in; `fetcher` for https).
//! let jwt = JwtValidator::builder([Algorithm::RS256, Algorithm::ES256])
//!     .oidc_discovery("http://auth.internal")
//!     .issuer("http://auth.internal")
//!     .audience("api")
//!     .build()?;
//! let layer = BearerAuthLayer::new(KeyOrJwt::new(KeyStore::new(), Some(jwt)));
//! # Ok::<(), tower_bearer_auth::jwt::JwtConfigError>(())
//! ```
//!
//! # What is checked
//!
//! The header's `alg` must be in the validator's allow-list (there is no
//! default; `none` does not exist for it) and fit the key (an HMAC
//! algorithm never uses an RSA or EC key as a secret), then the signature,
//! `exp` (required), `nbf`, `iss` and `aud` when configured, with a leeway
//! of 30 s. The layer's own checks (one token, the b64token grammar, the
//! length limit) come first. Expired tokens are 401 `invalid_token` saying
//! they expired, as expired keys; a bad signature, issuer or audience is 401
//! `invalid_token`; a missing scope is 403 with the same challenge and body
//! as for keys. No keys (a JWKS never fetched, or not for longer than
//! `max_stale`) is 503 for JWTs, while API keys keep working.
//!
//! The library doing the JOSE work is `jsonwebtoken` (the most used Rust
//! JWT crate, maintained, with JWK and JWKS types), with its RustCrypto
//! backend: pure Rust, no C toolchain or CMake needed to build.

mod cache;
mod claims;
mod fetch;
mod header;
mod jwks;
mod key_or_jwt;
mod keys;
#[cfg(feature = "jwt-aws-lc")]
mod parsed_keys;
mod report;
mod validator;

pub use self::claims::{CustomClaims, JwtClaims, NoCustomClaims, ScopeClaim};
pub use self::fetch::{FetchFuture, FetchJwks, HttpFetcher};
pub use self::key_or_jwt::{Caller, KeyOrJwt, KeyOrJwtFuture};
pub use self::keys::{JwtKey, JwtKeyError};
pub use self::validator::{JwtConfigError, JwtFuture, JwtValidator, JwtValidatorBuilder};
pub use jsonwebtoken::Algorithm;

/// Selects the JOSE backend for the process: aws-lc with the `jwt-aws-lc`
/// feature (RS256 and ECDSA several times faster; RSA and ECDSA public keys
/// parsed once, not for every token), else RustCrypto. With
/// both compiled in, `jsonwebtoken` cannot pick one itself and panics on
/// its first signature or JWK operation; [`JwtValidatorBuilder::build`]
/// calls this, so an application needs it only where it uses
/// `jsonwebtoken` itself (signing tokens, making JWKs) before building a
/// validator. The first provider installed in the process wins: one the
/// application installed itself is kept. Cheap after the first call.
///
/// ```
/// tower_bearer_auth::jwt::install_crypto_provider();
/// ```
pub fn install_crypto_provider() {
    #[cfg(feature = "jwt-aws-lc")]
    let _ = parsed_keys::provider().install_default();
    #[cfg(not(feature = "jwt-aws-lc"))]
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}
