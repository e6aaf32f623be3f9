//! The limiter given to `BearerAuthLayer` itself, on Redis: the request
//! waits for Redis's verdict inside the layer's own future (the path the
//! in-memory limiter never takes), then passes with its `RateLimit` field or
//! gets the 429 with every field, and the state is in Redis.

use std::time::Duration;

use tower::{Layer, Service, ServiceExt};
use tower_bearer_auth::key_store::redis::{RedisKeyWriter, SharedKeyStore};
use tower_bearer_auth::rate_limit::{Quota, RateLimiter, RateLimiterBuilder, ShareSize};
use tower_bearer_auth::{BearerAuth, BearerAuthLayer};

use crate::shared_store::{NAMESPACE, new_key, replica};
use crate::support::redis::{RedisServer, script_calls};
use crate::support::{Echo, collect, get_with_auth, header};

/// Sends a request with `bearer` through `service` once it is ready.
pub(crate) async fn send<S, B>(
    service: &mut S,
    bearer: &str,
) -> (http::response::Parts, bytes::Bytes)
where
    S: Service<http::Request<()>, Response = http::Response<B>, Error = std::convert::Infallible>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = ServiceExt::<http::Request<()>>::ready(service)
        .await
        .expect("ready")
        .call(get_with_auth(bearer))
        .await
        .expect("infallible");
    collect(response).await
}

