//! No secret leaks: every rejection path and the success path, over HTTP
//! and gRPC, with every token source, while all `tracing` output (down to
//! TRACE) is captured. Neither a token nor its SHA-256 digest may appear in
//! the logs, in any response header or body, or in the `Debug` output of
//! any type that holds one; and the credential reaches the inner service
//! marked sensitive (the query parameter removed from the URI).

use std::future::ready;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{Echo, collect, fixture};
use http::request::Parts;
use http::{Request, Response};
use tower::{Layer, ServiceExt};
use tower_bearer_auth::axum::Authenticated;
use tower_bearer_auth::key_store::TokenDigest;
use tower_bearer_auth::{
    ApiKey, BearerAuthLayer, KeyGenerator, ScopeRequirement, ScopeSet, TimeoutValidator,
    ValidationError,
};

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// Everything that went out: logs, response heads and bodies, `Debug`s.
#[derive(Default)]
struct Outputs(String);

impl Outputs {
    async fn response<B>(&mut self, response: Response<B>)
    where
        B: http_body::Body,
        B::Error: std::fmt::Debug,
    {
        let (parts, body) = collect(response).await;
        self.0
            .push_str(&format!("{parts:?}\n{:?}\n", parts.headers));
        self.0.push_str(&String::from_utf8_lossy(&body));
        self.0.push('\n');
    }
}

/// A request to `/v1/profile` with the given headers and query.
fn request(headers: &[(&str, &str)], query: Option<&str>, grpc: bool) -> Request<()> {
    let uri = query.map_or("/v1/profile".to_owned(), |q| format!("/v1/profile?{q}"));
    let mut builder = Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if grpc {
        builder = builder.header("content-type", "application/grpc");
    }
    builder.body(()).expect("valid request")
}

