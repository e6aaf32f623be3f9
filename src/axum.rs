//! axum integration: an extractor for the authenticated principal.
//!
//! Per-route scope checks are plain tower layers and need no feature: see
//! [`BearerAuthLayer::require_scope`](crate::BearerAuthLayer::require_scope).

use std::fmt;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;

use crate::principal::Principal;
use crate::rejection::{self, Rejection, RejectionKind, RejectionRenderer};

/// Extracts the principal that [`BearerAuthLayer`](crate::BearerAuthLayer)
/// authenticated.
///
/// If the request did not go through the layer (a route mounted outside
/// it), extraction fails closed with the standard 401 rejection and an
/// error is logged: a mis-wired route never runs unauthenticated.
/// `Option<Authenticated<P>>` extracts `None` instead, for routes where
/// authentication is optional.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_bearer_auth::{ApiKey, BearerAuthLayer, KeyStore, axum::Authenticated};
///
/// async fn profile(Authenticated(key): Authenticated<ApiKey>) -> String {
///     format!("{} ({})", key.label(), key.id())
/// }
///
/// let app: Router = Router::new()
///     .route("/v1/profile", get(profile))
///     .layer(BearerAuthLayer::new(KeyStore::new()));
/// ```
#[derive(Debug, Clone)]
pub struct Authenticated<P>(pub P);

impl<S, P> FromRequestParts<S> for Authenticated<P>
where
    S: Send + Sync,
    P: Principal,
{
    type Rejection = MissingPrincipal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<P>() {
            Some(principal) => Ok(Self(principal.clone())),
            None => {
                rejection::missing_principal(std::any::type_name::<P>());
                let refusal = Rejection::new(RejectionKind::MissingCredentials);
                Err(MissingPrincipal(
                    RejectionRenderer::without_realm().render(&refusal, parts, None, None),
                ))
            }
        }
    }
}

impl<S, P> OptionalFromRequestParts<S> for Authenticated<P>
where
    S: Send + Sync,
    P: Principal,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<P>().cloned().map(Self))
    }
}

/// The rejection of [`Authenticated`]: a 401 (or gRPC 16) in the standard
/// shape, with a `Bearer` challenge without realm.
pub struct MissingPrincipal(http::Response<Bytes>);

impl IntoResponse for MissingPrincipal {
    fn into_response(self) -> Response {
        self.0.map(axum_core::body::Body::from)
    }
}

impl fmt::Debug for MissingPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MissingPrincipal")
            .field(&self.0.status())
            .finish()
    }
}
