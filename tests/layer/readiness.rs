//! Readiness and backpressure: the layer is ready only when the inner
//! service is, rejected requests never reach it, and with an asynchronous
//! validator the instance that was made ready is the one called.

use std::convert::Infallible;
use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use crate::support::{fixture, get_anonymous, get_with_auth};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use tokio_test_shim::{assert_pending, assert_ready_ok};
use tower::{Layer, Service, ServiceExt};
use tower_bearer_auth::{ApiKey, BearerAuthLayer, ValidationError};

/// Tiny stand-ins for tokio-test's macros.
mod tokio_test_shim {
    macro_rules! assert_pending {
        ($e:expr) => {
            assert!($e.is_pending(), "expected Pending")
        };
    }
    macro_rules! assert_ready_ok {
        ($e:expr) => {
            match $e {
                std::task::Poll::Ready(Ok(v)) => v,
                other => panic!("expected Ready(Ok), got {:?}", other.map(|r| r.is_ok())),
            }
        };
    }
    pub(crate) use {assert_pending, assert_ready_ok};
}

#[tokio::test]
async fn a_not_ready_inner_service_makes_the_layer_not_ready() {
    let fixture = fixture();
    let (mut service, mut handle) = tower_test::mock::spawn_layer::<Request<()>, Response<()>, _>(
        BearerAuthLayer::new(fixture.store.clone()),
    );
    handle.allow(0);
    assert_pending!(service.poll_ready());
    handle.allow(1);
    assert_ready_ok!(service.poll_ready());
}

#[tokio::test]
async fn rejected_requests_never_reach_the_inner_service() {
    let fixture = fixture();
    let (mut service, mut handle) = tower_test::mock::spawn_layer::<Request<()>, Response<()>, _>(
        BearerAuthLayer::new(fixture.store.clone()),
    );
    for request in [
        get_anonymous(),
        get_with_auth("Bearer not-a-key"),
        get_with_auth(&format!("Bearer {}", fixture.revoked)),
    ] {
        handle.allow(1);
        assert_ready_ok!(service.poll_ready());
        let response = service
            .call(request)
            .await
            .expect("a response, not an error");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_pending!(handle.poll_request());
    }
}

#[tokio::test]
async fn accepted_requests_reach_the_inner_service_with_the_principal() {
    let fixture = fixture();
    let (mut service, mut handle) = tower_test::mock::spawn_layer::<Request<()>, Response<()>, _>(
        BearerAuthLayer::new(fixture.store.clone()),
    );
    handle.allow(1);
    assert_ready_ok!(service.poll_ready());
    // The inner service is called when the response future is first polled,
    // so drive both sides together.
    let response = service.call(get_with_auth(&format!("Bearer {}", fixture.full)));
    let inner_side = async {
        let (request, send) = handle.next_request().await.expect("request forwarded");
        send.send_response(Response::new(()));
        request
            .extensions()
            .get::<ApiKey>()
            .map(|key| key.label().to_owned())
    };
    let (response, label) = tokio::join!(response, inner_side);
    assert_eq!(label.as_deref(), Some("Production Dialer"));
    assert_eq!(response.expect("ok").status(), StatusCode::OK);
}

/// A service that remembers, per instance, whether it was polled ready, and
/// refuses to be called otherwise. Clones start not ready.
#[derive(Default)]
struct StrictReadiness {
    ready: bool,
    misuse: Arc<AtomicUsize>,
}

impl Clone for StrictReadiness {
    fn clone(&self) -> Self {
        Self {
            ready: false,
            misuse: Arc::clone(&self.misuse),
        }
    }
}

impl Service<Request<()>> for StrictReadiness {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<()>) -> Self::Future {
        if !self.ready {
            self.misuse.fetch_add(1, Ordering::SeqCst);
        }
        self.ready = false;
        ready(Ok(Response::new(())))
    }
}

/// Answers only on its second poll, like a validator waiting on I/O.
struct Later(Option<Result<ApiKey, ValidationError>>, bool);

impl Future for Later {
    type Output = Result<ApiKey, ValidationError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.1 {
            Poll::Ready(self.0.take().expect("polled once more"))
        } else {
            self.1 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[tokio::test]
async fn with_an_async_validator_the_ready_instance_is_the_one_called() {
    let fixture = fixture();
    let store = fixture.store.clone();
    let validator = move |token: &str, _: &Parts| Later(Some(store.verify(token)), false);
    let inner = StrictReadiness::default();
    let misuse = Arc::clone(&inner.misuse);
    let mut service = BearerAuthLayer::new(validator).layer(inner);
    for _ in 0..3 {
        let service = service.ready().await.expect("ready");
        let response = service
            .call(get_with_auth(&format!("Bearer {}", fixture.full)))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }
    // Interleave: ready → call (pending validation) → ready → call.
    let a = {
        let service = service.ready().await.expect("ready");
        service.call(get_with_auth(&format!("Bearer {}", fixture.full)))
    };
    let b = {
        let service = service.ready().await.expect("ready");
        service.call(get_with_auth(&format!("Bearer {}", fixture.read_only)))
    };
    assert_eq!(b.await.expect("infallible").status(), StatusCode::OK);
    assert_eq!(a.await.expect("infallible").status(), StatusCode::OK);
    assert_eq!(
        misuse.load(Ordering::SeqCst),
        0,
        "an inner instance was called without being ready"
    );
}

/// Counts its clones.
struct CountClones(Arc<AtomicUsize>);

impl Clone for CountClones {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(&self.0))
    }
}

impl Service<Request<()>> for CountClones {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<()>) -> Self::Future {
        ready(Ok(Response::new(())))
    }
}

/// Sends five requests with `token` through `service`, each accepted.
async fn send_five_accepted<S, B>(service: &mut S, token: &str)
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
{
    for _ in 0..5 {
        let response = service
            .ready()
            .await
            .expect("ready")
            .call(get_with_auth(&format!("Bearer {token}")))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_synchronous_validator_never_clones_the_inner_service() {
    let fixture = fixture();
    let clones = Arc::new(AtomicUsize::new(0));
    let mut sync =
        BearerAuthLayer::new(fixture.store.clone()).layer(CountClones(Arc::clone(&clones)));
    send_five_accepted(&mut sync, &fixture.full).await;
    assert_eq!(clones.load(Ordering::SeqCst), 0);

    // An asynchronous validator needs the ready service moved into the
    // future: one clone per request, to stay ready for the next one.
    let store = fixture.store.clone();
    let later = move |token: &str, _: &Parts| Later(Some(store.verify(token)), false);
    let mut asynchronous = BearerAuthLayer::new(later).layer(CountClones(Arc::clone(&clones)));
    send_five_accepted(&mut asynchronous, &fixture.full).await;
    assert_eq!(clones.load(Ordering::SeqCst), 5);
}
