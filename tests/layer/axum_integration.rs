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

/// axum answers `HEAD` with the `GET` handler, so a `GET`-only rule in the
/// layer's scope table must hold for `HEAD` too; and the per-route layer,
/// which wraps the whole method router, covers `HEAD` by construction.
#[tokio::test]
async fn head_obeys_the_get_rule_and_the_get_handler_does_not_run() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::Method;
    use tower_bearer_auth::scope::{ScopeTable, Unlisted};

    let fixture = fixture();
    let runs = Arc::new(AtomicUsize::new(0));
    let counting = {
        let runs = Arc::clone(&runs);
        move || {
            let runs = Arc::clone(&runs);
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                "profile"
            }
        }
    };
    let read = ScopeRequirement::all(["profile:read"]).expect("valid");
    let table = ScopeTable::new(Unlisted::Authenticated)
        .route_method(Method::GET, "/v1/profile", read.clone())
        .expect("valid table");
    let auth = BearerAuthLayer::builder(fixture.store.clone())
        .scope_policy(table)
        .build()
        .expect("valid config");
    let by_table = Router::new()
        .route("/v1/profile", get(counting.clone()))
        .layer(auth);
    let plain = BearerAuthLayer::new(fixture.store.clone());
    let by_route_layer = Router::new()
        .route(
            "/v1/profile",
            get(counting).route_layer(plain.require_scope(read)),
        )
        .layer(plain);

    // A key without `profile:read` (the fixture's keys all have it but the
    // expired and revoked ones): a fresh key with no scopes.
    let key = tower_bearer_auth::KeyGenerator::new()
        .generate()
        .expect("random source");
    fixture
        .store
        .insert(tower_bearer_auth::KeyEntry::new(
            key.id(),
            "No Scopes",
            key.digest(),
        ))
        .expect("insert");
    for (name, app) in [("table", by_table), ("route layer", by_route_layer)] {
        for method in ["GET", "HEAD"] {
            let response = app
                .clone()
                .oneshot(request(method, "/v1/profile", Some(key.token().expose())))
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {method}");
            let response = app
                .clone()
                .oneshot(request(method, "/v1/profile", Some(&fixture.read_only)))
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK, "{name}: {method}");
        }
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        4,
        "only the allowed requests ran"
    );
}
