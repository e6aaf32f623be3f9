//! Two demo servers sharing one key set through a real `redis-server`:
//! `keygen --redis` creates a key and both accept it; it is revoked and
//! both refuse it within 100 ms; a keys file imported with `keygen
//! --import` reaches both; before any write, both answer 503.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tower_bearer_auth::key_store::{keys_file::KeysFile, redis::RedisKeyWriter};

use crate::server::{DemoServer, TestKey, http_client, send};
use crate::support::redis::RedisServer;
use crate::support::{TempDir, example_binary};

async fn profile_status(server: &DemoServer, bearer: &str) -> StatusCode {
    let request = Request::get(server.url("/v1/profile"))
        .header("authorization", bearer)
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    send(&http_client(false), request).await.0.status
}

async fn health(server: &DemoServer) -> serde_json::Value {
    let request = Request::get(server.url("/health"))
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    let (_, body) = send(&http_client(false), request).await;
    serde_json::from_slice(&body).expect("JSON")
}

/// Polls both servers until each answers `expected`; the time it took.
async fn until_both(servers: &[&DemoServer; 2], bearer: &str, expected: StatusCode) -> Duration {
    let started = Instant::now();
    for server in servers {
        while profile_status(server, bearer).await != expected {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "never {expected}: {}",
                server.stderr.text()
            );
        }
    }
    started.elapsed()
}

fn keygen(args: &[&str]) -> std::process::Output {
    std::process::Command::new(example_binary("keygen"))
        .args(args)
        .output()
        .expect("run keygen")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_key_set() {
    let Some(redis) = RedisServer::start("replicas") else {
        return;
    };
    let url = redis.url();
    let args = ["--redis", url.as_str(), "--max-staleness", "1s"];
    let a = DemoServer::start(&args);
    let b = DemoServer::start(&args);

    // Nothing written yet: every token gets 503 (never 401), /health says
    // the replica is not fresh.
    assert_eq!(
        profile_status(&a, "Bearer sk_whatever").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let state = health(&b).await;
    assert_eq!(state["status"], "degraded");
    assert_eq!(state["keys"]["state"], "loading");

    // keygen writes the key straight into Redis (initialising it).
    let output = keygen(&[
        "--redis",
        &url,
        "--label",
        "Shared Key",
        "--scopes",
        "profile:read",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let token = printed["token"].as_str().expect("token").to_owned();
    let id = printed["key"]["id"].as_str().expect("id").to_owned();
    let bearer = format!("Bearer {token}");
    let accepted = until_both(&[&a, &b], &bearer, StatusCode::OK).await;
    println!(
        "a key made by keygen --redis was accepted by both servers {accepted:?} after keygen exited"
    );
    assert!(accepted <= Duration::from_millis(100), "{accepted:?}");
    assert_eq!(health(&a).await["keys"]["state"], "fresh");

    // Revoked through the admin handle: both refuse it within 100 ms.
    let admin = RedisKeyWriter::connect(&url, "default")
        .await
        .expect("connect");
    admin.revoke(&id).await.expect("revoke");
    let refused = until_both(&[&a, &b], &bearer, StatusCode::UNAUTHORIZED).await;
    println!("the revoked key was refused by both servers {refused:?} after the revoke returned");
    assert!(refused <= Duration::from_millis(100), "{refused:?}");

    // keygen --import: inserted or updated by id; --replace removes the rest.
    let dir = TempDir::new("import");
    let path = dir.path().join("keys.json");
    let imported = TestKey::new("Imported", "profile:read");
    KeysFile::from_entries(vec![imported.entry.clone()])
        .save(&path)
        .expect("save");
    let output = keygen(&["--redis", &url, "--import", path.to_str().expect("utf-8")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("1 inserted, 0 updated, 0 unchanged, 0 removed"),
        "{said}"
    );
    until_both(&[&a, &b], &imported.bearer(), StatusCode::OK).await;
    let output = keygen(&[
        "--redis",
        &url,
        "--import",
        path.to_str().expect("utf-8"),
        "--replace",
    ]);
    assert!(output.status.success());
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("0 inserted, 0 updated, 1 unchanged, 1 removed"),
        "{said}"
    );

    // SIGHUP resynchronizes in full.
    a.signal("HUP");
    assert!(
        a.stderr
            .wait_for("SIGHUP: resynchronizing", Duration::from_secs(5))
            .is_some()
    );
    assert_eq!(profile_status(&a, &imported.bearer()).await, StatusCode::OK);
    for server in [&a, &b] {
        assert!(!server.stderr.text().contains(&token));
        assert!(!server.stdout.text().contains(&token));
    }
}

#[test]
fn keygen_and_server_refuse_conflicting_sources() {
    let output = keygen(&["--import", "keys.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--import needs --redis or --postgres")
    );
    let (code, _, stderr) =
        crate::server::run_to_exit(&["--keys", "keys.json", "--redis", "redis://127.0.0.1:1/"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("choose one"), "{stderr}");
    let (code, _, stderr) = crate::server::run_to_exit(&["--rate-limit-shares", "10"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("it needs --redis"), "{stderr}");
    let (code, _, stderr) = crate::server::run_to_exit(&["--rate-limit-shares", "0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("a positive number of parts"), "{stderr}");
}
