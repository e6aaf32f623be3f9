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

use crate::body::AuthBody;
use crate::scope_policy::ScopePolicy;
use crate::settings::{self, Settings};
use crate::validator::TokenValidator;

/// What the future needs to finish a request once its token is validated.
pub(crate) struct Admission<S, P, ReqBody> {
    pub(crate) inner: S,
    pub(crate) parts: Parts,
    pub(crate) body: ReqBody,
    pub(crate) settings: Arc<Settings<P>>,
    pub(crate) from_query: bool,
}

pin_project! {
    /// Response future of [`BearerAuth`](crate::BearerAuth).
    pub struct ResponseFuture<S, V, P, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        V: TokenValidator,
    {
        #[pin]
        state: State<S, V, P, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    #[project_replace = StateTaken]
    enum State<S, V, P, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        V: TokenValidator,
    {
        Validating {
            validation: V::Future,
            // Boxed: only asynchronous validations get here, and a small
            // future is cheaper to move for the synchronous ones.
            admission: Box<Admission<S, P, ReqBody>>,
        },
        Calling {
            #[pin]
            future: S::Future,
            from_query: bool,
        },
        Rejected {
            response: Response<Bytes>,
        },
        Done,
    }
}

impl<S, V, P, ReqBody> ResponseFuture<S, V, P, ReqBody>
where
    S: Service<Request<ReqBody>>,
    V: TokenValidator,
{
    pub(crate) fn validating(validation: V::Future, admission: Admission<S, P, ReqBody>) -> Self {
        Self {
            state: State::Validating {
                validation,
                admission: Box::new(admission),
            },
        }
    }

    pub(crate) fn calling(future: S::Future, from_query: bool) -> Self {
        Self {
            state: State::Calling { future, from_query },
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self {
            state: State::Rejected { response },
        }
    }
}

impl<S, V, P, ReqBody, ResBody> Future for ResponseFuture<S, V, P, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    V: TokenValidator,
    P: ScopePolicy<V::Principal>,
{
    type Output = Result<Response<AuthBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Validating { validation, .. } => {
                    let outcome = ready!(Pin::new(validation).poll(cx));
                    let StateTaken::Validating { admission, .. } =
                        state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("the state was Validating")
                    };
                    let Admission {
                        mut inner,
                        mut parts,
                        body,
                        settings,
                        from_query,
                    } = *admission;
                    match settings.admit(outcome, &mut parts, from_query) {
                        Ok(()) => {
                            let future = inner.call(Request::from_parts(parts, body));
                            state.set(State::Calling { future, from_query });
                        }
                        Err((rejection, cause)) => {
                            let response = settings.render(&rejection, &parts, cause.as_ref());
                            return Poll::Ready(Ok(response.map(AuthBody::rejection)));
                        }
                    }
                }
                StateProj::Calling { future, from_query } => {
                    let mut response = ready!(future.poll(cx))?;
                    if *from_query {
                        settings::keep_private(response.headers_mut());
                    }
                    state.set(State::Done);
                    return Poll::Ready(Ok(response.map(AuthBody::inner)));
                }
                StateProj::Rejected { .. } => {
                    let StateTaken::Rejected { response } =
                        state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("the state was Rejected")
                    };
                    return Poll::Ready(Ok(response.map(AuthBody::rejection)));
                }
                StateProj::Done => panic!("ResponseFuture polled after completion"),
            }
        }
    }
}

impl<S, V, P, ReqBody> fmt::Debug for ResponseFuture<S, V, P, ReqBody>
where
    S: Service<Request<ReqBody>>,
    V: TokenValidator,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
