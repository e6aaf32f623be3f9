//! Tower middleware that authenticates HTTP and gRPC requests with bearer
//! tokens (API keys).
//!
//! ```
//! use axum::{Extension, Router, routing::get};
//! use tower_bearer_auth::{ApiKey, BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore, ScopeSet};
//!
//! // A store holding only SHA-256 digests; the token is shown once.
//! let store = KeyStore::new();
//! let key = KeyGenerator::new().generate()?;
//! store.insert(
//!     KeyEntry::new(key.id(), "Staging Server", key.digest())
//!         .with_scopes(ScopeSet::parse("profile:read")?),
//! )?;
//!
//! let app: Router = Router::new()
//!     .route("/v1/profile", get(|Extension(key): Extension<ApiKey>| async move {
//!         format!("hello, {}", key.label())
//!     }))
//!     .layer(BearerAuthLayer::new(store));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the layer does
//!
//! For each request, [`BearerAuth`] finds exactly one token (the
//! `Authorization: Bearer` header, and optionally a custom header, a cookie
//! or the `access_token` query parameter), checks it against the RFC 6750
//! `b64token` grammar and a length limit, asks the [`TokenValidator`], applies
//! the [`ScopePolicy`](scope::ScopePolicy), inserts the principal into the request extensions,
//! marks the credential headers sensitive, and calls the inner service.
//!
//! Every refusal is a response, never an error:
//!
//! | cause | HTTP | `WWW-Authenticate` error | JSON `code` | gRPC |
//! |---|---|---|---|---|
//! | no credentials, other scheme | 401 | (none) | `unauthorized` | 16 |
//! | malformed, unknown, revoked, expired | 401 | `invalid_token` | `unauthorized` | 16 |
//! | valid token without the scope | 403 | `insufficient_scope` + `scope` | `forbidden` | 7 |
//! | key used from outside its `allowed_ips` | 403 | (no challenge) | `forbidden` | 7 |
//! | over the rate limit | 429 + `Retry-After` | (no challenge) | `rate_limited` | 8 |
//! | key without credits left for the request | 429 (+ `Retry-After` when it refills) | (no challenge) | `usage_exceeded` | 8 |
//! | two credentials | 400 | `invalid_request` | `invalid_request` | 16 |
//! | validator backend failed or timed out | 503 | (no challenge) | `unavailable` | 14 |
//!
//! gRPC calls (`POST` with `content-type: application/grpc` or
//! `application/grpc+...`) get a trailers-only response: HTTP 200,
//! `grpc-status`, a percent-encoded `grpc-message`, no body; any other
//! request gets the HTTP form, whatever its content type (gRPC-Web is not
//! answered in gRPC form). `HEAD` requests get the headers without the body. Each rejection
//! carries its [`RejectionKind`] in the response extensions.
//!
//! # Where things are
//!
//! The crate root is the middleware and its contract: the layer, its
//! builder, service, future and response body, the [`TokenValidator`] hook,
//! the [`Principal`] it produces, and the everyday types. After a request is
//! admitted (token valid, scopes held), one crate-internal step may still
//! decide it (`src/gate.rs`: pass with response fields, refuse, or decide
//! later): a key's own policies (credits) and the layer's rate limit. The
//! rest is grouped by subsystem:
//!
//! - [`key_store`]: API keys: generation, the keys file, the in-memory store;
//! - [`key_policy`]: per-key address allowlists and usage credits, checked
//!   after the key matches (who the client is, through trusted proxies;
//!   what a request costs);
//! - [`scope`]: scope sets and policies, per route and per gRPC method;
//! - [`rejection`]: rejection causes, their HTTP and gRPC forms, body formats;
//! - [`axum`] and [`tonic`]: handler-side helpers (features of those names);
//! - `admin`: the admin API and the portal (feature `admin`);
//! - [`rate_limit`]: per-key rate limits (the layer: feature `rate-limit`);
//! - `jwt`: JWT access tokens, and keys and JWTs on one layer (feature `jwt`);
//! - `metrics`: requests by outcome, latency, per-key counts on the
//!   `metrics` facade (feature `metrics`).
//!
//! Each request a key makes is counted in the key's usage (per UTC day and
//! outcome, a few atomic operations in its record, `key_store::usage`) at
//! the one place the layer decides it (`observe.rs`); everything else
//! about a request (an access log, your own metrics) belongs in a layer
//! outside this one, reading the response's extensions.
//!
//! # Who was authenticated, seen from outside the layer
//!
//! Handlers read the principal from the request extensions. Layers outside
//! this one (an access log, metrics) can see who passed in two ways: with the
//! `tracing` feature, the principal's [`subject`](Principal::subject) (for a
//! key, its id; never the token) is recorded as the field `principal` of the
//! current span, for spans that declare that field; and with
//! [`BearerAuthBuilder::principal_in_response`], a clone of the principal is
//! put into the response extensions.
//!
//! # Panics in a validator
//!
//! A validator that panics never lets a request through: the panic unwinds
//! out of `call` (or the response future), so the inner service is not
//! called. What the client sees is up to the server: hyper drops the
//! connection (HTTP/1.1: the connection closes without a response; HTTP/2:
//! the stream is reset). To answer 500 instead, put tower-http's
//! `CatchPanicLayer` *outside* this layer.
//!
//! # Features
//!
//! | feature | default | brings |
//! |---|---|---|
//! | `key-store` | yes | [`KeyStore`], [`KeyGenerator`] (sha2, arc-swap, getrandom, zeroize) |
//! | `keys-file` | no | [`key_store::keys_file::KeysFile`]: JSON keys file load/save (serde, serde_json) |
//! | `axum` | no | the [`axum::Authenticated`] extractor (axum-core) |
//! | `tonic` | no | [`tonic::principal`] for handlers (tonic, no transport) |
//! | `tracing` | no | one event per rejection (tracing) |
//! | `timeout` | no | [`TimeoutValidator`] (tokio's timer) |
//! | `redis` | no | `key_store::redis::SharedKeyStore`: one key set for many replicas (redis, tokio) |
//! | `redis-tls` | no | `rediss://` URLs and `key_store::redis::RedisTls` (rustls with ring) |
//! | `postgres` | no | `key_store::postgres`: the same replica, its key set in Postgres (tokio-postgres, tokio) |
//! | `postgres-tls` | no | `sslmode=require`, `verify-ca`, `verify-full` for Postgres (rustls with ring) |
//! | `replica` | no | the backend-neutral replica `redis` and `postgres` share; nothing on its own |
//! | `admin` | no | `admin`: the admin API and the portal, an axum `Router` (axum, tokio) |
//! | `jwt` | no | `jwt::{JwtValidator, KeyOrJwt}`: JWT access tokens, static keys or JWKS (jsonwebtoken, hyper) |
//! | `rate-limit` | no | `rate_limit::{RateLimitLayer, RateLimiter}`: per-key GCRA limits, 429 |
//! | `secret-scanning` | no | `admin::GithubSecretScanning`: GitHub's leak reports revoke keys (p256, hyper, rustls) |
//! | `metrics` | no | `metrics::RequestMetrics`: requests by outcome, validation latency, per-key counts, store gauges on the `metrics` facade |

