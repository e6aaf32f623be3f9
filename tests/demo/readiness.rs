//! Readiness apart from liveness: `GET /ready` and the gRPC health service
//! follow whether requests can be authenticated. A demo server started
//! while Redis is down runs (no exit), answers 503 to tokens, the admin
//! API and `/ready`, reports `NOT_SERVING`, and becomes ready by itself
//! once Redis is up and holds a key set.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::server::{DemoServer, http_client, send};
use crate::support::example_binary;
use crate::support::redis::RedisServer;

async fn get(
    server: &DemoServer,
    path: &str,
    bearer: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::get(server.url(path));
    if let Some(bearer) = bearer {
        request = request.header("authorization", bearer);
    }
    let request = request
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    let (head, body) = send(&http_client(false), request).await;
    (
        head.status,
        serde_json::from_slice(&body).unwrap_or_default(),
    )
}

/// The gRPC health status of `service` ("" for the server).
async fn grpc_status(server: &DemoServer, service: &str) -> i32 {
    let channel = Channel::from_shared(server.url(""))
        .expect("valid uri")
        .connect()
        .await
        .expect("connect");
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("the health service needs no key")
        .into_inner()
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_is_ready_with_its_keys() {
    let server = DemoServer::start(&[]);
    let (status, body) = get(&server, "/ready", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    for service in ["", "demo.v1.Profiles"] {
        assert_eq!(
            grpc_status(&server, service).await,
            ServingStatus::Serving as i32
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_without_redis_it_serves_503_until_redis_holds_the_keys() {
    let Some(mut redis) = RedisServer::start("no-redis-at-start") else {
        return;
    };
    redis.kill();
    let url = redis.url();
    let server = DemoServer::start(&["--redis", url.as_str(), "--max-staleness", "1s"]);

    // Up, and honest about it: liveness yes, readiness no.
    let (status, _) = get(&server, "/health", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(&server, "/ready", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    for service in ["", "demo.v1.Profiles"] {
        assert_eq!(
            grpc_status(&server, service).await,
            ServingStatus::NotServing as i32
        );
    }
    let (status, _) = get(&server, "/v1/profile", Some("Bearer sk_whatever")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = get(&server, "/admin/v1/keys", Some("Bearer sk_whatever")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // Logs that scale: a burst of refusals is a line a second, counted.
    let burst = Instant::now();
    for _ in 0..200 {
        let (status, _) = get(&server, "/v1/profile", Some("Bearer sk_whatever")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    let seconds = burst.elapsed().as_secs() as usize;
    let lines = server.stderr.count("token validator failed");
    println!(
        "202 refusals in {:?} wrote {lines} warn lines",
        burst.elapsed()
    );
    assert!(lines <= seconds + 2, "{lines} lines in {seconds} s");
    assert!(
        server.stderr.text().contains("count="),
        "the lines carry a count"
    );

    // Redis comes up, then a key is written: ready by itself.
    redis.start_again();
    let output = std::process::Command::new(example_binary("keygen"))
        .args([
            "--redis",
            &url,
            "--label",
            "Late",
            "--scopes",
            "profile:read",
            "--json",
        ])
        .output()
        .expect("run keygen");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let bearer = format!("Bearer {}", printed["token"].as_str().expect("token"));
    let started = Instant::now();
    while get(&server, "/ready", None).await.0 != StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never ready: {}",
            server.stderr.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "ready {:?} after the first key was written",
        started.elapsed()
    );
    assert_eq!(
        get(&server, "/v1/profile", Some(&bearer)).await.0,
        StatusCode::OK
    );
    let started = Instant::now();
    while grpc_status(&server, "demo.v1.Profiles").await != ServingStatus::Serving as i32 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the gRPC health never followed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Redis gone again: not ready within the staleness limit.
    redis.kill();
    let started = Instant::now();
    while get(&server, "/ready", None).await.0 != StatusCode::SERVICE_UNAVAILABLE {
        assert!(started.elapsed() < Duration::from_secs(5), "still ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "not ready {:?} after Redis was killed (max staleness 1 s)",
        started.elapsed()
    );
    assert_eq!(
        get(&server, "/v1/profile", Some(&bearer)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}
