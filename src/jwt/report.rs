//! The JWT validator's log events, compiled away without `tracing`.

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn jwks_fetched(keys: usize) {
    trace_event!(debug!(keys, "jwt: JWKS fetched"));
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn jwks_failed(problem: &str) {
    trace_event!(warn!(
        problem,
        "jwt: JWKS fetch failed; the keys fetched before stay in use until they are too old"
    ));
}
