//! How much of a key's quota a replica takes from Redis at a time.

/// How much of a key's quota each replica takes from Redis at a time in
/// the share mode ([`RateLimiterBuilder::redis_shares`](super::super::RateLimiterBuilder::redis_shares)):
/// a fraction of the quota (rounded up) or a number of requests, at least
/// 1 and at most the quota.
///
/// The share is the trade: a larger share means fewer trips to Redis (one
/// per half a share of a key's requests on a replica) and a larger bound on
/// over-admission (each replica may spend up to one share it took before
/// the current window: N replicas, N shares).
///
/// ```
/// use tower_bearer_auth::rate_limit::{Quota, ShareSize};
///
/// let quota = Quota::new(100, 60)?;
/// assert_eq!(ShareSize::fraction(10).of(quota), 10);
/// assert_eq!(ShareSize::fraction(1_000).of(quota), 1);
/// assert_eq!(ShareSize::requests(500).of(quota), 100);
/// assert_eq!(ShareSize::default(), ShareSize::fraction(10));
/// # Ok::<(), tower_bearer_auth::rate_limit::QuotaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShareSize(Size);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Size {
    Fraction(u32),
    Requests(u32),
}

impl ShareSize {
    /// `1 / parts` of the quota's requests, rounded up (0 is taken as 1).
    #[must_use]
    pub const fn fraction(parts: u32) -> Self {
        Self(Size::Fraction(if parts == 0 { 1 } else { parts }))
    }

    /// `requests` at a time (0 is taken as 1; more than the quota as the
    /// quota).
    #[must_use]
    pub const fn requests(requests: u32) -> Self {
        Self(Size::Requests(if requests == 0 { 1 } else { requests }))
    }

    /// The share of `quota`, in requests: 1 to `quota.requests()`.
    #[must_use]
    pub fn of(self, quota: super::super::Quota) -> u32 {
        let requests = quota.requests();
        match self.0 {
            Size::Fraction(parts) => requests.div_ceil(parts),
            Size::Requests(n) => n.min(requests),
        }
    }
}

impl Default for ShareSize {
    /// A tenth of the quota.
    fn default() -> Self {
        Self::fraction(10)
    }
}
