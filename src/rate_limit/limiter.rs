//! The limiter a rate-limit layer asks: which quota applies to a principal,
//! and the decision, from the local table or from Redis.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::HeaderValue;

use super::gcra::{Decision, Units};
use super::headers::{self, Policy};
use super::local::LocalLimiter;
use super::{Quota, RateLimited};

/// The default bound on keys tracked at once by the local table.
const DEFAULT_MAX_KEYS: usize = 1 << 20;

/// What the limiter decided for one request.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    /// The decision; `wait` in nanoseconds.
    pub(crate) decision: Decision,
    /// `RateLimit`, for every answer.
    pub(crate) state: HeaderValue,
    /// Which quota applied, for a 429's `RateLimit-Policy`.
    pub(crate) policy: Policy,
    /// The quota that applied.
    pub(crate) quota: Quota,
}

impl Verdict {
    /// `RateLimit-Policy`, for a 429.
    pub(crate) fn policy_value(&self) -> HeaderValue {
        headers::policy_value(self.policy, self.quota)
    }
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
/// - **Redis shares** ([`RateLimiterBuilder::redis_shares`]): each
///   replica takes a share of a key's quota from Redis in the background
///   and decides locally, with no round trip per request; across N
///   replicas a key may get up to N shares more than the exact limit (see
///   the [module docs](super#shares-no-round-trip-per-request)).
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
    default: Option<DefaultQuota>,
    local: Arc<LocalLimiter>,
    #[cfg(feature = "redis")]
    redis: Option<Redis>,
}

/// Where a Redis-shared limiter decides.
#[cfg(feature = "redis")]
enum Redis {
    /// One script per request.
    Exact(Arc<super::redis::ExactLimiter>),
    /// From shares taken in the background.
    Shares(Arc<super::redis::ShareLimiter>),
}

/// How a builder was told to use Redis.
#[cfg(feature = "redis")]
enum RedisMode {
    Exact,
    Shares(super::ShareSize),
}

/// The default quota, its units, and the `RateLimit` values of passing
/// answers (`r` below 512, `t` of 1 or 2 s; about 70 KB), computed once:
/// answers of keys with fewer than 512 requests left then format nothing.
struct DefaultQuota {
    quota: Quota,
    units: Units,
    states: Box<[HeaderValue]>,
}

/// `RateLimit` values kept per `t` (seconds, 1 to this).
const CACHED_T: u64 = 2;
/// `RateLimit` values kept per `r` (0 to this, excluded).
const CACHED_R: u32 = 512;

impl DefaultQuota {
    fn new(quota: Quota) -> Self {
        let states = (1..=CACHED_T)
            .flat_map(|t| {
                (0..CACHED_R).map(move |r| {
                    headers::state_value(
                        Policy::Default,
                        &Decision {
                            allowed: true,
                            remaining: r,
                            wait: t * 1_000_000_000,
                        },
                    )
                })
            })
            .collect();
        Self {
            quota,
            units: Units::nanos(quota),
            states,
        }
    }

    /// The `RateLimit` value of `decision`.
    fn state(&self, decision: &Decision) -> HeaderValue {
        let t = decision.wait.div_ceil(1_000_000_000);
        if decision.allowed && decision.remaining < CACHED_R && (1..=CACHED_T).contains(&t) {
            let index = (t - 1) * u64::from(CACHED_R) + u64::from(decision.remaining);
            if let Some(value) = usize::try_from(index).ok().and_then(|i| self.states.get(i)) {
                return value.clone();
            }
        }
        headers::state_value(Policy::Default, decision)
    }
}

