//! The demo server's REST API over real HTTP/1.1 and HTTP/2 (h2c)
//! connections: every status, header and body of the rejection contract.

use std::time::{Duration, SystemTime};

use crate::server::{DemoServer, TestKey, http_client, send};
use crate::support::TempDir;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use tower_bearer_auth::key_store::keys_file::KeysFile;

struct Keys {
    full: TestKey,
    read_only: TestKey,
    revoked: TestKey,
    expired: TestKey,
}

fn start() -> (DemoServer, Keys, TempDir) {
    let dir = TempDir::new("demo-rest");
    let keys = Keys {
        full: TestKey::new("Production Dialer", "profile:read calls:write"),
        read_only: TestKey::new("Staging Server", "profile:read"),
        revoked: TestKey::new("Old Laptop", "profile:read calls:write"),
        expired: TestKey::new("Trial", "profile:read calls:write"),
    };
    let past = SystemTime::now() - Duration::from_secs(60);
    let path = dir.path().join("keys.json");
    KeysFile::from_entries(vec![
        keys.full.entry.clone(),
        keys.read_only.entry.clone(),
        keys.revoked.entry.clone().with_revoked(true),
        keys.expired.entry.clone().with_expiry(past),
    ])
    .save(&path)
    .expect("save keys file");
    let server = DemoServer::start(&["--keys", path.to_str().expect("utf-8 path")]);
    (server, keys, dir)
}

fn request(
    server: &DemoServer,
    method: Method,
    path: &str,
    authorization: &[&str],
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(server.url(path));
    for value in authorization {
        builder = builder.header("authorization", *value);
    }
    builder
        .body(Full::new(Bytes::new()))
        .expect("valid request")
}

fn header<'a>(parts: &'a http::response::Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .map_or("", |v| v.to_str().expect("ascii"))
}

const INVALID: &str = r#"Bearer realm="api", error="invalid_token", error_description="The bearer token is invalid or has been revoked""#;

