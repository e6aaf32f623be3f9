//! The rate-limit layer's response future: waiting for Redis's verdict
//! (then calling the inner service), the inner service's response (with the
//! `RateLimit` fields added), or a 429.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::RateLimited;
use super::limiter::{PendingVerdict, Verdict};
use crate::Principal;
use crate::body::ResponseBody;
use crate::rejection::RejectionRenderer;

pin_project! {
    /// The response future of [`RateLimit`](super::RateLimit).
    pub struct RateLimitFuture<S, ReqBody, P>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
        principal: PhantomData<fn() -> P>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        // Boxed, as the 429: the future stays as small as the inner
        // service's future plus the verdict, which is what the common path
        // moves around.
        Waiting {
            waiting: Box<Waiting<S, ReqBody>>,
        },
        Inner {
            #[pin]
            future: S::Future,
            verdict: Option<Verdict>,
        },
        Rejected {
            response: Option<Box<Response<Bytes>>>,
        },
    }
}

/// A request waiting for Redis's verdict, with the service that will take it.
struct Waiting<S, ReqBody> {
    verdict: PendingVerdict,
    service: Option<S>,
    request: Option<Request<ReqBody>>,
    renderer: Arc<RejectionRenderer>,
}

impl<S, ReqBody, P> RateLimitFuture<S, ReqBody, P>
where
    S: Service<Request<ReqBody>>,
{
    fn with(state: State<S, ReqBody>) -> Self {
        Self {
            state,
            principal: PhantomData,
        }
    }

    pub(super) fn inner(future: S::Future, verdict: Option<Verdict>) -> Self {
        Self::with(State::Inner { future, verdict })
    }

    pub(super) fn rejected(response: Response<Bytes>) -> Self {
        Self::with(State::Rejected {
            response: Some(Box::new(response)),
        })
    }

    pub(super) fn waiting(
        verdict: PendingVerdict,
        service: S,
        request: Request<ReqBody>,
        renderer: Arc<RejectionRenderer>,
    ) -> Self {
        Self::with(State::Waiting {
            waiting: Box::new(Waiting {
                verdict,
                service: Some(service),
                request: Some(request),
                renderer,
            }),
        })
    }
}

/// The 429 for `verdict`: the renderer's answer, with `Retry-After` and
/// the `RateLimit` fields.
pub(super) fn refusal<P: Principal>(
    renderer: &RejectionRenderer,
    parts: &Parts,
    principal: Option<&P>,
    verdict: Verdict,
) -> Response<Bytes> {
    let rejection = super::gate::rejection(&verdict);
    if let Some(principal) = principal {
        crate::observe::refused_after_passing(renderer, principal, rejection.kind());
    }
    let subject = principal.and_then(Principal::subject);
    let mut response = renderer.render(&rejection, parts, None, subject);
    super::gate::add_refusal_fields(response.headers_mut(), verdict);
    response
}

impl<S, ReqBody, ResBody, P> Future for RateLimitFuture<S, ReqBody, P>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    P: RateLimited,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Waiting { waiting } => {
                    let Waiting {
                        verdict,
                        service,
                        request,
                        renderer,
                    } = &mut **waiting;
                    let verdict = ready!(verdict.as_mut().poll(cx));
                    let request = request.take().expect("polled after completion");
                    if verdict.decision.allowed {
                        let mut service = service.take().expect("polled after completion");
                        let future = service.call(request);
                        state.set(State::Inner {
                            future,
                            verdict: Some(verdict),
                        });
                    } else {
                        let (parts, _) = request.into_parts();
                        let response =
                            refusal(renderer, &parts, parts.extensions.get::<P>(), verdict);
                        state.set(State::Rejected {
                            response: Some(Box::new(response)),
                        });
                    }
                }
                StateProj::Inner { future, verdict } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(verdict) = verdict.take() {
                        // Passing answers carry where the key stands; the
                        // policy itself comes with a 429.
                        super::gate::add_state(response.headers_mut(), verdict.state);
                    }
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { response } => {
                    let response = *response.take().expect("polled after completion");
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
            }
        }
    }
}
