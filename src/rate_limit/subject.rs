//! Which principals the rate-limit layer can count, and what quota each has.

use super::Quota;
use crate::Principal;

/// A principal the rate-limit layer counts requests for: the key it counts
/// under, and its own quota if it has one (else the layer's default
/// applies, else it is not limited).
///
/// Implemented for [`ApiKey`](crate::ApiKey) (its id, and the
/// `rate_limit` of its record). For another principal, a few lines:
///
/// ```
/// use tower_bearer_auth::Principal;
/// use tower_bearer_auth::rate_limit::{Quota, RateLimited};
///
/// #[derive(Clone)]
/// struct Tenant { id: String, plan_per_minute: u32 }
///
/// impl Principal for Tenant {
///     fn has_scope(&self, _: &str) -> bool { true }
///     fn subject(&self) -> Option<&str> { Some(&self.id) }
/// }
///
/// impl RateLimited for Tenant {
///     fn rate_limit_key(&self) -> &str { &self.id }
///     fn quota(&self) -> Option<Quota> { Quota::new(self.plan_per_minute, 60).ok() }
/// }
/// ```
pub trait RateLimited: Principal {
    /// What requests are counted under: one quota per value, shared by
    /// every route and protocol the layer guards. Not a secret (it names
    /// keys in Redis and in logs).
    fn rate_limit_key(&self) -> &str;

    /// This principal's own quota; `None` (the default) leaves it to the
    /// layer's default.
    fn quota(&self) -> Option<Quota> {
        None
    }

    /// The local limiter's 64-bit name for [`rate_limit_key`](Self::rate_limit_key):
    /// by default its fingerprint (64-bit FNV-1a, then a mixer). An API key
    /// answers with its digest's first 8 bytes, already uniform, so that it
    /// is not hashed on every request. Override it only to forward it (a
    /// principal wrapping another, as `jwt::Caller` does): two principals
    /// with one `rate_limit_key` must answer the same value, or they count
    /// in two buckets.
    fn rate_limit_hash(&self) -> u64 {
        super::local::fingerprint(self.rate_limit_key())
    }
}

/// A key counts under its own id, or, without a quota of its own, under
/// its owner's bucket (`@<owner>`, shared by the owner's keys) when the
/// owner has a rate limit.
#[cfg(feature = "key-store")]
impl RateLimited for crate::ApiKey {
    fn rate_limit_key(&self) -> &str {
        self.owner_quota()
            .map_or_else(|| self.id(), |(bucket, _)| bucket)
    }

    fn quota(&self) -> Option<Quota> {
        self.rate_limit()
            .or_else(|| self.owner_quota().map(|(_, quota)| quota))
    }

    fn rate_limit_hash(&self) -> u64 {
        match self.owner_quota() {
            Some((bucket, _)) => super::local::fingerprint(bucket),
            None => self.0.digest.prefix_u64(),
        }
    }
}
