//! The README's comparison with tower-http's bearer check, as tests: each
//! row is what the two layers actually do.

#![allow(deprecated)] // tower-http's bearer check is deprecated; that is one of the rows.

use bytes::Bytes;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{Echo, collect, get_anonymous, get_with_auth, header};
use http::StatusCode;
use http_body_util::Full;
use tower::{Layer, ServiceExt};
use tower_bearer_auth::key_store::TokenDigest;
use tower_bearer_auth::{BearerAuthLayer, KeyEntry, KeyStore};
use tower_http::validate_request::ValidateRequestHeaderLayer;

const TOKEN: &str = "sk_comparisonToken0123456789";

fn ours() -> BearerAuthLayer<KeyStore> {
    let store = KeyStore::new();
    store
        .insert(KeyEntry::new(
            "key_cmp",
            "Comparison",
            TokenDigest::of(TOKEN),
        ))
        .expect("insert");
    BearerAuthLayer::new(store)
}

#[tokio::test]
async fn the_scheme_is_case_insensitive_only_here() {
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let value = format!("{scheme} {TOKEN}");
        let theirs = ValidateRequestHeaderLayer::bearer(TOKEN)
            .layer(Echo::default())
            .oneshot(get_with_auth(&value))
            .await
            .expect("infallible");
        let expected = if scheme == "Bearer" {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(theirs.status(), expected, "tower-http, {scheme}");
        let mine = ours()
            .layer(Echo::default())
            .oneshot(get_with_auth(&value))
            .await
            .expect("infallible");
        assert_eq!(mine.status(), StatusCode::OK, "tower-bearer-auth, {scheme}");
    }
}

#[tokio::test]
async fn only_here_does_a_401_say_how_to_authenticate() {
    let theirs = ValidateRequestHeaderLayer::<
        tower_http::auth::require_authorization::Bearer<Full<Bytes>>,
    >::bearer(TOKEN)
    .layer(Echo::default())
    .oneshot(get_anonymous())
    .await
    .expect("infallible");
    let (parts, body) = collect(theirs).await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert!(parts.headers.get("www-authenticate").is_none());
    assert!(body.is_empty());

    let mine = ours()
        .layer(Echo::default())
        .oneshot(get_anonymous())
        .await
        .expect("infallible");
    let (parts, body) = collect(mine).await;
    assert_eq!(header(&parts, "www-authenticate"), r#"Bearer realm="api""#);
    assert_eq!(
        body,
        r#"{"error":{"code":"unauthorized","message":"A bearer token is required"}}"#
    );
}

#[test]
fn only_here_does_debug_output_hide_the_token() {
    let theirs = ValidateRequestHeaderLayer::<
        tower_http::auth::require_authorization::Bearer<Full<Bytes>>,
    >::bearer(TOKEN);
    assert!(
        format!("{theirs:?}").contains(TOKEN),
        "tower-http prints the token"
    );
    let debug = format!("{:?}", ours());
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(!debug.contains(&TokenDigest::of(TOKEN).to_hex()), "{debug}");
}

/// Serves the standard gRPC health service behind `layer` on an ephemeral
/// port; returns a client.
async fn grpc_behind<L>(layer: L) -> HealthClient<tonic::transport::Channel>
where
    L: Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
    L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
    <L::Service as tower::Service<axum::extract::Request>>::Response:
        axum::response::IntoResponse + 'static,
    <L::Service as tower::Service<axum::extract::Request>>::Error:
        Into<std::convert::Infallible> + 'static,
    <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
{
    let (_reporter, health) = tonic_health::server::health_reporter();
    let app = tonic::service::Routes::new(health)
        .into_axum_router()
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    HealthClient::new(channel)
}

#[tokio::test]
async fn grpc_clients_get_the_reason_only_here() {
    let mut theirs = grpc_behind(ValidateRequestHeaderLayer::bearer(TOKEN)).await;
    let status = theirs
        .check(HealthCheckRequest::default())
        .await
        .expect_err("refused");
    // tonic infers the code from HTTP 401, and says only that grpc-status is missing.
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(
        status.message().contains("grpc-status header missing"),
        "{}",
        status.message()
    );

    let mut mine = grpc_behind(ours()).await;
    let status = mine
        .check(HealthCheckRequest::default())
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(status.message(), "A bearer token is required");
}