/// An echo service behind a layer over `store` with the limiter `builder`
/// makes.
pub(crate) fn limited(
    store: &SharedKeyStore,
    builder: RateLimiterBuilder,
) -> BearerAuth<Echo, SharedKeyStore> {
    BearerAuthLayer::builder(store.clone())
        .rate_limiter(builder.build())
        .build()
        .expect("valid")
        .layer(Echo::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_waits_for_redis_then_passes_or_answers_429() {
    let Some(redis) = RedisServer::start("inline-rate-limit") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (entry, token) = new_key("Dialer");
    let id = entry.id().to_owned();
    let quota = Quota::new(3, 60).expect("valid quota");
    admin
        .insert(entry.with_rate_limit(Some(quota)))
        .await
        .expect("insert");
    let store = replica(&redis.url(), Duration::from_secs(5), true).await;
    let limiter = RateLimiter::builder().redis(&store).build();
    let auth = BearerAuthLayer::builder(store)
        .rate_limiter(limiter)
        .build()
        .expect("valid");
    let echo = Echo::default();
    let mut service = auth.layer(echo.clone());
    let bearer = format!("Bearer {token}");
    let before = script_calls(&redis.client()).await;

    for left in (0..3).rev() {
        let (parts, _) = send(&mut service, &bearer).await;
        assert_eq!(parts.status, http::StatusCode::OK);
        assert_eq!(
            header(&parts, "ratelimit"),
            format!(r#""key";r={left};t=20"#)
        );
    }
    let (parts, body) = send(&mut service, &bearer).await;
    assert_eq!(parts.status, http::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&parts, "retry-after"), "20");
    assert_eq!(header(&parts, "ratelimit-policy"), r#""key";q=3;w=60"#);
    assert_eq!(header(&parts, "ratelimit"), r#""key";r=0;t=20"#);
    assert!(
        String::from_utf8_lossy(&body).contains(r#""code":"rate_limited""#),
        "{body:?}"
    );
    assert_eq!(
        echo.calls(),
        3,
        "the refused request never reached the service"
    );

    // Redis decided: the script ran for every request (the first call also
    // meets NOSCRIPT and runs again after loading it), and the state is there.
    let after = script_calls(&redis.client()).await;
    assert!(after - before >= 4, "{before} -> {after} scripts");
    let mut con = redis.client().get_connection().expect("connect");
    let state: Option<String> = redis::cmd("GET")
        .arg(format!("{{tba:{NAMESPACE}}}:rl:{id}"))
        .query(&mut con)
        .expect("GET");
    assert!(state.is_some(), "the key's GCRA state is in Redis");
}

/// The replica user SECURITY.md documents may run what the shared rate
/// limit needs: two replicas of that user share one quota. A user without
/// it (the user documented before) is refused the script: the limiter
/// counts per replica, and says so in the store's status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_replica_user_shares_limits_and_a_refused_script_is_reported() {
    let Some(redis) = RedisServer::start("acl-rate-limit") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (entry, token) = new_key("Dialer");
    let quota = Quota::new(2, 60).expect("valid quota");
    admin
        .insert(entry.with_rate_limit(Some(quota)))
        .await
        .expect("insert");
    let mut con = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    // As SECURITY.md documents it ("ACL users"), and the user documented
    // before (no rate-limit keys, SET or TIME).
    let documented = "%R~{tba:*}* %RW~{tba:*}:used %RW~{tba:*}:rl:* %RW~{tba:*}:us:* +@read +@transaction +ping +hello +client|setname +evalsha +eval +script|load +hset +set +time +hincrby +expire";
    let before = "%R~{tba:*}* %RW~{tba:*}:used +@read +@transaction +ping +hello +client|setname +evalsha +eval +script|load +hset";
    for (user, rules) in [("replica", documented), ("old", before)] {
        let mut setuser = redis::cmd("ACL");
        setuser.arg("SETUSER").arg(user).arg("on").arg(">pw");
        for rule in rules.split(' ') {
            setuser.arg(rule);
        }
        let () = setuser.query_async(&mut con).await.expect("ACL SETUSER");
    }
    let bearer = format!("Bearer {token}");
    let url = |user: &str| format!("{}?user={user}&pass=pw", redis.url());

    // Two replicas of the documented user: one quota between them.
    let mut services = Vec::new();
    let mut stores = Vec::new();
    for _ in 0..2 {
        let store = replica(&url("replica"), Duration::from_secs(5), true).await;
        services.push(limited(&store, RateLimiter::builder().redis(&store)));
        stores.push(store);
    }
    let mut statuses = Vec::new();
    for service in [0, 1, 0] {
        statuses.push(send(&mut services[service], &bearer).await.0.status);
    }
    assert_eq!(
        statuses,
        [
            http::StatusCode::OK,
            http::StatusCode::OK,
            http::StatusCode::TOO_MANY_REQUESTS
        ],
        "one quota of 2 across two replicas"
    );
    assert_eq!(stores[0].status().shared_rate_limit_problem, None);
    // The share mode needs nothing more: a replica in it reads the same
    // state (the quota of 2 is spent) and is refused nothing.
    let store = replica(&url("replica"), Duration::from_secs(5), true).await;
    let limiter = RateLimiter::builder().redis_shares(&store, ShareSize::default());
    let mut service = limited(&store, limiter);
    let (parts, _) = send(&mut service, &bearer).await;
    assert_eq!(parts.status, http::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(store.status().shared_rate_limit_problem, None);
    // The same user flushes the keys' usage counts to the day's hash.
    assert!(stores[0].flush_last_uses(Duration::from_secs(5)).await);
    let days: Vec<String> = redis::cmd("KEYS")
        .arg("{tba:*}:us:*")
        .query_async(&mut con)
        .await
        .expect("KEYS");
    assert_eq!(days.len(), 1, "usage flushed by the replica user: {days:?}");

    // The old user: refused, counted per replica, reported.
    let store = replica(&url("old"), Duration::from_secs(5), true).await;
    let mut service = limited(&store, RateLimiter::builder().redis(&store));
    let (parts, _) = send(&mut service, &bearer).await;
    assert_eq!(parts.status, http::StatusCode::OK, "a fresh local count");
    let problem = store
        .status()
        .shared_rate_limit_problem
        .expect("the refusal is in the status");
    println!("status: {problem}");
    assert!(problem.contains("per replica"), "{problem}");
    assert!(problem.to_lowercase().contains("noperm"), "{problem}");
}
