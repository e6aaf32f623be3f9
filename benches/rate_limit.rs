//! What the rate limiter adds to a request's latency, in-process:
//! `BearerAuth` over a shared key store (a replica of 10,000 keys in a
//! real `redis-server` on a unix socket), without a rate limit, with the
//! local limiter, with the exact Redis limiter (one Lua script per
//! request), and with Redis shares (`redis_shares`: a tenth of the quota
//! at a time, which this run never exhausts, and shares of 100 requests,
//! taken again every 50 requests of a key, in the background). Requests
//! are sent one at a time by the bench's thread; the runtime has one worker
//! thread, where the background takes and Redis's connection run. Rounds
//! alternate between the variants, with Redis's default `appendfsync
//! everysec`; then the exact limiter and the shares of 100 with
//! `appendfsync always` (each state change is a write, and each write then
//! waits for the disk). The figures are per-request latencies over every
//! round, and a PING round trip for scale.
//!
//! ```text
//! cargo bench --bench rate_limit                    # 10 rounds of 2,000 requests each
//! cargo bench --bench rate_limit -- --rounds 4
//! ```

#[path = "common/mod.rs"]
mod common;
#[path = "../tests/support/mod.rs"]
#[allow(missing_docs, missing_debug_implementations)]
mod support;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};
use tower_bearer_auth::key_store::{
    keys_file::KeysFile, redis::RedisKeyWriter, redis::SharedKeyStore,
};
use tower_bearer_auth::rate_limit::{Quota, RateLimiter, ShareSize};
use tower_bearer_auth::{BearerAuthLayer, KeyEntry, KeyGenerator};

const KEYS: usize = 10_000;
const PER_ROUND: usize = 2_000;

/// The inner service: answers 200 at once.
#[derive(Clone, Copy)]
struct Ok200;

impl Service<Request<()>> for Ok200 {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<()>) -> Self::Future {
        ready(Ok(Response::new(())))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn round<S, B>(service: &mut S, bearers: &[String], times: &mut Vec<Duration>)
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
{
    for i in 0..PER_ROUND {
        let request = Request::get("/v1/profile")
            .header("authorization", &bearers[i % bearers.len()])
            .body(())
            .expect("valid request");
        let started = Instant::now();
        let response = service
            .ready()
            .await
            .expect("ready")
            .call(request)
            .await
            .expect("infallible");
        times.push(started.elapsed());
        assert_eq!(response.status(), 200);
    }
}

fn main() {
    let rounds = common::rounds_arg(10);
    let Some(redis) = support::redis::RedisServer::start("bench-rate-limit") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let url = redis.url();
        let admin = RedisKeyWriter::connect(&url, "default").await.expect("connect");
        let mut entries = Vec::with_capacity(KEYS);
        let mut bearers = Vec::new();
        for i in 0..KEYS {
            let key = KeyGenerator::new().generate().expect("random source");
            entries.push(KeyEntry::new(key.id(), format!("Key {i}"), key.digest()));
            if i % 100 == 0 {
                bearers.push(format!("Bearer {}", key.token().expose()));
            }
        }
        admin
            .import(&KeysFile::from_entries(entries), true)
            .await
            .expect("import");
        let store = SharedKeyStore::builder(&url).start().expect("replica");
        store.ready(Duration::from_secs(30)).await.expect("loaded");

        // A quota no run can exhaust: every request passes.
        let quota = Quota::new(u32::MAX, 1).expect("valid");
        let auth = BearerAuthLayer::new(store.clone());
        let local = RateLimiter::builder().default_quota(quota).build();
        let shared = RateLimiter::builder().default_quota(quota).redis(&store).build();
        let tenth = RateLimiter::builder()
            .default_quota(quota)
            .redis_shares(&store, ShareSize::fraction(10))
            .build();
        let hundred = RateLimiter::builder()
            .default_quota(quota)
            .redis_shares(&store, ShareSize::requests(100))
            .build();
        let mut none = auth.layer(Ok200);
        let mut with_local = auth.layer(auth.rate_limit(local).layer(Ok200));
        let mut with_redis = auth.layer(auth.rate_limit(shared).layer(Ok200));
        let mut with_tenth = auth.layer(auth.rate_limit(tenth).layer(Ok200));
        let mut with_hundred = auth.layer(auth.rate_limit(hundred).layer(Ok200));

        // The floor: one PING round trip on a connection of our own.
        let mut ping = Vec::new();
        let mut con = redis::Client::open(url.as_str())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        for _ in 0..PER_ROUND {
            let started = Instant::now();
            let _: String = redis::cmd("PING").query_async(&mut con).await.expect("PING");
            ping.push(started.elapsed());
        }
        ping.sort();
        println!(
            "  PING round trip  p50 {:>8.2} µs  p99 {:>8.2} µs",
            percentile(&ping, 0.5).as_secs_f64() * 1e6,
            percentile(&ping, 0.99).as_secs_f64() * 1e6
        );

        // Redis's default: the append-only file is fsynced once a second.
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("appendfsync")
            .arg("everysec")
            .query_async(&mut con)
            .await
            .expect("CONFIG SET");
        let (mut t_none, mut t_local, mut t_redis) = (Vec::new(), Vec::new(), Vec::new());
        let (mut t_tenth, mut t_hundred) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            round(&mut none, &bearers, &mut t_none).await;
            round(&mut with_local, &bearers, &mut t_local).await;
            round(&mut with_redis, &bearers, &mut t_redis).await;
            round(&mut with_tenth, &bearers, &mut t_tenth).await;
            round(&mut with_hundred, &bearers, &mut t_hundred).await;
        }
        // `appendfsync always`: every write waits for the disk, and each
        // request's GCRA state is a write.
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("appendfsync")
            .arg("always")
            .query_async(&mut con)
            .await
            .expect("CONFIG SET");
        let (mut t_always, mut t_hundred_always) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            round(&mut with_redis, &bearers, &mut t_always).await;
            round(&mut with_hundred, &bearers, &mut t_hundred_always).await;
        }
        println!(
            "rate_limit: {KEYS} keys (shared store replica), {rounds} rounds x {PER_ROUND} requests, redis-server {} on a unix socket",
            common_redis_version()
        );
        let mut base = None;
        for (name, mut times) in [
            ("no rate limit", t_none),
            ("local limiter", t_local),
            ("Redis exact", t_redis),
            ("Redis shares, 1/10", t_tenth),
            ("Redis shares of 100", t_hundred),
            ("exact, fsync always", t_always),
            ("shares 100, fsync alw.", t_hundred_always),
        ] {
            times.sort();
            let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
            let base = *base.get_or_insert((p50, p99));
            // Requests slower than a tenth of a PING: those that waited.
            let slow = times.iter().filter(|t| **t > percentile(&ping, 0.5) / 10).count();
            println!(
                "  {name:22} p50 {:>8.2} µs  p99 {:>8.2} µs   added: p50 {:>+8.2} µs, p99 {:>+8.2} µs   over PING/10: {:.2}%",
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6,
                (p50.as_secs_f64() - base.0.as_secs_f64()) * 1e6,
                (p99.as_secs_f64() - base.1.as_secs_f64()) * 1e6,
                slow as f64 * 100.0 / times.len() as f64,
            );
        }
    });
}

fn common_redis_version() -> String {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            s.split_whitespace()
                .find(|w| w.starts_with("v="))
                .map(|v| v[2..].to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}
