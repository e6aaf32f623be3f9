//! A time limit on validation (feature `timeout`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::request::Parts;
use tokio::time::Sleep;

use crate::validator::{TokenValidator, ValidationError};

/// Wraps a validator so that an answer slower than `limit` becomes
/// [`ValidationError::timed_out`]: a 503 (gRPC 14), never a pass.
///
/// Needs a Tokio runtime with the time driver enabled (as axum and tonic
/// servers have). A validator that answers at once is never timed and
/// costs no timer.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer_auth::{BearerAuthLayer, KeyStore, TimeoutValidator};
///
/// let layer = BearerAuthLayer::new(TimeoutValidator::new(KeyStore::new(), Duration::from_millis(250)));
/// ```
#[derive(Debug, Clone)]
pub struct TimeoutValidator<V> {
    inner: V,
    limit: Duration,
}

impl<V> TimeoutValidator<V> {
    /// Limits `inner` to `limit` per validation.
    pub const fn new(inner: V, limit: Duration) -> Self {
        Self { inner, limit }
    }

    /// The wrapped validator.
    pub const fn get_ref(&self) -> &V {
        &self.inner
    }

    /// The wrapped validator, mutably.
    pub const fn get_mut(&mut self) -> &mut V {
        &mut self.inner
    }

    /// Unwraps the validator.
    pub fn into_inner(self) -> V {
        self.inner
    }
}

impl<V: TokenValidator> TokenValidator for TimeoutValidator<V> {
    type Principal = V::Principal;
    type Future = TimeoutFuture<V::Future>;

    fn validate(&self, token: &str, request: &Parts) -> Self::Future {
        TimeoutFuture {
            inner: self.inner.validate(token, request),
            limit: self.limit,
            timer: None,
        }
    }
}

/// Future of [`TimeoutValidator`]. The timer starts (and is allocated) the
/// first time the inner validation is pending.
#[derive(Debug)]
pub struct TimeoutFuture<F> {
    inner: F,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<F, P> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<P, ValidationError>> + Unpin,
{
    type Output = Result<P, ValidationError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(outcome) = Pin::new(&mut self.inner).poll(cx) {
            return Poll::Ready(outcome);
        }
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(ValidationError::timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}
