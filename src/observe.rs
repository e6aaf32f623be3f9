//! What the layer notes about each decided request, in one place: the
//! key's usage counts (feature `key-store`: atomics in the key's record)
//! and, when the layer has [`RequestMetrics`](crate::metrics::RequestMetrics)
//! (feature `metrics`), the outcome counter and the validation latency.
//! Without either, every function here is empty and `Started` takes no
//! room.

use crate::admission::Admission;
use crate::gate::Fields;
use crate::principal::Principal;
use crate::rejection::{RejectionKind, RejectionRenderer};
use crate::validator::TokenValidator;

/// When the layer began deciding a request (only kept when the layer
/// records metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Started(#[cfg(feature = "metrics")] Option<std::time::Instant>);

impl Started {
    /// Nothing started (a credential's origin before the layer's call).
    pub(crate) const NONE: Self = Self(
        #[cfg(feature = "metrics")]
        None,
    );

    /// Now, if `admission` records metrics.
    #[inline]
    pub(crate) fn now<V: TokenValidator, Pol>(admission: &Admission<V, Pol>) -> Self {
        #[cfg(feature = "metrics")]
        {
            Self(
                admission
                    .metrics
                    .as_ref()
                    .map(|_| std::time::Instant::now()),
            )
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = admission;
            Self()
        }
    }
}

/// How a request was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Admitted: the inner service is called.
    Passed,
    /// Refused with this rejection.
    Refused(RejectionKind),
}

/// Notes a decided request: the key's usage (for a key), and the metrics
/// (when the layer records them).
#[inline]
pub(crate) fn decided<V: TokenValidator, Pol>(
    admission: &Admission<V, Pol>,
    started: Started,
    decision: Decision,
    principal: Option<&V::Principal>,
) {
    #[cfg(feature = "key-store")]
    if let Some(principal) = principal {
        use crate::key_store::usage::UsageOutcome;
        let outcome = match decision {
            Decision::Passed => Some(UsageOutcome::Passed),
            Decision::Refused(kind) => UsageOutcome::of_rejection(kind),
        };
        if let (Some(usage), Some(outcome)) = (principal.key_usage(), outcome) {
            usage.count(outcome);
        }
    }
    #[cfg(feature = "metrics")]
    if let (Some(metrics), Decision::Refused(kind)) = (&admission.metrics, decision) {
        metrics.refused(kind, started.0, principal.and_then(Principal::subject));
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (admission, started);
    #[cfg(not(any(feature = "metrics", feature = "key-store")))]
    let _ = (decision, principal);
}

/// Notes an admitted request (its key's usage, the metrics' latency), and
/// adds to `fields` what counts it once its answer is known.
#[inline]
pub(crate) fn passed<V: TokenValidator, Pol>(
    admission: &Admission<V, Pol>,
    started: Started,
    principal: Option<&V::Principal>,
    fields: Fields,
) -> Fields {
    decided(admission, started, Decision::Passed, principal);
    #[cfg(feature = "metrics")]
    if let Some(metrics) = &admission.metrics {
        return fields
            .with_admitted(metrics.admitted(started.0, principal.and_then(Principal::subject)));
    }
    fields
}

/// Notes a refusal by a layer inside this one (a route's `require_scope`,
/// a separate `RateLimitLayer`) of a request the layer had passed: for the
/// key's usage it becomes that refusal, no longer a pass; the metrics
/// count the inner layer's decision too.
#[cold]
pub(crate) fn refused_after_passing<P: Principal>(
    renderer: &RejectionRenderer,
    principal: &P,
    kind: RejectionKind,
) {
    #[cfg(feature = "key-store")]
    if let (Some(usage), Some(outcome)) = (
        principal.key_usage(),
        crate::key_store::usage::UsageOutcome::of_rejection(kind),
    ) {
        usage.refused_after_passing(outcome);
    }
    #[cfg(feature = "metrics")]
    if let Some(metrics) = &renderer.metrics {
        metrics.refused(kind, None, principal.subject());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = renderer;
    #[cfg(not(any(feature = "metrics", feature = "key-store")))]
    let _ = (principal, kind);
}
