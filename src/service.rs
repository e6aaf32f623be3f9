//! The [`Service`] that authenticates each request.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::request::Parts;
use http::{Request, Response};
use tower_service::Service;

use crate::admission::{Admission, Refusal};
use crate::body::ResponseBody;
use crate::credentials::{COPIED_TOKEN, Credential, Origin};
use crate::future::{Deferred, Inner, ResponseFuture};
use crate::observe::{self, Decision, Started};
use crate::rejection::Rejection;
use crate::scope::{AuthenticatedOnly, ScopePolicy};
use crate::validator::TokenValidator;

/// Middleware that authenticates requests with a bearer token; see
/// [`BearerAuthLayer`](crate::BearerAuthLayer).
///
/// Rejections are responses, never errors: `Error` is the inner service's.
/// The inner service is called only for requests that pass, and it is the
/// instance that was polled ready (how, for synchronous and asynchronous
/// validators alike: [`TokenValidator::Future`]).
pub struct BearerAuth<S, V: TokenValidator, Pol = AuthenticatedOnly> {
    inner: S,
    admission: Arc<Admission<V, Pol>>,
}

impl<S, V: TokenValidator, Pol> BearerAuth<S, V, Pol> {
    pub(crate) fn new(inner: S, admission: Arc<Admission<V, Pol>>) -> Self {
        Self { inner, admission }
    }

    define_inner_service_accessors!();
}

impl<S, V, Pol, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S, V, Pol>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    V: TokenValidator,
    Pol: ScopePolicy<V::Principal>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, V, Pol, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let started = Started::now(&self.admission);
        let (mut parts, body) = request.into_parts();
        let mut copy = [0u8; COPIED_TOKEN];
        let credential = match self
            .admission
            .credentials
            .take_authorization(&mut parts, &mut copy)
        {
            Some(taken) => taken.map(|token| Credential {
                token: Cow::Borrowed(token),
                origin: Origin {
                    from_query: false,
                    marked: true,
                    started,
                },
            }),
            None => self.admission.credentials.extract(&parts),
        };
        let (mut validation, origin) = match credential {
            Ok(credential) => (
                self.admission.validator.validate(&credential.token, &parts),
                Origin {
                    started,
                    ..credential.origin
                },
            ),
            Err(kind) => {
                observe::decided(&self.admission, started, Decision::Refused(kind), None);
                let refusal = Refusal::<V::Principal>::new(Rejection::new(kind));
                return ResponseFuture::rejected(self.admission.refuse(refusal, &parts));
            }
        };
        // See `TokenValidator::Future`: a validator that answers at once is
        // decided here, and the ready inner service is called directly.
        let mut now = Context::from_waker(Waker::noop());
        if let Poll::Ready(outcome) = Pin::new(&mut validation).poll(&mut now) {
            return match self.admission.admit(outcome, &mut parts, origin) {
                Ok(admitted) => ResponseFuture::admitted(admitted, parts, body, origin, self),
                Err(refusal) => ResponseFuture::rejected(self.admission.refuse(refusal, &parts)),
            };
        }
        ResponseFuture::validating(validation, self.defer(parts, body, origin))
    }
}

impl<S: Clone, V: TokenValidator, Pol> BearerAuth<S, V, Pol> {
    /// The answer comes later: the service that was polled ready moves into
    /// the future with the request, and a fresh clone takes its place for
    /// the next `poll_ready` (tower-service: "Be careful when cloning inner
    /// services").
    fn defer<ReqBody>(
        &mut self,
        parts: Parts,
        body: ReqBody,
        origin: Origin,
    ) -> Deferred<S, V, Pol, ReqBody> {
        let ready_inner = self.inner.clone();
        Deferred {
            inner: mem::replace(&mut self.inner, ready_inner),
            parts,
            body,
            admission: Arc::clone(&self.admission),
            origin,
        }
    }
}

impl<S, V, Pol, ReqBody> Inner<S, V, Pol, ReqBody> for &mut BearerAuth<S, V, Pol>
where
    S: Service<Request<ReqBody>> + Clone,
    V: TokenValidator,
{
    fn call(self, request: Request<ReqBody>) -> S::Future {
        self.inner.call(request)
    }

    fn defer(self, parts: Parts, body: ReqBody, origin: Origin) -> Deferred<S, V, Pol, ReqBody> {
        BearerAuth::defer(self, parts, body, origin)
    }
}

impl<S: Clone, V: TokenValidator, Pol> Clone for BearerAuth<S, V, Pol> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            admission: Arc::clone(&self.admission),
        }
    }
}

impl<S: fmt::Debug, V: TokenValidator + fmt::Debug, Pol: fmt::Debug> fmt::Debug
    for BearerAuth<S, V, Pol>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("admission", &self.admission)
            .finish()
    }
}
