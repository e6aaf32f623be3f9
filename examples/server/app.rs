//! The demo's router: `/health`, the standard gRPC health service and the
//! portal page in the open; the REST API, the admin API and the demo's gRPC
//! service behind `BearerAuthLayer`s sharing one key store.

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::{get, post};
use tonic::service::LayerExt;
use tower::service_fn;
use tower_bearer_auth::admin::{self, AdminApi, GithubSecretScanning};
use tower_bearer_auth::jwt::{JwtValidator, KeyOrJwt};
use tower_bearer_auth::key_policy::{CreditCosts, TrustedProxies};
use tower_bearer_auth::key_store::admin::KeyAdmin;
use tower_bearer_auth::key_store::redis::SharedKeyStore;
use tower_bearer_auth::rate_limit::RateLimiter;
use tower_bearer_auth::scope::{ScopeTable, Unlisted};
use tower_bearer_auth::{
    ApiKey, BearerAuthBuilder, BearerAuthLayer, ConfigError, ScopeRequirement, TokenValidator,
};
use tower_layer::Layer;

use std::sync::Arc;

use crate::grpc::ProfilesService;
use crate::keys::Health;
use crate::metrics::Metrics;
use crate::proto::profiles_server::ProfilesServer;
use crate::ready::{self, Readiness};
use crate::{request_log, rest};

/// How the application is built, beside its keys.
pub(crate) struct Settings<'a> {
    /// Also accept JWTs, when set.
    pub(crate) jwt: Option<JwtValidator>,
    /// One quota per key for REST and gRPC together.
    pub(crate) limiter: RateLimiter,
    pub(crate) realm: &'a str,
    /// Whose `Forwarded` / `X-Forwarded-For` are believed (keys with
    /// `allowed_ips`).
    pub(crate) trusted_proxies: TrustedProxies,
    /// What `/health` reports: the state of the key set.
    pub(crate) health: Health,
    /// The replica whose Redis counts credits for every replica (with
    /// `--redis`).
    pub(crate) credits_in: Option<SharedKeyStore>,
    /// Where GitHub's secret-scanning keys are published.
    pub(crate) github_keys_url: String,
    /// What the layers record, and `GET /metrics`.
    pub(crate) metrics: Metrics,
}

