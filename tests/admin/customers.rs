//! Keys for customers through the admin API: owner, allowlist, credits
//! and metadata set on create and patch and shown; `?owner=`; a credit
//! balance changed atomically (`add`, `set`) while requests spend it; an
//! owner's keys revoked in one request; every bad value refused naming the
//! field. On the embedded store and on a real Redis.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

use crate::client::{Admin, KEYS, embedded, on_redis};
use crate::support::redis::RedisServer;

fn path(id: &str, rest: &str) -> String {
    format!("{KEYS}/{id}{rest}")
}

/// Every new field set on create, shown, changed by patch, and removed.
async fn fields_round_trip(admin: &Admin) {
    let (_, key) = admin
        .create(json!({
            "label": "Production Dialer",
            "owner": "cus_123",
            "allowed_ips": ["203.0.113.0/24", "2001:db8::/32"],
            "credits": {"remaining": 1000, "refill": {"amount": 1000, "every_seconds": 2592000}},
            "metadata": {"plan": "pro", "region": "eu"},
        }))
        .await;
    let id = key["id"].as_str().expect("id").to_owned();
    assert_eq!(key["owner"], "cus_123");
    assert_eq!(
        key["allowed_ips"],
        json!(["203.0.113.0/24", "2001:db8::/32"])
    );
    assert_eq!(key["credits"]["remaining"], 1000);
    assert_eq!(
        key["credits"]["refill"],
        json!({"amount": 1000, "every_seconds": 2592000})
    );
    assert!(key["credits"]["refilled_at"].is_string(), "{key}");
    assert_eq!(key["metadata"], json!({"plan": "pro", "region": "eu"}));

    let shown = admin.call(Method::GET, &path(&id, ""), None).await.json();
    assert_eq!(shown, key);

    let patched = admin
        .call(
            Method::PATCH,
            &path(&id, ""),
            Some(json!({"owner": "cus_456", "allowed_ips": ["192.0.2.1"],
                        "metadata": {"plan": "team"}, "credits": {"remaining": 5}})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.json());
    let patched = patched.json();
    assert_eq!(patched["owner"], "cus_456");
    assert_eq!(patched["allowed_ips"], json!(["192.0.2.1"]));
    assert_eq!(patched["metadata"], json!({"plan": "team"}));
    assert_eq!(patched["credits"]["remaining"], 5);
    assert_eq!(patched["credits"]["refill"], Value::Null);
    assert_eq!(patched["label"], "Production Dialer", "untouched");

    let cleared = admin
        .call(
            Method::PATCH,
            &path(&id, ""),
            Some(json!({"owner": null, "allowed_ips": null, "metadata": null, "credits": null})),
        )
        .await
        .json();
    assert_eq!(cleared["owner"], Value::Null);
    assert_eq!(cleared["allowed_ips"], json!([]));
    assert_eq!(cleared["metadata"], json!({}));
    assert_eq!(cleared["credits"], Value::Null);
}

/// `?owner=`, and an owner's keys revoked in one request.
async fn owners(admin: &Admin) {
    let mut ids = Vec::new();
    for (label, owner) in [("A1", "cus_a"), ("A2", "cus_a"), ("B1", "cus_b")] {
        let (_, key) = admin.create(json!({"label": label, "owner": owner})).await;
        ids.push(key["id"].as_str().expect("id").to_owned());
    }
    let listed = admin
        .call(Method::GET, &format!("{KEYS}?owner=cus_a"), None)
        .await
        .json();
    let labels: Vec<&str> = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels.len(), 2);
    assert!(
        labels.contains(&"A1") && labels.contains(&"A2"),
        "{labels:?}"
    );

    let revoked = admin
        .call(Method::POST, "/admin/v1/owners/cus_a/revoke", None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.json(), json!({"revoked": 2}));
    for (id, expected) in ids.iter().zip([true, true, false]) {
        let key = admin.call(Method::GET, &path(id, ""), None).await.json();
        assert_eq!(key["revoked"], expected, "{key}");
    }
    // Again, and for nobody: 0.
    for owner in ["cus_a", "cus_nobody"] {
        let again = admin
            .call(
                Method::POST,
                &format!("/admin/v1/owners/{owner}/revoke"),
                None,
            )
            .await;
        assert_eq!(again.json(), json!({"revoked": 0}));
    }
}