#[tokio::test]
async fn no_token_or_digest_reaches_logs_responses_or_debug_output() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fixture = fixture();
    let unknown = KeyGenerator::new().generate().expect("random source");
    let unknown = unknown.token().expose().to_owned();
    let basic = "dXNlcjpodW50ZXIy"; // user:hunter2
    let secrets = [
        fixture.full.as_str(),
        fixture.read_only.as_str(),
        fixture.revoked.as_str(),
        fixture.expired.as_str(),
        unknown.as_str(),
        basic,
    ];

    let layer = BearerAuthLayer::builder(fixture.store.clone())
        .accept_header("x-api-key")
        .accept_cookie("api_key")
        .accept_query_parameter()
        .scope_policy(ScopeRequirement::all(["profile:read"]).expect("valid"))
        .build()
        .expect("valid config");
    let writes = layer.require_scope(ScopeRequirement::all(["calls:write"]).expect("valid"));

    let bearer = |token: &str| format!("Bearer {token}");
    let cookie = |token: &str| format!("theme=dark; api_key={token}");
    let mut out = Outputs::default();
    for grpc in [false, true] {
        let cases: Vec<Request<()>> = vec![
            request(&[], None, grpc),
            request(&[("authorization", &format!("Basic {basic}"))], None, grpc),
            request(
                &[("authorization", &format!("Bearer {} extra", fixture.full))],
                None,
                grpc,
            ),
            request(&[("authorization", &bearer(&unknown))], None, grpc),
            request(&[("authorization", &bearer(&fixture.revoked))], None, grpc),
            request(&[("authorization", &bearer(&fixture.expired))], None, grpc),
            request(
                &[("authorization", &bearer(&fixture.full))],
                Some(&format!("access_token={}", fixture.full)),
                grpc,
            ),
            request(
                &[
                    ("x-api-key", &fixture.full),
                    ("cookie", &cookie(&fixture.full)),
                ],
                None,
                grpc,
            ),
            request(&[("authorization", &bearer(&fixture.full))], None, grpc),
            request(&[("x-api-key", &fixture.read_only)], None, grpc),
            request(&[("cookie", &cookie(&fixture.full))], None, grpc),
            request(
                &[],
                Some(&format!("access_token={}&x=1", fixture.full)),
                grpc,
            ),
        ];
        for case in cases {
            let response = layer
                .layer(Echo::default())
                .oneshot(case)
                .await
                .expect("infallible");
            out.response(response).await;
        }
        // Insufficient scope at a route layer inside the outer layer.
        let inner = writes.layer(Echo::default());
        let response = layer
            .layer(inner)
            .oneshot(request(
                &[("authorization", &bearer(&fixture.read_only))],
                None,
                grpc,
            ))
            .await
            .expect("infallible");
        out.response(response).await;
    }

    // A failing backend and a slow one: 503, the source error logged.
    let failing = |_: &str, _: &Parts| {
        ready(Err::<ScopeSet, _>(ValidationError::unavailable(
            "connection refused",
        )))
    };
    let response = BearerAuthLayer::new(failing)
        .layer(Echo::default())
        .oneshot(request(
            &[("authorization", &bearer(&fixture.full))],
            None,
            false,
        ))
        .await
        .expect("infallible");
    out.response(response).await;
    let never = |_: &str,
                 _: &Parts|
     -> Pin<
        Box<dyn std::future::Future<Output = Result<ScopeSet, ValidationError>> + Send>,
    > { Box::pin(std::future::pending()) };
    let slow = TimeoutValidator::new(never, Duration::from_millis(20));
    let response = BearerAuthLayer::new(slow)
        .layer(Echo::default())
        .oneshot(request(
            &[("authorization", &bearer(&fixture.full))],
            None,
            true,
        ))
        .await
        .expect("infallible");
    out.response(response).await;

    // The axum extractor without a layer.
    let app = axum::Router::new().route(
        "/v1/profile",
        axum::routing::get(|Authenticated(key): Authenticated<ApiKey>| async move {
            key.label().to_owned()
        }),
    );
    let response = app
        .oneshot(
            Request::builder()
                .uri("/v1/profile")
                .header("authorization", bearer(&fixture.full))
                .body(axum::body::Body::empty())
                .expect("valid request"),
        )
        .await
        .expect("infallible");
    out.response(response).await;

    // What the inner service sees: sensitive headers, no token in the URI.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = {
        let seen = Arc::clone(&seen);
        tower::service_fn(move |request: Request<()>| {
            seen.lock().expect("seen").push(format!("{request:?}"));
            ready(Ok::<_, std::convert::Infallible>(Response::new(
                String::new(),
            )))
        })
    };
    for case in [
        request(&[("authorization", &bearer(&fixture.full))], None, false),
        request(&[("x-api-key", &fixture.full)], None, false),
        request(&[("cookie", &cookie(&fixture.full))], None, false),
        request(
            &[],
            Some(&format!("a=1&access_token={}", fixture.full)),
            false,
        ),
    ] {
        let response = layer
            .layer(record.clone())
            .oneshot(case)
            .await
            .expect("infallible");
        assert_eq!(response.status(), 200);
    }
    let seen = seen.lock().expect("seen").join("\n");
    assert!(seen.contains("Sensitive"), "{seen}");
    assert!(seen.contains("uri: /v1/profile?a=1"), "{seen}");
    out.0.push_str(&seen);

    // `Debug` of every type that holds or protects a secret.
    let generated = KeyGenerator::new().generate().expect("random source");
    let key = fixture.store.verify(&fixture.full).expect("valid key");
    out.0.push_str(&format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        fixture.store,
        key,
        fixture.store.entries(),
        layer,
        layer.layer(Echo::default()),
        generated,
        generated.token(),
        TokenDigest::of(&fixture.full),
    ));
    let generated_token = generated.token().expose().to_owned();

    drop(_guard);
    let logs = String::from_utf8(logs.0.lock().expect("buffer").clone()).expect("utf-8 logs");
    // One event per rejection: debug for the client's errors, warn (with the
    // source error) for the validator's failures.
    let has = |level: &str, text: &str| {
        logs.lines()
            .any(|line| line.contains(level) && line.contains(text))
    };
    assert!(
        has("DEBUG", "request refused"),
        "client errors at debug: {logs}"
    );
    assert!(has("DEBUG", "kind=\"insufficient_scope\""), "{logs}");
    // A 403 names the key and the scopes it lacks, at the layer's policy and
    // at a route layer alike.
    let read_only = fixture.store.verify(&fixture.read_only).expect("valid key");
    let full = fixture.store.verify(&fixture.full).expect("valid key");
    let named = |id: &str, scopes: &str| {
        logs.lines().any(|line| {
            line.contains("kind=\"insufficient_scope\"")
                && line.contains(&format!("principal=\"{id}\""))
                && line.contains(&format!("required_scopes=\"{scopes}\""))
        })
    };
    assert!(named(read_only.id(), "calls:write"), "{logs}");
    assert!(!named(full.id(), "calls:write"), "{logs}");
    assert!(
        has("WARN", "token validator failed") && has("WARN", "connection refused"),
        "backend failures at warn, with the cause: {logs}"
    );
    assert!(has("WARN", "kind=\"validator_timeout\""), "{logs}");
    assert!(
        !logs
            .lines()
            .any(|line| line.contains("ERROR") && line.contains("request refused"))
    );
    let everything = format!("{logs}\n{}", out.0);
    for secret in secrets.iter().copied().chain([generated_token.as_str()]) {
        assert!(!everything.contains(secret), "a secret leaked");
        let digest = TokenDigest::of(secret).to_hex();
        assert!(!everything.contains(&digest), "a digest leaked");
        assert!(
            !everything.contains(&digest[..16]),
            "part of a digest leaked"
        );
    }
}
