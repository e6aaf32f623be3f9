//! Two demo servers sharing one key set through a real Postgres:
//! `keygen --postgres --init` applies the schema, `keygen --postgres`
//! creates keys, both servers accept a key within 100 ms and refuse it
//! within 100 ms of its revocation through the admin API, `/health` and
//! `/ready` name the source, and `keygen --export`/`--import` round-trip.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

use crate::server::{DemoServer, http_client, send};
use crate::support::postgres::PostgresServer;
use crate::support::{TempDir, example_binary};

async fn status(server: &DemoServer, method: &str, path: &str, bearer: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(server.url(path))
        .header("authorization", bearer)
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    send(&http_client(false), request).await.0.status
}

/// Polls both servers until each answers `expected`; the time it took.
async fn until_both(servers: &[&DemoServer; 2], bearer: &str, expected: StatusCode) -> Duration {
    let started = Instant::now();
    for server in servers {
        while status(server, "GET", "/v1/profile", bearer).await != expected {
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
    let output = std::process::Command::new(example_binary("keygen"))
        .args(args)
        .output()
        .expect("run keygen");
    assert!(
        output.status.success(),
        "keygen {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A key made by `keygen --postgres ... --json`: its token and id.
fn new_key(url: &str, label: &str, scopes: &str) -> (String, String) {
    let output = keygen(&[
        "--postgres",
        url,
        "--label",
        label,
        "--scopes",
        scopes,
        "--json",
    ]);
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    (
        printed["token"].as_str().expect("token").to_owned(),
        printed["key"]["id"].as_str().expect("id").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_key_set_in_postgres() {
    let Some(postgres) = PostgresServer::start("demo") else {
        return;
    };
    let url = postgres.url();
    let said = keygen(&["--postgres", &url, "--init"]);
    assert!(String::from_utf8_lossy(&said.stdout).contains("schema applied"));
    let args = ["--postgres", url.as_str(), "--max-staleness", "1s"];
    let a = DemoServer::start(&args);
    let b = DemoServer::start(&args);
    // Nothing written yet: 503, never 401; not ready.
    assert_eq!(
        status(&a, "GET", "/v1/profile", "Bearer sk_whatever").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status(&b, "GET", "/ready", "").await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let (token, _) = new_key(&url, "Shared Key", "profile:read");
    let (admin_token, _) = new_key(&url, "Admin", "keys:admin");
    let bearer = format!("Bearer {token}");
    let accepted = until_both(&[&a, &b], &bearer, StatusCode::OK).await;
    println!(
        "a key made by keygen --postgres was accepted by both servers {accepted:?} after keygen exited"
    );
    assert!(accepted <= Duration::from_millis(100), "{accepted:?}");
    assert_eq!(status(&a, "GET", "/ready", "").await, StatusCode::OK);
    let request = Request::get(a.url("/health"))
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    let (_, body) = send(&http_client(false), request).await;
    let health: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(health["keys"]["source"], "postgres", "{health}");
    assert_eq!(health["keys"]["state"], "fresh", "{health}");

    // Revoked through server a's admin API: both refuse it within 100 ms.
    let admin = format!("Bearer {admin_token}");
    let listed = {
        let request = Request::get(a.url("/admin/v1/keys"))
            .header("authorization", &admin)
            .body(Full::new(Bytes::new()))
            .expect("valid request");
        let (response, body) = send(&http_client(false), request).await;
        assert_eq!(response.status, StatusCode::OK);
        serde_json::from_slice::<serde_json::Value>(&body).expect("JSON")
    };
    let id = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["label"] == "Shared Key")
        .and_then(|key| key["id"].as_str())
        .expect("the shared key is listed")
        .to_owned();
    let started = Instant::now();
    assert_eq!(
        status(&a, "POST", &format!("/admin/v1/keys/{id}/revoke"), &admin).await,
        StatusCode::OK
    );
    let returned = started.elapsed();
    let refused = until_both(&[&a, &b], &bearer, StatusCode::UNAUTHORIZED).await;
    println!("revoke answered in {returned:?}; both servers refused the key {refused:?} after");
    assert!(refused <= Duration::from_millis(100), "{refused:?}");

    // Export, then import into a fresh namespace: the same keys.
    let dir = TempDir::new("pg-export");
    let path = dir.path().join("keys.json");
    let path = path.to_str().expect("utf-8");
    let said = keygen(&["--postgres", &url, "--export", path]);
    assert!(
        String::from_utf8_lossy(&said.stdout).contains("exported 2 keys"),
        "{}",
        String::from_utf8_lossy(&said.stdout)
    );
    let said = keygen(&["--postgres", &url, "--namespace", "copy", "--import", path]);
    let said = String::from_utf8_lossy(&said.stdout);
    assert!(
        said.contains("2 inserted, 0 updated, 0 unchanged, 0 removed"),
        "{said}"
    );
    for server in [&a, &b] {
        assert!(!server.stderr.text().contains(&token));
        assert!(!server.stdout.text().contains(&token));
    }
}
