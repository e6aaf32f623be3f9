//! Last uses on Redis are a hint: a value in the last-use hash that is not
//! a minute (the documented replica user may write that hash) is ignored,
//! and every admin read and write still answers.

use std::time::Duration;

use http::{Method, StatusCode};
use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::client::{KEYS, on_redis};
use crate::support::redis::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_in_the_last_use_hash_never_makes_the_admin_api_unavailable() {
    let Some(redis) = RedisServer::start("admin-last-use") else {
        return;
    };
    let (admin, replica) = on_redis(&redis.url(), "lastuse").await;
    let (token, target) = admin.create(json!({"label": "Target"})).await;
    let (_, other) = admin.create(json!({"label": "Other"})).await;
    let target_id = target["id"].as_str().expect("id").to_owned();
    let other_id = other["id"].as_str().expect("id").to_owned();
    let mut con = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let used = "{tba:lastuse}:used";
    let _: () = con.hset(used, &target_id, "garbage").await.expect("hset");
    let _: () = con
        .hset(used, &other_id, vec![0xff_u8, 0xfe])
        .await
        .expect("hset");
    let _: () = con
        .hset(used, vec![0xc3_u8, 0x28], "29500000")
        .await
        .expect("hset");
    let _: () = con.hset(used, "key_gone", "-5").await.expect("hset");

    let list = admin.call(Method::GET, KEYS, None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.json());
    let one = format!("{KEYS}/{target_id}");
    let shown = admin.call(Method::GET, &one, None).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.json());
    assert_eq!(
        shown.json()["last_used_at"],
        Value::Null,
        "garbage is no use"
    );
    // The replicas' flush script treats garbage as "never used" and
    // writes the real minute over it (it once failed the whole batch).
    assert!(replica.verify(&token).is_ok());
    assert!(
        replica.flush_last_uses(Duration::from_secs(5)).await,
        "flushed"
    );
    let minute: String = con.hget(used, &target_id).await.expect("hget");
    assert!(
        minute.parse::<u32>().is_ok_and(|m| m > 29_000_000),
        "{minute}"
    );
    let rotated = admin
        .call(Method::POST, &format!("{KEYS}/{other_id}/rotate"), None)
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.json());
    let revoked = admin
        .call(Method::POST, &format!("{one}/revoke"), None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.json());
    assert_eq!(revoked.json()["revoked"], true);
}
