//! The JWT validator's log events, compiled away without `tracing`.

#[cfg(feature = "tracing")]
pub(super) fn jwks_fetched(keys: usize) {
    tracing::debug!(keys, "jwt: JWKS fetched");
}

#[cfg(not(feature = "tracing"))]
pub(super) fn jwks_fetched(_keys: usize) {}

#[cfg(feature = "tracing")]
pub(super) fn jwks_failed(problem: &str) {
    tracing::warn!(
        problem,
        "jwt: JWKS fetch failed; the keys fetched before stay in use until they are too old"
    );
}

#[cfg(not(feature = "tracing"))]
pub(super) fn jwks_failed(_problem: &str) {}
