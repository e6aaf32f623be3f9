//! Rate limits in-process, both ways of applying them: the rate-limit layer
//! inside `BearerAuthLayer`, and the limiter given to `BearerAuthLayer`
//! itself (`BearerAuthBuilder::rate_limiter`). For each: exactly the burst
//! passes, the 429 (HTTP and gRPC) and its headers, the `RateLimit` fields
//! on passing answers, which quota applies, an honest `Retry-After`, other
//! keys untouched, concurrency. Then a misplaced layer, and a validator
//! that refuses for its rate itself.

use std::future::ready;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use tower::util::{BoxCloneService, MapResponseLayer};
use tower::{Layer, Service, ServiceExt};
use tower_bearer_auth::rate_limit::{Quota, RateLimitLayer, RateLimiter};
use tower_bearer_auth::{
    ApiKey, BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore, RejectionKind, ValidationError,
};

use crate::support::{Echo, as_grpc, collect, get_with_auth, header};

/// A store with a key of quota `own` (or none), and its bearer value.
fn key(store: &KeyStore, own: Option<Quota>) -> String {
    let key = KeyGenerator::new().generate().expect("random source");
    store
        .insert(KeyEntry::new(key.id(), "Dialer", key.digest()).with_rate_limit(own))
        .expect("insert");
    format!("Bearer {}", key.token().expose())
}

fn quota(requests: u32, per_seconds: u32) -> Quota {
    Quota::new(requests, per_seconds).expect("valid quota")
}

/// How the limiter is applied.
#[derive(Debug, Clone, Copy)]
enum How {
    /// `auth.rate_limit(limiter)`, a layer inside `auth`.
    Layer,
    /// `BearerAuthBuilder::rate_limiter(limiter)`, in `auth` itself.
    InAuth,
}

const BOTH: [How; 2] = [How::Layer, How::InAuth];

type Limited = BoxCloneService<
    Request<()>,
    http::Response<UnsyncBoxBody<Bytes, std::convert::Infallible>>,
    std::convert::Infallible,
>;

/// `echo` behind authentication with `store` and `limiter`, applied `how`.
fn limited(store: &KeyStore, limiter: RateLimiter, echo: Echo, how: How) -> Limited {
    let builder = BearerAuthLayer::builder(store.clone()).realm("api");
    match how {
        How::Layer => {
            let auth = builder.build().expect("valid");
            let service = auth.layer(auth.rate_limit(limiter).layer(echo));
            BoxCloneService::new(MapResponseLayer::new(boxed).layer(service))
        }
        How::InAuth => {
            let auth = builder.rate_limiter(limiter).build().expect("valid");
            BoxCloneService::new(MapResponseLayer::new(boxed).layer(auth.layer(echo)))
        }
    }
}

fn boxed<B>(
    response: http::Response<B>,
) -> http::Response<UnsyncBoxBody<Bytes, std::convert::Infallible>>
where
    B: http_body::Body<Data = Bytes, Error = std::convert::Infallible> + Send + 'static,
{
    response.map(BodyExt::boxed_unsync)
}

/// One answer: status, head and body text.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) parts: http::response::Parts,
    pub(crate) body: String,
}

/// Sends `request` through `service` once it is ready.
pub(crate) async fn send<S, B>(service: &mut S, request: Request<()>) -> Answer
where
    S: Service<Request<()>, Response = http::Response<B>, Error = std::convert::Infallible>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = service
        .ready()
        .await
        .expect("ready")
        .call(request)
        .await
        .expect("infallible");
    let (parts, body) = collect(response).await;
    Answer {
        status: parts.status,
        body: String::from_utf8(body.to_vec()).expect("utf-8"),
        parts,
    }
}

#[tokio::test]
async fn exactly_the_burst_passes_then_429_with_every_field() {
    for how in BOTH {
        exactly_the_burst_passes_then_429(how).await;
    }
}