async fn contract(http2: bool) {
    let (server, keys, _dir) = start();
    let client = http_client(http2);
    let expected_version = if http2 {
        http::Version::HTTP_2
    } else {
        http::Version::HTTP_11
    };

    // Public health check.
    let (parts, body) = send(&client, request(&server, Method::GET, "/health", &[])).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(parts.version, expected_version);
    let health: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        health,
        serde_json::json!({"status": "ok", "keys": {"reloaded_at": null, "outcome": "ok"}})
    );

    // Any valid key may ping; no key may not.
    let (parts, body) = send(
        &client,
        request(
            &server,
            Method::GET,
            "/v1/ping",
            &[&keys.read_only.bearer()],
        ),
    )
    .await;
    assert_eq!(parts.status, StatusCode::OK);
    let health: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        health,
        serde_json::json!({"status": "ok", "keys": {"reloaded_at": null, "outcome": "ok"}})
    );
    let (parts, _) = send(&client, request(&server, Method::GET, "/v1/ping", &[])).await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);

    // A valid key with the scope: its profile.
    let (parts, body) = send(
        &client,
        request(&server, Method::GET, "/v1/profile", &[&keys.full.bearer()]),
    )
    .await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(header(&parts, "content-type"), "application/json");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["id"], keys.full.entry.id());
    assert_eq!(json["label"], "Production Dialer");
    assert_eq!(
        json["scopes"],
        serde_json::json!(["calls:write", "profile:read"])
    );

    // POST /v1/calls: 201.
    let (parts, body) = send(
        &client,
        request(&server, Method::POST, "/v1/calls", &[&keys.full.bearer()]),
    )
    .await;
    assert_eq!(parts.status, StatusCode::CREATED);
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert!(
        json["call_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("call_"))
    );
    assert_eq!(json["placed_by"], keys.full.entry.id());

    // Missing credentials: 401 with a bare challenge.
    let (parts, body) = send(&client, request(&server, Method::GET, "/v1/profile", &[])).await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&parts, "www-authenticate"), r#"Bearer realm="api""#);
    assert_eq!(header(&parts, "content-type"), "application/json");
    assert_eq!(
        body,
        r#"{"error":{"code":"unauthorized","message":"A bearer token is required"}}"#
    );

    // Another scheme.
    let (parts, _) = send(
        &client,
        request(&server, Method::GET, "/v1/profile", &["Basic dXNlcjpwYXNz"]),
    )
    .await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&parts, "www-authenticate"), r#"Bearer realm="api""#);

    // Malformed.
    let (parts, body) = send(
        &client,
        request(&server, Method::GET, "/v1/profile", &["Bearer two words"]),
    )
    .await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&parts, "www-authenticate"),
        r#"Bearer realm="api", error="invalid_token", error_description="The bearer token is malformed""#
    );
    assert_eq!(
        body,
        r#"{"error":{"code":"unauthorized","message":"The bearer token is malformed"}}"#
    );

    // Unknown and revoked: the same answer, byte for byte (but the date).
    let unknown = format!("Bearer {}x", keys.full.token);
    let (unknown_parts, unknown_body) = send(
        &client,
        request(&server, Method::GET, "/v1/profile", &[&unknown]),
    )
    .await;
    let (revoked_parts, revoked_body) = send(
        &client,
        request(
            &server,
            Method::GET,
            "/v1/profile",
            &[&keys.revoked.bearer()],
        ),
    )
    .await;
    for parts in [&unknown_parts, &revoked_parts] {
        assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
        assert_eq!(header(parts, "www-authenticate"), INVALID);
    }
    assert_eq!(unknown_body, revoked_body);
    let without_date = |parts: &http::response::Parts| {
        let mut headers = parts.headers.clone();
        headers.remove("date");
        headers
    };
    assert_eq!(without_date(&unknown_parts), without_date(&revoked_parts));

    // Expired.
    let (parts, body) = send(
        &client,
        request(
            &server,
            Method::GET,
            "/v1/profile",
            &[&keys.expired.bearer()],
        ),
    )
    .await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&parts, "www-authenticate"),
        r#"Bearer realm="api", error="invalid_token", error_description="The bearer token has expired""#
    );
    assert_eq!(
        body,
        r#"{"error":{"code":"unauthorized","message":"The bearer token has expired"}}"#
    );

    // Valid key without the scope: 403 naming the scope.
    let (parts, body) = send(
        &client,
        request(
            &server,
            Method::POST,
            "/v1/calls",
            &[&keys.read_only.bearer()],
        ),
    )
    .await;
    assert_eq!(parts.status, StatusCode::FORBIDDEN);
    assert_eq!(
        header(&parts, "www-authenticate"),
        r#"Bearer realm="api", error="insufficient_scope", error_description="The bearer token lacks the required scope", scope="calls:write""#
    );
    assert_eq!(
        body,
        r#"{"error":{"code":"forbidden","message":"The bearer token lacks the required scope: calls:write"}}"#
    );
    // ...while the scope it has works.
    let (parts, _) = send(
        &client,
        request(
            &server,
            Method::GET,
            "/v1/profile",
            &[&keys.read_only.bearer()],
        ),
    )
    .await;
    assert_eq!(parts.status, StatusCode::OK);

    // Two Authorization headers: 400 invalid_request.
    let (parts, body) = send(
        &client,
        request(
            &server,
            Method::GET,
            "/v1/profile",
            &[&keys.full.bearer(), &keys.full.bearer()],
        ),
    )
    .await;
    assert_eq!(parts.status, StatusCode::BAD_REQUEST);
    assert!(header(&parts, "www-authenticate").contains(r#"error="invalid_request""#));
    assert_eq!(
        body,
        r#"{"error":{"code":"invalid_request","message":"The request must carry exactly one bearer token"}}"#
    );

    // HEAD: the headers of the GET, no body.
    let (parts, body) = send(&client, request(&server, Method::HEAD, "/v1/profile", &[])).await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&parts, "www-authenticate"), r#"Bearer realm="api""#);
    assert_eq!(header(&parts, "content-length"), "72");
    assert!(body.is_empty());

    // No token ever appears in the server's output.
    let logs = format!("{}\n{}", server.stdout.text(), server.stderr.text());
    for key in [&keys.full, &keys.read_only, &keys.revoked, &keys.expired] {
        assert!(!logs.contains(&key.token), "a token leaked into the logs");
        assert!(
            !logs.contains(&key.entry.digest().to_hex()),
            "a digest leaked into the logs"
        );
    }
    assert!(
        server.stderr.count("outcome=\"invalid_token\"") >= 2,
        "{}",
        server.stderr.text()
    );
}

#[tokio::test]
async fn rest_contract_over_http1() {
    contract(false).await;
}

#[tokio::test]
async fn rest_contract_over_http2() {
    contract(true).await;
}
