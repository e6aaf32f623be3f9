//! The limiter a rate-limit layer asks: which quota applies to a principal,
//! and the decision, from the local table or from Redis.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::HeaderValue;

use super::gcra::{Decision, Units};
use super::headers::{self, Policy};
use super::local::{LocalLimiter, fingerprint};
use super::{Quota, RateLimited};

/// The default bound on keys tracked at once by the local table.
const DEFAULT_MAX_KEYS: usize = 1 << 20;

/// What the limiter decided for one request.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    /// The decision; `wait` in nanoseconds.
    pub(crate) decision: Decision,
    /// `RateLimit-Policy`.
    pub(crate) policy: HeaderValue,
    /// `RateLimit`.
    pub(crate) state: HeaderValue,
}

/// A future verdict (Redis).
pub(crate) type PendingVerdict = Pin<Box<dyn Future<Output = Verdict> + Send>>;

/// How a check goes.
pub(crate) enum Check {
    /// No quota applies: not limited.
    Unlimited,
    /// Decided at once (the local table).
    Ready(Verdict),
    /// Decided by Redis.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Pending(PendingVerdict),
}

/// Counts requests per key and decides which may pass: GCRA with a burst of
/// the quota's requests. Cheap to clone (one `Arc`); clones share their
/// counts, so one limiter given to the REST and the gRPC layers gives each
/// key one quota for both.
///
/// - **Local** (the default): per process, in memory; a key's state is 8
///   bytes, kept while the key is inside its window and at most `max_keys`
///   keys at once (about 36 MB for 1,000,000 keys; beyond the bound, new keys
///   pass untracked and a warning is logged once a minute).
/// - **Redis** ([`RateLimiterBuilder::redis`], feature `redis`): exact
///   across replicas, one Lua script per request next to the shared key
///   set; while Redis fails, each replica limits with its local counts
///   (so a key may get up to one quota per replica) and says so in a warning.
///
/// ```
/// use tower_bearer_auth::rate_limit::{Quota, RateLimiter};
///
/// let limiter = RateLimiter::builder()
///     .default_quota(Quota::new(100, 60)?)
///     .build();
/// # Ok::<(), tower_bearer_auth::rate_limit::QuotaError>(())
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    default: Option<(Quota, HeaderValue)>,
    local: Arc<LocalLimiter>,
    #[cfg(feature = "redis")]
    redis: Option<Arc<super::redis::RedisLimiter>>,
}

/// Configures a [`RateLimiter`].
#[must_use]
pub struct RateLimiterBuilder {
    default: Option<Quota>,
    max_keys: usize,
    #[cfg(feature = "redis")]
    redis: Option<(redis::Client, String)>,
}

impl RateLimiter {
    /// A local limiter with no default quota: only keys with a quota of
    /// their own are limited.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts configuring a limiter.
    pub fn builder() -> RateLimiterBuilder {
        RateLimiterBuilder {
            default: None,
            max_keys: DEFAULT_MAX_KEYS,
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// The quota of keys without one of their own.
    #[must_use]
    pub fn default_quota(&self) -> Option<Quota> {
        self.inner.default.as_ref().map(|(quota, _)| *quota)
    }

    /// How many keys the local table holds a state for now.
    #[must_use]
    pub fn tracked_keys(&self) -> usize {
        self.inner.local.len()
    }

    /// The bytes the local table has allocated for its states now.
    #[must_use]
    pub fn table_bytes(&self) -> usize {
        self.inner.local.table_bytes()
    }

    /// Requests that passed untracked because the local table was full
    /// (see [`RateLimiterBuilder::max_keys`]).
    #[must_use]
    pub fn untracked_requests(&self) -> u64 {
        self.inner.local.untracked()
    }

    /// Decides a request of `principal`.
    pub(crate) fn check<P: RateLimited>(&self, principal: &P) -> Check {
        let (quota, policy, policy_value) = match (principal.quota(), &self.inner.default) {
            (Some(own), _) => (own, Policy::Key, headers::policy_value(Policy::Key, own)),
            (None, Some((default, value))) => (*default, Policy::Default, value.clone()),
            (None, None) => return Check::Unlimited,
        };
        let key = principal.rate_limit_key();
        #[cfg(feature = "redis")]
        if let Some(redis) = self.inner.redis.as_ref().filter(|r| r.is_answering()) {
            let pending = Arc::clone(redis).check(key.to_owned(), quota);
            return Check::Pending(Box::pin(async move {
                let decision = pending.await;
                verdict(decision, policy, policy_value)
            }));
        }
        let decision = self
            .inner
            .local
            .check(fingerprint(key), Units::nanos(quota));
        Check::Ready(verdict(decision, policy, policy_value))
    }
}

fn verdict(decision: Decision, policy: Policy, policy_value: HeaderValue) -> Verdict {
    Verdict {
        state: headers::state_value(policy, &decision),
        policy: policy_value,
        decision,
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RateLimiter");
        debug.field("default_quota", &self.default_quota());
        #[cfg(feature = "redis")]
        debug.field("redis", &self.inner.redis.is_some());
        debug.finish_non_exhaustive()
    }
}

impl RateLimiterBuilder {
    /// The quota of keys without one of their own (default: none, they are
    /// not limited).
    pub fn default_quota(mut self, quota: Quota) -> Self {
        self.default = Some(quota);
        self
    }

    /// At most this many keys tracked at once by the local table (default
    /// 1,048,576). Idle keys do not count: a key whose window has passed
    /// since its last request is forgotten without changing any answer.
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys.max(1);
        self
    }

    /// Counts in the Redis of `store`, next to its key set (same hash
    /// tag), so that every replica shares each key's quota.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(mut self, store: &crate::key_store::SharedKeyStore) -> Self {
        self.redis = Some(store.redis_home());
        self
    }

    /// The limiter.
    #[must_use]
    pub fn build(self) -> RateLimiter {
        let local = Arc::new(LocalLimiter::new(self.max_keys));
        RateLimiter {
            inner: Arc::new(Inner {
                default: self
                    .default
                    .map(|quota| (quota, headers::policy_value(Policy::Default, quota))),
                #[cfg(feature = "redis")]
                redis: self.redis.map(|(client, tag)| {
                    Arc::new(super::redis::RedisLimiter::new(client, &tag, &local))
                }),
                local,
            }),
        }
    }
}

impl fmt::Debug for RateLimiterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiterBuilder")
            .field("default", &self.default)
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}
