//! The REST handlers.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tower_bearer_auth::ApiKey;
use tower_bearer_auth::axum::Authenticated;

/// A new call id, shared by the REST and gRPC APIs.
pub(crate) fn next_call_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("call_{:06}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `GET /health` (public) and `GET /v1/ping` (any valid key).
pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /v1/profile`: the calling key (needs `profile:read`).
pub(crate) async fn profile(Authenticated(key): Authenticated<ApiKey>) -> Json<Value> {
    Json(json!({
        "id": key.id(),
        "label": key.label(),
        "scopes": key.scopes().iter().collect::<Vec<_>>(),
    }))
}

/// `POST /v1/calls`: places a call (needs `calls:write`).
pub(crate) async fn place_call(
    Authenticated(key): Authenticated<ApiKey>,
) -> (StatusCode, Json<Value>) {
    let call_id = next_call_id();
    (
        StatusCode::CREATED,
        Json(json!({ "call_id": call_id, "status": "queued", "placed_by": key.id() })),
    )
}
