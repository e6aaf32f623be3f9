//! Instruction counts per request, for callgrind: sends N identical
//! requests through one service stack in-process (futures polled once with
//! a no-op waker), so that `count(N) - count(0)` over N is the cost of one
//! request, to within a few instructions from run to run (wall time on a
//! shared VM moves by 2-3x; instruction counts do not).
//!
//! ```text
//! bash benches/instructions.sh            # every stack, a table
//! target/release/deps/instructions-* <stack> <n>   # one stack, under valgrind
//! ```
//!
//! `cargo bench` runs it with no stack: it then checks every stack once
//! and exits.

#![allow(deprecated)] // tower-http's bearer layer, for comparison.

mod common;

/// The demo server's composition, in-process: a public route and the same
/// handler behind the layer (and the rate limit), in one axum router.
mod axum_app {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::Request;
    use tower::ServiceBuilder;
    use tower_bearer_auth::rate_limit::RateLimiter;
    use tower_bearer_auth::{BearerAuthLayer, KeyStore};

    async fn handler() -> &'static str {
        "ok"
    }

    /// `stack`: `axum_public`, `axum_auth` (the layer alone),
    /// `axum_auth_rate_limit` (the layer and the rate-limit layer in one
    /// `Router::layer` call) or `axum_auth_limiter` (the limiter in the
    /// layer itself, as the demo does).
    pub(crate) fn router(store: &KeyStore, stack: &str) -> Router {
        let auth = BearerAuthLayer::new(store.clone());
        let protected = Router::new().route("/v1/ping", get(handler));
        let protected = match stack {
            "axum_auth_rate_limit" => protected.layer(
                ServiceBuilder::new()
                    .layer(auth.clone())
                    .layer(auth.rate_limit(RateLimiter::new())),
            ),
            "axum_auth_limiter" => protected.layer(
                BearerAuthLayer::builder(store.clone())
                    .rate_limiter(RateLimiter::new())
                    .build()
                    .expect("valid"),
            ),
            _ => protected.layer(auth),
        };
        // `with_state` turns each handler into a route once, as serving
        // does (otherwise axum converts the handler on every request).
        Router::new()
            .route("/health", get(handler))
            .merge(protected)
            .with_state(())
    }

    #[inline(never)]
    pub(crate) fn request(path: &str, authorization: &str) -> Request<Body> {
        Request::builder()
            .uri(path)
            .header("authorization", authorization)
            .body(Body::empty())
            .expect("valid request")
    }
}

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::task::{Context, Poll};

use common::{key_set, ready_now};
use http::{Request, Response};
use http_body_util::Empty;
use tower::{Layer, Service};
use tower_bearer_auth::{ApiKey, BearerAuthLayer, ScopeRequirement};
use tower_http::validate_request::ValidateRequestHeaderLayer;

type Body = Empty<bytes::Bytes>;

/// Answers 200 at once.
#[derive(Clone, Copy)]
struct Ok200;

impl Service<Request<()>> for Ok200 {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    // Not inlined, in any stack: the stacks differ by their layers only.
    #[inline(never)]
    fn call(&mut self, _request: Request<()>) -> Self::Future {
        ready(Ok(Response::new(Empty::new())))
    }
}

/// Inserts a principal into the extensions, then answers 200: the floor
/// for any layer that hands handlers a principal.
#[derive(Clone)]
struct InsertPrincipal(ApiKey);

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

/// A request from a client at 203.0.113.7 (the connection's address in
/// its extensions, as a server inserts it).
#[inline(never)]
fn request_from_peer(authorization: &str) -> Request<()> {
    let mut request = request(Some(authorization));
    request
        .extensions_mut()
        .insert(tower_bearer_auth::key_policy::PeerAddress(
            "203.0.113.7:50000".parse().expect("address"),
        ));
    request
}

/// Adds a key made by `entry` to `store`; its bearer value.
fn extra_key(
    store: &tower_bearer_auth::KeyStore,
    entry: impl FnOnce(tower_bearer_auth::KeyEntry) -> tower_bearer_auth::KeyEntry,
) -> String {
    let key = tower_bearer_auth::KeyGenerator::new()
        .generate()
        .expect("random source");
    store
        .insert(entry(tower_bearer_auth::KeyEntry::new(
            key.id(),
            "Policy Key",
            key.digest(),
        )))
        .expect("insert");
    format!("Bearer {}", key.token().expose())
}

