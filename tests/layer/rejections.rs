//! The rejection contract: status, challenge, content type, body and
//! extensions for every cause, over HTTP and gRPC, and for HEAD.

use std::future::ready;

use crate::support::{
    Echo, INVALID_CHALLENGE, MALFORMED_CHALLENGE, as_grpc, collect, fixture, get_anonymous,
    get_with_auth, header,
};
use http::request::Parts;
use http::{Method, Request, StatusCode};
use tower::{Layer, ServiceExt};
use tower_bearer_auth::rejection::ProblemDetails;
use tower_bearer_auth::scope::ScopePolicy;
use tower_bearer_auth::{
    ApiKey, BearerAuthLayer, KeyStore, RejectionKind, ScopeRequirement, ScopeSet, ValidationError,
};

struct Refusal {
    status: StatusCode,
    challenge: String,
    content_type: String,
    body: String,
    kind: Option<RejectionKind>,
}

async fn refuse<P>(layer: &BearerAuthLayer<KeyStore, P>, request: Request<()>) -> Refusal
where
    P: ScopePolicy<ApiKey>,
{
    let echo = Echo::default();
    let response = layer
        .layer(echo.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let kind = response.extensions().get::<RejectionKind>().copied();
    let (parts, body) = collect(response).await;
    assert_eq!(
        echo.calls(),
        0,
        "a rejected request reached the inner service"
    );
    Refusal {
        status: parts.status,
        challenge: header(&parts, "www-authenticate").to_owned(),
        content_type: header(&parts, "content-type").to_owned(),
        body: String::from_utf8(body.to_vec()).expect("utf-8 body"),
        kind,
    }
}

fn layer() -> (BearerAuthLayer<KeyStore>, crate::support::Fixture) {
    let fixture = fixture();
    (BearerAuthLayer::new(fixture.store.clone()), fixture)
}

#[tokio::test]
async fn no_credentials_get_a_challenge_without_error() {
    let (layer, _) = layer();
    let r = refuse(&layer, get_anonymous()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge, r#"Bearer realm="api""#);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(
        r.body,
        r#"{"error":{"code":"unauthorized","message":"A bearer token is required"}}"#
    );
    assert_eq!(r.kind, Some(RejectionKind::MissingCredentials));
}

#[tokio::test]
async fn another_scheme_is_treated_as_no_credentials() {
    let (layer, _) = layer();
    let r = refuse(&layer, get_with_auth("Basic dXNlcjpwYXNz")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge, r#"Bearer realm="api""#);
    assert_eq!(
        r.body,
        r#"{"error":{"code":"unauthorized","message":"The Authorization header must use the Bearer scheme"}}"#
    );
    assert_eq!(r.kind, Some(RejectionKind::UnsupportedScheme));
}

#[tokio::test]
async fn malformed_tokens_get_invalid_token() {
    let (layer, _) = layer();
    let too_long = format!("Bearer {}", "a".repeat(4097));
    for value in [
        "Bearer",
        "Bearer a b",
        "Bearer\tabc",
        "Bearer a=b",
        "Bearer \"abc\"",
        too_long.as_str(),
    ] {
        let r = refuse(&layer, get_with_auth(value)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{value}");
        assert_eq!(r.challenge, MALFORMED_CHALLENGE, "{value}");
        assert_eq!(
            r.body,
            r#"{"error":{"code":"unauthorized","message":"The bearer token is malformed"}}"#
        );
        assert_eq!(r.kind, Some(RejectionKind::MalformedToken));
    }
}

#[tokio::test]
async fn non_utf8_header_bytes_are_malformed_not_a_panic() {
    let (layer, _) = layer();
    let mut request = get_anonymous();
    request.headers_mut().insert(
        "authorization",
        http::HeaderValue::from_bytes(b"Bearer \xe9t\xe9")
            .expect("obs-text is a valid header value"),
    );
    let r = refuse(&layer, request).await;
    assert_eq!(r.challenge, MALFORMED_CHALLENGE);
}

#[tokio::test]
async fn unknown_and_revoked_keys_are_indistinguishable() {
    let (layer, fixture) = layer();
    let unknown = refuse(
        &layer,
        get_with_auth("Bearer sk_thisKeyWasNeverIssued0000000000000"),
    )
    .await;
    let revoked = refuse(
        &layer,
        get_with_auth(&format!("Bearer {}", fixture.revoked)),
    )
    .await;
    for r in [&unknown, &revoked] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.challenge, INVALID_CHALLENGE);
        assert_eq!(r.kind, Some(RejectionKind::InvalidToken));
    }
    assert_eq!(unknown.body, revoked.body);
    assert_eq!(
        unknown.body,
        r#"{"error":{"code":"unauthorized","message":"The bearer token is invalid or has been revoked"}}"#
    );
}

#[tokio::test]
async fn expired_keys_say_so() {
    let (layer, fixture) = layer();
    let r = refuse(
        &layer,
        get_with_auth(&format!("Bearer {}", fixture.expired)),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.challenge,
        r#"Bearer realm="api", error="invalid_token", error_description="The bearer token has expired""#
    );
    assert_eq!(
        r.body,
        r#"{"error":{"code":"unauthorized","message":"The bearer token has expired"}}"#
    );
    assert_eq!(r.kind, Some(RejectionKind::ExpiredToken));
}

#[tokio::test]
async fn missing_scope_is_forbidden_with_the_scope_named() {
    let fixture = fixture();
    let layer = BearerAuthLayer::builder(fixture.store.clone())
        .scope_policy(ScopeRequirement::all(["calls:write"]).expect("valid"))
        .build()
        .expect("valid config");
    let r = refuse(
        &layer,
        get_with_auth(&format!("Bearer {}", fixture.read_only)),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.challenge,
        r#"Bearer realm="api", error="insufficient_scope", error_description="The bearer token lacks the required scope", scope="calls:write""#
    );
    assert_eq!(
        r.body,
        r#"{"error":{"code":"forbidden","message":"The bearer token lacks the required scope: calls:write"}}"#
    );
    assert_eq!(r.kind, Some(RejectionKind::InsufficientScope));
}

#[tokio::test]
async fn two_credentials_are_an_invalid_request() {
    let (layer, fixture) = layer();
    let mut request = get_with_auth(&format!("Bearer {}", fixture.full));
    request.headers_mut().append(
        "authorization",
        http::HeaderValue::from_str(&format!("Bearer {}", fixture.full)).expect("header"),
    );
    let r = refuse(&layer, request).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.challenge,
        r#"Bearer realm="api", error="invalid_request", error_description="The request must carry exactly one bearer token""#
    );
    assert_eq!(
        r.body,
        r#"{"error":{"code":"invalid_request","message":"The request must carry exactly one bearer token"}}"#
    );
    assert_eq!(r.kind, Some(RejectionKind::AmbiguousCredentials));
}

