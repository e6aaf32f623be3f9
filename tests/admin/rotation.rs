//! Rotation is one step per key: the new key has a new id and names its
//! predecessor, the old one names its successor, and a key rotated already
//! (or revoked) cannot be rotated again: 409, however many rotations race.
//! On the embedded store and on a real Redis.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::client::{Admin, KEYS, embedded, on_redis};
use crate::support::redis::RedisServer;

/// Rotates `id` once: the new key (201), or the answer.
async fn rotate(admin: &Admin, id: &str) -> (StatusCode, Value) {
    let answer = admin
        .call(Method::POST, &format!("{KEYS}/{id}/rotate"), None)
        .await;
    (answer.status, answer.json())
}

/// The lineage, a second rotation refused, a revoked key refused.
async fn one_step_per_key(admin: &Admin) {
    let (_, old) = admin.create(json!({"label": "Production Dialer"})).await;
    let old_id = old["id"].as_str().expect("id").to_owned();
    assert_eq!(old["rotated_from"], Value::Null);
    assert_eq!(old["rotated_to"], Value::Null);

    let (status, rotated) = rotate(admin, &old_id).await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new_id = rotated["key"]["id"].as_str().expect("id").to_owned();
    assert_ne!(new_id, old_id, "rotation issues a new id");
    assert_eq!(rotated["key"]["rotated_from"], old_id.as_str());
    assert_eq!(rotated["previous"]["rotated_to"], new_id.as_str());
    let old_now = admin
        .call(Method::GET, &format!("{KEYS}/{old_id}"), None)
        .await
        .json();
    assert_eq!(old_now["rotated_to"], new_id.as_str());

    // Again: 409, and no key is made.
    let before = key_count(admin).await;
    let (status, refused) = rotate(admin, &old_id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "conflict");
    assert!(
        refused["error"]["message"]
            .as_str()
            .expect("message")
            .contains("rotated already"),
        "{refused}"
    );
    assert_eq!(key_count(admin).await, before);

    // The successor rotates on: a chain, one step per key.
    let (status, next) = rotate(admin, &new_id).await;
    assert_eq!(status, StatusCode::CREATED, "{next}");
    assert_eq!(next["key"]["rotated_from"], new_id.as_str());

    // A revoked key cannot be rotated.
    let (_, revoked) = admin.create(json!({"label": "Old Laptop"})).await;
    let revoked_id = revoked["id"].as_str().expect("id");
    let answer = admin
        .call(Method::POST, &format!("{KEYS}/{revoked_id}/revoke"), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(rotate(admin, revoked_id).await.0, StatusCode::CONFLICT);
}

async fn key_count(admin: &Admin) -> usize {
    let listed = admin
        .call(Method::GET, &format!("{KEYS}?limit=1000"), None)
        .await
        .json();
    listed["keys"].as_array().expect("keys").len()
}

/// Five rotations of one key at once: exactly one 201, four 409, and one
/// new key in the set.
async fn five_concurrent_rotations(admin: &Admin) {
    let (_, old) = admin.create(json!({"label": "Staging Server"})).await;
    let old_id = old["id"].as_str().expect("id").to_owned();
    let before = key_count(admin).await;
    let racers: Vec<_> = (0..5)
        .map(|_| {
            let admin = admin.clone();
            let id = old_id.clone();
            tokio::spawn(async move { rotate(&admin, &id).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.expect("rotation task").0);
    }
    statuses.sort();
    println!("five concurrent rotations: {statuses:?}");
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT
        ]
    );
    assert_eq!(
        key_count(admin).await,
        before + 1,
        "the losers' keys are undone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_is_one_step_per_key_on_the_embedded_store() {
    let (admin, _) = embedded();
    one_step_per_key(&admin).await;
    five_concurrent_rotations(&admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_is_one_step_per_key_on_redis() {
    let Some(redis) = RedisServer::start("admin-rotation") else {
        return;
    };
    let (admin, _) = on_redis(&redis.url(), "rotation").await;
    one_step_per_key(&admin).await;
    five_concurrent_rotations(&admin).await;
}
