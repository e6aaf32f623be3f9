//! The rate-limit layer: which limiter, and how refusals look.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use super::{RateLimit, RateLimiter};
use crate::rejection::RejectionRenderer;

/// Limits the rate of each authenticated principal `P` with a
/// [`RateLimiter`]. Goes *inside* [`BearerAuthLayer`](crate::BearerAuthLayer)
/// (it reads the principal the layer put in the request); build it with
/// [`BearerAuthLayer::rate_limit`](crate::BearerAuthLayer::rate_limit) so
/// that its 429s have the layer's body format.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_bearer_auth::rate_limit::{Quota, RateLimiter};
/// use tower_bearer_auth::{BearerAuthLayer, KeyStore};
///
/// let store = KeyStore::new();
/// let auth = BearerAuthLayer::new(store);
/// let limiter = RateLimiter::builder().default_quota(Quota::new(100, 60)?).build();
/// let app: Router = Router::new()
///     .route("/v1/profile", get(|| async { "ok" }))
///     .layer(auth.rate_limit(limiter)) // inner: runs after authentication
///     .layer(auth);
/// # Ok::<(), tower_bearer_auth::rate_limit::QuotaError>(())
/// ```
#[must_use]
pub struct RateLimitLayer<P> {
    shared: Arc<Shared>,
    principal: PhantomData<fn() -> P>,
}

/// What every service of a layer shares, behind one `Arc` (axum clones a
/// route's service for every request: one reference count, not two).
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) limiter: RateLimiter,
    pub(super) renderer: Arc<RejectionRenderer>,
}

impl<P> RateLimitLayer<P> {
    /// The layer with `limiter`, answering 429s in JSON without a realm
    /// (prefer [`BearerAuthLayer::rate_limit`](crate::BearerAuthLayer::rate_limit)).
    pub fn new(limiter: RateLimiter) -> Self {
        Self::with_renderer(limiter, Arc::new(RejectionRenderer::without_realm()))
    }

    pub(crate) fn with_renderer(limiter: RateLimiter, renderer: Arc<RejectionRenderer>) -> Self {
        Self {
            shared: Arc::new(Shared { limiter, renderer }),
            principal: PhantomData,
        }
    }

    /// The limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.shared.limiter
    }
}

impl<P> Clone for RateLimitLayer<P> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            principal: PhantomData,
        }
    }
}

impl<P> fmt::Debug for RateLimitLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("limiter", &self.shared.limiter)
            .field("principal", &std::any::type_name::<P>())
            .finish_non_exhaustive()
    }
}

impl<S, P> Layer<S> for RateLimitLayer<P> {
    type Service = RateLimit<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, Arc::clone(&self.shared))
    }
}
