//! Readiness, apart from liveness (`/health`): `GET /ready` and the gRPC
//! health service say whether requests can be authenticated now: the key
//! set is loaded and proven fresh (a replica of Redis), and a configured
//! JWKS has keys. A pod that is not ready answers 503 to every token, so a
//! load balancer should send it nothing.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower_bearer_auth::jwt::JwtValidator;
use tower_bearer_auth::key_store::redis::ReplicaState;

use crate::keys::Health;

/// How often the gRPC health statuses are brought up to date.
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// What readiness depends on.
#[derive(Clone)]
pub(crate) struct Readiness {
    pub(crate) health: Health,
    pub(crate) jwt: Option<JwtValidator>,
}

impl Readiness {
    /// `Ok` when requests can be authenticated, else why not (public: no
    /// key, no problem detail).
    pub(crate) async fn check(&self) -> Result<(), &'static str> {
        if let Health::Shared(store, _) = &self.health {
            // A replica serving stale answers by its explicit opt-in
            // (`ServeStale`) still answers: ready.
            if !matches!(
                store.state(),
                ReplicaState::Fresh | ReplicaState::ServingStale
            ) {
                return Err("The key set is not loaded and proven fresh");
            }
        }
        if let Some(jwt) = &self.jwt
            && !jwt.ready(Duration::ZERO).await
        {
            return Err("The JWT signing keys are not loaded");
        }
        Ok(())
    }
}

/// `GET /ready` (public): 200 `{"status": "ready"}`, or 503 with the
/// crate's error body (`unavailable`).
pub(crate) async fn ready(State(readiness): State<Readiness>) -> Response {
    match readiness.check().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": {"code": "unavailable", "message": why}})),
        )
            .into_response(),
    }
}

/// Keeps the gRPC health statuses of `services` and of the server (`""`)
/// at `SERVING` exactly while ready, `NOT_SERVING` otherwise.
pub(crate) fn report_to_grpc(
    readiness: Readiness,
    reporter: HealthReporter,
    services: &'static [&'static str],
) {
    tokio::spawn(async move {
        let mut reported = None;
        loop {
            let status = if readiness.check().await.is_ok() {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            if reported != Some(status) {
                for service in std::iter::once("").chain(services.iter().copied()) {
                    reporter.set_service_status(service, status).await;
                }
                reported = Some(status);
            }
            tokio::time::sleep(REPORT_EVERY).await;
        }
    });
}
