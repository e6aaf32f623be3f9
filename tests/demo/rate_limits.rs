//! Rate limits through the demo server: exactly the quota passes for a key
//! hit by 8 concurrent clients (HTTP/1.1 and HTTP/2) while other keys all
//! pass; the 429 and its fields; one quota for REST and gRPC together, and
//! `RESOURCE_EXHAUSTED` for a tonic client; an honest `Retry-After`; and,
//! with two replicas on one Redis, at most the quota plus one per replica;
//! in the share mode (`--rate-limit-shares`), within the bound and with a
//! script call per share, not per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tower_bearer_auth::key_store::{keys_file::KeysFile, redis::RedisKeyWriter};
use tower_bearer_auth::rate_limit::Quota;

use crate::server::proto::GetProfileRequest;
use crate::server::proto::profiles_client::ProfilesClient;
use crate::server::{DemoServer, TestKey, http_client, send};
use crate::support::TempDir;
use crate::support::redis::{RedisServer, script_calls};

fn limited(label: &str, requests: u32, per_seconds: u32) -> TestKey {
    let mut key = TestKey::new(label, "profile:read calls:write");
    key.entry = key
        .entry
        .with_rate_limit(Some(Quota::new(requests, per_seconds).expect("valid")));
    key
}

async fn profile(server: &DemoServer, bearer: &str, http2: bool) -> (http::response::Parts, Bytes) {
    let request = Request::get(server.url("/v1/profile"))
        .header("authorization", bearer)
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    send(&http_client(http2), request).await
}

/// What a run of clients got.
struct Run {
    /// When each passing answer arrived, sorted.
    passes: Vec<Instant>,
    refused: usize,
}

impl Run {
    /// Passes that arrived within `window` of the first one.
    fn burst(&self, window: Duration) -> usize {
        let first = self.passes[0];
        self.passes
            .iter()
            .filter(|at| at.duration_since(first) <= window)
            .count()
    }
}

/// `clients` concurrent clients per server (alternating HTTP/1.1 and
/// HTTP/2), each sending `bearer` in a loop for `duration`.
async fn hammer(servers: &[&DemoServer], clients: usize, bearer: &str, duration: Duration) -> Run {
    let passed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + duration;
    let mut tasks = Vec::new();
    for server in servers {
        for n in 0..clients {
            let url = server.url("/v1/profile");
            let bearer = bearer.to_owned();
            let (passed, refused) = (Arc::clone(&passed), Arc::clone(&refused));
            tasks.push(tokio::spawn(async move {
                let client = http_client(n % 2 == 1);
                while Instant::now() < until {
                    let request = Request::get(&url)
                        .header("authorization", &bearer)
                        .body(Full::new(Bytes::new()))
                        .expect("valid request");
                    let (parts, _) = send(&client, request).await;
                    match parts.status {
                        StatusCode::OK => passed.lock().expect("passes").push(Instant::now()),
                        StatusCode::TOO_MANY_REQUESTS => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("unexpected {other}"),
                    }
                }
            }));
        }
    }
    for task in tasks {
        task.await.expect("client");
    }
    let mut passes = std::mem::take(&mut *passed.lock().expect("passes"));
    passes.sort();
    Run {
        passes,
        refused: refused.load(Ordering::Relaxed),
    }
}

