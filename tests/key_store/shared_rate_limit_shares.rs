//! The share mode of the Redis-shared limiter
//! (`RateLimiterBuilder::redis_shares`), on a real `redis-server`, with 2
//! and 3 replicas flooding one key at once: with fresh shares they admit
//! what the exact limit admits (the quota, plus what refills meanwhile);
//! with shares taken before the window passed they admit more, but never
//! more than the documented bound (the exact admissions plus one share per
//! replica). Most requests never reach Redis, and a failing Redis never
//! fails a request.

use std::time::{Duration, Instant};

use tower_bearer_auth::BearerAuth;
use tower_bearer_auth::key_store::redis::{RedisKeyWriter, SharedKeyStore};
use tower_bearer_auth::rate_limit::{Quota, RateLimiter, ShareSize};

use crate::shared_rate_limit::{limited, send};
use crate::shared_store::{NAMESPACE, new_key, replica};
use crate::support::redis::{RedisServer, script_calls};
use crate::support::{Echo, header};

/// 30 per 60 s: one request every 2 s comes back, so a flood of a few
/// hundred milliseconds sees at most one refill.
const QUOTA: (u32, u32) = (30, 60);
/// A tenth of the quota: 3 requests per share.
const SHARE: ShareSize = ShareSize::fraction(10);

type Service = BearerAuth<Echo, SharedKeyStore>;

/// `count` replicas, each with its limiter in share mode and a layer.
async fn replicas(url: &str, count: usize) -> Vec<Service> {
    let mut services = Vec::new();
    for _ in 0..count {
        let store = replica(url, Duration::from_secs(5), true).await;
        services.push(limited(
            &store,
            RateLimiter::builder().redis_shares(&store, SHARE),
        ));
    }
    services
}

/// Every replica sends `each` requests one after the other, all replicas
/// at once; returns the 200s, the 429s and how long it took.
async fn flood(services: &[Service], bearer: &str, each: usize) -> (usize, usize, Duration) {
    let started = Instant::now();
    let tasks: Vec<_> = services
        .iter()
        .map(|service| {
            let mut service = service.clone();
            let bearer = bearer.to_owned();
            tokio::spawn(async move {
                let (mut passed, mut refused) = (0, 0);
                for _ in 0..each {
                    let (parts, _) = send(&mut service, &bearer).await;
                    match parts.status.as_u16() {
                        200 => passed += 1,
                        429 => {
                            let retry: u64 =
                                header(&parts, "retry-after").parse().expect("seconds");
                            assert!((1..=2).contains(&retry), "retry after {retry} s");
                            refused += 1;
                        }
                        other => panic!("status {other}"),
                    }
                }
                (passed, refused)
            })
        })
        .collect();
    let (mut passed, mut refused) = (0, 0);
    for task in tasks {
        let (p, r) = task.await.expect("the client task");
        passed += p;
        refused += r;
    }
    (passed, refused, started.elapsed())
}

/// What the exact limit admits from an unused state in `took`: the quota,
/// plus one request per emission interval that passed, plus the one whose
/// interval began.
fn exact_admits(took: Duration) -> usize {
    let interval = Duration::from_secs(u64::from(QUOTA.1)) / QUOTA.0;
    QUOTA.0 as usize + (took.as_nanos() / interval.as_nanos()) as usize + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_and_three_replicas_share_one_quota_within_the_bound() {
    let Some(redis) = RedisServer::start("rate-limit-shares") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let quota = Quota::new(QUOTA.0, QUOTA.1).expect("valid quota");
    let share = SHARE.of(quota) as usize;
    let mut con = redis.client().get_connection().expect("connect");
    for count in [2, 3] {
        let (fresh, token) = new_key("Fresh");
        let (stale, stale_token) = new_key("Stale");
        let id = stale.id().to_owned();
        for entry in [fresh, stale] {
            admin
                .insert(entry.with_rate_limit(Some(quota)))
                .await
                .expect("insert");
        }
        let services = replicas(&redis.url(), count).await;

        // Fresh: no replica holds anything of the key's quota. Every
        // request taken from Redis is spent (a replica refuses only once
        // it holds nothing), so they admit exactly what Redis gave: the
        // quota, plus what came back during the flood.
        let bearer = format!("Bearer {token}");
        let (passed, refused, took) = flood(&services, &bearer, 40).await;
        println!(
            "{count} replicas, fresh shares: {passed} passed, {refused} refused in {took:?} (quota {}, exact at most {})",
            QUOTA.0,
            exact_admits(took)
        );
        assert!(passed >= QUOTA.0 as usize, "{passed}: quota left unspent");
        assert!(
            passed <= exact_admits(took),
            "{passed}: over the exact limit"
        );

        // Stale: each replica took a share (and spent one request of it),
        // then the window passed: the state in Redis is worth nothing
        // (deleting it is the same answer, without waiting 60 s). The
        // replicas spend what they hold on top of a fresh quota: the
        // over-admission the bound allows, and no more.
        let bearer = format!("Bearer {stale_token}");
        for service in &services {
            let (parts, _) = send(&mut service.clone(), &bearer).await;
            assert_eq!(parts.status, 200);
        }
        let () = redis::cmd("DEL")
            .arg(format!("{{tba:{NAMESPACE}}}:rl:{id}"))
            .query(&mut con)
            .expect("DEL");
        let (passed, refused, took) = flood(&services, &bearer, 40).await;
        let bound = exact_admits(took) + count * share;
        println!(
            "{count} replicas, shares taken before the window: {passed} passed, {refused} refused in {took:?} (exact at most {}, bound {bound})",
            exact_admits(took)
        );
        assert!(
            passed >= QUOTA.0 as usize + count * (share - 1),
            "{passed}: the held shares were spent on top of the quota"
        );
        assert!(passed <= bound, "{passed}: over the bound {bound}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn most_requests_never_reach_redis_and_a_failing_redis_fails_none() {
    let Some(mut redis) = RedisServer::start("rate-limit-shares-trips") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (entry, token) = new_key("Busy");
    let quota = Quota::new(1_000, 60).expect("valid quota");
    admin
        .insert(entry.with_rate_limit(Some(quota)))
        .await
        .expect("insert");
    let mut service = replicas(&redis.url(), 1).await.remove(0);
    let bearer = format!("Bearer {token}");
    let before = script_calls(&redis.client()).await;
    let mut remaining = Vec::new();
    for _ in 0..300 {
        let (parts, _) = send(&mut service, &bearer).await;
        assert_eq!(parts.status, 200);
        remaining.push(header(&parts, "ratelimit").to_owned());
    }
    let calls = script_calls(&redis.client()).await - before;
    // Shares of 100, refilled at 50 held: about one take per 50 requests
    // (a first take may meet NOSCRIPT and run twice).
    println!(
        "300 requests, {calls} script calls; RateLimit {:?} .. {:?}",
        remaining[0], remaining[299]
    );
    assert!(
        (6..=12).contains(&calls),
        "{calls} script calls for 300 requests"
    );
    assert_eq!(
        remaining[0], r#""key";r=999;t=1"#,
        "held 99 + 900 left in Redis"
    );

    // Redis gone: what the replica holds is spent, then the local count
    // decides; nothing fails.
    redis.kill();
    for n in 0..200 {
        let (parts, _) = send(&mut service, &bearer).await;
        assert_eq!(parts.status, 200, "request {n} with Redis down");
    }
}
