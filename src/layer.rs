//! The [`Layer`] that adds bearer authentication to a service.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::admission::Admission;
use crate::builder::BearerAuthBuilder;
use crate::scope::{AuthenticatedOnly, RequireScopeLayer};
use crate::service::BearerAuth;
use crate::validator::TokenValidator;

/// Authenticates every request with a bearer token before it reaches the
/// inner service.
///
/// One layer serves REST and gRPC: gRPC calls (`POST` with a `content-type`
/// of `application/grpc` or `application/grpc+...`) are refused in the gRPC
/// form (`grpc-status` 16, 7 or 14), all other requests with an RFC 6750
/// challenge and a JSON body.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_bearer_auth::{ApiKey, BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore};
///
/// let store = KeyStore::new();
/// let key = KeyGenerator::new().generate()?;
/// store.insert(KeyEntry::new(key.id(), "Staging Server", key.digest()))?;
/// println!("your key (shown once): {}", key.token().expose());
///
/// let app: Router = Router::new()
///     .route("/v1/profile", get(|key: axum::Extension<ApiKey>| async move { key.label().to_owned() }))
///     .layer(BearerAuthLayer::new(store));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct BearerAuthLayer<V: TokenValidator, Pol = AuthenticatedOnly> {
    admission: Arc<Admission<V, Pol>>,
}

impl<V: TokenValidator> BearerAuthLayer<V> {
    /// A layer with the [defaults](BearerAuthBuilder): realm `api`, the
    /// `Authorization` header only, tokens up to 4096 bytes, any valid token
    /// accepted everywhere, JSON rejection bodies.
    pub fn new(validator: V) -> Self {
        BearerAuthBuilder::new(validator).assemble()
    }

    /// Starts configuring a layer.
    pub fn builder(validator: V) -> BearerAuthBuilder<V> {
        BearerAuthBuilder::new(validator)
    }
}

impl<V: TokenValidator, Pol> BearerAuthLayer<V, Pol> {
    pub(crate) fn from_admission(admission: Admission<V, Pol>) -> Self {
        Self {
            admission: Arc::new(admission),
        }
    }

    /// The validator.
    pub fn validator(&self) -> &V {
        &self.admission.validator
    }

    /// A per-route scope check that shares this layer's realm and body
    /// format, for `axum::Router::route_layer` (or any inner tower stack).
    /// It reads the principal this layer inserted; without one it answers
    /// 401, so a route mounted outside the layer fails closed.
    ///
    /// ```
    /// use axum::{Router, routing::post};
    /// use tower_bearer_auth::{BearerAuthLayer, KeyStore, ScopeRequirement};
    ///
    /// let auth = BearerAuthLayer::new(KeyStore::new());
    /// let app: Router = Router::new()
    ///     .route(
    ///         "/v1/calls",
    ///         post(|| async { "placed" })
    ///             .route_layer(auth.require_scope(ScopeRequirement::all(["calls:write"])?)),
    ///     )
    ///     .layer(auth);
    /// # Ok::<(), tower_bearer_auth::ConfigError>(())
    /// ```
    pub fn require_scope<RoutePol>(
        &self,
        policy: RoutePol,
    ) -> RequireScopeLayer<V::Principal, RoutePol>
    where
        V: TokenValidator,
    {
        RequireScopeLayer::new(policy, Arc::clone(&self.admission.renderer))
    }

    /// A [`RateLimitLayer`](crate::rate_limit::RateLimitLayer) for this
    /// layer's principals, answering 429s in this layer's body format. Put
    /// it *inside* this layer (it counts the authenticated principal); give
    /// the same `limiter` to every layer that should share the quotas. To
    /// limit every request this layer admits, giving the limiter to the
    /// layer itself is cheaper (one service and one future per request
    /// instead of two): [`BearerAuthBuilder::rate_limiter`](crate::BearerAuthBuilder::rate_limiter).
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use tower::ServiceBuilder;
    /// use tower_bearer_auth::rate_limit::{Quota, RateLimiter};
    /// use tower_bearer_auth::{BearerAuthLayer, KeyStore};
    ///
    /// let auth = BearerAuthLayer::new(KeyStore::new());
    /// let limiter = RateLimiter::builder().default_quota(Quota::new(100, 60)?).build();
    /// // One `Router::layer` call for both: each call adds a boxed service
    /// // that axum clones for every request.
    /// let app: Router = Router::new()
    ///     .route("/v1/profile", get(|| async { "ok" }))
    ///     .layer(ServiceBuilder::new().layer(auth.clone()).layer(auth.rate_limit(limiter)));
    /// # Ok::<(), tower_bearer_auth::rate_limit::QuotaError>(())
    /// ```
    #[cfg(feature = "rate-limit")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rate-limit")))]
    pub fn rate_limit(
        &self,
        limiter: crate::rate_limit::RateLimiter,
    ) -> crate::rate_limit::RateLimitLayer<V::Principal>
    where
        V: TokenValidator,
    {
        crate::rate_limit::RateLimitLayer::with_renderer(
            limiter,
            Arc::clone(&self.admission.renderer),
        )
    }
}

impl<V: TokenValidator, Pol> Clone for BearerAuthLayer<V, Pol> {
    fn clone(&self) -> Self {
        Self {
            admission: Arc::clone(&self.admission),
        }
    }
}

impl<V: TokenValidator + fmt::Debug, Pol: fmt::Debug> fmt::Debug for BearerAuthLayer<V, Pol> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("admission", &self.admission)
            .finish()
    }
}

impl<S, V: TokenValidator, Pol> Layer<S> for BearerAuthLayer<V, Pol> {
    type Service = BearerAuth<S, V, Pol>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth::new(inner, Arc::clone(&self.admission))
    }
}
