//! The step after a token is found: deciding the request with the
//! validator's answer. Shared by the layer, its services and their futures
//! behind one `Arc`.

use std::fmt;
use std::sync::Arc;

use http::header::CACHE_CONTROL;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::credentials::{CredentialRules, Origin};
use crate::gate::{Fields, Gate, Gated, Pending, Refused};
use crate::key_policy::gate::{PolicyRules, address_refused};
use crate::observe::{self, Decision};
use crate::principal::Principal;
use crate::rejection::{Rejection, RejectionKind, RejectionRenderer};
use crate::scope::ScopePolicy;
use crate::validator::{TokenValidator, ValidationError, ValidationFailure};

/// Everything a request needs from the layer's configuration: the
/// validator, where to find the token, which scopes the request needs, how
/// to refuse it, and the gate after admission. One `Arc` for all of it, so
/// that a service clone (axum clones a route's service for every request)
/// costs one reference count.
pub(crate) struct Admission<V: TokenValidator, Pol> {
    pub(crate) validator: V,
    pub(crate) credentials: CredentialRules,
    pub(crate) policy: Pol,
    pub(crate) renderer: Arc<RejectionRenderer>,
    /// Put a clone of the principal in the response extensions too, for
    /// layers outside this one.
    pub(crate) principal_in_response: bool,
    /// The step after admission (the layer's own rate limit), if any.
    pub(crate) gate: Option<Arc<dyn Gate<V::Principal>>>,
    /// Who the client is and what requests cost, for keys with policies.
    pub(crate) policies: PolicyRules,
    /// What the layer records on the `metrics` facade, if anything.
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<Arc<crate::metrics::RequestMetrics>>,
}

/// A request that passed: the principal for the response (when the layer
/// exposes it), and what comes next.
pub(crate) struct Admitted<P> {
    pub(crate) for_response: Option<P>,
    pub(crate) next: Next,
}

/// What an admitted request does next.
pub(crate) enum Next {
    /// Call the inner service; the answer gets these fields.
    Call(Fields),
    /// The gate decides later.
    Wait(Pending),
}

/// Why an admission failed: the rejection, the validator's error (logged as
/// the cause of a 503), who was refused (named in a 403's log event), and
/// the fields a gate's refusal carries (boxed: refusals travel in a
/// `Result` whose size the passing path pays for too).
pub(crate) struct Refusal<P> {
    pub(crate) rejection: Rejection,
    pub(crate) cause: Option<ValidationError>,
    pub(crate) principal: Option<P>,
    pub(crate) fields: Option<Box<[(&'static HeaderName, HeaderValue)]>>,
}

impl<P> Refusal<P> {
    /// A refusal with only a rejection.
    pub(crate) fn new(rejection: Rejection) -> Self {
        Self {
            rejection,
            cause: None,
            principal: None,
            fields: None,
        }
    }

    /// A gate's refusal of `principal` (named in its log event).
    #[cold]
    pub(crate) fn gated(principal: Option<P>, refused: Refused) -> Self {
        let Refused { rejection, fields } = refused;
        Self {
            principal,
            fields: Some(fields.into_boxed_slice()),
            ..Self::new(rejection)
        }
    }
}

impl<V: TokenValidator, Pol> Admission<V, Pol> {
    /// Decides a validated request: the scope check, the principal onto the
    /// current tracing span, the gate, then the principal goes into the
    /// extensions and the credential is scrubbed. Returns the principal for
    /// the response when the layer is configured to expose it, and what
    /// comes next.
    pub(crate) fn admit(
        &self,
        outcome: Result<V::Principal, ValidationError>,
        parts: &mut Parts,
        origin: Origin,
    ) -> Result<Admitted<V::Principal>, Refusal<V::Principal>>
    where
        Pol: ScopePolicy<V::Principal>,
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
            observe::decided(
                self,
                origin.started,
                Decision::Refused(rejection.kind()),
                None,
            );
            Refusal {
                cause: Some(error),
                ..Refusal::new(rejection)
            }
        })?;
        let policies = principal.key_policies();
        if let Some(policies) = policies
            && !self.policies.admits_address(policies, parts)
        {
            let rejection = address_refused();
            observe::decided(
                self,
                origin.started,
                Decision::Refused(rejection.kind()),
                Some(&principal),
            );
            return Err(Refusal {
                principal: Some(principal),
                ..Refusal::new(rejection)
            });
        }
        if let Err(required) = self.policy.authorize(parts, &principal) {
            observe::decided(
                self,
                origin.started,
                Decision::Refused(RejectionKind::InsufficientScope),
                Some(&principal),
            );
            return Err(Refusal {
                principal: Some(principal),
                ..Refusal::new(Rejection::insufficient_scope(required))
            });
        }
        // On the span before the gate, so that a 429 names the key too.
        record_on_span(&principal);
        let gated = match (principal.key_policies(), &self.gate) {
            (None, None) => None,
            (None, Some(gate)) => Some(gate.check(&principal)),
            (Some(policies), gate) => {
                Some(
                    self.policies
                        .check(policies, &principal, parts, gate.as_ref()),
                )
            }
        };
        let next = match gated {
            None => Next::Call(observe::passed(
                self,
                origin.started,
                Some(&principal),
                Fields::default(),
            )),
            Some(Gated::Now(Ok(fields))) => Next::Call(observe::passed(
                self,
                origin.started,
                Some(&principal),
                fields,
            )),
            Some(Gated::Now(Err(refused))) => {
                let kind = Decision::Refused(refused.rejection.kind());
                observe::decided(self, origin.started, kind, Some(&principal));
                return Err(Refusal::gated(Some(principal), *refused));
            }
            Some(Gated::Later(pending)) => Next::Wait(pending),
        };
        self.credentials.scrub(parts, origin);
        let for_response = self.principal_in_response.then(|| principal.clone());
        parts.extensions.insert(principal);
        Ok(Admitted { for_response, next })
    }

    /// The response refusing a request, with the validator's error (if any)
    /// logged as its cause and a gate's fields (if any) added.
    pub(crate) fn refuse(
        &self,
        refusal: Refusal<V::Principal>,
        parts: &Parts,
    ) -> http::Response<bytes::Bytes> {
        let cause = refusal
            .cause
            .as_ref()
            .map(|error| error as &(dyn std::error::Error + 'static));
        let subject = refusal.principal.as_ref().and_then(Principal::subject);
        let mut response = self
            .renderer
            .render(&refusal.rejection, parts, cause, subject);
        if let Some(fields) = refusal.fields {
            for (name, value) in fields {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

impl<V: TokenValidator + fmt::Debug, Pol: fmt::Debug> fmt::Debug for Admission<V, Pol> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission")
            .field("validator", &self.validator)
            .field("credentials", &self.credentials)
            .field("policy", &self.policy)
            .field("renderer", &self.renderer)
            .field("principal_in_response", &self.principal_in_response)
            .field("gate", &self.gate.as_ref().map(|_| "set"))
            .field("policies", &self.policies)
            .finish()
    }
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