#[tokio::test]
async fn a_failing_backend_fails_closed_with_503_and_hides_the_error() {
    let validator = |_token: &str, _parts: &Parts| {
        ready(Err::<ScopeSet, _>(ValidationError::unavailable(
            std::io::Error::other("connection refused to db.internal:5432"),
        )))
    };
    let echo = Echo::default();
    let response = BearerAuthLayer::new(validator)
        .layer(echo.clone())
        .oneshot(get_with_auth("Bearer anything"))
        .await
        .expect("infallible");
    assert_eq!(
        response.extensions().get::<RejectionKind>(),
        Some(&RejectionKind::ValidatorUnavailable)
    );
    let (parts, body) = collect(response).await;
    assert_eq!(echo.calls(), 0);
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(parts.headers.get("www-authenticate").is_none());
    assert_eq!(
        body,
        r#"{"error":{"code":"unavailable","message":"Authentication is temporarily unavailable"}}"#
    );
}

#[tokio::test]
async fn head_requests_get_headers_without_a_body() {
    let (layer, _) = layer();
    let get = refuse(&layer, get_anonymous()).await;
    let mut head = get_anonymous();
    *head.method_mut() = Method::HEAD;
    let response = layer
        .layer(Echo::default())
        .oneshot(head)
        .await
        .expect("infallible");
    let (parts, body) = collect(response).await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&parts, "www-authenticate"), get.challenge);
    assert_eq!(header(&parts, "content-type"), "application/json");
    assert_eq!(header(&parts, "content-length"), get.body.len().to_string());
    assert!(body.is_empty());
}

