//! The step after a token is found: deciding the request with the
//! validator's answer. Shared by the layer, its services and their futures
//! behind one `Arc`.

use std::sync::Arc;

use http::header::CACHE_CONTROL;
use http::request::Parts;
use http::{HeaderMap, HeaderValue};

use crate::credentials::{CredentialRules, Origin};
use crate::principal::Principal;
#[cfg(feature = "rate-limit")]
use crate::rate_limit::inline::{self, InlineLimit};
#[cfg(feature = "rate-limit")]
use crate::rate_limit::limiter::{Check, Verdict};
use crate::rejection::{Rejection, RejectionKind, RejectionRenderer};
use crate::scope::ScopePolicy;
use crate::validator::{ValidationError, ValidationFailure};

/// Everything a request needs from the layer's configuration: the
/// validator, where to find the token, which scopes the request needs, and
/// how to refuse it. One `Arc` for all of it, so that a service clone (axum
/// clones a route's service for every request) costs one reference count.
#[derive(Debug)]
pub(crate) struct Admission<V, Pol> {
    pub(crate) validator: V,
    pub(crate) credentials: CredentialRules,
    pub(crate) policy: Pol,
    pub(crate) renderer: Arc<RejectionRenderer>,
    /// Put a clone of the principal in the response extensions too, for
    /// layers outside this one.
    pub(crate) principal_in_response: bool,
    /// The rate limit this layer applies itself, if any.
    #[cfg(feature = "rate-limit")]
    pub(crate) limit: Option<InlineLimit>,
}

/// A request that passed: the principal for the response (when the layer
/// exposes it), and where it stands with the layer's rate limit.
pub(crate) struct Admitted<P> {
    pub(crate) for_response: Option<P>,
    pub(crate) rate: RateState,
}

/// Where an admitted request stands with the layer's own rate limit.
pub(crate) enum RateState {
    /// Not limited: no limiter, or no quota for this principal.
    Unlimited,
    /// Passes; the answer carries this `RateLimit` field.
    #[cfg(feature = "rate-limit")]
    Pass(HeaderValue),
    /// Redis decides.
    #[cfg(feature = "rate-limit")]
    Wait(PendingVerdict),
}

impl RateState {
    /// The `RateLimit` field of a passing answer, or Redis's verdict still
    /// to come.
    pub(crate) fn field(self) -> Result<RateField, PendingVerdict> {
        match self {
            Self::Unlimited => Ok(RateField::default()),
            #[cfg(feature = "rate-limit")]
            Self::Pass(field) => Ok(Some(field)),
            #[cfg(feature = "rate-limit")]
            Self::Wait(verdict) => Err(verdict),
        }
    }
}

/// Redis's rate-limit verdict, to come.
#[cfg(feature = "rate-limit")]
pub(crate) use crate::rate_limit::limiter::PendingVerdict;

/// Without the `rate-limit` feature no verdict is ever pending.
#[cfg(not(feature = "rate-limit"))]
pub(crate) enum PendingVerdict {}

/// The `RateLimit` field a passing answer gets (none without the feature).
#[cfg(feature = "rate-limit")]
pub(crate) type RateField = Option<HeaderValue>;
/// The `RateLimit` field a passing answer gets (none without the feature).
#[cfg(not(feature = "rate-limit"))]
pub(crate) type RateField = ();

/// Why an admission failed: the rejection, the validator's error (logged as
/// the cause of a 503), and who was refused (named in a 403's log event).
pub(crate) struct Refusal<P> {
    pub(crate) rejection: Rejection,
    pub(crate) cause: Option<ValidationError>,
    pub(crate) principal: Option<P>,
    /// A 429's verdict, whose fields the answer carries (boxed: refusals
    /// travel in a `Result` whose size the passing path pays for too).
    #[cfg(feature = "rate-limit")]
    pub(crate) verdict: Option<Box<Verdict>>,
}

impl<P> Refusal<P> {
    /// The refusal carrying a 429's fields.
    #[cfg(feature = "rate-limit")]
    fn with_verdict(mut self, verdict: Verdict) -> Self {
        self.verdict = Some(Box::new(verdict));
        self
    }

    /// A refusal with only a rejection.
    pub(crate) fn new(rejection: Rejection) -> Self {
        Self {
            rejection,
            cause: None,
            principal: None,
            #[cfg(feature = "rate-limit")]
            verdict: None,
        }
    }
}

