//! The rate limiter's log events, compiled away without `tracing`.

/// The local table is full: new keys pass untracked (logged at most once a
/// minute).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn table_full(untracked: u64) {
    trace_event!(warn!(
        untracked,
        "rate limiter: the local table is full; requests of keys it cannot track pass unlimited"
    ));
}

/// Redis failed: the limiter counts locally for a while (logged at most
/// once per fallback interval).
#[cfg(feature = "redis")]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn redis_fallback(problem: &str) {
    trace_event!(warn!(
        problem,
        "rate limiter: Redis failed; limiting per replica (local counts) until it answers again"
    ));
}

/// Redis refused the rate-limit script (a permission: the user's ACL lacks
/// what the script needs): limits count per replica until it is fixed.
#[cfg(feature = "redis")]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn redis_refused(problem: &str) {
    trace_event!(error!(
        problem,
        "rate limiter: Redis refuses the rate-limit script (ACL); limiting per replica, not shared, until the user may run it (see SECURITY.md, ACL users)"
    ));
}

/// Redis answers again.
#[cfg(feature = "redis")]
pub(super) fn redis_back() {
    trace_event!(info!(
        "rate limiter: Redis answers again; limits are shared by every replica"
    ));
}

/// A request without the principal the layer counts (the layer is outside
/// `BearerAuthLayer`, or the principal type differs).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn missing_principal(type_name: &str) {
    trace_event!(error!(
        principal = type_name,
        "rate limiter: no authenticated principal in the request; put RateLimitLayer inside BearerAuthLayer"
    ));
}
