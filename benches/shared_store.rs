//! The shared key store on a real `redis-server` and a real Postgres (a
//! cluster made by `initdb`), in a release build, one backend after the
//! other in the same run:
//!
//! 1. **Startup**: how long a replica takes from `start` to its first
//!    load, with 10,000, 100,000 and 1,000,000 keys in the store.
//! 2. **Propagation**: 3 demo servers (`server --redis` or `server
//!    --postgres`) share one key set; a key is created, then revoked,
//!    through the backend's writer, and each time the clock runs from the
//!    moment the writer's call returns until all three servers answer
//!    accordingly over HTTP. Once idle, once while `wrk` loads the three
//!    servers (when `wrk` is installed). The HTTP polling adds its own
//!    round trips (about 0.1 ms each): the figures are upper bounds.
//!
//! ```text
//! cargo bench --bench shared_store                  # both backends, 1,000 changes of each kind, idle and loaded
//! cargo bench --bench shared_store -- --changes 200 --no-startup --backend postgres
//! ```

mod common;
#[path = "../tests/support/mod.rs"]
#[allow(missing_docs, missing_debug_implementations)]
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower_bearer_auth::key_store::admin::AdminError;
use tower_bearer_auth::key_store::keys_file::KeysFile;
use tower_bearer_auth::key_store::postgres::{PostgresKeyWriter, PostgresStoreBuilder};
use tower_bearer_auth::key_store::redis::RedisKeyWriter;
use tower_bearer_auth::{KeyEntry, KeyGenerator, ScopeSet};

/// A backend's writer.
enum Writer {
    Redis(RedisKeyWriter),
    Postgres(PostgresKeyWriter),
}

impl Writer {
    async fn insert(&self, entry: KeyEntry) -> Result<u64, AdminError> {
        match self {
            Self::Redis(writer) => writer.insert(entry).await,
            Self::Postgres(writer) => writer.insert(entry).await,
        }
    }

    async fn revoke(&self, id: &str) -> Result<u64, AdminError> {
        match self {
            Self::Redis(writer) => writer.revoke(id).await,
            Self::Postgres(writer) => writer.revoke(id).await,
        }
    }
}

/// A demo server process, killed on drop.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    /// `flag` is `--redis` or `--postgres`.
    fn start(flag: &str, url: &str) -> Self {
        let mut child = Command::new(support::example_binary("server"))
            .args(["--listen", "127.0.0.1:0", flag, url])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the demo server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let address = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("listening on http://")
                    .map(|a| a.parse().expect("address"))
            })
            .expect("the server started");
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, address }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn status(client: &HttpClient, server: &Server, bearer: &str) -> StatusCode {
    let request = Request::get(format!("http://{}/v1/ping", server.address))
        .header("authorization", bearer)
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    client
        .request(request)
        .await
        .map_or(StatusCode::BAD_GATEWAY, |response| response.status())
}

/// From now until every server answers `expected` for `bearer`.
async fn until_all(
    client: &HttpClient,
    servers: &[Server],
    bearer: &str,
    expected: StatusCode,
) -> Duration {
    let started = Instant::now();
    for server in servers {
        while status(client, server, bearer).await != expected {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "never {expected}"
            );
        }
    }
    started.elapsed()
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "{name:<34} n={:<5} p50 {:>9.3?}  p99 {:>9.3?}  max {:>9.3?}",
        times.len(),
        at(0.50),
        at(0.99),
        times[times.len() - 1]
    );
}

async fn measure(admin: &Writer, servers: &[Server], changes: usize, label: &str) {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let scopes = ScopeSet::parse("profile:read").expect("valid");
    let (mut created, mut revoked) = (Vec::new(), Vec::new());
    for i in 0..changes {
        let key = KeyGenerator::new().generate().expect("random source");
        let bearer = format!("Bearer {}", key.token().expose());
        admin
            .insert(
                KeyEntry::new(key.id(), format!("Bench {i}"), key.digest())
                    .with_scopes(scopes.clone()),
            )
            .await
            .expect("insert");
        created.push(until_all(&client, servers, &bearer, StatusCode::OK).await);
        admin.revoke(key.id()).await.expect("revoke");
        revoked.push(until_all(&client, servers, &bearer, StatusCode::UNAUTHORIZED).await);
    }
    summary(&format!("creation, {label}"), created);
    summary(&format!("revocation, {label}"), revoked);
}

fn main() {
    let mut changes = 1_000;
    let mut startups = vec![10_000, 100_000, 1_000_000];
    let mut backends = vec!["redis".to_owned(), "postgres".to_owned()];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--changes" => {
                changes = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--changes N");
            }
            "--no-startup" => startups.clear(),
            "--backend" => backends = vec![args.next().expect("--backend redis|postgres")],
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    for backend in backends {
        match backend.as_str() {
            "redis" => runtime.block_on(redis(&startups, changes)),
            "postgres" => runtime.block_on(postgres(&startups, changes)),
            other => panic!("--backend {other}: redis or postgres"),
        }
    }
}

