//! The rate-limit service: reads the principal, asks the limiter, and
//! either calls the inner service (then adds `RateLimit` fields to its
//! response) or answers 429 itself.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::layer::Shared;
use super::limiter::Check;
use super::{RateLimitFuture, RateLimited};
use crate::body::ResponseBody;
use crate::rejection::{Rejection, RejectionKind};

/// The service made by [`RateLimitLayer`](super::RateLimitLayer).
pub struct RateLimit<S, P> {
    inner: S,
    shared: Arc<Shared>,
    principal: PhantomData<fn() -> P>,
}

impl<S, P> RateLimit<S, P> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self {
            inner,
            shared,
            principal: PhantomData,
        }
    }

    define_inner_service_accessors!();
}

impl<S, P, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S, P>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    P: RateLimited,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = RateLimitFuture<S, ReqBody, P>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // Decide on the borrowed request: the passing path moves nothing.
        let check = match request.extensions().get::<P>() {
            Some(principal) => self.shared.limiter.check(principal),
            None => {
                super::report::missing_principal(std::any::type_name::<P>());
                let (parts, _) = request.into_parts();
                let rejection = Rejection::new(RejectionKind::MissingCredentials);
                let response = self.shared.renderer.render(&rejection, &parts, None, None);
                return RateLimitFuture::rejected(response);
            }
        };
        match check {
            Check::Unlimited => RateLimitFuture::inner(self.inner.call(request), None),
            Check::Ready(verdict) if verdict.decision.allowed => {
                RateLimitFuture::inner(self.inner.call(request), Some(verdict))
            }
            Check::Ready(verdict) => {
                let (parts, _) = request.into_parts();
                let principal = parts.extensions.get::<P>();
                let response =
                    super::future::refusal(&self.shared.renderer, &parts, principal, verdict);
                RateLimitFuture::rejected(response)
            }
            Check::Pending(pending) => {
                // The service made ready is the one that will be called,
                // inside the future; a clone takes its place here.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                RateLimitFuture::waiting(pending, ready, request, Arc::clone(&self.shared.renderer))
            }
        }
    }
}

impl<S: Clone, P> Clone for RateLimit<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            principal: PhantomData,
        }
    }
}

impl<S: fmt::Debug, P> fmt::Debug for RateLimit<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("limiter", &self.shared.limiter)
            .finish_non_exhaustive()
    }
}
