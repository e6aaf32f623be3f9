//! Turning a [`Rejection`] into a response: HTTP (status, challenge, body)
//! or gRPC (trailers-only), shared by the layer and the per-route scope layer.

use std::error::Error;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};

use super::format::RejectionFormat;
use super::{Rejection, RejectionKind, challenge, grpc, trace};

/// What a rejection of one kind looks like when it names no scopes, built
/// once: most rejections then cost no formatting and no allocation.
#[derive(Debug, Clone)]
struct Prepared {
    body: Bytes,
    content_length: HeaderValue,
    challenge: Option<HeaderValue>,
}

/// Renders rejections for one realm and body format.
#[derive(Debug, Clone)]
pub(crate) struct RejectionRenderer {
    /// `Bearer realm="..."` or `Bearer`: the start of every challenge.
    challenge_start: Box<str>,
    format: Arc<dyn RejectionFormat>,
    content_type: HeaderValue,
    prepared: [Prepared; RejectionKind::ALL.len()],
    /// The validator's failures are logged at most once a second per kind
    /// (unavailable, timeout), by this layer.
    #[cfg(feature = "tracing")]
    failures: Arc<trace::FailureLog>,
    /// The layer's metrics, for the route layers that share this renderer
    /// (`require_scope`'s refusals are recorded too).
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<Arc<crate::metrics::RequestMetrics>>,
}

impl RejectionRenderer {
    /// A renderer whose challenges start with `challenge_start`
    /// (see [`challenge::with_realm`]).
    pub(crate) fn new(challenge_start: String, format: Arc<dyn RejectionFormat>) -> Self {
        let prepared = RejectionKind::ALL.map(|kind| {
            let body = format.body(&Rejection::new(kind));
            Prepared {
                content_length: HeaderValue::from(body.len()),
                body,
                challenge: challenge::challenge(&challenge_start, kind, None),
            }
        });
        Self {
            challenge_start: challenge_start.into_boxed_str(),
            content_type: format.content_type(),
            format,
            prepared,
            #[cfg(feature = "tracing")]
            failures: Arc::default(),
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }

    /// The renderer used where no layer configured one (the axum extractor
    /// without the layer): no realm, JSON body.
    #[cfg(any(feature = "axum", feature = "rate-limit"))]
    pub(crate) fn without_realm() -> Self {
        Self::new(
            challenge::WITHOUT_REALM.to_owned(),
            Arc::new(super::format::ApiErrorJson),
        )
    }

    /// The response refusing `request`; the body is empty for `HEAD` and
    /// for gRPC. `cause` is the validator's error, logged and never sent;
    /// `subject` names the refused principal in the log (403 only).
    pub(crate) fn render(
        &self,
        rejection: &Rejection,
        request: &Parts,
        cause: Option<&(dyn Error + 'static)>,
        subject: Option<&str>,
    ) -> Response<Bytes> {
        let kind = rejection.kind();
        trace::rejected(
            rejection,
            request,
            cause,
            subject,
            #[cfg(feature = "tracing")]
            &self.failures,
        );

        let mut response = if let Some(content_type) = grpc::response_content_type(request) {
            grpc::trailers_only(content_type, kind, &rejection.message())
        } else {
            self.http(rejection, request)
        };
        debug_assert!(response.status() == StatusCode::OK || response.status() == kind.status());
        if let Some(seconds) = rejection.retry_after_seconds() {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(kind);
        response
    }

    fn http(&self, rejection: &Rejection, request: &Parts) -> Response<Bytes> {
        let kind = rejection.kind();
        let prepared = &self.prepared[kind.index()];
        let (body, content_length, challenge) = match rejection.required_scopes() {
            Some(scopes) if !scopes.is_empty() => {
                let body = self.format.body(rejection);
                let length = HeaderValue::from(body.len());
                let challenge = challenge::challenge(&self.challenge_start, kind, Some(scopes));
                (body, length, challenge)
            }
            // The message says when to retry.
            _ if rejection.retry_after().is_some() => {
                let body = self.format.body(rejection);
                let length = HeaderValue::from(body.len());
                (body, length, None)
            }
            _ => (
                prepared.body.clone(),
                prepared.content_length.clone(),
                prepared.challenge.clone(),
            ),
        };
        let body = if request.method == Method::HEAD {
            Bytes::new()
        } else {
            body
        };
        let mut response = Response::new(body);
        *response.status_mut() = kind.status();
        let headers = response.headers_mut();
        if let Some(challenge) = challenge {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        headers.insert(CONTENT_TYPE, self.content_type.clone());
        headers.insert(CONTENT_LENGTH, content_length);
        response
    }
}