async fn redis(startups: &[usize], changes: usize) {
    for &keys in startups {
        let Some(redis) = support::redis::RedisServer::start("startup-bench") else {
            return;
        };
        redis_startup(&redis, keys).await;
    }
    let Some(redis) = support::redis::RedisServer::start("propagation-bench") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), "default")
        .await
        .expect("connect");
    let what = format!("redis-server {}", redis_version());
    propagation(
        Writer::Redis(admin),
        "--redis",
        &redis.url(),
        &what,
        changes,
    )
    .await;
}

async fn postgres(startups: &[usize], changes: usize) {
    for &keys in startups {
        let Some(server) = support::postgres::PostgresServer::start("startup-bench") else {
            return;
        };
        let writer = PostgresKeyWriter::new(&server.url(), "default").expect("URL");
        writer.init().await.expect("schema");
        let started = Instant::now();
        writer
            .import(&KeysFile::from_entries(entries(keys)), false)
            .await
            .expect("import");
        println!(
            "postgres: imported {keys:>9} keys in {:?} (PostgresKeyWriter::import)",
            started.elapsed()
        );
        let started = Instant::now();
        let store = PostgresStoreBuilder::new(&server.url())
            .start()
            .expect("start");
        store.ready(Duration::from_secs(300)).await.expect("loaded");
        let took = started.elapsed();
        assert_eq!(store.status().counts.active, keys);
        println!("postgres: a replica loaded {keys:>9} keys in {took:?}");
    }
    let Some(server) = support::postgres::PostgresServer::start("propagation-bench") else {
        return;
    };
    let admin = PostgresKeyWriter::new(&server.url(), "default").expect("URL");
    admin.init().await.expect("schema");
    let what = format!("Postgres {}", server.psql("SHOW server_version"));
    propagation(
        Writer::Postgres(admin),
        "--postgres",
        &server.url(),
        &what,
        changes,
    )
    .await;
}

/// 3 demo servers on the store at `url`: changes measured idle, then
/// under `wrk` load.
async fn propagation(admin: Writer, flag: &str, url: &str, what: &str, changes: usize) {
    // Initialise the store, then start the replicas.
    let first = KeyGenerator::new().generate().expect("random source");
    admin
        .insert(KeyEntry::new(first.id(), "First", first.digest()))
        .await
        .expect("insert");
    let servers: Vec<Server> = (0..3).map(|_| Server::start(flag, url)).collect();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let first_bearer = format!("Bearer {}", first.token().expose());
    until_all(&client, &servers, &first_bearer, StatusCode::OK).await;
    println!("3 demo servers (release) sharing one key set in {what}");

    measure(&admin, &servers, changes, "idle").await;

    if which("wrk").is_none() {
        println!("wrk not installed: no loaded run (apt-get install wrk)");
        return;
    }
    let load: Vec<Child> = servers
        .iter()
        .map(|server| {
            Command::new("wrk")
                .args(["-t1", "-c16", "-d600s", "-H"])
                .arg(&first_bearer)
                .arg(format!("http://{}/v1/ping", server.address))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start wrk")
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    measure(&admin, &servers, changes, "3 servers under wrk load").await;
    for mut wrk in load {
        let _ = wrk.kill();
        let _ = wrk.wait();
    }
}

/// `keys` entries, ids `key_NNNNNNNN`.
fn entries(keys: usize) -> Vec<KeyEntry> {
    (0..keys)
        .map(|i| {
            KeyEntry::new(
                format!("key_{i:08}"),
                format!("Key {i}"),
                tower_bearer_auth::key_store::TokenDigest::of(&format!("sk_startup_{i}")),
            )
        })
        .collect()
}

/// Loads `keys` keys into Redis, then times a replica from `start` to
/// ready.
async fn redis_startup(redis: &support::redis::RedisServer, keys: usize) {
    let entries = entries(keys);
    common::load_into_redis(&redis.client(), &entries).await;
    drop(entries);
    let started = Instant::now();
    let store = tower_bearer_auth::key_store::redis::SharedKeyStore::builder(&redis.url())
        .start()
        .expect("start");
    store.ready(Duration::from_secs(300)).await.expect("loaded");
    let took = started.elapsed();
    assert_eq!(store.status().counts.active, keys);
    println!("redis: a replica loaded {keys:>9} keys in {took:?}");
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

fn redis_version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(2).map(str::to_owned))
        .unwrap_or_default()
}
