//! Keys for customers through the demo server over real HTTP and gRPC: an
//! address allowlist (the connection's address; a forwarded one only
//! through `--trusted-proxy`), credits spent by REST and gRPC alike (1 per
//! call), `Credits-Remaining`, 429 `usage_exceeded` and gRPC 8, and the
//! balance saved to the keys file periodically and at shutdown.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tower_bearer_auth::key_policy::Credits;
use tower_bearer_auth::key_store::keys_file::KeysFile;

use crate::server::proto::GetProfileRequest;
use crate::server::proto::profiles_client::ProfilesClient;
use crate::server::{DemoServer, TestKey, http_client, send};
use crate::support::TempDir;

async fn profile(
    server: &DemoServer,
    bearer: &str,
    forwarded_for: Option<&str>,
) -> (http::response::Parts, Bytes) {
    let mut request = Request::get(server.url("/v1/profile")).header("authorization", bearer);
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    let request = request
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    send(&http_client(false), request).await
}

fn save(dir: &TempDir, keys: &[&TestKey]) -> String {
    let path = dir.path().join("keys.json");
    KeysFile::from_entries(keys.iter().map(|k| k.entry.clone()).collect())
        .save(&path)
        .expect("save");
    path.to_str().expect("utf-8").to_owned()
}

/// The balance of the key `id` in the keys file at `path`.
fn saved_balance(path: &str, id: &str) -> Option<u64> {
    let file = KeysFile::load(path).expect("a valid keys file");
    file.entries()
        .iter()
        .find(|entry| entry.id() == id)?
        .credits()
        .map(|credits| credits.remaining())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlists_hold_over_http_and_forwarding_counts_only_through_trusted_proxies() {
    let dir = TempDir::new("customers-ips");
    let mut local = TestKey::new("Local Only", "profile:read");
    local.entry = local
        .entry
        .with_allowed_ips(["127.0.0.0/8".parse().expect("range")]);
    let mut office = TestKey::new("Office Only", "profile:read");
    office.entry = office
        .entry
        .with_allowed_ips(["203.0.113.0/24".parse().expect("range")]);
    let path = save(&dir, &[&local, &office]);

    // No trusted proxy: the connection's address (127.0.0.1) decides, and
    // a forwarded address is the client's own claim.
    let plain = DemoServer::start(&["--keys", &path]);
    assert_eq!(
        profile(&plain, &local.bearer(), None).await.0.status,
        StatusCode::OK
    );
    for forwarded in [None, Some("203.0.113.9")] {
        let (parts, body) = profile(&plain, &office.bearer(), forwarded).await;
        assert_eq!(parts.status, StatusCode::FORBIDDEN, "{forwarded:?}");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("\"forbidden\""), "{body}");
        assert!(body.contains("address"), "{body}");
        assert!(!body.contains("203.0.113"), "never the list: {body}");
    }
    drop(plain);

    // 127.0.0.1 is a trusted proxy: the address it forwards decides.
    let proxied = DemoServer::start(&["--keys", &path, "--trusted-proxy", "127.0.0.1"]);
    let cases = [
        (&office, Some("203.0.113.9"), StatusCode::OK),
        (
            &office,
            Some("203.0.113.9, 198.51.100.4"),
            StatusCode::FORBIDDEN,
        ),
        (&office, None, StatusCode::FORBIDDEN),
        (&local, Some("203.0.113.9"), StatusCode::FORBIDDEN),
    ];
    for (key, forwarded, expected) in cases {
        let (parts, _) = profile(&proxied, &key.bearer(), forwarded).await;
        assert_eq!(
            parts.status,
            expected,
            "{} {forwarded:?}",
            key.entry.label()
        );
    }
    // gRPC: the same refusal, PERMISSION_DENIED.
    let channel = Channel::from_shared(proxied.url(""))
        .expect("valid uri")
        .connect()
        .await
        .expect("connect");
    let mut request = tonic::Request::new(GetProfileRequest {});
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(office.bearer()).expect("ascii"),
    );
    let refused = ProfilesClient::new(channel)
        .get_profile(request)
        .await
        .expect_err("not from the office");
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_are_spent_by_rest_and_grpc_and_saved_to_the_keys_file() {
    let dir = TempDir::new("customers-credits");
    let mut metered = TestKey::new("Metered", "profile:read");
    metered.entry = metered.entry.with_credits(Some(Credits::new(3)));
    let id = metered.entry.id().to_owned();
    let path = save(&dir, &[&metered]);
    let server = DemoServer::start(&["--keys", &path, "--save-every", "200ms"]);

    let (parts, _) = profile(&server, &metered.bearer(), None).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(parts.headers["credits-remaining"], "2");

    // Saved within a few periods, without a shutdown.
    let started = Instant::now();
    while saved_balance(&path, &id) != Some(2) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the balance reaches the file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("balance saved {:?} after the spend", started.elapsed());

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
            MetadataValue::try_from(metered.bearer()).expect("ascii"),
        );
        let mut client = client.clone();
        async move { client.get_profile(request).await }
    };
    let passed = call(&mut client).await.expect("gRPC spends one");
    assert_eq!(
        passed
            .metadata()
            .get("credits-remaining")
            .map(|v| v.to_str().expect("ascii")),
        Some("1")
    );
    let (parts, _) = profile(&server, &metered.bearer(), None).await;
    assert_eq!(parts.headers["credits-remaining"], "0");
    let (parts, body) = profile(&server, &metered.bearer(), None).await;
    assert_eq!(parts.status, StatusCode::TOO_MANY_REQUESTS);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("\"usage_exceeded\""), "{body}");
    let exhausted = call(&mut client).await.expect_err("no credits left");
    assert_eq!(exhausted.code(), Code::ResourceExhausted);
    assert_eq!(exhausted.message(), "This key has no usage credits left");

    // A graceful stop saves the balance; a restart keeps it.
    server.stop_gracefully().await;
    assert_eq!(saved_balance(&path, &id), Some(0));
    let again = DemoServer::start(&["--keys", &path]);
    let (parts, _) = profile(&again, &metered.bearer(), None).await;
    assert_eq!(parts.status, StatusCode::TOO_MANY_REQUESTS);
}
