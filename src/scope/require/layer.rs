//! The [`Layer`] of the per-route scope check.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use super::RequireScope;
use crate::rejection::RejectionRenderer;

/// Checks the scopes of the principal that an outer
/// [`BearerAuthLayer`](crate::BearerAuthLayer) authenticated; made by
/// [`BearerAuthLayer::require_scope`](crate::BearerAuthLayer::require_scope).
///
/// It reads the principal `P` from the request extensions and asks the
/// [`ScopePolicy`](crate::scope::ScopePolicy) `Pol`.
#[must_use]
pub struct RequireScopeLayer<P, Pol> {
    policy: Arc<Pol>,
    renderer: Arc<RejectionRenderer>,
    principal: PhantomData<fn() -> P>,
}

impl<P, Pol> RequireScopeLayer<P, Pol> {
    pub(crate) fn new(policy: Pol, renderer: Arc<RejectionRenderer>) -> Self {
        Self {
            policy: Arc::new(policy),
            renderer,
            principal: PhantomData,
        }
    }
}

impl<P, Pol> Clone for RequireScopeLayer<P, Pol> {
    fn clone(&self) -> Self {
        Self {
            policy: Arc::clone(&self.policy),
            renderer: Arc::clone(&self.renderer),
            principal: PhantomData,
        }
    }
}

impl<P, Pol: fmt::Debug> fmt::Debug for RequireScopeLayer<P, Pol> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopeLayer")
            .field("policy", &self.policy)
            .field("principal", &std::any::type_name::<P>())
            .finish_non_exhaustive()
    }
}

impl<S, P, Pol> Layer<S> for RequireScopeLayer<P, Pol> {
    type Service = RequireScope<S, P, Pol>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope::new(inner, Arc::clone(&self.policy), Arc::clone(&self.renderer))
    }
}
