//! The one step after admission: a gate decides an admitted request, its
//! principal and the request's head known: pass, with a field for the
//! answer; refuse, with a rejection and the fields its answer carries; or
//! decide later (a future the layer's response future awaits before it
//! calls the inner service). The layer's own rate limit is the first gate
//! (`rate_limit/gate.rs`); a layer without a gate pays one `Option` check.
//! Crate-internal: the seam per-key policies (credits, address allowlists)
//! plug into.

use std::future::Future;
use std::pin::Pin;

use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::rejection::Rejection;

/// A step after admission, for principals of type `P`.
pub(crate) trait Gate<P>: Send + Sync + 'static {
    /// The decision for `principal`, admitted for the request `parts`.
    fn check(&self, principal: &P, parts: &Parts) -> Gated;
}

/// The field a passing answer gets from its gate, if any.
#[derive(Debug, Default)]
pub(crate) struct Fields(Option<(&'static HeaderName, HeaderValue)>);

impl Fields {
    /// One field.
    // Built by gates only; without `rate-limit` no gate is compiled in.
    #[cfg_attr(not(feature = "rate-limit"), allow(dead_code))]
    pub(crate) fn one(name: &'static HeaderName, value: HeaderValue) -> Self {
        Self(Some((name, value)))
    }

    /// Moves the fields into an answer's headers.
    pub(crate) fn add_to(&mut self, headers: &mut HeaderMap) {
        if let Some((name, value)) = self.0.take() {
            headers.insert(name, value);
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
// Built by gates only; without `rate-limit` no gate is compiled in.
#[cfg_attr(not(feature = "rate-limit"), allow(dead_code))]
pub(crate) enum Gated {
    Now(Decided),
    Later(Pending),
}
