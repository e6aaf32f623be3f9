//! axum integration: the extractor and per-route scope layers compose with
//! one outer authentication layer, and fail closed when it is missing.

use crate::support::{collect, fixture, header};
use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, StatusCode};
use tower::ServiceExt;
use tower_bearer_auth::axum::Authenticated;
use tower_bearer_auth::{ApiKey, BearerAuthLayer, RejectionKind, ScopeRequirement};

async fn whoami(Authenticated(key): Authenticated<ApiKey>) -> String {
    key.label().to_owned()
}

async fn maybe(key: Option<Authenticated<ApiKey>>) -> String {
    key.map_or("anonymous".to_owned(), |Authenticated(key)| {
        key.label().to_owned()
    })
}

fn request(method: &str, path: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::empty()).expect("valid request")
}

#[tokio::test]
async fn route_layers_check_scopes_inside_one_outer_layer() {
    let fixture = fixture();
    let auth = BearerAuthLayer::builder(fixture.store.clone())
        .realm("voice")
        .build()
        .expect("valid config");
    let write = ScopeRequirement::all(["calls:write"]).expect("valid");
    let app = Router::new()
        .route("/v1/profile", get(whoami))
        .route(
            "/v1/calls",
            post(whoami).route_layer(auth.require_scope(write)),
        )
        .layer(auth);

    let response = app
        .clone()
        .oneshot(request("GET", "/v1/profile", Some(&fixture.read_only)))
        .await
        .expect("infallible");
    let (parts, body) = collect(response).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, "Staging Server");

    let response = app
        .clone()
        .oneshot(request("POST", "/v1/calls", Some(&fixture.read_only)))
        .await
        .expect("infallible");
    assert_eq!(
        response.extensions().get::<RejectionKind>(),
        Some(&RejectionKind::InsufficientScope)
    );
    let (parts, _) = collect(response).await;
    assert_eq!(parts.status, StatusCode::FORBIDDEN);
    // The route layer shares the outer layer's realm.
    assert!(
        header(&parts, "www-authenticate")
            .starts_with(r#"Bearer realm="voice", error="insufficient_scope""#)
    );

    let response = app
        .oneshot(request("POST", "/v1/calls", Some(&fixture.full)))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_the_layer_the_extractor_fails_closed() {
    let fixture = fixture();
    let app = Router::new().route("/v1/profile", get(whoami));
    // Even a valid key: nothing authenticated it, so nothing is let through.
    let response = app
        .oneshot(request("GET", "/v1/profile", Some(&fixture.full)))
        .await
        .expect("infallible");
    let (parts, body) = collect(response).await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&parts, "www-authenticate"), "Bearer");
    assert_eq!(header(&parts, "content-type"), "application/json");
    assert_eq!(
        body,
        r#"{"error":{"code":"unauthorized","message":"A bearer token is required"}}"#
    );
}

#[tokio::test]
async fn without_the_layer_a_route_scope_check_fails_closed() {
    let fixture = fixture();
    let auth = BearerAuthLayer::new(fixture.store.clone());
    let write = ScopeRequirement::all(["calls:write"]).expect("valid");
    // Mis-wired: the route layer is there, the authentication layer is not.
    let app = Router::new().route(
        "/v1/calls",
        post(|| async { "placed" }).route_layer(auth.require_scope(write)),
    );
    let response = app
        .oneshot(request("POST", "/v1/calls", Some(&fixture.full)))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_optional_extractor_sees_anonymous_requests() {
    let app = Router::new().route("/", get(maybe));
    let response = app
        .oneshot(request("GET", "/", None))
        .await
        .expect("infallible");
    let (_, body) = collect(response).await;
    assert_eq!(body, "anonymous");
}
