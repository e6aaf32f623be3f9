//! A whole request through the middleware: `BearerAuth` + key store (10,000
//! keys) against the bare inner service and tower-http's bearer layer, on
//! the same request, the rejection paths, and the same layer with the local
//! rate limiter inside it (a pass, and a 429).
//!
//! ```text
//! cargo bench --bench layer
//! ```
//!
//! Requests are built outside the timed section (`iter_batched`); every
//! service answers at once, so futures are polled once, with no runtime.

#![allow(deprecated)] // tower-http's bearer layer is deprecated; it is still what people use.

mod common;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::task::{Context, Poll};

use common::{key_set, ready_now};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Empty;
use tower::{Layer, Service};
use tower_bearer_auth::rate_limit::{Quota, RateLimiter};
use tower_bearer_auth::{BearerAuthLayer, ScopeRequirement};
use tower_http::validate_request::ValidateRequestHeaderLayer;

type Body = Empty<bytes::Bytes>;

/// The inner service: answers 200 at once.
#[derive(Clone, Copy)]
struct Ok200;

impl Service<Request<()>> for Ok200 {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<()>) -> Self::Future {
        ready(Ok(Response::new(Empty::new())))
    }
}

/// The floor for any layer that hands handlers a principal: insert it into
/// the request extensions (http allocates the map and boxes the value).
#[derive(Clone)]
struct InsertPrincipal(tower_bearer_auth::ApiKey);

impl Service<Request<()>> for InsertPrincipal {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<()>) -> Self::Future {
        request.extensions_mut().insert(self.0.clone());
        Ok200.call(request)
    }
}

fn request(authorization: Option<&str>, grpc: bool) -> Request<()> {
    let mut builder = Request::builder().method("POST").uri("/v1/calls");
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    if grpc {
        builder = builder.header("content-type", "application/grpc");
    }
    builder.body(()).expect("valid request")
}

/// Times `poll_ready` + `call` + the response future on `service`.
fn bench_service<S>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut service: S,
    make: impl Fn() -> Request<()>,
    expected: u16,
) where
    S: Service<Request<()>>,
    S::Response: StatusOf,
    S::Error: std::fmt::Debug,
{
    // Check once, outside the timing, that the path is the one named.
    ready_now(std::future::poll_fn(|cx| service.poll_ready(cx))).expect("ready");
    let response = ready_now(service.call(make())).expect("response");
    assert_eq!(response.status_code(), expected, "{name}");

    c.bench_function(name, |b| {
        b.iter_batched(
            &make,
            |request| {
                ready_now(std::future::poll_fn(|cx| service.poll_ready(cx))).expect("ready");
                black_box(ready_now(service.call(request)).expect("response"))
            },
            BatchSize::SmallInput,
        );
    });
}

trait StatusOf {
    fn status_code(&self) -> u16;
}

impl<B> StatusOf for Response<B> {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn layer(c: &mut Criterion) {
    let set = key_set(10_000);
    let valid = format!("Bearer {}", set.valid[0]);
    let unknown = format!("Bearer {}", set.unknown[0]);
    let ours = BearerAuthLayer::new(set.store.clone());
    let scoped = BearerAuthLayer::builder(set.store.clone())
        .scope_policy(ScopeRequirement::all(["admin"]).expect("valid"))
        .build()
        .expect("valid config");
    let theirs = ValidateRequestHeaderLayer::bearer(&set.valid[0]);
    let trivial = BearerAuthLayer::new(|_: &str, _: &http::request::Parts| {
        ready(Ok::<(), tower_bearer_auth::ValidationError>(()))
    });
    let principal = set.store.verify(&set.valid[0]).expect("valid key");
    // A quota no benchmark can exhaust (4 billion per second), and one that
    // refuses every request after the first.
    let generous = RateLimiter::builder()
        .default_quota(Quota::new(u32::MAX, 1).expect("valid"))
        .build();
    let exhausted = RateLimiter::builder()
        .default_quota(Quota::new(1, 86_400).expect("valid"))
        .build();

    let mut group = c.benchmark_group("layer");
    group.sample_size(100);
    bench_service(
        &mut group,
        "bare_inner_service",
        Ok200,
        || request(Some(&valid), false),
        200,
    );
    bench_service(
        &mut group,
        "extension_insert_only",
        InsertPrincipal(principal),
        || request(Some(&valid), false),
        200,
    );
    bench_service(
        &mut group,
        "bearer_auth_trivial_validator/valid",
        trivial.layer(Ok200),
        || request(Some(&valid), false),
        200,
    );
    bench_service(
        &mut group,
        "bearer_auth_key_store_10k/valid",
        ours.layer(Ok200),
        || request(Some(&valid), false),
        200,
    );
    bench_service(
        &mut group,
        "bearer_auth_key_store_10k_rate_limit_local/valid",
        ours.layer(ours.rate_limit(generous.clone()).layer(Ok200)),
        || request(Some(&valid), false),
        200,
    );
    // The same limiter given to the layer itself.
    bench_service(
        &mut group,
        "bearer_auth_key_store_10k_rate_limiter_in_layer/valid",
        BearerAuthLayer::builder(set.store.clone())
            .rate_limiter(generous.clone())
            .build()
            .expect("valid")
            .layer(Ok200),
        || request(Some(&valid), false),
        200,
    );
    let mut refusing = ours.layer(ours.rate_limit(exhausted).layer(Ok200));
    ready_now(std::future::poll_fn(|cx| refusing.poll_ready(cx))).expect("ready");
    ready_now(refusing.call(request(Some(&valid), false))).expect("the one request");
    bench_service(
        &mut group,
        "bearer_auth_key_store_10k_rate_limit_local/refused",
        refusing,
        || request(Some(&valid), false),
        429,
    );
    bench_service(
        &mut group,
        "tower_http_bearer/valid",
        theirs.layer(Ok200),
        || request(Some(&valid), false),
        200,
    );
    bench_service(
        &mut group,
        "tower_http_bearer/missing",
        theirs.layer(Ok200),
        || request(None, false),
        401,
    );
    bench_service(
        &mut group,
        "bearer_auth_key_store_10k/missing",
        ours.layer(Ok200),
        || request(None, false),
        401,
    );
    bench_service(
        &mut group,
        "bearer_auth_key_store_10k/malformed",
        ours.layer(Ok200),
        || request(Some("Bearer two words"), false),
        401,
    );
    bench_service(
        &mut group,
        "bearer_auth_key_store_10k/unknown",
        ours.layer(Ok200),
        || request(Some(&unknown), false),
        401,
    );
    bench_service(
        &mut group,
        "bearer_auth_key_store_10k/insufficient_scope",
        scoped.layer(Ok200),
        || request(Some(&valid), false),
        403,
    );
    bench_service(
        &mut group,
        "bearer_auth_key_store_10k/grpc_missing",
        ours.layer(Ok200),
        || request(None, true),
        200,
    );
    group.finish();
}

criterion_group!(benches, layer);
criterion_main!(benches);
