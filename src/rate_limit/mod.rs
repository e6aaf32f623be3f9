//! Per-key rate limits (feature `rate-limit`): a [`RateLimiter`] given to
//! [`BearerAuthLayer`](crate::BearerAuthLayer) itself
//! ([`BearerAuthBuilder::rate_limiter`](crate::BearerAuthBuilder::rate_limiter)),
//! or a separate [`RateLimitLayer`] inside it; the same quotas and answers
//! either way. The [`Quota`] a key's record may carry exists always.
//!
//! ```
//! use tower_bearer_auth::rate_limit::{Quota, RateLimiter};
//! use tower_bearer_auth::{BearerAuthLayer, KeyStore};
//!
//! let limiter = RateLimiter::builder().default_quota(Quota::new(100, 60)?).build();
//! let auth = BearerAuthLayer::builder(KeyStore::new())
//!     .rate_limiter(limiter.clone())
//!     .build()?;
//! // Or, as a layer of its own inside a layer without a limiter:
//! let plain = BearerAuthLayer::new(KeyStore::new());
//! let rate_limit = plain.rate_limit(limiter);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What it does
//!
//! The algorithm is GCRA (the generic cell rate algorithm): a quota of
//! `requests` per `per_seconds` lets a key send up to `requests` at once,
//! then one request per `per_seconds / requests`. The quota is the key's own
//! (`"rate_limit": {"requests": 100, "per_seconds": 60}` in its record: keys
//! file, Redis, admin API), else the limiter's default, else none (not
//! limited). One limiter gives each key one quota across every layer it is
//! given to (REST and gRPC).
//!
//! A request over the quota gets 429 `rate_limited` (gRPC 8
//! `RESOURCE_EXHAUSTED`, trailers-only) with `Retry-After` in whole seconds,
//! rounded up, so that a retry at that time passes, and both fields of
//! draft-ietf-httpapi-ratelimit-headers-10:
//!
//! ```text
//! RateLimit-Policy: "default";q=100;w=60
//! RateLimit: "default";r=0;t=12
//! ```
//!
//! Answers that pass carry `RateLimit` (`"key"` instead of `"default"` when
//! the key's own quota applied; `r`: requests left now; `t`: seconds until
//! more quota is available). A
//! [`TokenValidator`](crate::TokenValidator) backed by a remote service can
//! refuse for the same reason with
//! [`ValidationError::rate_limited`](crate::ValidationError::rate_limited).
//!
//! # Backends
//!
//! The local limiter keeps 8 bytes of state per key that is inside its
//! window, in 64 sharded tables; idle keys are dropped (exactly: a GCRA
//! state whose window has passed answers like no state), and at most
//! `max_keys` are tracked. With Redis
//! ([`RateLimiterBuilder::redis`], feature `redis`), one Lua script per
//! request decides on Redis's clock, so the limit is exact across replicas;
//! when Redis fails, each replica decides with its local counts for a
//! second at a time (a key may then get up to one quota per replica), and
//! says so in a warning at most once a minute.

#[cfg(feature = "rate-limit")]
mod future;
#[cfg(feature = "rate-limit")]
pub(crate) mod gate;
#[cfg(feature = "rate-limit")]
mod gcra;
#[cfg(feature = "rate-limit")]
mod headers;
#[cfg(feature = "rate-limit")]
mod layer;
#[cfg(feature = "rate-limit")]
pub(crate) mod limiter;
#[cfg(feature = "rate-limit")]
mod local;
mod quota;
#[cfg(all(feature = "rate-limit", feature = "redis"))]
mod redis;
#[cfg(feature = "rate-limit")]
mod report;
#[cfg(feature = "rate-limit")]
mod service;
#[cfg(feature = "rate-limit")]
mod subject;

pub use self::quota::{Quota, QuotaError};
#[cfg(feature = "rate-limit")]
pub use self::{
    future::RateLimitFuture,
    layer::RateLimitLayer,
    limiter::{RateLimiter, RateLimiterBuilder},
    service::RateLimit,
    subject::RateLimited,
};
