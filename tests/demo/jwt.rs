//! The demo server with `--jwks-url`: JWTs beside keys over REST and gRPC
//! (same routes, same scopes, same refusals), a JWKS unreachable at
//! startup (the server starts, JWTs get 503 until it is back, keys work),
//! and the flags that must come together.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tower_bearer_auth::key_store::keys_file::KeysFile;

use crate::server::proto::profiles_client::ProfilesClient;
use crate::server::proto::{GetProfileRequest, PlaceCallRequest};
use crate::server::{DemoServer, TestKey, http_client, run_to_exit, send};
use crate::support::TempDir;
use crate::support::jwt::{AUDIENCE, ISSUER, JwksServer, Signer, claims, now};

/// A demo server taking `key` and JWTs from `jwks`, with extra arguments.
fn start(jwks: &JwksServer, key: &TestKey, extra: &[&str]) -> (DemoServer, TempDir) {
    let dir = TempDir::new("demo-jwt");
    let path = dir.path().join("keys.json");
    KeysFile::from_entries(vec![key.entry.clone()])
        .save(&path)
        .expect("save keys file");
    let jwks_url = jwks.jwks_url();
    let mut args = vec![
        "--keys",
        path.to_str().expect("utf-8 path"),
        "--jwks-url",
        &jwks_url,
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
    ];
    args.extend_from_slice(extra);
    (DemoServer::start(&args), dir)
}

async fn rest(server: &DemoServer, method: Method, path: &str, token: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(server.url(path))
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    let (parts, body) = send(&http_client(false), request).await;
    (
        parts.status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}")).expect("ascii metadata");
    request.metadata_mut().insert("authorization", value);
    request
}

