//! Helpers shared by the integration test binaries (`tests/<area>/main.rs`
//! include this file with `#[path]`): a key store fixture, an echoing inner
//! service, request builders, the fuzz harness, temporary directories and
//! example binaries.

#![allow(dead_code, unreachable_pub)]

pub mod answer;
pub mod fuzz_input;
pub mod github;
pub mod jwt;
pub mod postgres;
pub mod redis;
pub mod redis_cluster;
pub mod redis_sentinel;
pub mod redis_tls;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tower::Service;
use tower_bearer_auth::{ApiKey, KeyEntry, KeyGenerator, KeyStore, ScopeSet};

/// The challenge of a 401 for an expired token (realm `api`).
pub const EXPIRED_CHALLENGE: &str = r#"Bearer realm="api", error="invalid_token", error_description="The bearer token has expired""#;
/// The challenge of a 401 for an invalid, unknown or revoked token.
pub const INVALID_CHALLENGE: &str = r#"Bearer realm="api", error="invalid_token", error_description="The bearer token is invalid or has been revoked""#;
/// The challenge of a 401 for a malformed token.
pub const MALFORMED_CHALLENGE: &str = r#"Bearer realm="api", error="invalid_token", error_description="The bearer token is malformed""#;

/// A store with one key in each interesting state, and their tokens.
pub struct Fixture {
    pub store: KeyStore,
    /// Scopes `profile:read calls:write`.
    pub full: String,
    /// Scope `profile:read` only.
    pub read_only: String,
    pub revoked: String,
    pub expired: String,
}

pub fn fixture() -> Fixture {
    let store = KeyStore::new();
    let add = |label: &str, scopes: &str, expires: Option<SystemTime>| {
        let key = KeyGenerator::new().generate().expect("random source");
        let mut entry = KeyEntry::new(key.id(), label, key.digest())
            .with_scopes(ScopeSet::parse(scopes).expect("valid scopes"));
        if let Some(expires) = expires {
            entry = entry.with_expiry(expires);
        }
        store.insert(entry).expect("insert");
        (key.id().to_owned(), key.token().expose().to_owned())
    };
    let (_, full) = add("Production Dialer", "profile:read calls:write", None);
    let (_, read_only) = add("Staging Server", "profile:read", None);
    let (revoked_id, revoked) = add("Old Laptop", "profile:read", None);
    let past = SystemTime::now() - Duration::from_secs(60);
    let (_, expired) = add("Trial", "profile:read", Some(past));
    store.revoke(&revoked_id).expect("revoke");
    Fixture {
        store,
        full,
        read_only,
        revoked,
        expired,
    }
}

/// An inner service that counts its calls and answers
/// `200 hello <label> sensitive=<bool>` from the principal it finds.
#[derive(Clone, Debug, Default)]
pub struct Echo {
    pub calls: Arc<AtomicUsize>,
}

impl Echo {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl<B> Service<Request<B>> for Echo {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let label = request
            .extensions()
            .get::<ApiKey>()
            .map_or("nobody".to_owned(), |key| key.label().to_owned());
        let sensitive = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .is_some_and(http::HeaderValue::is_sensitive);
        let body = format!("hello {label} sensitive={sensitive}");
        std::future::ready(Ok(Response::new(Full::new(Bytes::from(body)))))
    }
}

/// A GET request to `/v1/profile` with the given `Authorization` value.
pub fn get_with_auth(authorization: &str) -> Request<()> {
    Request::builder()
        .uri("/v1/profile")
        .header("authorization", authorization)
        .body(())
        .expect("valid request")
}

/// A GET request to `/v1/profile` without credentials.
pub fn get_anonymous() -> Request<()> {
    Request::builder()
        .uri("/v1/profile")
        .body(())
        .expect("valid request")
}

/// Turns a gRPC request out of a plain one.
pub fn as_grpc(mut request: Request<()>) -> Request<()> {
    *request.method_mut() = http::Method::POST;
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    request
}

/// Collects a response into its parts and body bytes.
pub async fn collect<B>(response: Response<B>) -> (http::response::Parts, Bytes)
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts, bytes)
}

/// A header as a `&str`, or "" when absent.
pub fn header<'a>(parts: &'a http::response::Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .map_or("", |value| value.to_str().expect("ascii header"))
}

/// The path of an example binary built beside the test binary, built (or
/// found up to date) by `cargo build --all-features --example` once per test
/// process: `cargo test --test <one>` does not rebuild examples by itself,
/// and a stale binary would test old code. `--all-features` because the
/// published package has no self dev-dependency to turn features on.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let test_binary = std::env::current_exe().expect("test binary path");
    let profile_dir = test_binary
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>/deps/<test>");
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !built.iter().any(|done| done == name) {
        let mut build = std::process::Command::new(env!("CARGO"));
        build
            .args(["build", "--quiet", "--all-features", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|dir| dir == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build --example {name} failed");
        built.push(name.to_owned());
    }
    profile_dir.join("examples").join(name)
}

/// A temporary directory, removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tba-{name}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