/// An owner's limits: set on all its keys at once, shown with the live
/// balance, carried by a new key of the owner and by a key moved to it,
/// removed; 404 for an owner without keys; bad bodies refused.
async fn owner_limits(admin: &Admin) {
    let mut ids = Vec::new();
    for label in ["L1", "L2"] {
        let (_, key) = admin
            .create(json!({"label": label, "owner": "cus_lim"}))
            .await;
        ids.push(key["id"].as_str().expect("id").to_owned());
    }
    let owner = "/admin/v1/owners/cus_lim";
    let missing = admin
        .call(Method::GET, "/admin/v1/owners/cus_none", None)
        .await;
    missing.assert_error(StatusCode::NOT_FOUND, "not_found", "owner");
    let put = admin
        .call(
            Method::PUT,
            owner,
            Some(json!({"rate_limit": {"requests": 100, "per_seconds": 60},
                        "credits": {"remaining": 1000}})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.json());
    let shown = put.json();
    assert_eq!(shown["owner"], "cus_lim");
    assert_eq!(shown["keys"], 2);
    assert_eq!(
        shown["rate_limit"],
        json!({"requests": 100, "per_seconds": 60})
    );
    assert_eq!(shown["credits"]["remaining"], 1000);
    for id in &ids {
        let key = admin.call(Method::GET, &path(id, ""), None).await.json();
        assert_eq!(key["owner_limits"]["credits"]["remaining"], 1000, "{key}");
        assert_eq!(
            key["owner_limits"]["credits"]["refilled_at"],
            shown["credits"]["refilled_at"]
        );
    }
    // A new key of the owner carries them; so does a key moved to it.
    let (_, third) = admin
        .create(json!({"label": "L3", "owner": "cus_lim"}))
        .await;
    assert_eq!(third["owner_limits"], ids_limits(admin, &ids[0]).await);
    let (_, moved) = admin.create(json!({"label": "Moved"})).await;
    let moved_id = moved["id"].as_str().expect("id");
    assert_eq!(moved["owner_limits"], Value::Null);
    let moved = admin
        .call(
            Method::PATCH,
            &path(moved_id, ""),
            Some(json!({"owner": "cus_lim"})),
        )
        .await
        .json();
    assert_eq!(moved["owner_limits"], ids_limits(admin, &ids[0]).await);
    let gone = admin
        .call(
            Method::PATCH,
            &path(moved_id, ""),
            Some(json!({"owner": null})),
        )
        .await
        .json();
    assert_eq!(
        gone["owner_limits"],
        Value::Null,
        "no owner, no owner limits"
    );
    let shown = admin.call(Method::GET, owner, None).await.json();
    assert_eq!(shown["keys"], 3);
    for (body, field) in [
        (
            json!({"rate_limit": {"requests": 0, "per_seconds": 60}}),
            "rate_limit",
        ),
        (json!({"credits": {"remaining": -1}}), "credits"),
        (json!({"quota": 5}), "quota"),
    ] {
        let answer = admin.call(Method::PUT, owner, Some(body)).await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", field);
    }
    let deleted = admin.call(Method::DELETE, owner, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let shown = admin.call(Method::GET, owner, None).await.json();
    assert_eq!(
        (&shown["rate_limit"], &shown["credits"]),
        (&Value::Null, &Value::Null)
    );
    let key = admin
        .call(Method::GET, &path(&ids[1], ""), None)
        .await
        .json();
    assert_eq!(key["owner_limits"], Value::Null);
}

async fn ids_limits(admin: &Admin, id: &str) -> Value {
    admin.call(Method::GET, &path(id, ""), None).await.json()["owner_limits"].clone()
}

/// Credits `add` and `set`, and a key without credits getting some.
async fn credit_changes(admin: &Admin) {
    let (_, key) = admin
        .create(json!({"label": "Metered", "credits": {"remaining": 10}}))
        .await;
    let id = key["id"].as_str().expect("id").to_owned();
    let change = |body: Value| {
        let admin = admin.clone();
        let id = id.clone();
        async move {
            admin
                .call(Method::POST, &path(&id, "/credits"), Some(body))
                .await
        }
    };
    let added = change(json!({"add": 5})).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.json());
    assert_eq!(added.json()["credits"]["remaining"], 15);
    assert_eq!(
        change(json!({"set": 3})).await.json()["credits"]["remaining"],
        3
    );
    assert_eq!(
        change(json!({"add": 0})).await.json()["credits"]["remaining"],
        3
    );

    let (_, plain) = admin.create(json!({"label": "Unmetered"})).await;
    let plain_id = plain["id"].as_str().expect("id");
    let given = admin
        .call(
            Method::POST,
            &path(plain_id, "/credits"),
            Some(json!({"add": 7})),
        )
        .await
        .json();
    assert_eq!(
        given["credits"],
        json!({"remaining": 7, "refilled_at": given["credits"]["refilled_at"]})
    );

    let missing = admin
        .call(
            Method::POST,
            &path("key_missing", "/credits"),
            Some(json!({"add": 1})),
        )
        .await;
    missing.assert_error(StatusCode::NOT_FOUND, "not_found", "no key");
}

/// Every bad value: 400 naming the field, never echoing the value.
async fn bad_values(admin: &Admin) {
    let (_, key) = admin.create(json!({"label": "Target"})).await;
    let id = key["id"].as_str().expect("id").to_owned();
    let many: Vec<String> = (0..65).map(|i| format!("10.0.{i}.0/24")).collect();
    let big: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    let long: serde_json::Map<String, Value> = [("k".to_owned(), json!("v".repeat(1_100)))]
        .into_iter()
        .collect();
    for (body, field) in [
        (json!({"owner": "cus 1"}), "`owner`"),
        (json!({"owner": 5}), "`owner`"),
        (json!({"allowed_ips": many}), "`allowed_ips`"),
        (json!({"allowed_ips": ["10.0.0.1/8"]}), "`allowed_ips`"),
        (
            json!({"allowed_ips": ["sk_secret_pasted"]}),
            "`allowed_ips`",
        ),
        (json!({"allowed_ips": "10.0.0.0/8"}), "`allowed_ips`"),
        (json!({"credits": {"remaining": -1}}), "`credits`"),
        (
            json!({"credits": {"remaining": 1, "refill": {"amount": 1, "every_seconds": 0}}}),
            "`credits`",
        ),
        (
            json!({"credits": {"remaining": 1, "refilled_at": "2026-01-01T00:00:00Z"}}),
            "`credits`",
        ),
        (json!({"credits": 5}), "`credits`"),
        (json!({"metadata": big}), "`metadata`"),
        (json!({"metadata": long}), "`metadata`"),
        (json!({"metadata": {"a": 1}}), "`metadata`"),
    ] {
        let answer = admin
            .call(Method::PATCH, &path(&id, ""), Some(body.clone()))
            .await;
        let message = answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", field);
        assert!(
            !message.contains("sk_secret_pasted") && !message.contains("cus 1"),
            "{message}"
        );
        let mut create = body.as_object().expect("object").clone();
        create.insert("label".to_owned(), json!("New"));
        let answer = admin
            .call(Method::POST, KEYS, Some(Value::Object(create)))
            .await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", field);
    }
    for body in [
        json!({}),
        json!({"add": 1, "set": 2}),
        json!({"add": -1}),
        json!({"take": 1}),
    ] {
        let answer = admin
            .call(Method::POST, &path(&id, "/credits"), Some(body))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.json());
    }
    let bad_owner = admin
        .call(Method::POST, "/admin/v1/owners/a%20b/revoke", None)
        .await;
    bad_owner.assert_error(StatusCode::BAD_REQUEST, "invalid_request", "`owner`");
    let bad_query = admin
        .call(Method::GET, &format!("{KEYS}?owner=a%20b"), None)
        .await;
    bad_query.assert_error(StatusCode::BAD_REQUEST, "invalid_request", "`owner`");
    // Nothing changed.
    let unchanged = admin.call(Method::GET, &path(&id, ""), None).await.json();
    assert_eq!(unchanged["owner"], Value::Null);
    assert_eq!(unchanged["credits"], Value::Null);
}

