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

use crate::admission::{self, Admission, Admitted, PendingVerdict, RateField};
use crate::body::ResponseBody;
use crate::credentials::Origin;
use crate::scope::ScopePolicy;
use crate::validator::TokenValidator;

/// A request whose validation is still pending: what the future needs to
/// finish it once the validator answers.
pub(crate) struct Deferred<S, V, Pol, ReqBody> {
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
        // The layer's own rate limit waits for Redis's verdict (boxed, as
        // for an asynchronous validation: only this path pays for it).
        // Uninhabited without the `rate-limit` feature.
        Limiting {
            verdict: PendingVerdict,
            deferred: Box<Deferred<S, V, Pol, ReqBody>>,
            principal: Option<V::Principal>,
        },
        Calling {
            #[pin]
            future: S::Future,
            from_query: bool,
            // For the response extensions, when the layer exposes it.
            principal: Option<V::Principal>,
            // The layer's own rate limit's `RateLimit` field.
            rate: RateField,
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

    pub(crate) fn calling(
        future: S::Future,
        from_query: bool,
        principal: Option<V::Principal>,
        rate: RateField,
    ) -> Self {
        Self {
            state: State::Calling {
                future,
                from_query,
                principal,
                rate,
            },
        }
    }

    /// Waits for Redis's rate-limit verdict before calling `deferred`'s
    /// service (or answering 429).
    pub(crate) fn limiting(
        verdict: PendingVerdict,
        deferred: Deferred<S, V, Pol, ReqBody>,
        principal: Option<V::Principal>,
    ) -> Self {
        Self {
            state: State::Limiting {
                verdict,
                deferred: Box::new(deferred),
                principal,
            },
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
                        mut inner,
                        mut parts,
                        body,
                        admission,
                        origin,
                    } = *deferred;
                    match admission.admit(outcome, &mut parts, origin) {
                        Ok(Admitted { for_response, rate }) => {
                            let field = match rate.field() {
                                Ok(field) => field,
                                Err(verdict) => {
                                    let deferred = Deferred {
                                        inner,
                                        parts,
                                        body,
                                        admission,
                                        origin,
                                    };
                                    state.set(State::Limiting {
                                        verdict,
                                        deferred: Box::new(deferred),
                                        principal: for_response,
                                    });
                                    continue;
                                }
                            };
                            let future = inner.call(Request::from_parts(parts, body));
                            state.set(State::Calling {
                                future,
                                from_query: origin.from_query,
                                principal: for_response,
                                rate: field,
                            });
                        }
                        Err(refusal) => {
                            let response = admission.refuse(refusal, &parts);
                            return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                        }
                    }
                }
                #[cfg(feature = "rate-limit")]
                StateProj::Limiting { verdict, .. } => {
                    let verdict = ready!(verdict.as_mut().poll(cx));
                    let StateTaken::Limiting {
                        deferred,
                        principal,
                        ..
                    } = state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("the state was Limiting")
                    };
                    let Deferred {
                        mut inner,
                        parts,
                        body,
                        admission,
                        origin,
                    } = *deferred;
                    if !verdict.decision.allowed {
                        let response = admission.refuse_late::<V::Principal>(verdict, &parts);
                        return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                    }
                    let future = inner.call(Request::from_parts(parts, body));
                    state.set(State::Calling {
                        future,
                        from_query: origin.from_query,
                        principal,
                        rate: Some(verdict.state),
                    });
                }
                #[cfg(not(feature = "rate-limit"))]
                StateProj::Limiting { verdict, .. } => match *verdict {},
                StateProj::Calling {
                    future,
                    from_query,
                    principal,
                    rate,
                } => {
                    let mut response = ready!(future.poll(cx))?;
                    if *from_query {
                        admission::keep_private(response.headers_mut());
                    }
                    admission::add_rate_field(response.headers_mut(), rate);
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

impl<S, V, Pol, ReqBody> fmt::Debug for ResponseFuture<S, V, Pol, ReqBody>
where
    S: Service<Request<ReqBody>>,
    V: TokenValidator,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
