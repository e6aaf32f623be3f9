//! What every request needs from the layer's configuration, shared by the
//! layer, its services and their futures behind one `Arc`.

use std::sync::Arc;

use http::header::CACHE_CONTROL;
use http::request::Parts;
use http::{HeaderMap, HeaderValue};

use crate::credentials::CredentialRules;
use crate::principal::Principal;
use crate::rejection::{Rejection, RejectionKind};
use crate::rejection_renderer::RejectionRenderer;
use crate::scope_policy::ScopePolicy;
use crate::token_source;
use crate::validation_error::{ValidationError, ValidationFailure};

#[derive(Debug)]
pub(crate) struct Settings<P> {
    pub(crate) policy: P,
    pub(crate) credentials: CredentialRules,
    pub(crate) renderer: Arc<RejectionRenderer>,
}

impl<P> Settings<P> {
    /// The response refusing a request, with the validator's error (if any)
    /// logged as its cause.
    pub(crate) fn render(
        &self,
        rejection: &Rejection,
        parts: &Parts,
        cause: Option<&ValidationError>,
    ) -> http::Response<bytes::Bytes> {
        let cause = cause.map(|error| error as &(dyn std::error::Error + 'static));
        self.renderer.render(rejection, parts, cause)
    }

    /// Decides a validated request: scope check, then the principal goes into
    /// the extensions, the credential headers are marked sensitive, and a
    /// token that came in the query is removed from the URI.
    pub(crate) fn admit<Pr>(
        &self,
        outcome: Result<Pr, ValidationError>,
        parts: &mut Parts,
        from_query: bool,
    ) -> Result<(), (Rejection, Option<ValidationError>)>
    where
        Pr: Principal,
        P: ScopePolicy<Pr>,
    {
        let principal = outcome.map_err(|error| {
            let kind = match error.failure() {
                ValidationFailure::Invalid => RejectionKind::InvalidToken,
                ValidationFailure::Malformed => RejectionKind::MalformedToken,
                ValidationFailure::Expired => RejectionKind::ExpiredToken,
                ValidationFailure::TimedOut => RejectionKind::ValidatorTimeout,
                // `ValidationFailure` is ours and exhaustive here; anything else fails closed.
                ValidationFailure::Unavailable => RejectionKind::ValidatorUnavailable,
            };
            (Rejection::new(kind), Some(error))
        })?;
        self.policy
            .authorize(parts, &principal)
            .map_err(|required| (Rejection::insufficient_scope(required), None))?;
        for source in self.credentials.sources() {
            source.mark_sensitive(&mut parts.headers);
        }
        if from_query && let Some(stripped) = token_source::without_access_token(&parts.uri) {
            parts.uri = stripped;
        }
        parts.extensions.insert(principal);
        Ok(())
    }
}

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
