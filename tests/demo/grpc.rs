//! The demo server's gRPC API through a real tonic client: scopes per
//! method from the layer's table, and rejections that arrive as
//! `UNAUTHENTICATED` / `PERMISSION_DENIED` with their message.

use crate::server::proto::profiles_client::ProfilesClient;
use crate::server::proto::{GetProfileRequest, PlaceCallRequest};
use crate::server::{DemoServer, TestKey};
use crate::support::TempDir;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tower_bearer_auth::key_store::keys_file::KeysFile;

struct Setup {
    server: DemoServer,
    full: TestKey,
    read_only: TestKey,
    revoked: TestKey,
    _dir: TempDir,
}

async fn setup() -> (Setup, ProfilesClient<Channel>) {
    let dir = TempDir::new("demo-grpc");
    let full = TestKey::new("Production Dialer", "profile:read calls:write");
    let read_only = TestKey::new("Staging Server", "profile:read");
    let revoked = TestKey::new("Old Laptop", "profile:read calls:write");
    let path = dir.path().join("keys.json");
    KeysFile::from_entries(vec![
        full.entry.clone(),
        read_only.entry.clone(),
        revoked.entry.clone().with_revoked(true),
    ])
    .save(&path)
    .expect("save keys file");
    let server = DemoServer::start(&["--keys", path.to_str().expect("utf-8 path")]);
    let channel = Channel::from_shared(server.url(""))
        .expect("valid uri")
        .connect()
        .await
        .expect("connect");
    (
        Setup {
            server,
            full,
            read_only,
            revoked,
            _dir: dir,
        },
        ProfilesClient::new(channel),
    )
}

fn with_token<T>(message: T, authorization: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = authorization {
        let value = MetadataValue::try_from(value).expect("ascii metadata");
        request.metadata_mut().insert("authorization", value);
    }
    request
}

#[tokio::test]
async fn a_valid_key_gets_its_profile_and_places_calls() {
    let (setup, mut client) = setup().await;
    let profile = client
        .get_profile(with_token(GetProfileRequest {}, Some(&setup.full.bearer())))
        .await
        .expect("GetProfile")
        .into_inner();
    assert_eq!(profile.id, setup.full.entry.id());
    assert_eq!(profile.label, "Production Dialer");
    assert_eq!(profile.scopes, ["calls:write", "profile:read"]);

    let accepted = client
        .place_call(with_token(PlaceCallRequest {}, Some(&setup.full.bearer())))
        .await
        .expect("PlaceCall")
        .into_inner();
    assert!(accepted.call_id.starts_with("call_"));
}

#[tokio::test]
async fn scopes_are_checked_per_method() {
    let (setup, mut client) = setup().await;
    let bearer = setup.read_only.bearer();
    let profile = client
        .get_profile(with_token(GetProfileRequest {}, Some(&bearer)))
        .await
        .expect("profile:read suffices for GetProfile");
    assert_eq!(profile.into_inner().label, "Staging Server");

    let denied = client
        .place_call(with_token(PlaceCallRequest {}, Some(&bearer)))
        .await
        .expect_err("PlaceCall needs calls:write");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        denied.message(),
        "The bearer token lacks the required scope: calls:write"
    );
}

#[tokio::test]
async fn refusals_arrive_as_unauthenticated_with_their_message() {
    let (setup, mut client) = setup().await;
    let cases = [
        (None, "A bearer token is required".to_owned()),
        (
            Some("Bearer not a token".to_owned()),
            "The bearer token is malformed".to_owned(),
        ),
        (
            Some(setup.revoked.bearer()),
            "The bearer token is invalid or has been revoked".to_owned(),
        ),
        (
            Some(format!("{}x", setup.full.bearer())),
            "The bearer token is invalid or has been revoked".to_owned(),
        ),
    ];
    for (authorization, message) in cases {
        let status = client
            .get_profile(with_token(GetProfileRequest {}, authorization.as_deref()))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{authorization:?}");
        assert_eq!(status.message(), message);
    }
    let logs = setup.server.stderr.text();
    assert!(!logs.contains(&setup.full.token) && !logs.contains(&setup.revoked.token));
    assert!(logs.contains("grpc_status=\"16\""), "{logs}");
}

#[tokio::test]
async fn the_grpc_health_service_stays_open_and_the_log_names_the_key() {
    let (setup, mut client) = setup().await;
    let channel = Channel::from_shared(setup.server.url(""))
        .expect("valid uri")
        .connect()
        .await
        .expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("no key needed")
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    client
        .get_profile(with_token(GetProfileRequest {}, Some(&setup.full.bearer())))
        .await
        .expect("GetProfile");
    let line = setup
        .server
        .stderr
        .wait_for("GetProfile", std::time::Duration::from_secs(5))
        .expect("a request log line");
    assert!(
        line.contains(&format!("key_id=\"{}\"", setup.full.entry.id())),
        "{line}"
    );
    assert!(!line.contains(&setup.full.token), "{line}");
}

/// Nobody without a key learns which paths exist; with a key, an unknown
/// path is a 404 (REST) or 12 `UNIMPLEMENTED` (gRPC), and a method of the
/// protected service that the scope table does not list is refused with 7
/// `PERMISSION_DENIED`, not served (the table's `Unlisted::Forbidden`).
#[tokio::test]
async fn unknown_paths_need_a_key_and_unlisted_methods_are_refused() {
    use bytes::Bytes;
    use http::{Method, Request};
    use http_body_util::Full;

    use crate::server::{http_client, send};

    let (setup, _client) = setup().await;
    let client = http_client(true);
    let call = |method: Method, path: &str, grpc: bool, key: Option<&TestKey>| {
        let mut builder = Request::builder()
            .method(method)
            .uri(setup.server.url(path));
        if grpc {
            builder = builder.header("content-type", "application/grpc");
        }
        if let Some(key) = key {
            builder = builder.header("authorization", key.bearer());
        }
        builder
            .body(Full::new(Bytes::new()))
            .expect("valid request")
    };
    let grpc_status = |parts: &http::response::Parts| {
        parts
            .headers
            .get("grpc-status")
            .map(|value| value.to_str().expect("ascii").to_owned())
    };
    for (path, anonymous, with_key) in [
        ("/demo.v1.Profiles/Unknown", "16", "7"),
        ("/demo.v1.Other/Method", "16", "12"),
    ] {
        let (parts, _) = send(&client, call(Method::POST, path, true, None)).await;
        assert_eq!(grpc_status(&parts).as_deref(), Some(anonymous), "{path}");
        let (parts, _) = send(&client, call(Method::POST, path, true, Some(&setup.full))).await;
        assert_eq!(grpc_status(&parts).as_deref(), Some(with_key), "{path}");
    }
    let (parts, _) = send(&client, call(Method::GET, "/v1/nope", false, None)).await;
    assert_eq!(parts.status, http::StatusCode::UNAUTHORIZED);
    let (parts, body) = send(
        &client,
        call(Method::GET, "/v1/nope", false, Some(&setup.full)),
    )
    .await;
    assert_eq!(parts.status, http::StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        r#"{"error":{"code":"not_found","message":"No such resource"}}"#
    );
    // A REST-looking request with a gRPC content type is not answered in
    // gRPC form unless it is a POST.
    let (parts, _) = send(&client, call(Method::GET, "/v1/nope", true, None)).await;
    assert_eq!(parts.status, http::StatusCode::UNAUTHORIZED);
    assert!(parts.headers.get("grpc-status").is_none());
}
