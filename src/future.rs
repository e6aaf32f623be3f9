//! The response future of [`BearerAuth`](crate::BearerAuth).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::admission::{self, Admission, Admitted, Next, Refusal};
use crate::body::ResponseBody;
use crate::credentials::Origin;
use crate::gate::{Fields, Pending};
use crate::observe::{self, Decision};
use crate::scope::ScopePolicy;
use crate::validator::TokenValidator;

/// A request whose validation (or gate) is still pending: what the future
/// needs to finish it once the validator (or the gate) answers.
pub(crate) struct Deferred<S, V: TokenValidator, Pol, ReqBody> {
    pub(crate) inner: S,
    pub(crate) parts: Parts,
    pub(crate) body: ReqBody,
    pub(crate) admission: Arc<Admission<V, Pol>>,
    pub(crate) origin: Origin,
}

pin_project! {
    /// Response future of [`BearerAuth`](crate::BearerAuth).
    pub struct ResponseFuture<S, V, Pol, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        V: TokenValidator,
    {
        #[pin]
        state: State<S, V, Pol, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    #[project_replace = StateTaken]
    enum State<S, V, Pol, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        V: TokenValidator,
    {
        Validating {
            validation: V::Future,
            // Boxed: only asynchronous validations get here, and a small
            // future is cheaper to move for the synchronous ones.
            deferred: Box<Deferred<S, V, Pol, ReqBody>>,
        },
        // The gate decides later (the layer's rate limit waiting for
        // Redis; boxed, as for an asynchronous validation: only this path
        // pays for it).
        Gating {
            pending: Pending,
            deferred: Box<Deferred<S, V, Pol, ReqBody>>,
            principal: Option<V::Principal>,
        },
        Calling {
            #[pin]
            future: S::Future,
            from_query: bool,
            // For the response extensions, when the layer exposes it.
            principal: Option<V::Principal>,
            // The gate's field for the answer.
            fields: Fields,
        },
        Rejected {
            response: Response<Bytes>,
        },
        Done,
    }
}

impl<S, V, Pol, ReqBody> ResponseFuture<S, V, Pol, ReqBody>
where
    S: Service<Request<ReqBody>>,
    V: TokenValidator,
{
    pub(crate) fn validating(
        validation: V::Future,
        deferred: Deferred<S, V, Pol, ReqBody>,
    ) -> Self {
        Self {
            state: State::Validating {
                validation,
                deferred: Box::new(deferred),
            },
        }
    }

    /// After admission, the one branch both paths take: the inner service
    /// called now, or the request moved into the future to wait for the
    /// gate.
    pub(crate) fn admitted(
        admitted: Admitted<V::Principal>,
        parts: Parts,
        body: ReqBody,
        origin: Origin,
        inner: impl Inner<S, V, Pol, ReqBody>,
    ) -> Self {
        Self {
            state: after_admission(admitted, parts, body, origin, inner),
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self {
            state: State::Rejected { response },
        }
    }
}

impl<S, V, Pol, ReqBody, ResBody> Future for ResponseFuture<S, V, Pol, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    V: TokenValidator,
    Pol: ScopePolicy<V::Principal>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Validating { validation, .. } => {
                    let outcome = ready!(Pin::new(validation).poll(cx));
                    let StateTaken::Validating { deferred, .. } =
                        state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("the state was Validating")
                    };
                    let Deferred {
                        inner,
                        mut parts,
                        body,
                        admission,
                        origin,
                    } = *deferred;
                    match admission.admit(outcome, &mut parts, origin) {
                        Ok(admitted) => {
                            let next =
                                after_admission(admitted, parts, body, origin, (inner, admission));
                            state.set(next);
                        }
                        Err(refusal) => {
                            let response = admission.refuse(refusal, &parts);
                            return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                        }
                    }
                }
                StateProj::Gating { pending, .. } => {
                    let decided = ready!(pending.as_mut().poll(cx));
                    let StateTaken::Gating {
                        deferred,
                        principal,
                        ..
                    } = state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("the state was Gating")
                    };
                    let Deferred {
                        mut inner,
                        parts,
                        body,
                        admission,
                        origin,
                    } = *deferred;
                    match decided {
                        Ok(fields) => {
                            let admitted = parts.extensions.get::<V::Principal>();
                            let fields =
                                observe::passed(&admission, origin.started, admitted, fields);
                            let future = inner.call(Request::from_parts(parts, body));
                            state.set(State::Calling {
                                future,
                                from_query: origin.from_query,
                                principal,
                                fields,
                            });
                        }
                        Err(refused) => {
                            // The principal went into the extensions at
                            // admission: the refusal names it from there.
                            let refused_principal = parts.extensions.get::<V::Principal>().cloned();
                            let kind = Decision::Refused(refused.rejection.kind());
                            observe::decided(
                                &admission,
                                origin.started,
                                kind,
                                refused_principal.as_ref(),
                            );
                            let refusal = Refusal::gated(refused_principal, *refused);
                            let response = admission.refuse(refusal, &parts);
                            return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                        }
                    }
                }
                StateProj::Calling {
                    future,
                    from_query,
                    principal,
                    fields,
                } => {
                    let mut response = ready!(future.poll(cx))?;
                    if *from_query {
                        admission::keep_private(response.headers_mut());
                    }
                    fields.add_to(response.headers_mut());
                    #[cfg(feature = "metrics")]
                    fields.count_answer(response.extensions());
                    if let Some(principal) = principal.take() {
                        response.extensions_mut().insert(principal);
                    }
                    // The state stays `Calling`: polling a finished future
                    // again is the inner future's business (the `Future`
                    // contract allows any behaviour but unsoundness), and
                    // leaving it saves a drop and a write per request.
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { .. } => {
                    let StateTaken::Rejected { response } =
                        state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("the state was Rejected")
                    };
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
                StateProj::Done => panic!("ResponseFuture polled after completion"),
            }
        }
    }
}

