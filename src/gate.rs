//! The one step after admission: a gate decides an admitted request, its
//! principal and the request's head known: pass, with a field for the
//! answer; refuse, with a rejection and the fields its answer carries; or
//! decide later (a future the layer's response future awaits before it
//! calls the inner service). The layer's own rate limit is the first gate
//! (`rate_limit/gate.rs`); a key's own policies (`key_policy/gate.rs`:
//! its address allowlist, its credits) run around it. A layer without a
//! rate limit, for a key without policies, pays two `Option` checks.

use std::future::Future;
use std::pin::Pin;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::key_policy::gate::CREDITS_REMAINING;
use crate::rejection::Rejection;

/// A step after admission, for principals of type `P`. It sees the
/// principal alone, so that a step can also run after an earlier one
/// decided later (the key's shared credits, then the rate limit).
pub(crate) trait Gate<P>: Send + Sync + 'static {
    /// The decision for `principal`.
    fn check(&self, principal: &P) -> Gated;
}

/// The fields a passing answer gets from its gates: the rate limit's
/// state, and the key's balance of credits after the request.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    one: Option<(&'static HeaderName, HeaderValue)>,
    credits: Option<u64>,
    /// The metrics to count the request with once it is answered.
    #[cfg(feature = "metrics")]
    admitted: Option<Box<crate::metrics::Admitted>>,
}

impl Fields {
    /// One field.
    // Built by the rate limit's gate only.
    #[cfg_attr(not(feature = "rate-limit"), allow(dead_code))]
    pub(crate) fn one(name: &'static HeaderName, value: HeaderValue) -> Self {
        Self {
            one: Some((name, value)),
            ..Self::default()
        }
    }

    /// Only the balance of credits.
    pub(crate) fn credits(remaining: u64) -> Self {
        Self {
            credits: Some(remaining),
            ..Self::default()
        }
    }

    /// These fields and the balance of credits.
    pub(crate) fn with_credits(mut self, remaining: u64) -> Self {
        self.credits = Some(remaining);
        self
    }

    /// These fields, and the metrics that count the request once answered.
    #[cfg(feature = "metrics")]
    pub(crate) fn with_admitted(mut self, admitted: Box<crate::metrics::Admitted>) -> Self {
        self.admitted = Some(admitted);
        self
    }

    /// Counts the answered request in the metrics (once), by its answer.
    #[cfg(feature = "metrics")]
    pub(crate) fn count_answer(&mut self, extensions: &http::Extensions) {
        if let Some(admitted) = self.admitted.take() {
            admitted.answered(extensions);
        }
    }

    /// Moves the fields into an answer's headers.
    pub(crate) fn add_to(&mut self, headers: &mut HeaderMap) {
        if let Some((name, value)) = self.one.take() {
            headers.insert(name, value);
        }
        if let Some(remaining) = self.credits.take() {
            headers.insert(&CREDITS_REMAINING, HeaderValue::from(remaining));
        }
    }
}

/// A gate's refusal: the rejection, and the fields its answer carries
/// (a 429's `RateLimit-Policy` and `RateLimit`).
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) rejection: Rejection,
    pub(crate) fields: Vec<(&'static HeaderName, HeaderValue)>,
}

/// A gate's decision: the passing answer's fields, or a refusal (boxed: it
/// travels in a `Result` whose size the passing path pays for too).
pub(crate) type Decided = Result<Fields, Box<Refused>>;

/// A decision still to come.
pub(crate) type Pending = Pin<Box<dyn Future<Output = Decided> + Send>>;

/// What a gate answers: a decision now, or later.
// Decided later by the Redis rate limit only.
#[cfg_attr(not(feature = "rate-limit"), allow(dead_code))]
pub(crate) enum Gated {
    Now(Decided),
    Later(Pending),
}
