//! The rate limiter's log events, compiled away without `tracing`.

/// The local table is full: new keys pass untracked (logged at most once a
/// minute).
#[cfg(feature = "tracing")]
pub(super) fn table_full(untracked: u64) {
    tracing::warn!(
        untracked,
        "rate limiter: the local table is full; requests of keys it cannot track pass unlimited"
    );
}

#[cfg(not(feature = "tracing"))]
pub(super) fn table_full(_untracked: u64) {}

/// Redis failed: the limiter counts locally for a while (logged at most
/// once per fallback interval).
#[cfg(all(feature = "tracing", feature = "redis"))]
pub(super) fn redis_fallback(problem: &str) {
    tracing::warn!(
        problem,
        "rate limiter: Redis failed; limiting per replica (local counts) until it answers again"
    );
}

#[cfg(all(not(feature = "tracing"), feature = "redis"))]
pub(super) fn redis_fallback(_problem: &str) {}

/// Redis answers again.
#[cfg(all(feature = "tracing", feature = "redis"))]
pub(super) fn redis_back() {
    tracing::info!("rate limiter: Redis answers again; limits are shared by every replica");
}

#[cfg(all(not(feature = "tracing"), feature = "redis"))]
pub(super) fn redis_back() {}

/// A request without the principal the layer counts (the layer is outside
/// `BearerAuthLayer`, or the principal type differs).
#[cfg(feature = "tracing")]
pub(super) fn missing_principal(type_name: &str) {
    tracing::error!(
        principal = type_name,
        "rate limiter: no authenticated principal in the request; put RateLimitLayer inside BearerAuthLayer"
    );
}

#[cfg(not(feature = "tracing"))]
pub(super) fn missing_principal(_type_name: &str) {}
