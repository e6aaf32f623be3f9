//! The [`Layer`] that adds bearer authentication to a service.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::builder::BearerAuthBuilder;
use crate::credentials::CredentialRules;
use crate::rejection_renderer::RejectionRenderer;
use crate::require_scope::RequireScopeLayer;
use crate::scope_policy::AuthenticatedOnly;
use crate::service::BearerAuth;
use crate::settings::Settings;
use crate::validator::TokenValidator;

/// Authenticates every request with a bearer token before it reaches the
/// inner service.
///
/// One layer serves REST and gRPC: requests whose `content-type` starts with
/// `application/grpc` are refused in the gRPC form (`grpc-status` 16, 7 or
/// 14), all others with an RFC 6750 challenge and a JSON body.
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
pub struct BearerAuthLayer<V, P = AuthenticatedOnly> {
    validator: V,
    settings: Arc<Settings<P>>,
}

impl<V> BearerAuthLayer<V> {
    /// A layer with the defaults: realm `api`, the `Authorization` header
    /// only, tokens up to 4096 bytes, any valid token accepted everywhere,
    /// JSON rejection bodies.
    pub fn new(validator: V) -> Self {
        Self::from_parts(
            validator,
            Settings {
                policy: AuthenticatedOnly,
                credentials: CredentialRules::default(),
                renderer: Arc::new(RejectionRenderer::default_realm()),
            },
        )
    }

    /// Starts configuring a layer.
    pub fn builder(validator: V) -> BearerAuthBuilder<V> {
        BearerAuthBuilder::new(validator)
    }
}

impl<V, P> BearerAuthLayer<V, P> {
    pub(crate) fn from_parts(validator: V, settings: Settings<P>) -> Self {
        Self {
            validator,
            settings: Arc::new(settings),
        }
    }

    /// The validator.
    pub fn validator(&self) -> &V {
        &self.validator
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
    pub fn require_scope<Pol>(&self, policy: Pol) -> RequireScopeLayer<V::Principal, Pol>
    where
        V: TokenValidator,
    {
        RequireScopeLayer::new(policy, Arc::clone(&self.settings.renderer))
    }
}

impl<V: Clone, P> Clone for BearerAuthLayer<V, P> {
    fn clone(&self) -> Self {
        Self {
            validator: self.validator.clone(),
            settings: Arc::clone(&self.settings),
        }
    }
}

impl<V: fmt::Debug, P: fmt::Debug> fmt::Debug for BearerAuthLayer<V, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("validator", &self.validator)
            .field("settings", &self.settings)
            .finish()
    }
}

impl<S, V: Clone, P> Layer<S> for BearerAuthLayer<V, P> {
    type Service = BearerAuth<S, V, P>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth::new(inner, self.validator.clone(), Arc::clone(&self.settings))
    }
}
