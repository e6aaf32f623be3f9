//! The rate limit a [`BearerAuthLayer`](crate::BearerAuthLayer) applies
//! itself ([`BearerAuthBuilder::rate_limiter`](crate::BearerAuthBuilder::rate_limiter)):
//! the same limiter and the same answers as the separate
//! [`RateLimitLayer`](super::RateLimitLayer), decided where the principal
//! is admitted, so that a request goes through one service, one future and
//! one body wrapper instead of two.

use std::any::Any;
use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use super::headers;
use super::limiter::{Check, Verdict};
use super::{RateLimited, RateLimiter};
use crate::rejection::Rejection;

/// A limiter and the principal type it counts, chosen when the layer is
/// built (where the principal is known to be [`RateLimited`]).
pub(crate) struct InlineLimit {
    limiter: RateLimiter,
    check: fn(&RateLimiter, &dyn Any) -> Option<Check>,
}

impl InlineLimit {
    /// Counts principals of type `P` with `limiter`.
    pub(crate) fn new<P: RateLimited>(limiter: RateLimiter) -> Self {
        Self {
            limiter,
            check: check_as::<P>,
        }
    }

    /// The limiter's answer for `principal`; `None` only if `principal` is
    /// not of the type the layer was built for, which the layer's types
    /// rule out (the caller then fails closed).
    pub(crate) fn check(&self, principal: &dyn Any) -> Option<Check> {
        (self.check)(&self.limiter, principal)
    }
}

fn check_as<P: RateLimited>(limiter: &RateLimiter, principal: &dyn Any) -> Option<Check> {
    principal
        .downcast_ref::<P>()
        .map(|principal| limiter.check(principal))
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

impl fmt::Debug for InlineLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineLimit")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}
