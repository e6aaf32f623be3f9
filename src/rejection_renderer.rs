//! Turning a [`Rejection`] into a response: HTTP (status, challenge, body)
//! or gRPC (trailers-only), shared by the layer and the per-route scope layer.

use std::error::Error;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};

use crate::api_error_json::ApiErrorJson;
use crate::challenge::Challenges;
use crate::config_error::ConfigError;
use crate::grpc;
use crate::rejection::{Rejection, RejectionKind};
use crate::rejection_format::RejectionFormat;
use crate::trace;

/// Renders rejections for one realm and body format.
#[derive(Debug, Clone)]
pub(crate) struct RejectionRenderer {
    challenges: Challenges,
    format: Arc<dyn RejectionFormat>,
    content_type: HeaderValue,
    /// The body of each kind's rejection when it names no scopes, rendered
    /// once: most rejections then cost no formatting and no allocation.
    bodies: [(Bytes, HeaderValue); RejectionKind::ALL.len()],
}

impl RejectionRenderer {
    pub(crate) fn new(realm: &str, format: Arc<dyn RejectionFormat>) -> Result<Self, ConfigError> {
        Ok(Self::with(Challenges::with_realm(realm)?, format))
    }

    /// The default realm with the default JSON body.
    pub(crate) fn default_realm() -> Self {
        Self::with(Challenges::default_realm(), Arc::new(ApiErrorJson))
    }

    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    /// The renderer used where no layer configured one: no realm, JSON body.
    pub(crate) fn without_realm() -> Self {
        Self::with(Challenges::without_realm(), Arc::new(ApiErrorJson))
    }

    fn with(challenges: Challenges, format: Arc<dyn RejectionFormat>) -> Self {
        let bodies = RejectionKind::ALL.map(|kind| {
            let body = format.body(&Rejection::new(kind));
            let length = HeaderValue::from(body.len());
            (body, length)
        });
        Self {
            challenges,
            content_type: format.content_type(),
            format,
            bodies,
        }
    }

    /// The body of `rejection` and its length header.
    fn body(&self, rejection: &Rejection) -> (Bytes, HeaderValue) {
        match rejection.required_scopes() {
            Some(scopes) if !scopes.is_empty() => {
                let body = self.format.body(rejection);
                let length = HeaderValue::from(body.len());
                (body, length)
            }
            _ => self.bodies[rejection.kind().index()].clone(),
        }
    }

    /// The response refusing `request`; the body is empty for `HEAD` and
    /// for gRPC. `cause` is the validator's error, logged and never sent.
    pub(crate) fn render(
        &self,
        rejection: &Rejection,
        request: &Parts,
        cause: Option<&(dyn Error + 'static)>,
    ) -> Response<Bytes> {
        let kind = rejection.kind();
        trace::rejected(kind, request, cause);

        let mut response = if let Some(content_type) = grpc::response_content_type(&request.headers)
        {
            let mut response = Response::new(Bytes::new());
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, content_type);
            headers.insert(grpc::GRPC_STATUS, grpc::status_value(kind.grpc_code()));
            headers.insert(
                grpc::GRPC_MESSAGE,
                grpc::encode_message(&rejection.message()),
            );
            response
        } else {
            let (body, length) = self.body(rejection);
            let body = if request.method == Method::HEAD {
                Bytes::new()
            } else {
                body
            };
            let mut response = Response::new(body);
            *response.status_mut() = kind.status();
            let headers = response.headers_mut();
            if let Some(challenge) = self.challenges.for_rejection(rejection) {
                headers.insert(WWW_AUTHENTICATE, challenge);
            }
            headers.insert(CONTENT_TYPE, self.content_type.clone());
            headers.insert(CONTENT_LENGTH, length);
            response
        };
        debug_assert!(response.status() == StatusCode::OK || response.status() == kind.status());
        response.extensions_mut().insert(kind);
        response
    }
}
