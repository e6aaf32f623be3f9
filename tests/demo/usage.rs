//! Usage, the audit log and metrics through the demo server over real
//! HTTP: a key's requests per day by outcome (a route's scope refusal
//! counts as refused, not passed), kept across a graceful restart; admin
//! changes as audit events in the JSON-lines file beside the keys file;
//! `GET /metrics` in Prometheus text for a key with `metrics:read` (or
//! anyone with `--metrics-public`).

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};
use tower_bearer_auth::key_store::keys_file::KeysFile;

use crate::admin_client::AdminClient;
use crate::server::{DemoServer, TestKey, http_client, send};
use crate::support::TempDir;

async fn get(server: &DemoServer, path: &str, bearer: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(server.url(path));
    if let Some(bearer) = bearer {
        request = request.header("authorization", bearer);
    }
    let request = request.body(Full::new(Bytes::new())).expect("request");
    let (parts, body) = send(&http_client(false), request).await;
    (parts.status, String::from_utf8_lossy(&body).into_owned())
}

async fn post(server: &DemoServer, path: &str, bearer: &str) -> StatusCode {
    let request = Request::post(server.url(path))
        .header("authorization", bearer)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"to\": \"+15550100\"}")))
        .expect("request");
    send(&http_client(false), request).await.0.status
}

/// Today's usage of `id` (the last of 7 days, each day present).
async fn today(admin: &AdminClient<'_>, id: &str) -> Value {
    let answer = admin
        .call(
            Method::GET,
            &format!("/admin/v1/keys/{id}/usage?days=7"),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let days = answer.json()["days"].as_array().expect("days").clone();
    assert_eq!(days.len(), 7);
    days[6].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_audit_and_metrics_through_the_demo() {
    let dir = TempDir::new("demo-usage");
    let admin_key = TestKey::new("Admin", "keys:admin");
    let user = TestKey::new("Production Dialer", "profile:read");
    let scraper = TestKey::new("Prometheus", "metrics:read");
    let path = dir.path().join("keys.json");
    KeysFile::from_entries(vec![
        admin_key.entry.clone(),
        user.entry.clone(),
        scraper.entry.clone(),
    ])
    .save(&path)
    .expect("save");
    let path = path.to_str().expect("utf-8").to_owned();
    let server = DemoServer::start(&["--keys", &path]);
    let id = user.entry.id().to_owned();

    for _ in 0..3 {
        assert_eq!(
            get(&server, "/v1/profile", Some(&user.bearer())).await.0,
            StatusCode::OK
        );
    }
    for _ in 0..2 {
        assert_eq!(
            post(&server, "/v1/calls", &user.bearer()).await,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        get(&server, "/v1/profile", Some("Bearer sk_not_a_key"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let admin = AdminClient::new(&server, &admin_key.token);
    let day = today(&admin, &id).await;
    assert_eq!(
        (
            &day["passed"],
            &day["refused"],
            &day["rate_limited"],
            &day["usage_exceeded"]
        ),
        (&json!(3), &json!(2), &json!(0), &json!(0)),
        "{day}"
    );

    // An admin change is an audit event, in the file beside the keys file.
    let patched = admin
        .call(
            Method::PATCH,
            &format!("/admin/v1/keys/{id}"),
            Some(json!({"label": "Renamed"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    let audit = admin
        .call(Method::GET, "/admin/v1/audit?limit=5", None)
        .await
        .json();
    let event = &audit["events"][0];
    assert_eq!(
        (
            &event["action"],
            &event["target"],
            &event["actor"],
            &event["fields"]
        ),
        (
            &json!("update"),
            &json!(id),
            &json!(admin_key.entry.id()),
            &json!(["label"])
        ),
        "{audit}"
    );
    let lines = std::fs::read_to_string(dir.path().join("keys.audit.jsonl")).expect("audit file");
    assert!(lines.contains("\"update\"") && !lines.contains(&user.token));

    // Metrics: a key with `metrics:read`; anyone else is refused.
    assert_eq!(
        get(&server, "/metrics", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&server, "/metrics", Some(&user.bearer())).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, text) = get(&server, "/metrics", Some(&scraper.bearer())).await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "tba_requests_total{outcome=\"passed\",status=\"200\"}",
        "tba_requests_total{outcome=\"insufficient_scope\",status=\"403\"} 3",
        "tba_requests_total{outcome=\"invalid_token\",status=\"401\"}",
        "tba_requests_total{outcome=\"missing_credentials\",status=\"401\"}",
        "tba_validation_seconds",
        "tba_store_keys{state=\"active\"} 3",
        &format!("tba_key_requests_total{{key=\"{id}\",outcome=\"passed\"}} 3"),
        &format!("tba_key_requests_total{{key=\"{id}\",outcome=\"insufficient_scope\"}} 3"),
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
    assert!(!text.contains(&user.token) && !text.contains("sk_not_a_key"));
    println!(
        "{}",
        text.lines()
            .filter(|line| line.starts_with("tba_requests_total"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // A graceful stop saves the usage; a restart keeps it.
    server.stop_gracefully().await;
    assert!(dir.path().join("keys.usage.json").exists());
    let again = DemoServer::start(&["--keys", &path, "--metrics-public"]);
    let admin = AdminClient::new(&again, &admin_key.token);
    let day = today(&admin, &id).await;
    // The refused scrape with the user's key counted too.
    assert_eq!(
        (&day["passed"], &day["refused"]),
        (&json!(3), &json!(3)),
        "{day}"
    );
    let (status, text) = get(&again, "/metrics", None).await;
    assert_eq!(status, StatusCode::OK, "--metrics-public");
    assert!(text.contains("tba_store_keys"), "{text}");
}
