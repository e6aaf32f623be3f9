//! `server --redis rediss://...` and `keygen --redis rediss://...` with
//! `--redis-ca`, `--redis-cert` and `--redis-key`, against a real
//! TLS-only `redis-server` that requires client certificates.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

use crate::server::{DemoServer, http_client, send};
use crate::support::example_binary;
use crate::support::redis_tls::TlsRedis;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_and_server_speak_tls_with_a_ca_and_a_client_certificate() {
    let Some(redis) = TlsRedis::start("demo", true) else {
        return;
    };
    let url = redis.url();
    let files = [
        redis.file("ca.pem"),
        redis.file("client.pem"),
        redis.file("client.key"),
    ];
    let [ca, cert, key] = files.each_ref().map(|path| path.to_str().expect("utf-8"));
    let tls = ["--redis-ca", ca, "--redis-cert", cert, "--redis-key", key];
    let output = std::process::Command::new(example_binary("keygen"))
        .args([
            "--redis",
            &url,
            "--label",
            "TLS",
            "--scopes",
            "profile:read",
            "--json",
        ])
        .args(tls)
        .output()
        .expect("run keygen");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let bearer = format!("Bearer {}", printed["token"].as_str().expect("token"));

    let mut args = vec!["--redis", url.as_str()];
    args.extend(tls);
    let server = DemoServer::start(&args);
    let started = Instant::now();
    loop {
        let request = Request::get(server.url("/v1/profile"))
            .header("authorization", &bearer)
            .body(Full::new(Bytes::new()))
            .expect("valid request");
        if send(&http_client(false), request).await.0.status == StatusCode::OK {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never accepted: {}",
            server.stderr.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A TLS file without a rediss:// URL is refused at once.
    let output = std::process::Command::new(example_binary("keygen"))
        .args([
            "--redis",
            "redis://127.0.0.1:1/",
            "--label",
            "x",
            "--redis-ca",
            ca,
        ])
        .output()
        .expect("run keygen");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("rediss://"));
}