#[tokio::test]
async fn customer_fields_on_the_embedded_store() {
    let (admin, _) = embedded();
    fields_round_trip(&admin).await;
    owners(&admin).await;
    owner_limits(&admin).await;
    credit_changes(&admin).await;
    bad_values(&admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_fields_on_redis() {
    let Some(redis) = RedisServer::start("admin-customers") else {
        return;
    };
    let (admin, _replica) = on_redis(&redis.url(), "customers").await;
    fields_round_trip(&admin).await;
    owners(&admin).await;
    owner_limits(&admin).await;
    credit_changes(&admin).await;
    bad_values(&admin).await;
}

/// An `add` while requests spend the balance loses no spend: the balance
/// after is exactly what was given, added, minus what passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_credits_while_requests_spend_them_loses_nothing() {
    let (admin, store) = embedded();
    let (token, key) = admin
        .create(json!({"label": "Busy", "credits": {"remaining": 100000}}))
        .await;
    let id = key["id"].as_str().expect("id").to_owned();
    let api = tower_bearer_auth::BearerAuthLayer::new(store.clone()).layer(tower::service_fn(
        |_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        },
    ));
    let passed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let spenders: Vec<_> = (0..2)
        .map(|_| {
            let api = api.clone();
            let token = token.clone();
            let passed = Arc::clone(&passed);
            tokio::spawn(async move {
                for _ in 0..2_000 {
                    let request = http::Request::builder()
                        .header("authorization", format!("Bearer {token}"))
                        .body(())
                        .expect("request");
                    let answer = api.clone().oneshot(request).await.expect("infallible");
                    if answer.status() == StatusCode::OK {
                        passed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for _ in 0..20 {
        let answer = admin
            .call(
                Method::POST,
                &path(&id, "/credits"),
                Some(json!({"add": 10})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    for spender in spenders {
        spender.await.expect("spender");
    }
    let passed = passed.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(passed, 4_000);
    let after = admin.call(Method::GET, &path(&id, ""), None).await.json();
    assert_eq!(
        after["credits"]["remaining"].as_u64(),
        Some(100_000 + 200 - passed)
    );
}