#[inline(never)]
fn request(authorization: Option<&str>) -> Request<()> {
    let mut builder = Request::builder().method("POST").uri("/v1/calls");
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    builder.body(()).expect("valid request")
}

/// Sends `n` requests made by `make` through `service`; each answer must
/// have status `expected`. Not inlined, so that each stack's loop is
/// compiled alike.
#[inline(never)]
fn run<S, R, B>(mut service: S, make: impl Fn() -> Request<R>, n: usize, expected: u16)
where
    S: Service<Request<R>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    for _ in 0..n.max(1) {
        ready_now(std::future::poll_fn(|cx| service.poll_ready(cx))).expect("ready");
        let response = ready_now(service.call(make())).expect("response");
        assert_eq!(response.status().as_u16(), expected);
        black_box(response);
    }
}

/// The key store's principal, but without usage counters: the
/// `key_store_uncounted` stack, `key_store` less the counting.
#[derive(Clone)]
struct Uncounted(ApiKey);

impl tower_bearer_auth::Principal for Uncounted {
    fn has_scope(&self, scope: &str) -> bool {
        self.0.has_scope(scope)
    }

    fn subject(&self) -> Option<&str> {
        self.0.subject()
    }

    fn credential(&self) -> tower_bearer_auth::CredentialKind {
        self.0.credential()
    }

    fn key_policies(&self) -> Option<&tower_bearer_auth::key_policy::KeyPolicies> {
        self.0.key_policies()
    }
}

/// The key store, answering [`Uncounted`] principals.
#[derive(Clone)]
struct UncountedStore(tower_bearer_auth::KeyStore);

impl tower_bearer_auth::TokenValidator for UncountedStore {
    type Principal = Uncounted;
    type Future = Ready<Result<Uncounted, tower_bearer_auth::ValidationError>>;

    fn validate(&self, token: &str, request: &http::request::Parts) -> Self::Future {
        ready(self.0.validate(token, request).into_inner().map(Uncounted))
    }
}

const STACKS: [&str; 18] = [
    "bare",
    "insert",
    "trivial",
    "key_store",
    "key_store_uncounted",
    "key_store_metrics",
    "key_store_prometheus",
    "key_store_peer",
    "key_store_ip",
    "key_store_credits",
    "tower_http",
    "missing",
    "tower_http_missing",
    "forbidden",
    "axum_public",
    "axum_auth",
    "axum_auth_rate_limit",
    "axum_auth_limiter",
];

