//! The [`Service`] that authenticates each request.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use tower_service::Service;

use crate::body::AuthBody;
use crate::future::{Admission, ResponseFuture};
use crate::rejection::Rejection;
use crate::scope_policy::{AuthenticatedOnly, ScopePolicy};
use crate::settings::Settings;
use crate::validator::TokenValidator;

/// Middleware that authenticates requests with a bearer token; see
/// [`BearerAuthLayer`](crate::BearerAuthLayer).
///
/// Rejections are responses, never errors: `Error` is the inner service's.
/// The inner service is called only for requests that pass, and it is the
/// instance that was polled ready.
///
/// The validator's future is polled once inside `call`; when it is ready
/// at once (the key store, or any `std::future::Ready`), the request is
/// decided there and the inner service called directly, with no clone of
/// it and no state kept. Otherwise the ready inner service moves into the
/// response future, which finishes the validation.
pub struct BearerAuth<S, V, P = AuthenticatedOnly> {
    inner: S,
    validator: V,
    settings: Arc<Settings<P>>,
}

impl<S, V, P> BearerAuth<S, V, P> {
    pub(crate) fn new(inner: S, validator: V, settings: Arc<Settings<P>>) -> Self {
        Self {
            inner,
            validator,
            settings,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, V, P, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S, V, P>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    V: TokenValidator,
    P: ScopePolicy<V::Principal>,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, V, P, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let (mut validation, from_query) = match self.settings.credentials.extract(&parts) {
            Ok(credential) => (
                self.validator.validate(&credential.token, &parts),
                credential.from_query,
            ),
            Err(kind) => {
                let response = self
                    .settings
                    .renderer
                    .render(&Rejection::new(kind), &parts, None);
                return ResponseFuture::rejected(response);
            }
        };
        // A validator that answers at once (the key store, `ready(..)`) is
        // decided here, and the ready inner service is called directly.
        let mut now = Context::from_waker(Waker::noop());
        if let Poll::Ready(outcome) = Pin::new(&mut validation).poll(&mut now) {
            return match self.settings.admit(outcome, &mut parts, from_query) {
                Ok(()) => ResponseFuture::calling(
                    self.inner.call(Request::from_parts(parts, body)),
                    from_query,
                ),
                Err((rejection, cause)) => ResponseFuture::rejected(self.settings.render(
                    &rejection,
                    &parts,
                    cause.as_ref(),
                )),
            };
        }
        // The validator answers later: move the service that was polled
        // ready into the future, and keep a fresh clone for the next
        // `poll_ready` (tower-service: "Be careful when cloning inner services").
        let ready_inner = self.inner.clone();
        let inner = mem::replace(&mut self.inner, ready_inner);
        ResponseFuture::validating(
            validation,
            Admission {
                inner,
                parts,
                body,
                settings: Arc::clone(&self.settings),
                from_query,
            },
        )
    }
}

impl<S: Clone, V: Clone, P> Clone for BearerAuth<S, V, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            validator: self.validator.clone(),
            settings: Arc::clone(&self.settings),
        }
    }
}

impl<S: fmt::Debug, V: fmt::Debug, P: fmt::Debug> fmt::Debug for BearerAuth<S, V, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("validator", &self.validator)
            .field("settings", &self.settings)
            .finish()
    }
}