#[tokio::test]
async fn grpc_requests_get_trailers_only_statuses() {
    let fixture = fixture();
    let layer = BearerAuthLayer::builder(fixture.store.clone())
        .scope_policy(ScopeRequirement::all(["calls:write"]).expect("valid"))
        .build()
        .expect("valid config");
    let cases = [
        (get_anonymous(), "16", "A bearer token is required"),
        (
            get_with_auth("Bearer a b"),
            "16",
            "The bearer token is malformed",
        ),
        (
            get_with_auth(&format!("Bearer {}", fixture.revoked)),
            "16",
            "The bearer token is invalid or has been revoked",
        ),
        (
            get_with_auth(&format!("Bearer {}", fixture.read_only)),
            "7",
            "The bearer token lacks the required scope: calls:write",
        ),
    ];
    for (request, status, message) in cases {
        let echo = Echo::default();
        let response = layer
            .layer(echo.clone())
            .oneshot(as_grpc(request))
            .await
            .expect("infallible");
        let (parts, body) = collect(response).await;
        assert_eq!(echo.calls(), 0);
        assert_eq!(parts.status, StatusCode::OK);
        assert_eq!(header(&parts, "content-type"), "application/grpc");
        assert_eq!(header(&parts, "grpc-status"), status);
        assert_eq!(header(&parts, "grpc-message"), message);
        assert!(parts.headers.get("www-authenticate").is_none());
        assert!(body.is_empty(), "trailers-only responses have no body");
    }
}

#[tokio::test]
async fn only_a_post_with_a_grpc_content_type_gets_the_grpc_form() {
    let (layer, fixture) = layer();
    let http_form = refuse(&layer, get_anonymous()).await;
    let grpc_typed = |method: Method, content_type: &str, authorization: Option<&str>| {
        let mut builder = Request::builder()
            .method(method)
            .uri("/v1/profile")
            .header("content-type", content_type);
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        builder.body(()).expect("valid request")
    };
    // A REST route called with a gRPC content type: GET, HEAD and anything
    // but POST get the HTTP status and challenge, never 200 + grpc-status.
    for method in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE] {
        let r = refuse(&layer, grpc_typed(method.clone(), "application/grpc", None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method}");
        assert_eq!(r.challenge, http_form.challenge, "{method}");
    }
    let unknown = format!("Bearer {}x", fixture.full);
    let r = refuse(
        &layer,
        grpc_typed(Method::GET, "application/grpc", Some(&unknown)),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // gRPC-Web is not answered in gRPC form.
    let r = refuse(
        &layer,
        grpc_typed(Method::POST, "application/grpc-web+proto", None),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge, http_form.challenge);
    // A real gRPC call still gets its trailers-only answer.
    let response = layer
        .layer(Echo::default())
        .oneshot(grpc_typed(Method::POST, "application/grpc+proto", None))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "16");
}

#[tokio::test]
async fn grpc_backend_failure_is_unavailable() {
    let validator =
        |_: &str, _: &Parts| ready(Err::<ScopeSet, _>(ValidationError::unavailable("down")));
    let response = BearerAuthLayer::new(validator)
        .layer(Echo::default())
        .oneshot(as_grpc(get_with_auth("Bearer x")))
        .await
        .expect("infallible");
    let (parts, _) = collect(response).await;
    assert_eq!(header(&parts, "grpc-status"), "14");
}

#[tokio::test]
async fn problem_details_format_and_custom_realm() {
    let fixture = fixture();
    let layer = BearerAuthLayer::builder(fixture.store.clone())
        .realm(r#"Acme "Voice" API"#)
        .rejection_format(ProblemDetails)
        .build()
        .expect("valid config");
    let r = refuse(
        &layer,
        get_with_auth(&format!("Bearer {}", fixture.revoked)),
    )
    .await;
    assert_eq!(r.content_type, "application/problem+json");
    assert!(
        r.challenge
            .starts_with(r#"Bearer realm="Acme \"Voice\" API", error="invalid_token""#)
    );
    let json: serde_json::Value = serde_json::from_str(&r.body).expect("valid JSON");
    assert_eq!(json["status"], 401);
    assert_eq!(json["title"], "Unauthorized");
    assert_eq!(json["code"], "unauthorized");
    assert_eq!(json["type"], "about:blank");
}

#[tokio::test]
async fn bad_configuration_is_an_error_not_a_panic() {
    let store = KeyStore::new();
    assert!(
        BearerAuthLayer::builder(store.clone())
            .realm("bad\nrealm")
            .build()
            .is_err()
    );
    assert!(
        BearerAuthLayer::builder(store.clone())
            .accept_header("bad header")
            .build()
            .is_err()
    );
    assert!(
        BearerAuthLayer::builder(store.clone())
            .accept_header("Authorization")
            .build()
            .is_err()
    );
    assert!(
        BearerAuthLayer::builder(store.clone())
            .accept_cookie("a;b")
            .build()
            .is_err()
    );
    assert!(
        BearerAuthLayer::builder(store.clone())
            .max_token_len(0)
            .build()
            .is_err()
    );
    assert!(
        BearerAuthLayer::builder(store)
            .accept_query_parameter()
            .accept_query_parameter()
            .build()
            .is_err()
    );
}
