//! Usage per key and day, and the audit log, through the admin API: on the
//! embedded store (in memory and with a keys file, across a restart), on a
//! real Redis (two replicas' counts added up) and on a real Postgres.

use std::path::Path;
use std::time::Duration;

use http::request::Parts;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};
use tower_bearer_auth::admin::AdminApi;
use tower_bearer_auth::key_store::admin::{EmbeddedKeyAdmin, KeyAdmin};
use tower_bearer_auth::key_store::postgres::{PostgresKeyWriter, PostgresStoreBuilder};
use tower_bearer_auth::key_store::redis::{SharedKeyAdmin, SharedKeyStore};
use tower_bearer_auth::rate_limit::RateLimiter;
use tower_bearer_auth::{
    ApiKey, BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore, ScopeSet, TokenValidator,
};

use crate::client::{Admin, KEYS, embedded, on_redis};
use crate::support::TempDir;
use crate::support::postgres::PostgresServer;
use crate::support::redis::RedisServer;

/// `GET /write` needs `calls:write`; anything else needs nothing.
fn write_needs_scope(parts: &Parts, key: &ApiKey) -> Result<(), ScopeSet> {
    if parts.uri.path() == "/write" && !key.scopes().contains("calls:write") {
        return Err(ScopeSet::parse("calls:write").expect("scope"));
    }
    Ok(())
}

/// Sends `paths` with `token` through a layer over `validator`.
async fn traffic<V>(validator: V, token: &str, paths: &[&str])
where
    V: TokenValidator<Principal = ApiKey> + Clone + Send + Sync + 'static,
    V::Future: Send,
{
    let mut service = BearerAuthLayer::builder(validator)
        .rate_limiter(RateLimiter::new())
        .scope_policy(write_needs_scope)
        .build()
        .expect("valid layer")
        .layer(tower::service_fn(|_: Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }));
    for path in paths {
        let request = Request::get(*path)
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .expect("request");
        service
            .ready()
            .await
            .expect("ready")
            .call(request)
            .await
            .expect("an answer");
    }
}

/// Two keys made through the API, used: the first passes once, then runs
/// out of credits twice; the second passes once, is rate limited once and
/// refused a scope once. Returns their ids and tokens.
async fn use_two_keys<V>(admin: &Admin, validator: V) -> [(String, String); 2]
where
    V: TokenValidator<Principal = ApiKey> + Clone + Send + Sync + 'static,
    V::Future: Send,
{
    let (credits_token, credits_key) = admin
        .create(json!({"label": "Credits", "credits": {"remaining": 1}}))
        .await;
    let (limited_token, limited_key) = admin
        .create(json!({"label": "Limited", "rate_limit": {"requests": 1, "per_seconds": 3600}}))
        .await;
    traffic(validator.clone(), &credits_token, &["/a", "/b", "/c"]).await;
    traffic(validator, &limited_token, &["/a", "/b", "/write"]).await;
    let id = |key: &Value| key["id"].as_str().expect("id").to_owned();
    [
        (id(&credits_key), credits_token),
        (id(&limited_key), limited_token),
    ]
}

