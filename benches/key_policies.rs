//! What a key's policies add to a request, in-process, on one runtime
//! thread: `BearerAuth` over a shared key store (a replica of 10,000 keys
//! in a real `redis-server` on a unix socket), every request from a known
//! peer (`PeerAddress`), for keys without policies, keys with a 2-range
//! allowlist, keys with credits counted on this replica, and keys with
//! credits counted in Redis (`shared_credits`: one Lua script per
//! request; Redis's default `appendfsync everysec`, then `always`).
//! Rounds alternate between the four; the figures are
//! per-request latencies over every round, and what each adds to the
//! plain key's.
//!
//! ```text
//! cargo bench --bench key_policies                    # 10 rounds of 2,000 requests each
//! cargo bench --bench key_policies -- --rounds 4
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
use tower_bearer_auth::key_policy::{Credits, PeerAddress};
use tower_bearer_auth::key_store::{
    keys_file::KeysFile, redis::RedisKeyWriter, redis::SharedKeyStore,
};
use tower_bearer_auth::{BearerAuthLayer, KeyEntry, KeyGenerator};

const KEYS: usize = 10_000;
const PER_ROUND: usize = 2_000;
/// Keys of each kind that the rounds use, in turn.
const USED: usize = 100;

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
    let peer = PeerAddress("203.0.113.7:50000".parse().expect("address"));
    for i in 0..PER_ROUND {
        let mut request = Request::get("/v1/profile")
            .header("authorization", &bearers[i % bearers.len()])
            .body(())
            .expect("valid request");
        request.extensions_mut().insert(peer);
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
    let Some(redis) = support::redis::RedisServer::start("bench-key-policies") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let url = redis.url();
        let admin = RedisKeyWriter::connect(&url, "default")
            .await
            .expect("connect");
        // Keys in four kinds, interleaved: plain, allowlisted, credits
        // (local), credits (Redis). The credit keys' balance never runs out.
        let mut entries = Vec::with_capacity(KEYS);
        let mut bearers: [Vec<String>; 4] = Default::default();
        for i in 0..KEYS {
            let key = KeyGenerator::new().generate().expect("random source");
            let kind = i % 4;
            let mut entry = KeyEntry::new(key.id(), format!("Key {i}"), key.digest());
            match kind {
                1 => {
                    entry = entry.with_allowed_ips([
                        "198.51.100.0/24".parse().expect("range"),
                        "203.0.113.0/24".parse().expect("range"),
                    ]);
                }
                2 | 3 => entry = entry.with_credits(Some(Credits::new(1_000_000_000_000))),
                _ => {}
            }
            if bearers[kind].len() < USED {
                bearers[kind].push(format!("Bearer {}", key.token().expose()));
            }
            entries.push(entry);
        }
        admin
            .import(&KeysFile::from_entries(entries), true)
            .await
            .expect("import");
        let store = SharedKeyStore::builder(&url).start().expect("replica");
        store.ready(Duration::from_secs(30)).await.expect("loaded");

        let mut local = BearerAuthLayer::new(store.clone()).layer(Ok200);
        let mut shared = BearerAuthLayer::builder(store.clone())
            .shared_credits(&store)
            .build()
            .expect("valid")
            .layer(Ok200);
        // Redis's default: the append-only file is fsynced once a second
        // (the test harness starts it with `always`).
        let mut con = redis::Client::open(url.as_str())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        let fsync = async |con: &mut redis::aio::MultiplexedConnection, how: &str| {
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg("appendfsync")
                .arg(how)
                .query_async(con)
                .await
                .expect("CONFIG SET");
        };
        fsync(&mut con, "everysec").await;
        let mut times: [Vec<Duration>; 5] = Default::default();
        for _ in 0..rounds {
            round(&mut local, &bearers[0], &mut times[0]).await;
            round(&mut local, &bearers[1], &mut times[1]).await;
            round(&mut local, &bearers[2], &mut times[2]).await;
            round(&mut shared, &bearers[3], &mut times[3]).await;
        }
        // `appendfsync always`: each spend is a write that waits for the disk.
        fsync(&mut con, "always").await;
        for _ in 0..rounds {
            round(&mut shared, &bearers[3], &mut times[4]).await;
        }
        println!(
            "key_policies: {KEYS} keys (shared store replica), {rounds} rounds x {PER_ROUND} requests per kind, redis-server on a unix socket"
        );
        let mut base = None;
        for (name, mut times) in [
            "plain key",
            "2-range allowlist",
            "credits (local)",
            "credits (Redis)",
            "  fsync always",
        ]
        .into_iter()
        .zip(times)
        {
            times.sort();
            let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
            let base = *base.get_or_insert((p50, p99));
            println!(
                "  {name:18} p50 {:>8.2} µs  p99 {:>8.2} µs   added: p50 {:>+8.2} µs, p99 {:>+8.2} µs",
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6,
                (p50.as_secs_f64() - base.0.as_secs_f64()) * 1e6,
                (p99.as_secs_f64() - base.1.as_secs_f64()) * 1e6,
            );
        }
    });
}