fn main() {
    if std::env::var_os("SIZES").is_some() {
        print_sizes();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (stacks, n): (Vec<&str>, usize) = match args.as_slice() {
        [stack, n] if STACKS.contains(&stack.as_str()) => {
            (vec![stack.as_str()], n.parse().expect("a count"))
        }
        // `cargo bench` (`--bench`) or nothing: check every stack once.
        _ => (STACKS.to_vec(), 1),
    };
    let set = key_set(10_000);
    let valid = format!("Bearer {}", set.valid[0]);
    let principal = set.store.verify(&set.valid[0]).expect("valid key");
    let trivial_principal = principal.clone();
    for stack in stacks {
        let with_key = || request(Some(&valid));
        match stack {
            "bare" => run(Ok200, with_key, n, 200),
            "insert" => run(InsertPrincipal(principal.clone()), with_key, n, 200),
            "trivial" => {
                // A validator that returns a clone of a principal at once.
                let key = trivial_principal.clone();
                let layer = BearerAuthLayer::new(move |_: &str, _: &http::request::Parts| {
                    ready(Ok::<ApiKey, tower_bearer_auth::ValidationError>(
                        key.clone(),
                    ))
                });
                run(layer.layer(Ok200), with_key, n, 200);
            }
            "key_store" => run(
                BearerAuthLayer::new(set.store.clone()).layer(Ok200),
                with_key,
                n,
                200,
            ),
            // The same, without the key's usage counters: what counting
            // costs.
            "key_store_uncounted" => run(
                BearerAuthLayer::new(UncountedStore(set.store.clone())).layer(Ok200),
                with_key,
                n,
                200,
            ),
            // The layer recording metrics: with no recorder installed (the
            // facade's no-op), then with a Prometheus recorder.
            "key_store_metrics" | "key_store_prometheus" => {
                if stack == "key_store_prometheus" {
                    metrics_exporter_prometheus::PrometheusBuilder::new()
                        .install_recorder()
                        .expect("one recorder");
                }
                let layer = BearerAuthLayer::builder(set.store.clone())
                    .metrics(tower_bearer_auth::metrics::RequestMetrics::new())
                    .build()
                    .expect("valid config");
                run(layer.layer(Ok200), with_key, n, 200);
            }
            // The same request from a known peer, by a key without an
            // allowlist, then by a key with one (both in the 10,000-key
            // store): the allowlist's cost alone.
            "key_store_peer" => run(
                BearerAuthLayer::new(set.store.clone()).layer(Ok200),
                || request_from_peer(&valid),
                n,
                200,
            ),
            "key_store_ip" => {
                let bearer = extra_key(&set.store, |entry| {
                    entry.with_allowed_ips([
                        "198.51.100.0/24".parse().expect("range"),
                        "203.0.113.0/24".parse().expect("range"),
                    ])
                });
                run(
                    BearerAuthLayer::new(set.store.clone()).layer(Ok200),
                    || request_from_peer(&bearer),
                    n,
                    200,
                );
            }
            // A key with credits (a balance that never runs out), against
            // `key_store`: the local credit check and spend.
            "key_store_credits" => {
                let bearer = extra_key(&set.store, |entry| {
                    entry.with_credits(Some(tower_bearer_auth::key_policy::Credits::new(
                        u64::MAX / 2,
                    )))
                });
                run(
                    BearerAuthLayer::new(set.store.clone()).layer(Ok200),
                    || request(Some(&bearer)),
                    n,
                    200,
                );
            }
            "tower_http" => run(
                ValidateRequestHeaderLayer::bearer(&set.valid[0]).layer(Ok200),
                with_key,
                n,
                200,
            ),
            "missing" => run(
                BearerAuthLayer::new(set.store.clone()).layer(Ok200),
                || request(None),
                n,
                401,
            ),
            "tower_http_missing" => run(
                ValidateRequestHeaderLayer::bearer(&set.valid[0]).layer(Ok200),
                || request(None),
                n,
                401,
            ),
            "forbidden" => {
                let layer = BearerAuthLayer::builder(set.store.clone())
                    .scope_policy(ScopeRequirement::all(["admin"]).expect("valid"))
                    .build()
                    .expect("valid config");
                run(layer.layer(Ok200), with_key, n, 403);
            }
            "axum_public" | "axum_auth" | "axum_auth_rate_limit" | "axum_auth_limiter" => {
                let router = axum_app::router(&set.store, stack);
                let path = if stack == "axum_public" {
                    "/health"
                } else {
                    "/v1/ping"
                };
                let make = || axum_app::request(path, &valid);
                run(router, make, n, 200);
            }
            _ => unreachable!("checked above"),
        }
    }
    // Nothing is dropped after the requests: freeing the key set would
    // consolidate the allocator's free lists, a cost that grows with N and
    // is not the requests'.
    std::process::exit(0);
}

#[allow(dead_code)]
fn print_sizes() {
    type F = tower_bearer_auth::ResponseFuture<
        Ok200,
        tower_bearer_auth::KeyStore,
        tower_bearer_auth::scope::AuthenticatedOnly,
        (),
    >;
    eprintln!("ResponseFuture {}", std::mem::size_of::<F>());
    eprintln!(
        "Response<Bytes> {}",
        std::mem::size_of::<Response<bytes::Bytes>>()
    );
    eprintln!("Response<Empty> {}", std::mem::size_of::<Response<Body>>());
    eprintln!(
        "Ready<Result<Response<Empty>>> {}",
        std::mem::size_of::<Ready<Result<Response<Body>, Infallible>>>()
    );
    eprintln!(
        "ValidationError {}",
        std::mem::size_of::<tower_bearer_auth::ValidationError>()
    );
    eprintln!("Parts {}", std::mem::size_of::<http::request::Parts>());
    eprintln!("ApiKey {}", std::mem::size_of::<ApiKey>());
}
