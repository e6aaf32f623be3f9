//! The rate limit a [`BearerAuthLayer`](crate::BearerAuthLayer) applies
//! itself ([`BearerAuthBuilder::rate_limiter`](crate::BearerAuthBuilder::rate_limiter)),
//! as the layer's gate (`src/gate.rs`): the same limiter and the same
//! answers as the separate [`RateLimitLayer`](super::RateLimitLayer),
//! decided right after the scope check, so that a request goes through one
//! service, one future and one body wrapper instead of two. The verdict ->
//! answer helpers here serve both.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use super::headers;
use super::limiter::{Check, Verdict};
use super::{RateLimited, RateLimiter};
use crate::gate::{Decided, Fields, Gate, Gated, Refused};
use crate::rejection::Rejection;

/// A limiter as the layer's gate.
pub(crate) struct RateGate {
    limiter: RateLimiter,
}

impl RateGate {
    pub(crate) fn new(limiter: RateLimiter) -> Self {
        Self { limiter }
    }
}

impl<P: RateLimited> Gate<P> for RateGate {
    fn check(&self, principal: &P) -> Gated {
        match self.limiter.check(principal) {
            Check::Unlimited => Gated::Now(Ok(Fields::default())),
            Check::Ready(verdict) => Gated::Now(decided(verdict)),
            Check::Pending(verdict) => {
                Gated::Later(Box::pin(async move { decided(verdict.await) }))
            }
        }
    }
}

/// A verdict as the gate's decision: the `RateLimit` field of a passing
/// answer, or the 429 with its two fields.
fn decided(verdict: Verdict) -> Decided {
    if verdict.decision.allowed {
        return Ok(Fields::one(&headers::RATELIMIT, verdict.state));
    }
    Err(Box::new(Refused {
        rejection: rejection(&verdict),
        fields: vec![
            (&headers::RATELIMIT_POLICY, verdict.policy_value()),
            (&headers::RATELIMIT, verdict.state),
        ],
    }))
}

/// The rejection for a refused verdict (429, `Retry-After`).
pub(crate) fn rejection(verdict: &Verdict) -> Rejection {
    Rejection::rate_limited(Duration::from_nanos(verdict.decision.wait))
}

/// Adds a 429's two fields: `RateLimit-Policy` and `RateLimit`.
pub(crate) fn add_refusal_fields(headers: &mut HeaderMap, verdict: Verdict) {
    headers.insert(&headers::RATELIMIT_POLICY, verdict.policy_value());
    headers.insert(&headers::RATELIMIT, verdict.state);
}

/// Adds a passing answer's `RateLimit` field.
pub(crate) fn add_state(headers: &mut HeaderMap, state: HeaderValue) {
    headers.insert(&headers::RATELIMIT, state);
}

impl fmt::Debug for RateGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateGate")
            .field("limiter", &self.limiter)
            .finish()
    }
}
