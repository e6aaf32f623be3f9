//! The demo's router: `/health` in the open; REST and gRPC behind one
//! `BearerAuthLayer`.

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::{get, post};
use tower_bearer_auth::{
    BearerAuthLayer, ConfigError, KeyStore, ScopeRequirement, ScopeTable, Unlisted,
};

use crate::grpc::ProfilesService;
use crate::proto::profiles_server::ProfilesServer;
use crate::{request_log, rest};

/// Builds the whole application for `store` and `realm`.
pub(crate) fn router(store: KeyStore, realm: &str) -> Result<Router, ConfigError> {
    let read = ScopeRequirement::all(["profile:read"])?;
    let write = ScopeRequirement::all(["calls:write"])?;

    // gRPC methods get their scopes from the layer's table (tonic
    // interceptors cannot see the method; the layer sees the HTTP/2 path).
    // REST routes use per-route layers; unlisted paths need only a valid key.
    let grpc_scopes = ScopeTable::new(Unlisted::Authenticated)
        .grpc_method("demo.v1.Profiles", "GetProfile", read.clone())?
        .grpc_method("demo.v1.Profiles", "PlaceCall", write.clone())?;
    let auth = BearerAuthLayer::builder(store)
        .realm(realm)
        .scope_policy(grpc_scopes)
        .build()?;

    let rest = Router::new()
        // Any valid key: "does my key work?" (same handler as /health).
        .route("/v1/ping", get(rest::health))
        .route(
            "/v1/profile",
            get(rest::profile).route_layer(auth.require_scope(read)),
        )
        .route(
            "/v1/calls",
            post(rest::place_call).route_layer(auth.require_scope(write)),
        );
    let grpc = tonic::service::Routes::new(ProfilesServer::new(ProfilesService)).into_axum_router();

    let protected = rest.merge(grpc).layer(auth);
    Ok(Router::new()
        .route("/health", get(rest::health))
        .merge(protected)
        .layer(from_fn(request_log::log_request)))
}