/// Configures a [`RateLimiter`].
#[must_use]
pub struct RateLimiterBuilder {
    default: Option<Quota>,
    max_keys: usize,
    #[cfg(feature = "redis")]
    redis: Option<(crate::key_store::redis::LimiterHome, RedisMode)>,
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
        self.inner.default.as_ref().map(|default| default.quota)
    }

    /// How many keys the local table holds a state for now, and, in the
    /// share mode, the keys this replica holds a share entry for.
    #[must_use]
    pub fn tracked_keys(&self) -> usize {
        let local = self.inner.local.len();
        #[cfg(feature = "redis")]
        if let Some(Redis::Shares(shares)) = &self.inner.redis {
            return local + shares.tracked_keys();
        }
        local
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
        let own = principal.quota();
        let (quota, units) = match (own, &self.inner.default) {
            (Some(own), _) => (own, Units::nanos(own)),
            (None, Some(default)) => (default.quota, default.units),
            (None, None) => return Check::Unlimited,
        };
        #[cfg(feature = "redis")]
        match &self.inner.redis {
            Some(Redis::Exact(redis)) if redis.is_answering() => {
                let pending = Arc::clone(redis).check(principal.rate_limit_key().to_owned(), quota);
                return self.later(pending, own.is_some(), quota);
            }
            Some(Redis::Shares(shares)) => {
                match shares.check(
                    principal.rate_limit_hash(),
                    principal.rate_limit_key(),
                    quota,
                ) {
                    super::redis::ShareCheck::Now(decision) => {
                        return Check::Ready(self.verdict(decision, own.is_some(), quota));
                    }
                    super::redis::ShareCheck::Later(pending) => {
                        return self.later(pending, own.is_some(), quota);
                    }
                    super::redis::ShareCheck::Local => {}
                }
            }
            _ => {}
        }
        let decision = self.inner.local.check(principal.rate_limit_hash(), units);
        Check::Ready(self.verdict(decision, own.is_some(), quota))
    }

    /// The verdict once Redis has decided.
    #[cfg(feature = "redis")]
    fn later(
        &self,
        pending: impl Future<Output = Decision> + Send + 'static,
        own: bool,
        quota: Quota,
    ) -> Check {
        let this = self.clone();
        Check::Pending(Box::pin(async move {
            let decision = pending.await;
            this.verdict(decision, own, quota)
        }))
    }

    fn verdict(&self, decision: Decision, own: bool, quota: Quota) -> Verdict {
        let (policy, state) = match (&self.inner.default, own) {
            (Some(default), false) => (Policy::Default, default.state(&decision)),
            _ => (Policy::Key, headers::state_value(Policy::Key, &decision)),
        };
        Verdict {
            decision,
            state,
            policy,
            quota,
        }
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
        debug.field(
            "redis",
            &match self.inner.redis {
                None => "no",
                Some(Redis::Exact(_)) => "exact",
                Some(Redis::Shares(_)) => "shares",
            },
        );
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
    /// tag), so that every replica shares each key's quota. A store that
    /// another backend (Postgres) feeds has no Redis: the limiter then
    /// counts per replica, as without this call.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(mut self, store: &crate::key_store::redis::SharedKeyStore) -> Self {
        self.redis = store.redis_home().map(|home| (home, RedisMode::Exact));
        self
    }

    /// Shares each key's quota through the Redis of `store` without a round
    /// trip per request: each replica takes `size` of a key's quota at a
    /// time from Redis in the background (the same state [`Self::redis`]
    /// keeps, so the two modes may be mixed) and decides from what it
    /// holds. A request waits for Redis only when its replica holds nothing
    /// of the key's quota: its first request there, or one that outran the
    /// refill. The price is bounded over-admission: across N replicas a
    /// key gets at most what the exact limit admits plus N shares in any
    /// period (see the [module docs](super#shares-no-round-trip-per-request)).
    /// Like [`Self::redis`],
    /// a store another backend feeds counts per replica.
    ///
    /// ```no_run
    /// use tower_bearer_auth::key_store::redis::SharedKeyStore;
    /// use tower_bearer_auth::rate_limit::{Quota, RateLimiter, ShareSize};
    ///
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = SharedKeyStore::builder("redis://127.0.0.1/").start()?;
    /// let limiter = RateLimiter::builder()
    ///     .default_quota(Quota::new(1_000, 60)?)
    ///     .redis_shares(&store, ShareSize::fraction(20)) // 50 requests at a time
    ///     .build();
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_shares(
        mut self,
        store: &crate::key_store::redis::SharedKeyStore,
        size: super::ShareSize,
    ) -> Self {
        self.redis = store
            .redis_home()
            .map(|home| (home, RedisMode::Shares(size)));
        self
    }

    /// The limiter.
    #[must_use]
    pub fn build(self) -> RateLimiter {
        let local = Arc::new(LocalLimiter::new(self.max_keys));
        RateLimiter {
            inner: Arc::new(Inner {
                default: self.default.map(DefaultQuota::new),
                #[cfg(feature = "redis")]
                redis: self.redis.map(|(home, mode)| match mode {
                    RedisMode::Exact => {
                        Redis::Exact(Arc::new(super::redis::ExactLimiter::new(home, &local)))
                    }
                    RedisMode::Shares(size) => Redis::Shares(Arc::new(
                        super::redis::ShareLimiter::new(home, &local, size, self.max_keys),
                    )),
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
