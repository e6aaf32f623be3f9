//! Composition with the layers people stack around it: tower-http's CORS
//! outside (a preflight is answered without a key), tower-http's timeout
//! (needs a `Default` body), and layers outside that see who was
//! authenticated (the response extensions, the tracing span).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, StatusCode};
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_bearer_auth::{ApiKey, BearerAuthLayer};
use tower_http::cors::CorsLayer;
use tower_http::timeout::TimeoutLayer;

use crate::support::{Echo, collect, fixture, get_with_auth, header};

fn preflight() -> Request<()> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/profile")
        .header("origin", "https://portal.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .body(())
        .expect("valid request")
}

#[tokio::test]
async fn cors_outside_answers_a_preflight_without_a_key() {
    let fixture = fixture();
    let echo = Echo::default();
    let app = ServiceBuilder::new()
        .layer(
            CorsLayer::new()
                .allow_origin(http::HeaderValue::from_static("https://portal.example"))
                .allow_headers([http::header::AUTHORIZATION])
                .allow_methods([Method::GET]),
        )
        .layer(BearerAuthLayer::new(fixture.store.clone()))
        .service(echo.clone());

    let (parts, body) = collect(app.clone().oneshot(preflight()).await.expect("infallible")).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(
        header(&parts, "access-control-allow-origin"),
        "https://portal.example"
    );
    assert!(body.is_empty());
    assert_eq!(echo.calls(), 0, "the preflight never reaches the service");

    // The real request still needs a key, and gets the CORS headers on its 401.
    let mut anonymous = get_with_auth("Basic abc");
    anonymous.headers_mut().insert(
        "origin",
        http::HeaderValue::from_static("https://portal.example"),
    );
    let (parts, _) = collect(app.clone().oneshot(anonymous).await.expect("infallible")).await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&parts, "access-control-allow-origin"),
        "https://portal.example"
    );
    let (parts, _) = collect(
        app.oneshot(get_with_auth(&format!("Bearer {}", fixture.full)))
            .await
            .expect("infallible"),
    )
    .await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(echo.calls(), 1);
}

#[tokio::test]
async fn tower_http_timeout_composes_inside_and_outside() {
    let fixture = fixture();
    let slow = tower::service_fn(|_request: Request<_>| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok::<_, std::convert::Infallible>(http::Response::new(
            http_body_util::Empty::<bytes::Bytes>::new(),
        ))
    });
    let timeout =
        || TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, Duration::from_millis(50));
    // Outside: the timeout wraps the whole authenticated stack.
    let outside = ServiceBuilder::new()
        .layer(timeout())
        .layer(BearerAuthLayer::new(fixture.store.clone()))
        .service(slow);
    let bearer = format!("Bearer {}", fixture.full);
    let response = outside
        .oneshot(get_with_auth(&bearer))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    // A refusal is decided before the timeout matters.
    let outside = ServiceBuilder::new()
        .layer(timeout())
        .layer(BearerAuthLayer::new(fixture.store.clone()))
        .service(slow);
    let response = outside
        .oneshot(get_with_auth("Bearer unknown"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Inside: the auth layer wraps a timed service.
    let inside = ServiceBuilder::new()
        .layer(BearerAuthLayer::new(fixture.store))
        .layer(timeout())
        .service(slow);
    let response = inside
        .oneshot(get_with_auth(&bearer))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn outer_layers_can_read_the_principal_from_the_response_when_asked() {
    let fixture = fixture();
    let bearer = format!("Bearer {}", fixture.full);
    let exposing = BearerAuthLayer::builder(fixture.store.clone())
        .principal_in_response(true)
        .build()
        .expect("valid config");
    let response = ServiceBuilder::new()
        .layer(exposing)
        .service(Echo::default())
        .oneshot(get_with_auth(&bearer))
        .await
        .expect("infallible");
    let key = response
        .extensions()
        .get::<ApiKey>()
        .expect("the principal");
    assert_eq!(key.label(), "Production Dialer");

    // Off by default: no per-request cost for those who do not need it.
    let response = BearerAuthLayer::new(fixture.store.clone())
        .layer(Echo::default())
        .oneshot(get_with_auth(&bearer))
        .await
        .expect("infallible");
    assert!(response.extensions().get::<ApiKey>().is_none());

    // Refusals never carry a principal.
    let exposing = BearerAuthLayer::builder(fixture.store)
        .principal_in_response(true)
        .build()
        .expect("valid config");
    let response = exposing
        .layer(Echo::default())
        .oneshot(get_with_auth(&format!("Bearer {}", fixture.revoked)))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.extensions().get::<ApiKey>().is_none());
}

/// Captures the value recorded for the field `principal` of any span.
#[derive(Clone, Default)]
struct RecordedPrincipal(Arc<Mutex<Vec<String>>>);

struct Visitor<'a>(&'a Mutex<Vec<String>>);

impl tracing::field::Visit for Visitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "principal" {
            self.0.lock().expect("lock").push(value.to_owned());
        }
    }

    fn record_debug(&mut self, _field: &tracing::field::Field, _value: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RecordedPrincipal {
    fn on_record(
        &self,
        _span: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        values.record(&mut Visitor(&self.0));
    }
}

#[tokio::test]
async fn the_key_id_is_recorded_on_the_current_span() {
    use tracing_subscriber::layer::SubscriberExt;

    let fixture = fixture();
    let key = fixture.store.verify(&fixture.full).expect("valid key");
    let recorded = RecordedPrincipal::default();
    let subscriber = tracing_subscriber::registry().with(recorded.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let span = tracing::info_span!("request", principal = tracing::field::Empty);
    let service = BearerAuthLayer::new(fixture.store.clone()).layer(Echo::default());
    let response = {
        let _entered = span.enter();
        service
            .oneshot(get_with_auth(&format!("Bearer {}", fixture.full)))
            .await
            .expect("infallible")
    };
    assert_eq!(response.status(), StatusCode::OK);
    let values = recorded.0.lock().expect("lock").clone();
    assert_eq!(values, vec![key.id().to_owned()]);
    assert!(!values.iter().any(|value| value.contains(&fixture.full)));

    // A request the layer's own rate limit refuses names its key too.
    let exhausted = tower_bearer_auth::rate_limit::RateLimiter::builder()
        .default_quota(tower_bearer_auth::rate_limit::Quota::new(1, 3_600).expect("valid"))
        .build();
    let limited = BearerAuthLayer::builder(fixture.store.clone())
        .rate_limiter(exhausted)
        .build()
        .expect("valid config");
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let span = tracing::info_span!("request", principal = tracing::field::Empty);
        let _entered = span.enter();
        let response = limited
            .layer(Echo::default())
            .oneshot(get_with_auth(&format!("Bearer {}", fixture.full)))
            .await
            .expect("infallible");
        statuses.push(response.status());
    }
    assert_eq!(statuses, [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]);
    let values = recorded.0.lock().expect("lock").clone();
    assert_eq!(values, vec![key.id().to_owned(); 3]);
}