async fn grpc(server: &DemoServer) -> ProfilesClient<Channel> {
    let channel = Channel::from_shared(server.url(""))
        .expect("valid uri")
        .connect()
        .await
        .expect("connect");
    ProfilesClient::new(channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_routes_take_keys_and_jwts_over_rest_and_grpc() {
    let signer = Signer::ec("2026-11");
    let jwks = JwksServer::start(vec![signer.jwk()]);
    let key = TestKey::new("Production Dialer", "profile:read calls:write");
    let (server, _dir) = start(&jwks, &key, &[]);
    let reader = signer.sign(&claims("profile:read"));
    let caller = signer.sign(&claims("profile:read calls:write"));

    // REST: the key and the JWT on the same route.
    let (status, body) = rest(&server, Method::GET, "/v1/profile", &key.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["label"], "Production Dialer");
    let (status, body) = rest(&server, Method::GET, "/v1/profile", &reader).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"subject": "user-42", "issuer": ISSUER, "scopes": ["profile:read"]})
    );
    let (status, body) = rest(&server, Method::POST, "/v1/calls", &reader).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, body) = rest(&server, Method::POST, "/v1/calls", &caller).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["placed_by"], "jwt:user-42");

    // A JWT holding `keys:admin` is not an administrator: the demo's admin
    // API takes API keys only (it once minted a permanent key for one).
    let admin_jwt = signer.sign(&claims("keys:admin"));
    for (method, path) in [
        (Method::GET, "/admin/v1/keys"),
        (Method::POST, "/admin/v1/keys"),
    ] {
        let (status, body) = rest(&server, method, path, &admin_jwt).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["error"]["code"], "forbidden", "{path}");
    }

    // Refusals: expired, another audience, another issuer, a forged one.
    let mut expired = claims("profile:read");
    expired["exp"] = json!(now() - 120);
    let mut audience = claims("profile:read");
    audience["aud"] = json!("another.api");
    let mut issuer = claims("profile:read");
    issuer["iss"] = json!("http://elsewhere.test");
    // One signature character changed.
    let mut forged = signer.sign(&claims("profile:read")).into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ASCII");
    for (name, token, message) in [
        (
            "expired",
            signer.sign(&expired),
            "The bearer token has expired",
        ),
        (
            "audience",
            signer.sign(&audience),
            "The bearer token is invalid or has been revoked",
        ),
        (
            "issuer",
            signer.sign(&issuer),
            "The bearer token is invalid or has been revoked",
        ),
        (
            "forged",
            forged,
            "The bearer token is invalid or has been revoked",
        ),
    ] {
        let (status, body) = rest(&server, Method::GET, "/v1/profile", &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(body["error"]["code"], "unauthorized", "{name}");
        assert_eq!(body["error"]["message"], message, "{name}");
    }

    // gRPC: the same tokens, the same scopes per method.
    let mut client = grpc(&server).await;
    let profile = client
        .get_profile(with_token(GetProfileRequest {}, &reader))
        .await
        .expect("GetProfile with a JWT")
        .into_inner();
    assert_eq!(profile.id, "user-42");
    assert_eq!(profile.scopes, ["profile:read"]);
    let denied = client
        .place_call(with_token(PlaceCallRequest {}, &reader))
        .await
        .expect_err("PlaceCall without calls:write");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let accepted = client
        .place_call(with_token(PlaceCallRequest {}, &caller))
        .await
        .expect("PlaceCall with a JWT")
        .into_inner();
    assert!(accepted.call_id.starts_with("call_"));
    let expired = client
        .get_profile(with_token(GetProfileRequest {}, &signer.sign(&expired)))
        .await
        .expect_err("an expired JWT");
    assert_eq!(expired.code(), Code::Unauthenticated);
    let by_key = client
        .get_profile(with_token(GetProfileRequest {}, &key.token))
        .await
        .expect("GetProfile with a key")
        .into_inner();
    assert_eq!(by_key.label, "Production Dialer");

    // The request log names the JWT's subject, never the token.
    assert!(
        server
            .stderr
            .wait_for(r#"key_id="jwt:user-42""#, Duration::from_secs(5))
            .is_some(),
        "{}",
        server.stderr.text()
    );
    assert!(!server.stderr.text().contains(&caller[20..]));
    assert!(!server.stdout.text().contains(&caller[20..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_starts_with_the_jwks_down_jwts_get_503_until_it_is_back_keys_work() {
    let signer = Signer::rsa("rsa-1");
    let jwks = JwksServer::start(vec![signer.jwk()]);
    jwks.set_down(true);
    let key = TestKey::new("Staging Server", "profile:read");
    let (server, _dir) = start(&jwks, &key, &["--jwks-min-refetch", "200ms"]);
    let token = signer.sign(&claims("profile:read"));

    let (status, body) = rest(&server, Method::GET, "/v1/profile", &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "unavailable");
    let unavailable = grpc(&server)
        .await
        .get_profile(with_token(GetProfileRequest {}, &token))
        .await
        .expect_err("no JWKS yet");
    assert_eq!(unavailable.code(), Code::Unavailable);
    let (status, _) = rest(&server, Method::GET, "/v1/profile", &key.token).await;
    assert_eq!(status, StatusCode::OK, "keys work without the JWKS");
    assert!(
        server
            .stderr
            .text()
            .contains("the JWKS cannot be fetched yet"),
        "{}",
        server.stderr.text()
    );

    jwks.set_down(false);
    let back = Instant::now();
    loop {
        let (status, _) = rest(&server, Method::GET, "/v1/profile", &token).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "JWTs never passed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("JWKS back: JWTs passed {:?} later", back.elapsed());
}

#[test]
fn jwt_flags_come_together() {
    for args in [
        &["--jwks-url", "http://127.0.0.1:1/jwks.json"][..],
        &[
            "--jwks-url",
            "http://127.0.0.1:1/jwks.json",
            "--jwt-issuer",
            ISSUER,
        ][..],
        &["--jwt-audience", AUDIENCE][..],
        &["--jwks-min-refetch", "5s"][..],
    ] {
        let (code, _, stderr) = run_to_exit(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(
            stderr.contains("JWTs need all of --jwks-url, --jwt-issuer and --jwt-audience"),
            "{stderr}"
        );
    }
}
