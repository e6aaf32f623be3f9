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
//! says so in a warning at most once a minute. Exact is the default.
//!
//! ## Shares: no round trip per request
//!
//! With [`RateLimiterBuilder::redis_shares`], each replica takes a *share*
//! of a key's quota from Redis at a time ([`ShareSize`]: a tenth by
//! default), from the same GCRA state the exact limiter keeps (one script
//! call moves it on by the whole share), and decides from what it holds:
//! one shard lock, no await. When half the share is spent, a background
//! task takes the missing part; a request waits for Redis only when its
//! replica holds nothing of the key's quota (its first request there, or
//! after outrunning the refill). When Redis has nothing left, the replica
//! refuses locally until Redis said the next request fits, then asks again.
//!
//! **The bound.** A replica never holds more than one share of a key
//! (a take asks for what the share lacks, and only takes add to it). Every
//! request a replica admits was taken from Redis, where taking follows the
//! exact GCRA; so in any period, the requests N replicas admit for a key
//! are at most what the exact limiter admits in that period, plus what the
//! replicas held when it began: **at most N shares more**. That happens
//! when shares taken in one window are spent in the next, on top of a full
//! burst; with fresh shares a flood admits exactly what the exact limiter
//! would. The other way, up to N shares may sit unspent on replicas the
//! key's requests do not reach (it then gets less than its quota there);
//! a share idle for a whole window is forgotten when the table grows, and
//! what it held is not given back. `Retry-After` says when Redis will have
//! room, not that this replica's next take will win it. While Redis fails,
//! what a replica holds is spent, then its local counts decide, as in the
//! exact mode. Tested with 2 and 3 replicas flooding one key
//! (`tests/key_store/shared_rate_limit_shares.rs`).

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
pub(crate) mod redis;
#[cfg(feature = "rate-limit")]
mod report;
#[cfg(feature = "rate-limit")]
mod service;
#[cfg(feature = "rate-limit")]
mod subject;

pub use self::quota::{Quota, QuotaError};
#[cfg(all(feature = "rate-limit", feature = "redis"))]
pub use self::redis::ShareSize;
#[cfg(feature = "rate-limit")]
pub use self::{
    future::RateLimitFuture,
    layer::RateLimitLayer,
    limiter::{RateLimiter, RateLimiterBuilder},
    service::RateLimit,
    subject::RateLimited,
};
