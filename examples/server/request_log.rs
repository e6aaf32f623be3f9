//! One log line per request outcome. Only the path is logged (never the
//! query, which may carry `access_token`), and never a header.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tower_bearer_auth::RejectionKind;

use crate::jwt::{Who, caller_id};

/// Whether request lines are logged at all (`RUST_LOG` at `info` for this
/// target), decided once when the router is built: when they are not, the
/// router has no logging layer and the authentication layers put no
/// principal in the responses, so a server started with `RUST_LOG=warn`
/// does no per-request work for a line it would not write.
pub(crate) fn enabled() -> bool {
    tracing::enabled!(tracing::Level::INFO)
}

/// Outermost: logs method, path, status, outcome, the key id and duration.
/// The outcome is the rejection kind the layer put in the response
/// extensions, or `passed` (authenticated or public); the key id (or
/// `jwt:<sub>` for a JWT) comes from the principal the layer puts there
/// (`principal_in_response`), `-` for public routes and refusals.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let outcome = response
        .extensions()
        .get::<RejectionKind>()
        .map_or("passed", |kind| kind.as_str());
    let key_id = response
        .extensions()
        .get::<Who>()
        .map_or_else(|| "-".to_owned(), caller_id);
    let grpc_status = response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        grpc_status,
        outcome,
        key_id,
        micros = started.elapsed().as_micros(),
        "request"
    );
    response
}