/// The inner service as a path holds it: the service's own (called now,
/// or moved into the future with a fresh clone left behind), or the one a
/// deferred request already carries.
pub(crate) trait Inner<S, V, Pol, ReqBody>
where
    S: Service<Request<ReqBody>>,
    V: TokenValidator,
{
    /// Calls the inner service.
    fn call(self, request: Request<ReqBody>) -> S::Future;

    /// The request, moved into the future with the inner service.
    fn defer(self, parts: Parts, body: ReqBody, origin: Origin) -> Deferred<S, V, Pol, ReqBody>;
}

impl<S, V, Pol, ReqBody> Inner<S, V, Pol, ReqBody> for (S, Arc<Admission<V, Pol>>)
where
    S: Service<Request<ReqBody>>,
    V: TokenValidator,
{
    fn call(self, request: Request<ReqBody>) -> S::Future {
        let (mut inner, _) = self;
        inner.call(request)
    }

    fn defer(self, parts: Parts, body: ReqBody, origin: Origin) -> Deferred<S, V, Pol, ReqBody> {
        let (inner, admission) = self;
        Deferred {
            inner,
            parts,
            body,
            admission,
            origin,
        }
    }
}

/// The "admitted: call or wait" branch, written once.
fn after_admission<S, V, Pol, ReqBody>(
    admitted: Admitted<V::Principal>,
    parts: Parts,
    body: ReqBody,
    origin: Origin,
    inner: impl Inner<S, V, Pol, ReqBody>,
) -> State<S, V, Pol, ReqBody>
where
    S: Service<Request<ReqBody>>,
    V: TokenValidator,
{
    let Admitted { for_response, next } = admitted;
    match next {
        Next::Call(fields) => State::Calling {
            future: inner.call(Request::from_parts(parts, body)),
            from_query: origin.from_query,
            principal: for_response,
            fields,
        },
        Next::Wait(pending) => State::Gating {
            pending,
            deferred: Box::new(inner.defer(parts, body, origin)),
            principal: for_response,
        },
    }
}

impl<S, V, Pol, ReqBody> fmt::Debug for ResponseFuture<S, V, Pol, ReqBody>
where
    S: Service<Request<ReqBody>>,
    V: TokenValidator,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
