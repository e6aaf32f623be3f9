//! One log line per request outcome. Only the path is logged (never the
//! query, which may carry `access_token`), and never a header.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tower_bearer_auth::{ApiKey, RejectionKind};

/// The id of the key that made a request, passed outward in the response.
#[derive(Clone)]
struct KeyId(String);

/// Inside the authentication layer: tags the response with the key's id.
pub(crate) async fn tag_key(request: Request, next: Next) -> Response {
    let key_id = request
        .extensions()
        .get::<ApiKey>()
        .map(|key| key.id().to_owned());
    let mut response = next.run(request).await;
    if let Some(id) = key_id {
        response.extensions_mut().insert(KeyId(id));
    }
    response
}

/// Outermost: logs method, path, status, outcome, key id and duration.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let key = response.extensions().get::<KeyId>();
    let outcome = match (response.extensions().get::<RejectionKind>(), key) {
        (Some(kind), _) => kind.as_str(),
        (None, Some(_)) => "authenticated",
        (None, None) => "public",
    };
    let key = key.map_or("-", |KeyId(id)| id.as_str());
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
        key,
        micros = started.elapsed().as_micros(),
        "request"
    );
    response
}