impl<V, Pol> Admission<V, Pol> {
    /// Decides a validated request: the scope check, the principal onto the
    /// current tracing span, the layer's own rate limit, then the principal
    /// goes into the extensions and the credential is scrubbed. Returns the
    /// principal for the response when the layer is configured to expose
    /// it, and the rate-limit state.
    pub(crate) fn admit<P>(
        &self,
        outcome: Result<P, ValidationError>,
        parts: &mut Parts,
        origin: Origin,
    ) -> Result<Admitted<P>, Refusal<P>>
    where
        P: Principal,
        Pol: ScopePolicy<P>,
    {
        let principal = outcome.map_err(|error| {
            let rejection = match error.failure() {
                ValidationFailure::Invalid => Rejection::new(RejectionKind::InvalidToken),
                ValidationFailure::Malformed => Rejection::new(RejectionKind::MalformedToken),
                ValidationFailure::Expired => Rejection::new(RejectionKind::ExpiredToken),
                ValidationFailure::TimedOut => Rejection::new(RejectionKind::ValidatorTimeout),
                ValidationFailure::Unavailable => {
                    Rejection::new(RejectionKind::ValidatorUnavailable)
                }
                ValidationFailure::RateLimited => {
                    Rejection::rate_limited(error.retry_after().unwrap_or_default())
                }
            };
            Refusal {
                cause: Some(error),
                ..Refusal::new(rejection)
            }
        })?;
        if let Err(required) = self.policy.authorize(parts, &principal) {
            return Err(Refusal {
                principal: Some(principal),
                ..Refusal::new(Rejection::insufficient_scope(required))
            });
        }
        // On the span before the rate limit, so that a 429 names the key too.
        record_on_span(&principal);
        #[cfg(feature = "rate-limit")]
        let rate = match &self.limit {
            None => RateState::Unlimited,
            Some(limit) => match limit.check(&principal) {
                Some(Check::Unlimited) => RateState::Unlimited,
                Some(Check::Ready(verdict)) if verdict.decision.allowed => {
                    RateState::Pass(verdict.state)
                }
                Some(Check::Ready(verdict)) => return Err(over_quota(Some(principal), verdict)),
                Some(Check::Pending(verdict)) => RateState::Wait(verdict),
                // Not the principal type the limiter was built for: the
                // layer's types rule this out; if it happened, fail closed.
                None => {
                    return Err(Refusal::new(Rejection::new(
                        RejectionKind::ValidatorUnavailable,
                    )));
                }
            },
        };
        #[cfg(not(feature = "rate-limit"))]
        let rate = RateState::Unlimited;
        self.credentials.scrub(parts, origin);
        let for_response = self.principal_in_response.then(|| principal.clone());
        parts.extensions.insert(principal);
        Ok(Admitted { for_response, rate })
    }

    /// The 429 for a verdict Redis gave later (the request was admitted
    /// meanwhile; `parts` hold its principal, named in the log event).
    #[cfg(feature = "rate-limit")]
    pub(crate) fn refuse_late<P: Principal>(
        &self,
        verdict: Verdict,
        parts: &Parts,
    ) -> http::Response<bytes::Bytes> {
        let principal = parts.extensions.get::<P>().cloned();
        let refusal = over_quota(principal, verdict);
        self.refuse(refusal, parts)
    }

    /// The response refusing a request, with the validator's error (if any)
    /// logged as its cause.
    pub(crate) fn refuse<P: Principal>(
        &self,
        refusal: Refusal<P>,
        parts: &Parts,
    ) -> http::Response<bytes::Bytes> {
        let cause = refusal
            .cause
            .as_ref()
            .map(|error| error as &(dyn std::error::Error + 'static));
        let subject = refusal.principal.as_ref().and_then(Principal::subject);
        #[allow(unused_mut)]
        let mut response = self
            .renderer
            .render(&refusal.rejection, parts, cause, subject);
        #[cfg(feature = "rate-limit")]
        if let Some(verdict) = refusal.verdict {
            inline::add_refusal_fields(response.headers_mut(), *verdict);
        }
        response
    }
}

/// The 429 refusal of `principal` (named in its log event) for `verdict`.
#[cfg(feature = "rate-limit")]
#[cold]
fn over_quota<P>(principal: Option<P>, verdict: Verdict) -> Refusal<P> {
    Refusal {
        principal,
        ..Refusal::new(inline::rejection(&verdict))
    }
    .with_verdict(verdict)
}

/// Records the principal's subject (a key id, never a token) as the field
/// `principal` of the current span, for an access log outside the layer
/// whose span declares that field.
#[cfg(feature = "tracing")]
fn record_on_span<P: Principal>(principal: &P) {
    // No subscriber was ever set: no span to record on (the check tracing's
    // own macros make first).
    if !tracing::dispatcher::has_been_set() {
        return;
    }
    // What `Span::current().record(..)` does, without cloning the span (a
    // reference count up and down in the subscriber) and only when the
    // current span declares the field.
    tracing::dispatcher::get_default(|dispatch| {
        let Some((id, metadata)) = dispatch.current_span().into_inner() else {
            return;
        };
        let Some(field) = metadata.fields().field("principal") else {
            return;
        };
        if let Some(subject) = principal.subject() {
            let values = [(&field, Some(&subject as &dyn tracing::field::Value))];
            let values = metadata.fields().value_set(&values);
            dispatch.record(&id, &tracing::span::Record::new(&values));
        }
    });
}

#[cfg(not(feature = "tracing"))]
fn record_on_span<P: Principal>(_principal: &P) {}

/// Adds the `RateLimit` field of the layer's own rate limit, if any, to a
/// passing answer.
#[cfg(feature = "rate-limit")]
pub(crate) fn add_rate_field(headers: &mut HeaderMap, rate: &mut RateField) {
    if let Some(field) = rate.take() {
        inline::add_state(headers, field);
    }
}

/// Without the `rate-limit` feature there is no field to add.
#[cfg(not(feature = "rate-limit"))]
pub(crate) fn add_rate_field(_headers: &mut HeaderMap, _rate: &mut RateField) {}

/// RFC 6750 §2.3: a response to a request authenticated through the URI
/// should not be cached by shared caches. Keeps a stricter directive the
/// inner service set (`private`, `no-store`); replaces any other.
pub(crate) fn keep_private(headers: &mut HeaderMap) {
    let strict = headers.get(CACHE_CONTROL).is_some_and(|value| {
        value.to_str().is_ok_and(|value| {
            value.split(',').map(str::trim).any(|directive| {
                directive.eq_ignore_ascii_case("private")
                    || directive.eq_ignore_ascii_case("no-store")
            })
        })
    });
    if !strict {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_private_is_added_or_kept() {
        let mut headers = HeaderMap::new();
        keep_private(&mut headers);
        assert_eq!(headers[CACHE_CONTROL], "private");

        let mut headers = HeaderMap::new();
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        keep_private(&mut headers);
        assert_eq!(headers[CACHE_CONTROL], "private");

        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("No-Store"));
        keep_private(&mut headers);
        assert_eq!(headers[CACHE_CONTROL], "No-Store");
    }
}
