//! Fail closed: a validator that errors, panics or never answers must not
//! let a request through.

use std::future::{Future, ready};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Duration;

use crate::support::{Echo, as_grpc, collect, get_with_auth, header};
use http::StatusCode;
use http::request::Parts;
use tower::{Layer, Service, ServiceExt};
use tower_bearer_auth::{
    BearerAuthLayer, RejectionKind, ScopeSet, TimeoutValidator, ValidationError,
};
use tower_http::catch_panic::CatchPanicLayer;

type Answer = Pin<Box<dyn Future<Output = Result<ScopeSet, ValidationError>> + Send>>;

fn never(_: &str, _: &Parts) -> Answer {
    Box::pin(std::future::pending())
}

fn panics_later(_: &str, _: &Parts) -> Answer {
    Box::pin(async {
        tokio::task::yield_now().await;
        panic!("validator bug")
    })
}

#[tokio::test]
async fn a_backend_error_is_a_503_or_grpc_unavailable() {
    let failing = |_: &str, _: &Parts| {
        ready(Err::<ScopeSet, _>(ValidationError::unavailable(
            "redis: connection refused",
        )))
    };
    for grpc in [false, true] {
        let echo = Echo::default();
        let request = get_with_auth("Bearer tok");
        let request = if grpc { as_grpc(request) } else { request };
        let response = BearerAuthLayer::new(failing)
            .layer(echo.clone())
            .oneshot(request)
            .await
            .expect("infallible");
        let (parts, body) = collect(response).await;
        assert_eq!(echo.calls(), 0);
        if grpc {
            assert_eq!(header(&parts, "grpc-status"), "14");
        } else {
            assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
            assert!(
                !String::from_utf8_lossy(&body).contains("redis"),
                "the cause is not sent"
            );
        }
    }
}

#[tokio::test]
async fn a_panicking_validator_never_lets_the_request_through() {
    // Synchronous panic: it unwinds out of `call`; the inner service never runs.
    let boom = |_: &str, _: &Parts| -> std::future::Ready<Result<ScopeSet, ValidationError>> {
        panic!("validator bug")
    };
    let echo = Echo::default();
    let mut service = BearerAuthLayer::new(boom).layer(echo.clone());
    ServiceExt::<http::Request<()>>::ready(&mut service)
        .await
        .expect("ready");
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        service.call(get_with_auth("Bearer tok"))
    }));
    assert!(outcome.is_err(), "the panic propagates");
    assert_eq!(echo.calls(), 0);

    // Asynchronous panic: it unwinds out of the response future.
    let echo = Echo::default();
    let task = tokio::spawn(
        BearerAuthLayer::new(panics_later)
            .layer(echo.clone())
            .oneshot(get_with_auth("Bearer tok")),
    );
    assert!(task.await.expect_err("the task panicked").is_panic());
    assert_eq!(echo.calls(), 0);
}

#[tokio::test]
async fn behind_catch_panic_layer_the_client_gets_a_500() {
    let boom = |_: &str, _: &Parts| -> std::future::Ready<Result<ScopeSet, ValidationError>> {
        panic!("validator bug")
    };
    for validator_panics_later in [false, true] {
        let echo = Echo::default();
        // CatchPanicLayer must wrap the authentication layer (be outside it).
        let response = if validator_panics_later {
            CatchPanicLayer::new()
                .layer(BearerAuthLayer::new(panics_later).layer(echo.clone()))
                .oneshot(get_with_auth("Bearer tok"))
                .await
        } else {
            CatchPanicLayer::new()
                .layer(BearerAuthLayer::new(boom).layer(echo.clone()))
                .oneshot(get_with_auth("Bearer tok"))
                .await
        }
        .expect("infallible");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(echo.calls(), 0);
    }
}

#[tokio::test]
async fn a_validator_that_never_answers_times_out_with_503() {
    let slow = TimeoutValidator::new(never, Duration::from_millis(50));
    for grpc in [false, true] {
        let echo = Echo::default();
        let request = get_with_auth("Bearer tok");
        let request = if grpc { as_grpc(request) } else { request };
        let response = BearerAuthLayer::new(slow.clone())
            .layer(echo.clone())
            .oneshot(request)
            .await
            .expect("infallible");
        assert_eq!(
            response.extensions().get::<RejectionKind>(),
            Some(&RejectionKind::ValidatorTimeout)
        );
        let (parts, body) = collect(response).await;
        assert_eq!(echo.calls(), 0);
        if grpc {
            assert_eq!(header(&parts, "grpc-status"), "14");
            assert_eq!(header(&parts, "grpc-message"), "Authentication timed out");
        } else {
            assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                body,
                r#"{"error":{"code":"unavailable","message":"Authentication timed out"}}"#
            );
        }
    }
}

#[tokio::test]
async fn without_a_timeout_a_silent_validator_keeps_the_request_waiting() {
    let echo = Echo::default();
    let pending = BearerAuthLayer::new(never)
        .layer(echo.clone())
        .oneshot(get_with_auth("Bearer tok"));
    assert!(
        tokio::time::timeout(Duration::from_millis(100), pending)
            .await
            .is_err()
    );
    assert_eq!(echo.calls(), 0, "waiting, not passing");
}

#[tokio::test]
async fn a_slow_but_valid_answer_within_the_limit_passes() {
    let slow_ok = |_: &str, _: &Parts| -> Answer {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(ScopeSet::empty())
        })
    };
    let echo = Echo::default();
    let response = BearerAuthLayer::new(TimeoutValidator::new(slow_ok, Duration::from_secs(5)))
        .layer(echo.clone())
        .oneshot(get_with_auth("Bearer tok"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(echo.calls(), 1);
}