fn keys_file(dir: &TempDir, keys: &[&TestKey]) -> String {
    let path = dir.path().join("keys.json");
    KeysFile::from_entries(keys.iter().map(|k| k.entry.clone()).collect())
        .save(&path)
        .expect("save");
    path.to_str().expect("utf-8").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_clients_get_exactly_the_quota_and_other_keys_all_pass() {
    let dir = TempDir::new("rate-local");
    let hot = limited("Hot Key", 100, 60);
    let others: Vec<TestKey> = (0..4)
        .map(|n| TestKey::new(&format!("Other {n}"), "profile:read"))
        .collect();
    let mut all: Vec<&TestKey> = vec![&hot];
    all.extend(others.iter());
    let path = keys_file(&dir, &all);
    let server = DemoServer::start(&["--keys", &path, "--rate-limit", "1000/60s"]);

    // Other keys send meanwhile: every one of their requests passes.
    let other_bearers: Vec<String> = others.iter().map(TestKey::bearer).collect();
    let url = server.url("/v1/profile");
    let others_task = tokio::spawn(async move {
        let client = http_client(false);
        let mut statuses = Vec::new();
        for round in 0..10 {
            for bearer in &other_bearers {
                let request = Request::get(&url)
                    .header("authorization", bearer)
                    .body(Full::new(Bytes::new()))
                    .expect("valid request");
                statuses.push(send(&client, request).await.0.status);
            }
            tokio::time::sleep(Duration::from_millis(250 + round)).await;
        }
        statuses
    });
    let run = hammer(&[&server], 8, &hot.bearer(), Duration::from_secs(3)).await;
    let statuses = others_task.await.expect("others");
    let (passed, burst) = (run.passes.len(), run.burst(Duration::from_millis(500)));
    println!(
        "local, 8 clients for 3 s on a 100/60s key: {burst} passed within 0.5 s of the first, \
         {passed} in all, {} refused; other keys: {} requests, all 200",
        run.refused,
        statuses.len()
    );
    // The burst is exactly the quota; after it, one more request per 0.6 s
    // (100 per 60 s): 3 s hold 5 such intervals.
    assert_eq!(burst, 100, "exactly the quota at once");
    assert!(
        (104..=105).contains(&passed),
        "{passed}: the burst and 5 refills"
    );
    assert!(run.refused > 0);
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );

    // The 429 itself (a refill may have come since the run: one more request
    // can pass, not two), and the fields on a passing answer.
    let (mut parts, mut body) = profile(&server, &hot.bearer(), true).await;
    if parts.status == StatusCode::OK {
        (parts, body) = profile(&server, &hot.bearer(), true).await;
    }
    assert_eq!(parts.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(parts.headers["ratelimit-policy"], r#""key";q=100;w=60"#);
    let state = parts.headers["ratelimit"].to_str().expect("ascii");
    assert!(state.starts_with(r#""key";r=0;t="#), "{state}");
    let retry: u64 = parts.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(String::from_utf8_lossy(&body).contains(r#""code":"rate_limited""#));
    let (parts, _) = profile(&server, &others[0].bearer(), false).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert!(
        !parts.headers.contains_key("ratelimit-policy"),
        "the policy comes with a 429"
    );
    assert!(
        parts.headers["ratelimit"]
            .to_str()
            .expect("ascii")
            .starts_with(r#""default";r="#)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_grpc_share_one_quota_and_grpc_sees_resource_exhausted() {
    let dir = TempDir::new("rate-grpc");
    let key = limited("Both Protocols", 3, 60);
    let quick = limited("Quick Retry", 2, 1);
    let path = keys_file(&dir, &[&key, &quick]);
    let server = DemoServer::start(&["--keys", &path]);
    let channel = Channel::from_shared(server.url(""))
        .expect("valid uri")
        .connect()
        .await
        .expect("connect");
    let mut client = ProfilesClient::new(channel);
    let call = |client: &mut ProfilesClient<Channel>| {
        let mut request = tonic::Request::new(GetProfileRequest {});
        request.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(key.bearer()).expect("ascii"),
        );
        let mut client = client.clone();
        async move { client.get_profile(request).await }
    };
    // Two over REST (HTTP/1.1, HTTP/2), one over gRPC: the quota of 3.
    assert_eq!(
        profile(&server, &key.bearer(), false).await.0.status,
        StatusCode::OK
    );
    assert_eq!(
        profile(&server, &key.bearer(), true).await.0.status,
        StatusCode::OK
    );
    call(&mut client)
        .await
        .expect("the third request, over gRPC");
    let exhausted = call(&mut client).await.expect_err("over the quota");
    assert_eq!(exhausted.code(), Code::ResourceExhausted);
    assert_eq!(
        exhausted.message(),
        "Too many requests for this key; retry after 20 s"
    );
    assert_eq!(
        profile(&server, &key.bearer(), false).await.0.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Retry-After is honest: a retry at that time passes.
    for _ in 0..2 {
        assert_eq!(
            profile(&server, &quick.bearer(), false).await.0.status,
            StatusCode::OK
        );
    }
    let (parts, _) = profile(&server, &quick.bearer(), false).await;
    assert_eq!(parts.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = parts.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(
        profile(&server, &quick.bearer(), false).await.0.status,
        StatusCode::OK,
        "retried after {retry} s"
    );
}

/// Two demo servers on one Redis (`--rate-limit 1000/60s` and `extra`),
/// loaded, with a hot key of 100 per 60 s and another key.
struct TwoReplicas {
    redis: RedisServer,
    hot: TestKey,
    other: TestKey,
    a: DemoServer,
    b: DemoServer,
}

impl TwoReplicas {
    async fn start(name: &str, extra: &[&str]) -> Option<Self> {
        let redis = RedisServer::start(name)?;
        let url = redis.url();
        let hot = limited("Hot Key", 100, 60);
        let other = TestKey::new("Other", "profile:read");
        let admin = RedisKeyWriter::connect(&url, "default")
            .await
            .expect("connect");
        admin.insert(hot.entry.clone()).await.expect("insert");
        admin.insert(other.entry.clone()).await.expect("insert");
        let mut args = vec!["--redis", url.as_str(), "--rate-limit", "1000/60s"];
        args.extend_from_slice(extra);
        let a = DemoServer::start(&args);
        let b = DemoServer::start(&args);
        for server in [&a, &b] {
            let started = Instant::now();
            while profile(server, &other.bearer(), false).await.0.status != StatusCode::OK {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "the replica never loaded"
                );
            }
        }
        Some(Self {
            redis,
            hot,
            other,
            a,
            b,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_redis_allow_at_most_the_quota_plus_one_each() {
    let Some(pair) = TwoReplicas::start("rate-replicas", &[]).await else {
        return;
    };
    let TwoReplicas {
        redis,
        hot,
        other,
        a,
        b,
    } = pair;
    let run = hammer(&[&a, &b], 4, &hot.bearer(), Duration::from_secs(3)).await;
    let (passed, burst) = (run.passes.len(), run.burst(Duration::from_millis(500)));
    println!(
        "Redis, 2 replicas x 4 clients for 3 s on a 100/60s key: {burst} passed within 0.5 s \
         of the first, {passed} in all, {} refused",
        run.refused
    );
    // At most the quota plus one per replica at once; then the refills.
    assert!((100..=102).contains(&burst), "{burst}");
    assert!((104..=107).contains(&passed), "{passed}");
    assert!(run.refused > 0);
    // The other key is limited separately, and passes.
    assert_eq!(
        profile(&b, &other.bearer(), true).await.0.status,
        StatusCode::OK
    );
    // The state is in Redis, next to the key set.
    let mut con = redis.client().get_connection().expect("connect");
    let state: Option<String> = redis::cmd("GET")
        .arg(format!("{{tba:default}}:rl:{}", hot.entry.id()))
        .query(&mut con)
        .expect("GET");
    assert!(state.is_some(), "the key's GCRA state is in Redis");

    // Redis gone: each replica limits locally (and says so), never 5xx.
    drop(redis);
    let (parts, _) = profile(&a, &other.bearer(), false).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert!(
        a.stderr
            .wait_for("rate limiter: Redis failed", Duration::from_secs(5))
            .is_some(),
        "{}",
        a.stderr.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_in_the_share_mode_stay_within_the_bound_with_few_round_trips() {
    let shares = ["--rate-limit-shares", "10"];
    let Some(TwoReplicas {
        redis, hot, a, b, ..
    }) = TwoReplicas::start("rate-replicas-shares", &shares).await
    else {
        return;
    };
    let before = script_calls(&redis.client()).await;
    let took = Duration::from_secs(3);
    let run = hammer(&[&a, &b], 4, &hot.bearer(), took).await;
    let calls = script_calls(&redis.client()).await - before;
    let (passed, burst) = (run.passes.len(), run.burst(Duration::from_millis(500)));
    // Shares of 10 (a tenth of 100); exact: the burst, then one per 0.6 s.
    let (share, replicas) = (10, 2);
    let exact = 100 + 3_000 / 600 + 1;
    println!(
        "Redis shares, 2 replicas x 4 clients for 3 s on a 100/60s key: {burst} passed within \
         0.5 s of the first, {passed} in all, {} refused, {calls} script calls (exact at most \
         {exact}, bound {})",
        run.refused,
        exact + replicas * share
    );
    assert!(
        passed <= exact + replicas * share,
        "{passed}: over the bound"
    );
    assert!(
        passed >= 100 - replicas * share,
        "{passed}: the quota went unspent"
    );
    assert!(burst <= 100 + replicas * share, "{burst}");
    assert!(run.refused > 0);
    assert!(
        calls * 10 < (passed + run.refused) as u64,
        "{calls} script calls for {} requests",
        passed + run.refused
    );
}