#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests.
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "tonic",
    feature = "key-store",
    feature = "redis",
    feature = "postgres",
    feature = "admin",
    feature = "rate-limit",
    feature = "jwt"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// First: the macros are visible to the modules declared after them.
#[macro_use]
mod macros;

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;
mod admission;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod body;
mod builder;
mod credentials;
mod error;
mod future;
mod gate;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub mod jwt;
pub mod key_policy;
#[cfg(feature = "key-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "key-store")))]
pub mod key_store;
mod layer;
#[cfg(feature = "tracing")]
mod log_limit;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
mod observe;
mod principal;
pub mod rate_limit;
pub mod rejection;
pub mod scope;
mod service;
#[cfg(feature = "timeout")]
#[cfg_attr(docsrs, doc(cfg(feature = "timeout")))]
pub mod timeout;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic;
mod validator;

#[doc(inline)]
pub use self::body::ResponseBody;
#[doc(inline)]
pub use self::builder::BearerAuthBuilder;
#[doc(inline)]
pub use self::error::ConfigError;
#[doc(inline)]
pub use self::future::ResponseFuture;
#[cfg(feature = "key-store")]
#[doc(inline)]
pub use self::key_store::{ApiKey, KeyEntry, KeyGenerator, KeyStore};
#[doc(inline)]
pub use self::layer::BearerAuthLayer;
#[doc(inline)]
pub use self::principal::{CredentialKind, Principal};
#[doc(inline)]
pub use self::rejection::RejectionKind;
#[doc(inline)]
pub use self::scope::{ScopeRequirement, ScopeSet};
#[doc(inline)]
pub use self::service::BearerAuth;
#[cfg(feature = "timeout")]
#[doc(inline)]
pub use self::timeout::TimeoutValidator;
#[doc(inline)]
pub use self::validator::{BoxError, TokenValidator, ValidationError, ValidationFailure};

/// The `Authorization` parser's own checks, for the `parse_authorization`
/// fuzz target; compiled only under `cfg(fuzzing)` (set by cargo-fuzz).
#[cfg(fuzzing)]
#[doc(hidden)]
pub use self::credentials::check_parse as fuzz_check_authorization;
