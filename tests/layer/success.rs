//! Accepted requests: the principal reaches the handler, the credential is
//! marked sensitive, every token source works, and query tokens make the
//! response private.

use crate::support::{Echo, collect, fixture, get_with_auth, header};
use http::{Request, StatusCode};
use tower::{Layer, ServiceExt};
use tower_bearer_auth::BearerAuthLayer;

#[tokio::test]
async fn a_valid_key_reaches_the_inner_service_with_its_principal() {
    let fixture = fixture();
    let echo = Echo::default();
    let response = BearerAuthLayer::new(fixture.store.clone())
        .layer(echo.clone())
        .oneshot(get_with_auth(&format!("Bearer {}", fixture.full)))
        .await
        .expect("infallible");
    let (parts, body) = collect(response).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, "hello Production Dialer sensitive=true");
    assert_eq!(echo.calls(), 1);
    assert!(parts.headers.get("cache-control").is_none());
}

#[tokio::test]
async fn the_header_is_marked_sensitive_on_every_path_to_the_token() {
    // The one-lookup path (no repeated field), a request with a repeated
    // field elsewhere (the general path), and a token too long to be copied
    // (the general path again).
    let fixture = fixture();
    let long = format!("{}{}", fixture.full, "A".repeat(100));
    let store = fixture.store.clone();
    let long_validator = move |token: &str, _: &http::request::Parts| {
        let token = token
            .strip_suffix(&"A".repeat(100))
            .unwrap_or(token)
            .to_owned();
        std::future::ready(store.verify(&token))
    };
    let mut repeated = get_with_auth(&format!("Bearer {}", fixture.full));
    repeated
        .headers_mut()
        .append("accept", http::HeaderValue::from_static("text/plain"));
    repeated
        .headers_mut()
        .append("accept", http::HeaderValue::from_static("application/json"));
    for (name, response) in [
        (
            "one lookup",
            BearerAuthLayer::new(fixture.store.clone())
                .layer(Echo::default())
                .oneshot(get_with_auth(&format!("Bearer {}", fixture.full)))
                .await,
        ),
        (
            "a repeated field",
            BearerAuthLayer::new(fixture.store.clone())
                .layer(Echo::default())
                .oneshot(repeated)
                .await,
        ),
        (
            "a long token",
            BearerAuthLayer::new(long_validator)
                .layer(Echo::default())
                .oneshot(get_with_auth(&format!("Bearer {long}")))
                .await,
        ),
    ]
    .map(|(name, response)| (name, response.expect("infallible")))
    {
        let (parts, body) = collect(response).await;
        assert_eq!(parts.status, StatusCode::OK, "{name}");
        assert_eq!(body, "hello Production Dialer sensitive=true", "{name}");
    }
}

#[tokio::test]
async fn the_scheme_is_case_insensitive_and_spaces_may_repeat() {
    let fixture = fixture();
    for value in [
        format!("bearer {}", fixture.full),
        format!("BEARER {}", fixture.full),
        format!("Bearer    {}", fixture.full),
    ] {
        let response = BearerAuthLayer::new(fixture.store.clone())
            .layer(Echo::default())
            .oneshot(get_with_auth(&value))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK, "{value}");
    }
}

fn all_sources(fixture: &crate::support::Fixture) -> BearerAuthLayer<tower_bearer_auth::KeyStore> {
    BearerAuthLayer::builder(fixture.store.clone())
        .accept_header("x-api-key")
        .accept_cookie("api_key")
        .accept_query_parameter()
        .build()
        .expect("valid config")
}

#[tokio::test]
async fn custom_header_cookie_and_query_parameter_are_accepted() {
    let fixture = fixture();
    let layer = all_sources(&fixture);
    let requests = [
        Request::builder()
            .uri("/v1/profile")
            .header("x-api-key", &fixture.full),
        Request::builder()
            .uri("/v1/profile")
            .header("cookie", format!("theme=dark; api_key={}", fixture.full)),
        Request::builder().uri(format!("/v1/profile?access_token={}", fixture.full)),
    ];
    for request in requests {
        let echo = Echo::default();
        let response = layer
            .layer(echo.clone())
            .oneshot(request.body(()).expect("valid request"))
            .await
            .expect("infallible");
        let (parts, body) = collect(response).await;
        assert_eq!(parts.status, StatusCode::OK);
        assert!(body.starts_with(b"hello Production Dialer"));
        assert_eq!(echo.calls(), 1);
    }
}

#[tokio::test]
async fn query_parameter_tokens_make_the_response_private() {
    let fixture = fixture();
    let response = all_sources(&fixture)
        .layer(Echo::default())
        .oneshot(
            Request::builder()
                .uri(format!("/events?access_token={}", fixture.full))
                .body(())
                .expect("valid request"),
        )
        .await
        .expect("infallible");
    let (parts, _) = collect(response).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(header(&parts, "cache-control"), "private");
}

#[tokio::test]
async fn a_header_and_a_query_token_together_are_refused() {
    let fixture = fixture();
    let echo = Echo::default();
    let response = all_sources(&fixture)
        .layer(echo.clone())
        .oneshot(
            Request::builder()
                .uri(format!("/v1/profile?access_token={}", fixture.full))
                .header("authorization", format!("Bearer {}", fixture.full))
                .body(())
                .expect("valid request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(echo.calls(), 0);
}

#[tokio::test]
async fn the_query_parameter_is_opt_in() {
    let fixture = fixture();
    let response = BearerAuthLayer::new(fixture.store.clone())
        .layer(Echo::default())
        .oneshot(
            Request::builder()
                .uri(format!("/v1/profile?access_token={}", fixture.full))
                .body(())
                .expect("valid request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
