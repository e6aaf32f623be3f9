//! The [`Service`] of the per-route scope check.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::RequireScopeFuture;
use crate::body::ResponseBody;
use crate::principal::Principal;
use crate::rejection::{self, Rejection, RejectionKind, RejectionRenderer};
use crate::scope::ScopePolicy;

/// Service of [`RequireScopeLayer`](super::RequireScopeLayer).
pub struct RequireScope<S, P, Pol> {
    inner: S,
    policy: Arc<Pol>,
    renderer: Arc<RejectionRenderer>,
    principal: PhantomData<fn() -> P>,
}

impl<S, P, Pol> RequireScope<S, P, Pol> {
    pub(super) fn new(inner: S, policy: Arc<Pol>, renderer: Arc<RejectionRenderer>) -> Self {
        Self {
            inner,
            policy,
            renderer,
            principal: PhantomData,
        }
    }

    define_inner_service_accessors!();
}

impl<S, P, Pol, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S, P, Pol>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    P: Principal,
    Pol: ScopePolicy<P>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = RequireScopeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let principal = parts.extensions.get::<P>();
        let decision = match principal {
            None => {
                rejection::missing_principal(std::any::type_name::<P>());
                Err(Rejection::new(RejectionKind::MissingCredentials))
            }
            Some(principal) => self
                .policy
                .authorize(&parts, principal)
                .map_err(Rejection::insufficient_scope),
        };
        match decision {
            Ok(()) => RequireScopeFuture::inner(self.inner.call(Request::from_parts(parts, body))),
            Err(refusal) => {
                if let Some(principal) = principal
                    && refusal.kind() == RejectionKind::InsufficientScope
                {
                    crate::observe::refused_after_passing(
                        &self.renderer,
                        principal,
                        RejectionKind::InsufficientScope,
                    );
                }
                let subject = principal.and_then(Principal::subject);
                let response = self.renderer.render(&refusal, &parts, None, subject);
                RequireScopeFuture::rejected(response)
            }
        }
    }
}

impl<S: Clone, P, Pol> Clone for RequireScope<S, P, Pol> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            policy: Arc::clone(&self.policy),
            renderer: Arc::clone(&self.renderer),
            principal: PhantomData,
        }
    }
}

impl<S: fmt::Debug, P, Pol: fmt::Debug> fmt::Debug for RequireScope<S, P, Pol> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}