async fn exactly_the_burst_passes_then_429(how: How) {
    let store = KeyStore::new();
    let bearer = key(&store, Some(quota(5, 60)));
    let echo = Echo::default();
    let mut service = limited(&store, RateLimiter::new(), echo.clone(), how);

    for left in (0..5).rev() {
        let answer = send(&mut service, get_with_auth(&bearer)).await;
        assert_eq!(answer.status, StatusCode::OK);
        // Passing answers say where the key stands; the policy comes with a 429.
        assert_eq!(header(&answer.parts, "ratelimit-policy"), "");
        // 60 s / 5 = 12 s for one more request.
        assert_eq!(
            header(&answer.parts, "ratelimit"),
            format!(r#""key";r={left};t=12"#)
        );
    }
    let refused = send(&mut service, get_with_auth(&bearer)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused.parts, "retry-after"), "12");
    assert_eq!(header(&refused.parts, "ratelimit"), r#""key";r=0;t=12"#);
    assert_eq!(
        header(&refused.parts, "ratelimit-policy"),
        r#""key";q=5;w=60"#
    );
    assert_eq!(
        header(&refused.parts, "www-authenticate"),
        "",
        "not an auth failure"
    );
    assert_eq!(header(&refused.parts, "content-type"), "application/json");
    assert_eq!(
        refused.body,
        r#"{"error":{"code":"rate_limited","message":"Too many requests for this key; retry after 12 s"}}"#
    );
    assert_eq!(
        refused.parts.extensions.get::<RejectionKind>(),
        Some(&RejectionKind::RateLimited)
    );
    assert_eq!(
        echo.calls(),
        5,
        "the refused request never reached the service"
    );

    // HEAD: the same status and fields, no body.
    let mut head = get_with_auth(&bearer);
    *head.method_mut() = Method::HEAD;
    let answer = send(&mut service, head).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&answer.parts, "retry-after"), "12");
    assert!(answer.body.is_empty());
}

#[tokio::test]
async fn grpc_calls_get_resource_exhausted_trailers_only() {
    for how in BOTH {
        grpc_resource_exhausted(how).await;
    }
}

