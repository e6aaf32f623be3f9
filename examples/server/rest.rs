//! The REST handlers.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::extract::Request;
use axum::extract::State;
use axum::http::Method;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tower_bearer_auth::axum::Authenticated;

use crate::jwt::{Who, caller_id};
use crate::keys::Health;

/// A new call id, shared by the REST and gRPC APIs.
pub(crate) fn next_call_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("call_{:06}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `GET /health` (public) and `GET /v1/ping` (any valid key): `ok`, or
/// `degraded` when the key set in force may differ from its source (see
/// [`Health`]). Public, so it names no key and no problem; the error log
/// does.
pub(crate) async fn health(State(health): State<Health>) -> Json<Value> {
    let (degraded, keys) = health.report();
    Json(json!({
        "status": if degraded { "degraded" } else { "ok" },
        "keys": keys,
    }))
}

/// `GET /v1/profile`: the calling key, or the JWT's subject (needs
/// `profile:read`).
pub(crate) async fn profile(Authenticated(who): Authenticated<Who>) -> Json<Value> {
    Json(crate::jwt::profile(&who))
}

/// `POST /v1/calls`: places a call (needs `calls:write`).
pub(crate) async fn place_call(
    Authenticated(who): Authenticated<Who>,
) -> (StatusCode, Json<Value>) {
    let call_id = next_call_id();
    (
        StatusCode::CREATED,
        Json(json!({ "call_id": call_id, "status": "queued", "placed_by": caller_id(&who) })),
    )
}

/// Any path no route serves (behind the layer: only key holders get
/// here): gRPC 12 `UNIMPLEMENTED` for a gRPC call, else 404 in the crate's
/// error shape.
pub(crate) async fn not_found(request: Request) -> Result<Response, Infallible> {
    let is_grpc = request.method() == Method::POST
        && request
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"));
    Ok(if is_grpc {
        tonic::Status::unimplemented("no such gRPC method").into_http()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "not_found", "message": "No such resource"}})),
        )
            .into_response()
    })
}