/// The key's usage over `days` days, as the API answers it.
async fn usage(admin: &Admin, id: &str, days: u32) -> Vec<Value> {
    let answer = admin
        .call(Method::GET, &format!("{KEYS}/{id}/usage?days={days}"), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
    answer.json()["days"].as_array().expect("days").clone()
}

/// Today's counts of `id` are `expected` (`passed`, `rate_limited`,
/// `usage_exceeded`, `refused`), the days before are zeros, oldest first.
async fn assert_usage(admin: &Admin, id: &str, expected: [u64; 4]) {
    let days = usage(admin, id, 3).await;
    assert_eq!(days.len(), 3, "{days:?}");
    let dates: Vec<&str> = days
        .iter()
        .map(|d| d["date"].as_str().expect("date"))
        .collect();
    let mut sorted = dates.clone();
    sorted.sort_unstable();
    assert_eq!(dates, sorted, "oldest first");
    assert_eq!(dates[2].len(), 10, "YYYY-MM-DD");
    let counts = |day: &Value| {
        ["passed", "rate_limited", "usage_exceeded", "refused"]
            .map(|name| day[name].as_u64().expect(name))
    };
    assert_eq!(counts(&days[0]), [0; 4]);
    assert_eq!(counts(&days[1]), [0; 4]);
    assert_eq!(counts(&days[2]), expected, "today: {}", days[2]);
    println!("usage of {id} today: {}", days[2]);
}

/// The expected counts of [`use_two_keys`]'s keys, times `rounds`.
fn expected(rounds: u64) -> [[u64; 4]; 2] {
    [[1, 0, 2, 0], [rounds, rounds, 0, rounds]]
}

/// The usage endpoint's refusals.
async fn usage_refusals(admin: &Admin, id: &str) {
    for query in ["days=0", "days=101", "days=x", "weeks=2"] {
        let answer = admin
            .call(Method::GET, &format!("{KEYS}/{id}/usage?{query}"), None)
            .await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", "");
    }
    let answer = admin
        .call(Method::GET, &format!("{KEYS}/key_nobody/usage"), None)
        .await;
    answer.assert_error(StatusCode::NOT_FOUND, "not_found", "");
    assert_eq!(usage(admin, id, 100).await.len(), 100);
    assert_eq!(
        admin
            .call(Method::GET, &format!("{KEYS}/{id}/usage"), None)
            .await
            .json()["days"]
            .as_array()
            .expect("days")
            .len(),
        30,
        "30 days by default"
    );
}

/// The audit log's page, newest first.
async fn audit(admin: &Admin, query: &str) -> Value {
    let answer = admin
        .call(Method::GET, &format!("/admin/v1/audit{query}"), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
    answer.json()
}

/// Every kind of change is an event, newest first, with its target, the
/// acting admin key, the names of the fields set and never a token;
/// pages follow their cursor; `target` filters; bad queries are 400.
async fn audit_log(admin: &Admin, admin_id: &str) {
    let (token, key) = admin
        .create(json!({"label": "Audited", "scopes": ["calls:read"], "owner": "cus_audit"}))
        .await;
    let id = key["id"].as_str().expect("id").to_owned();
    let key_path = format!("{KEYS}/{id}");
    let steps = [
        (
            Method::PATCH,
            key_path.clone(),
            Some(json!({"label": "Renamed", "metadata": {"a": "b"}})),
        ),
        (
            Method::POST,
            format!("{key_path}/credits"),
            Some(json!({"add": 5})),
        ),
        (
            Method::PUT,
            "/admin/v1/owners/cus_audit".to_owned(),
            Some(json!({"credits": {"remaining": 9}})),
        ),
        (
            Method::DELETE,
            "/admin/v1/owners/cus_audit".to_owned(),
            None,
        ),
        (
            Method::POST,
            format!("{key_path}/rotate"),
            Some(json!({"grace_seconds": 60})),
        ),
        (Method::POST, format!("{key_path}/revoke"), None),
        (
            Method::POST,
            "/admin/v1/owners/cus_audit/revoke".to_owned(),
            None,
        ),
        (Method::DELETE, key_path.clone(), None),
    ];
    for (method, path, body) in steps {
        let answer = admin.call(method.clone(), &path, body).await;
        assert!(
            answer.status.is_success(),
            "{method} {path}: {}",
            answer.json()
        );
    }
    let page = audit(admin, "?limit=12").await;
    let events = page["events"].as_array().expect("events");
    let text = page.to_string();
    assert!(!text.contains(&token), "no token in the audit log");
    let seen: Vec<(String, String, String)> = events
        .iter()
        .map(|event| {
            assert_eq!(event["actor"], admin_id, "{event}");
            assert!(event["time"].as_str().expect("time").ends_with('Z'));
            (
                event["action"].as_str().expect("action").to_owned(),
                event["target"].as_str().expect("target").to_owned(),
                event["fields"].to_string(),
            )
        })
        .collect();
    let successor = seen
        .iter()
        .find(|(action, target, _)| action == "create" && *target != id)
        .map(|(_, target, _)| target.clone())
        .expect("the rotation created a successor");
    let owner = "cus_audit".to_owned();
    let want = vec![
        ("delete", id.clone(), "[]"),
        ("revoke_owner", owner.clone(), r#"["revoked"]"#),
        ("revoke", id.clone(), r#"["revoked"]"#),
        ("create", successor, r#"["rotated_from"]"#),
        ("rotate", id.clone(), r#"["rotated_to","expires_at"]"#),
        ("delete_owner", owner.clone(), r#"["rate_limit","credits"]"#),
        ("set_owner", owner, r#"["credits"]"#),
        ("credits", id.clone(), r#"["credits"]"#),
        ("update", id.clone(), r#"["label","metadata"]"#),
        ("create", id.clone(), r#"["label","owner","scopes"]"#),
    ];
    let got: Vec<(&str, String, &str)> = seen
        .iter()
        .take(want.len())
        .map(|(a, t, f)| (a.as_str(), t.clone(), f.as_str()))
        .collect();
    assert_eq!(got, want);

    // Pages of 3 follow each other without a gap or a repeat.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    for _ in 0..4 {
        let query = if cursor.is_empty() {
            "?limit=3".to_owned()
        } else {
            format!("?limit=3&cursor={cursor}")
        };
        let page = audit(admin, &query).await;
        for event in page["events"].as_array().expect("events") {
            paged.push(event["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let first: Vec<String> = events
        .iter()
        .take(paged.len())
        .map(|event| event["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(paged, first);

    let only = audit(admin, &format!("?target={id}")).await;
    let only = only["events"].as_array().expect("events");
    assert_eq!(only.len(), 6, "{only:?}");
    assert!(only.iter().all(|event| event["target"] == id.as_str()));

    for query in [
        "?limit=0",
        "?limit=1001",
        "?cursor=not-an-id",
        "?target=a%20b",
        "?since=1",
    ] {
        let answer = admin
            .call(Method::GET, &format!("/admin/v1/audit{query}"), None)
            .await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", "");
    }
}

/// The id of the API's admin key, as events name it.
async fn admin_id(admin: &Admin) -> String {
    let keys = admin.call(Method::GET, KEYS, None).await.json();
    keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["label"] == "Admin")
        .and_then(|key| key["id"].as_str())
        .expect("the admin key")
        .to_owned()
}

#[tokio::test]
async fn usage_and_audit_on_the_embedded_store_in_memory() {
    let (admin, store) = embedded();
    let [(credits, _), (limited, _)] = use_two_keys(&admin, store.clone()).await;
    let [first, second] = expected(1);
    assert_usage(&admin, &credits, first).await;
    assert_usage(&admin, &limited, second).await;
    usage_refusals(&admin, &credits).await;
    audit_log(&admin, &admin_id(&admin).await).await;
}

/// The admin API over a keys file at `path` (its admin key written
/// through the admin, so that the file holds it).
async fn on_keys_file(path: &Path, admin_token: Option<&str>) -> (Admin, KeyStore, String) {
    let store = KeyStore::new();
    if path.exists() {
        let file = tower_bearer_auth::key_store::keys_file::KeysFile::load(path).expect("load");
        store
            .replace_all(file.into_entries())
            .expect("the file's keys");
    }
    let embedded = EmbeddedKeyAdmin::with_keys_file(store.clone(), path);
    let token = match admin_token {
        Some(token) => token.to_owned(),
        None => {
            let key = KeyGenerator::new().generate().expect("random source");
            embedded
                .insert(
                    KeyEntry::new(key.id(), "Admin", key.digest())
                        .with_scopes(ScopeSet::parse("keys:admin").expect("scope")),
                )
                .await
                .expect("insert the admin key");
            key.token().expose().to_owned()
        }
    };
    let auth = BearerAuthLayer::new(store.clone());
    let router = AdminApi::new(embedded.clone()).router(&auth);
    // Saved as a graceful shutdown would.
    embedded.save_last_uses().await.expect("save");
    (Admin::new(router, &token), store, token)
}

#[tokio::test]
async fn usage_and_audit_survive_a_restart_with_a_keys_file() {
    let dir = TempDir::new("admin-history");
    let path = dir.path().join("keys.json");
    let (admin, store, admin_token) = on_keys_file(&path, None).await;
    let [(credits, _), (limited, _)] = use_two_keys(&admin, store.clone()).await;
    audit_log(&admin, &admin_id(&admin).await).await;
    let before = audit(&admin, "?limit=1000").await;
    // The usage reaches its file with the next save.
    EmbeddedKeyAdmin::with_keys_file(store, &path)
        .save_last_uses()
        .await
        .expect("save");
    let lines = std::fs::read_to_string(dir.path().join("keys.audit.jsonl")).expect("audit file");
    assert_eq!(
        lines.lines().count(),
        before["events"].as_array().expect("events").len()
    );
    assert!(!lines.contains(&admin_token));
    assert!(dir.path().join("keys.usage.json").exists());

    // A new process on the same files.
    let (admin, _, _) = on_keys_file(&path, Some(&admin_token)).await;
    let [first, second] = expected(1);
    assert_usage(&admin, &credits, first).await;
    assert_usage(&admin, &limited, second).await;
    assert_eq!(audit(&admin, "?limit=1000").await, before);
    // Ids go on after a restart: a new event is the newest.
    admin.create(json!({"label": "After restart"})).await;
    let after = audit(&admin, "?limit=1").await;
    let newest: u64 = after["events"][0]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("number");
    let previous: u64 = before["events"][0]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("number");
    assert_eq!(newest, previous + 1);
}

/// A second replica of the same Redis key set, with its own layer.
async fn second_replica(url: &str, namespace: &str) -> SharedKeyStore {
    let replica = SharedKeyStore::builder(url)
        .namespace(namespace)
        .start()
        .expect("start");
    replica.ready(Duration::from_secs(10)).await.expect("loads");
    replica
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_of_two_replicas_adds_up_and_the_audit_log_is_a_redis_stream() {
    let Some(redis) = RedisServer::start("admin-history") else {
        return;
    };
    let url = redis.url();
    let (admin, first_replica) = on_redis(&url, "history").await;
    let other = second_replica(&url, "history").await;
    let [(credits, _), (limited, limited_token)] =
        use_two_keys(&admin, first_replica.clone()).await;
    // The other replica serves the second key the same requests (its own
    // rate limiter: one more pass, limit and refusal).
    other
        .wait_for_version(first_replica.version(), Duration::from_secs(5))
        .await;
    traffic(other.clone(), &limited_token, &["/a", "/b", "/write"]).await;
    assert!(
        other.flush_last_uses(Duration::from_secs(5)).await,
        "flushed"
    );
    let [first, second] = expected(2);
    // The first replica's counts are not flushed yet: the admin adds them.
    assert_usage(&admin, &credits, first).await;
    assert_usage(&admin, &limited, second).await;
    assert!(first_replica.flush_last_uses(Duration::from_secs(5)).await);
    assert_usage(&admin, &limited, second).await;
    let mut con = redis.client().get_connection().expect("connect");
    let day_hashes: Vec<String> = redis::cmd("KEYS")
        .arg("{tba:history}:us:*")
        .query(&mut con)
        .expect("KEYS");
    assert_eq!(day_hashes.len(), 1, "{day_hashes:?}");
    let ttl: i64 = redis::cmd("TTL")
        .arg(&day_hashes[0])
        .query(&mut con)
        .expect("TTL");
    assert!(ttl > 99 * 86_400, "kept 100 days: {ttl}");
    usage_refusals(&admin, &credits).await;
    audit_log(&admin, &admin_id(&admin).await).await;
    let kind: String = redis::cmd("TYPE")
        .arg("{tba:history}:audit")
        .query(&mut con)
        .expect("TYPE");
    assert_eq!(kind, "stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_audit_on_postgres() {
    let Some(server) = PostgresServer::start("admin-history") else {
        return;
    };
    let writer = PostgresKeyWriter::new(&server.url(), "history").expect("valid URL");
    writer.init().await.expect("schema");
    let key = KeyGenerator::new().generate().expect("random source");
    writer
        .insert(
            KeyEntry::new(key.id(), "Admin", key.digest())
                .with_scopes(ScopeSet::parse("keys:admin").expect("scope")),
        )
        .await
        .expect("insert the admin key");
    let replica = PostgresStoreBuilder::new(&server.url())
        .namespace("history")
        .start()
        .expect("start");
    replica.ready(Duration::from_secs(10)).await.expect("loads");
    let auth = BearerAuthLayer::new(replica.clone());
    let admin = Admin::new(
        AdminApi::new(SharedKeyAdmin::new(writer, replica.clone())).router(&auth),
        key.token().expose(),
    );
    let [(credits, _), (limited, _)] = use_two_keys(&admin, replica.clone()).await;
    let [first, second] = expected(1);
    assert_usage(&admin, &credits, first).await;
    assert!(
        replica.flush_last_uses(Duration::from_secs(5)).await,
        "flushed"
    );
    assert_usage(&admin, &credits, first).await;
    assert_usage(&admin, &limited, second).await;
    let row = server.psql(&format!(
        "SELECT passed, rate_limited, usage_exceeded, refused FROM tba_usage \
         WHERE namespace = 'history' AND id = '{credits}'"
    ));
    assert_eq!(row.trim(), "1|0|2|0", "{row}");
    usage_refusals(&admin, &credits).await;
    audit_log(&admin, &admin_id(&admin).await).await;
    let rows = server.psql("SELECT count(*) FROM tba_audit WHERE namespace = 'history'");
    println!("audit rows: {rows}");
}