async fn grpc_resource_exhausted(how: How) {
    let store = KeyStore::new();
    let bearer = key(&store, Some(quota(1, 60)));
    let mut service = limited(&store, RateLimiter::new(), Echo::default(), how);
    assert_eq!(
        send(&mut service, as_grpc(get_with_auth(&bearer)))
            .await
            .status,
        StatusCode::OK
    );
    let refused = send(&mut service, as_grpc(get_with_auth(&bearer))).await;
    assert_eq!(
        refused.status,
        StatusCode::OK,
        "gRPC: HTTP 200, status in grpc-status"
    );
    assert_eq!(header(&refused.parts, "grpc-status"), "8");
    assert_eq!(
        header(&refused.parts, "grpc-message"),
        "Too many requests for this key; retry after 60 s"
    );
    assert_eq!(header(&refused.parts, "content-type"), "application/grpc");
    assert_eq!(header(&refused.parts, "ratelimit"), r#""key";r=0;t=60"#);
    assert!(refused.body.is_empty());
}

#[tokio::test]
async fn the_key_quota_wins_then_the_default_then_no_limit() {
    for how in BOTH {
        which_quota_applies(how).await;
    }
}

async fn which_quota_applies(how: How) {
    let store = KeyStore::new();
    let own = key(&store, Some(quota(2, 10)));
    let plain = key(&store, None);

    // With a default: keys without a quota get it.
    let limiter = RateLimiter::builder().default_quota(quota(3, 30)).build();
    let mut service = limited(&store, limiter.clone(), Echo::default(), how);
    let answer = send(&mut service, get_with_auth(&own)).await;
    assert_eq!(header(&answer.parts, "ratelimit"), r#""key";r=1;t=5"#);
    let answer = send(&mut service, get_with_auth(&plain)).await;
    assert_eq!(header(&answer.parts, "ratelimit"), r#""default";r=2;t=10"#);
    for _ in 0..3 {
        send(&mut service, get_with_auth(&plain)).await;
    }
    let refused = send(&mut service, get_with_auth(&plain)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&refused.parts, "ratelimit-policy"),
        r#""default";q=3;w=30"#
    );
    assert_eq!(limiter.default_quota(), Some(quota(3, 30)));

    // Without: keys without a quota are not limited and get no fields.
    let mut unlimited = limited(&store, RateLimiter::new(), Echo::default(), how);
    for _ in 0..20 {
        let answer = send(&mut unlimited, get_with_auth(&plain)).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(header(&answer.parts, "ratelimit"), "");
    }
}

#[tokio::test]
async fn one_key_over_its_quota_leaves_the_others_alone() {
    for how in BOTH {
        others_untouched(how).await;
    }
}

async fn others_untouched(how: How) {
    let store = KeyStore::new();
    let noisy = key(&store, None);
    let others: Vec<String> = (0..20).map(|_| key(&store, None)).collect();
    let limiter = RateLimiter::builder().default_quota(quota(3, 60)).build();
    let mut service = limited(&store, limiter, Echo::default(), how);
    let noisy_passed = {
        let mut passed = 0;
        for _ in 0..50 {
            if send(&mut service, get_with_auth(&noisy)).await.status == StatusCode::OK {
                passed += 1;
            }
        }
        passed
    };
    assert_eq!(noisy_passed, 3);
    for other in &others {
        for _ in 0..3 {
            assert_eq!(
                send(&mut service, get_with_auth(other)).await.status,
                StatusCode::OK
            );
        }
    }
}

#[tokio::test]
async fn a_retry_at_retry_after_passes() {
    for how in BOTH {
        retry_at_retry_after(how).await;
    }
}

async fn retry_at_retry_after(how: How) {
    let store = KeyStore::new();
    let bearer = key(&store, Some(quota(2, 1)));
    let mut service = limited(&store, RateLimiter::new(), Echo::default(), how);
    for _ in 0..2 {
        assert_eq!(
            send(&mut service, get_with_auth(&bearer)).await.status,
            StatusCode::OK
        );
    }
    let refused = send(&mut service, get_with_auth(&bearer)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let seconds: u64 = header(&refused.parts, "retry-after")
        .parse()
        .expect("seconds");
    assert_eq!(seconds, 1, "0.5 s rounded up");
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let retried = send(&mut service, get_with_auth(&bearer)).await;
    assert_eq!(
        retried.status,
        StatusCode::OK,
        "a retry at Retry-After passes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_clients_get_exactly_the_quota() {
    for how in BOTH {
        eight_clients(how).await;
    }
}

async fn eight_clients(how: How) {
    let store = KeyStore::new();
    let bearer = key(&store, Some(quota(100, 60)));
    let service = limited(&store, RateLimiter::new(), Echo::default(), how);
    let passed = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + Duration::from_millis(500);
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let mut service = service.clone();
            let (bearer, passed, refused) =
                (bearer.clone(), Arc::clone(&passed), Arc::clone(&refused));
            tokio::spawn(async move {
                while Instant::now() < until {
                    let answer = send(&mut service, get_with_auth(&bearer)).await;
                    match answer.status {
                        StatusCode::OK => passed.fetch_add(1, Ordering::Relaxed),
                        StatusCode::TOO_MANY_REQUESTS => refused.fetch_add(1, Ordering::Relaxed),
                        other => panic!("{other}"),
                    };
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("client");
    }
    let (passed, refused) = (
        passed.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    println!("{how:?}: 8 clients, 0.5 s, quota 100/60s: {passed} passed, {refused} refused");
    assert_eq!(passed, 100);
    assert!(refused > 100);
}

#[tokio::test]
async fn outside_the_auth_layer_it_refuses_rather_than_pass_unlimited() {
    let echo = Echo::default();
    let mut service =
        RateLimitLayer::<ApiKey>::new(RateLimiter::builder().default_quota(quota(1, 1)).build())
            .layer(echo.clone());
    let answer = send(&mut service, get_with_auth("Bearer sk_anything")).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(echo.calls(), 0);
}

#[tokio::test]
async fn a_validator_that_limits_rates_itself_gets_the_same_answers() {
    let validator = |_: &str, _: &Parts| {
        ready(Err::<ApiKey, _>(ValidationError::rate_limited(
            Duration::from_millis(2_500),
        )))
    };
    let echo = Echo::default();
    let service = BearerAuthLayer::new(validator).layer(echo.clone());
    let answer = send(&mut service.clone(), get_with_auth("Bearer sk_remote")).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&answer.parts, "retry-after"), "3");
    assert_eq!(header(&answer.parts, "www-authenticate"), "");
    assert!(
        answer.body.contains(r#""code":"rate_limited""#),
        "{}",
        answer.body
    );
    let grpc = send(
        &mut service.clone(),
        as_grpc(get_with_auth("Bearer sk_remote")),
    )
    .await;
    assert_eq!(header(&grpc.parts, "grpc-status"), "8");
    assert_eq!(echo.calls(), 0);
}

#[tokio::test]
async fn an_asynchronous_validator_is_limited_once_it_answers() {
    // The validation finishes in the response future; the limit is decided
    // there, after it.
    let store = KeyStore::new();
    let bearer = key(&store, Some(quota(2, 60)));
    let validator = move |token: &str, _: &Parts| {
        let (store, token) = (store.clone(), token.to_owned());
        Box::pin(async move {
            tokio::task::yield_now().await;
            store.verify(&token)
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
    };
    let echo = Echo::default();
    let mut service = BearerAuthLayer::builder(validator)
        .rate_limiter(RateLimiter::new())
        .build()
        .expect("valid")
        .layer(echo.clone());
    for left in [1, 0] {
        let answer = send(&mut service, get_with_auth(&bearer)).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            header(&answer.parts, "ratelimit"),
            format!(r#""key";r={left};t=30"#)
        );
    }
    let refused = send(&mut service, get_with_auth(&bearer)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused.parts, "retry-after"), "30");
    assert_eq!(
        header(&refused.parts, "ratelimit-policy"),
        r#""key";q=2;w=60"#
    );
    assert_eq!(echo.calls(), 2);
}