/// Builds the whole application for `keys`, changed through `admin`.
/// Every API route and gRPC method costs keys with credits 1; the admin
/// API and unknown paths cost nothing (a key without credits left is
/// refused there too).
pub(crate) fn router<V, A>(keys: V, admin: A, settings: Settings<'_>) -> Result<Router, ConfigError>
where
    V: TokenValidator<Principal = ApiKey> + Clone + Send + Sync + 'static,
    V::Future: Send,
    A: KeyAdmin + Clone,
{
    let Settings {
        jwt,
        limiter,
        realm,
        trusted_proxies,
        health,
        credits_in,
        github_keys_url,
        metrics,
    } = settings;
    // Credits in Redis (exact across replicas) when the key set is there.
    // Every layer records its decisions on the same metrics.
    let credits = |builder: BearerAuthBuilder<KeyOrJwt<V, JwtValidator>>| {
        let builder = builder.metrics(Arc::clone(&metrics.layers));
        match &credits_in {
            Some(store) => builder.shared_credits(store),
            None => builder,
        }
    };
    // Keys and JWTs on the same layers: the principal is either (`Who`).
    let readiness = Readiness {
        health: health.clone(),
        jwt: jwt.clone(),
    };
    let keys = KeyOrJwt::new(keys, jwt);
    let read = ScopeRequirement::all(["profile:read"])?;
    let write = ScopeRequirement::all(["calls:write"])?;

    // REST: any valid key passes the layer; routes add their scopes with
    // per-route layers. The request log (outside the layer) names the key
    // that passed, from the response extensions.
    let log_requests = request_log::enabled();
    let rest_auth = credits(BearerAuthLayer::builder(keys.clone()))
        .realm(realm)
        .principal_in_response(log_requests)
        .trusted_proxies(trusted_proxies.clone())
        .credit_costs(CreditCosts::new().default_cost(0))
        .build()?;
    // The API routes: the same layer with the rate limit in it (one
    // service, one future per request; the admin API and unknown paths
    // are authenticated but not counted).
    let rest_limited = credits(BearerAuthLayer::builder(keys.clone()))
        .realm(realm)
        .principal_in_response(log_requests)
        .trusted_proxies(trusted_proxies.clone())
        .rate_limiter(limiter.clone())
        .build()?;
    // Unknown paths need a key too, so that nobody without one can tell
    // which paths exist; with one, they get a 404 (or gRPC 12).
    let unknown = rest_auth.layer(service_fn(rest::not_found));
    let rest = Router::new()
        // Any valid key: "does my key work?" (same handler as /health).
        .route("/v1/ping", get(rest::health))
        .route(
            "/v1/profile",
            get(rest::profile).route_layer(rest_auth.require_scope(read.clone())),
        )
        .route(
            "/v1/calls",
            post(rest::place_call).route_layer(rest_auth.require_scope(write.clone())),
        )
        .layer(rest_limited)
        .with_state(health.clone());

    // gRPC: methods get their scopes from the layer's table (tonic
    // interceptors cannot see the method; the layer sees the HTTP/2 path).
    // `named_layer` protects `demo.v1.Profiles` and keeps its gRPC name, so
    // the standard health service next to it stays open: probes carry no key.
    // Unlisted methods are refused: a method added to the service later is
    // closed until it is listed here.
    let grpc_scopes = ScopeTable::new(Unlisted::Forbidden)
        .grpc_method("demo.v1.Profiles", "GetProfile", read)?
        .grpc_method("demo.v1.Profiles", "PlaceCall", write)?;
    // One limiter for both layers: one quota per key for REST and gRPC.
    let grpc_auth = credits(BearerAuthLayer::builder(keys))
        .realm(realm)
        .scope_policy(grpc_scopes)
        .principal_in_response(log_requests)
        .trusted_proxies(trusted_proxies)
        .rate_limiter(limiter)
        .build()?;
    let (reporter, grpc_health) = tonic_health::server::health_reporter();
    ready::report_to_grpc(readiness.clone(), reporter, &["demo.v1.Profiles"]);
    let grpc =
        tonic::service::Routes::new(grpc_auth.named_layer(ProfilesServer::new(ProfilesService)))
            .add_service(grpc_health)
            .into_axum_router();

    // The admin API needs `keys:admin` through the same layer (the request
    // log names the admin key that asked); the portal page holds no data.
    // GitHub's secret-scanning reports revoke leaked keys (signed by
    // GitHub, not behind a key).
    let leaks = GithubSecretScanning::new()
        .keys_url(github_keys_url)
        .router(admin.clone());
    let admin_api = AdminApi::new(admin).router(&rest_auth);

    // Prometheus text: a key with `metrics:read`, or anyone when public.
    let metrics_page = get(crate::metrics::page).with_state(metrics.clone());
    let metrics_page = if metrics.public {
        Router::new().route("/metrics", metrics_page)
    } else {
        let scrape = ScopeRequirement::all(["metrics:read"])?;
        Router::new()
            .route(
                "/metrics",
                metrics_page.route_layer(rest_auth.require_scope(scrape)),
            )
            .layer(rest_auth.clone())
    };

    let app = Router::new()
        .route("/health", get(rest::health))
        .with_state(health)
        .route("/ready", get(ready::ready).with_state(readiness))
        .merge(rest)
        .merge(admin_api)
        .merge(metrics_page)
        .merge(leaks)
        .merge(admin::portal())
        .merge(grpc)
        // Replaces tonic's own fallback, which would answer every unknown
        // path, REST ones included, with an unauthenticated gRPC 12.
        .fallback_service(unknown);
    Ok(if log_requests {
        app.layer(from_fn(request_log::log_request))
    } else {
        app
    })
}
