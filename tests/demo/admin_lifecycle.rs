//! The admin API's guarantees over time, through the real demo server:
//! rotation with a grace period; with `--keys`, changes saved to the file
//! before they apply, surviving a restart, never overwriting a hand edit,
//! and a file that cannot be written answering 503 and changing nothing;
//! with `--redis`, a change made on one replica applying on another within
//! 100 ms.

use std::path::Path;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::{Value, json};
use tower_bearer_auth::key_store::{keys_file::KeysFile, redis::RedisKeyWriter};

use crate::admin_client::{AdminClient, printed_tokens};
use crate::server::{DemoServer, TestKey};
use crate::support::TempDir;
use crate::support::redis::RedisServer;

const KEYS: &str = "/admin/v1/keys";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_both_tokens_during_the_grace_period_then_only_the_new_one() {
    let server = DemoServer::start(&[]);
    let (_, admin_token) = printed_tokens(&server);
    let admin = AdminClient::new(&server, &admin_token);
    let (old_token, old) = admin
        .create(
            json!({"label": "Production Dialer", "scopes": ["profile:read"],
                       "expires_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    let old_id = old["id"].as_str().expect("id");

    let rotated = admin
        .call(
            Method::POST,
            &format!("{KEYS}/{old_id}/rotate"),
            Some(json!({"grace_seconds": 2})),
        )
        .await;
    let rotated_at = Instant::now();
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.json());
    assert_eq!(rotated.headers["cache-control"], "no-store");
    let body = rotated.json();
    let new_token = body["token"].as_str().expect("token").to_owned();
    let new = &body["key"];
    let previous = &body["previous"];
    assert_ne!(new["id"], old["id"]);
    assert_eq!(previous["id"], old["id"]);
    for copied in ["label", "scopes", "expires_at"] {
        assert_eq!(new[copied], old[copied], "{copied} is copied");
    }
    assert_eq!(new["hint"].as_str(), Some(&new_token[..7]));
    assert_eq!(previous["revoked"], false, "in its grace period");
    assert_ne!(
        previous["expires_at"], old["expires_at"],
        "ends with the grace period"
    );

    // During the grace period both tokens work.
    assert_eq!(admin.profile(&old_token).await, StatusCode::OK);
    assert_eq!(admin.profile(&new_token).await, StatusCode::OK);
    // After it, only the new one.
    let mut old_refused = None;
    while rotated_at.elapsed() < Duration::from_secs(5) {
        if admin.profile(&old_token).await == StatusCode::UNAUTHORIZED {
            old_refused = Some(rotated_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let old_refused = old_refused.expect("the old token expires after the grace period");
    println!("grace 2 s: the old token was refused {old_refused:?} after the rotation");
    assert!(
        old_refused >= Duration::from_millis(1_000),
        "not before the grace period ends"
    );
    assert_eq!(admin.profile(&new_token).await, StatusCode::OK);

    // Without a grace period (the default), the old key is revoked at once.
    let new_id = new["id"].as_str().expect("id");
    let again = admin
        .call(Method::POST, &format!("{KEYS}/{new_id}/rotate"), None)
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    let newest = again.json()["token"].as_str().expect("token").to_owned();
    assert_eq!(again.json()["previous"]["revoked"], true);
    assert_eq!(admin.profile(&new_token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(admin.profile(&newest).await, StatusCode::OK);
}

fn save(path: &Path, keys: &[&TestKey]) {
    KeysFile::from_entries(keys.iter().map(|k| k.entry.clone()).collect())
        .save(path)
        .expect("save");
}

fn ids_in(path: &Path) -> Vec<(String, bool)> {
    let mut ids: Vec<(String, bool)> = KeysFile::load(path)
        .expect("a valid keys file")
        .entries()
        .iter()
        .map(|e| (e.id().to_owned(), e.is_revoked()))
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_keys_file_changes_are_saved_first_and_survive_a_restart() {
    let dir = TempDir::new("admin-file");
    let path = dir.path().join("keys.json");
    let path_arg = path.to_str().expect("utf-8").to_owned();
    let root = TestKey::new("Admin", "keys:admin");
    let user = TestKey::new("Staging Server", "profile:read");
    save(&path, &[&root, &user]);

    let (created_token, created_id) = {
        let server = DemoServer::start(&["--keys", &path_arg]);
        let admin = AdminClient::new(&server, &root.token);
        let (token, key) = admin
            .create(json!({"label": "Production Dialer", "scopes": ["profile:read"]}))
            .await;
        let id = key["id"].as_str().expect("id").to_owned();
        let revoked = admin
            .call(
                Method::POST,
                &format!("{KEYS}/{}/revoke", user.entry.id()),
                None,
            )
            .await;
        assert_eq!(revoked.status, StatusCode::OK);
        // The file holds each change as soon as it is answered.
        let on_disk = ids_in(&path);
        assert!(on_disk.contains(&(id.clone(), false)), "{on_disk:?}");
        assert!(on_disk.contains(&(user.entry.id().to_owned(), true)));
        assert!(
            !std::fs::read_to_string(&path)
                .expect("read")
                .contains(&token)
        );
        (token, id)
    };

    // A new process, the same file: the same keys.
    let server = DemoServer::start(&["--keys", &path_arg]);
    let admin = AdminClient::new(&server, &root.token);
    assert_eq!(admin.profile(&created_token).await, StatusCode::OK);
    assert_eq!(admin.profile(&user.token).await, StatusCode::UNAUTHORIZED);
    let listed = admin.call(Method::GET, KEYS, None).await.json();
    let labels: Vec<&str> = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert!(labels.contains(&"Production Dialer"));
    let shown = admin
        .call(Method::GET, &format!("{KEYS}/{created_id}"), None)
        .await
        .json();
    let last_used = shown["last_used_at"]
        .as_str()
        .expect("kept across the restart");
    assert!(last_used.ends_with(":00Z"), "{last_used}");

    // A hand edit not yet reloaded is never overwritten: changes answer 503
    // until SIGHUP, and change nothing.
    let edited = TestKey::new("Added By Hand", "profile:read");
    let mut entries = KeysFile::load(&path).expect("load").into_entries();
    entries.push(edited.entry.clone());
    KeysFile::from_entries(entries).save(&path).expect("save");
    let refused = admin
        .call(Method::POST, KEYS, Some(json!({"label": "Too Early"})))
        .await;
    refused.assert_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "changed on disk",
    );
    assert!(ids_in(&path).contains(&(edited.entry.id().to_owned(), false)));
    server.signal("HUP");
    assert!(
        server
            .stderr
            .wait_for("keys file reloaded", Duration::from_secs(10))
            .is_some()
    );
    let (_, after) = admin.create(json!({"label": "After Reload"})).await;
    let on_disk = ids_in(&path);
    assert!(
        on_disk.contains(&(edited.entry.id().to_owned(), false)),
        "the edit is kept"
    );
    assert!(on_disk.contains(&(after["id"].as_str().expect("id").to_owned(), false)));
    assert_eq!(admin.profile(&edited.token).await, StatusCode::OK);

    // A file that cannot be written: 503, and nothing changes, in memory or
    // on disk.
    let Some(_read_only) = ReadOnlyDir::make(dir.path()) else {
        println!("skipping the unwritable-file check: this file system lets root write anyway");
        return;
    };
    let before = std::fs::read(&path).expect("read");
    let keys_before = admin.call(Method::GET, KEYS, None).await.json();
    let refused = admin
        .call(Method::POST, KEYS, Some(json!({"label": "Not Saved"})))
        .await;
    let message = refused.assert_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "");
    println!("unwritable keys file: 503 {message:?}");
    let revoke = admin
        .call(Method::POST, &format!("{KEYS}/{created_id}/revoke"), None)
        .await;
    revoke.assert_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "");
    assert_eq!(
        admin.profile(&created_token).await,
        StatusCode::OK,
        "not revoked"
    );
    let keys_after = admin.call(Method::GET, KEYS, None).await.json();
    let strip = |v: &Value| {
        let mut keys = v["keys"].as_array().expect("keys").clone();
        for key in &mut keys {
            key["last_used_at"] = Value::Null;
        }
        keys
    };
    assert_eq!(strip(&keys_after), strip(&keys_before));
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

/// A directory nobody (root included) can create files in, until dropped:
/// mode 0555, and the immutable attribute where root ignores the mode.
struct ReadOnlyDir<'a> {
    dir: &'a Path,
    immutable: bool,
}

impl<'a> ReadOnlyDir<'a> {
    fn make(dir: &'a Path) -> Option<Self> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        let mut made = Self {
            dir,
            immutable: false,
        };
        if made.writable() {
            made.immutable = std::process::Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
        }
        (!made.writable()).then_some(made)
    }

    fn writable(&self) -> bool {
        let probe = self.dir.join(".probe");
        let created = std::fs::write(&probe, b"").is_ok();
        let _ = std::fs::remove_file(&probe);
        created
    }
}

impl Drop for ReadOnlyDir<'_> {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(self.dir)
                .status();
        }
        let _ = std::fs::set_permissions(self.dir, std::fs::Permissions::from_mode(0o700));
    }
}

/// Polls `GET /v1/profile` on `server` until it answers `expected`; the time.
async fn until(admin: &AdminClient<'_>, token: &str, expected: StatusCode) -> Duration {
    let started = Instant::now();
    while admin.profile(token).await != expected {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never {expected}"
        );
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_a_change_on_one_replica_applies_on_the_other_within_100_ms() {
    let Some(redis) = RedisServer::start("admin-replicas") else {
        return;
    };
    let url = redis.url();
    let root = TestKey::new("Admin", "keys:admin");
    RedisKeyWriter::connect(&url, "default")
        .await
        .expect("connect")
        .insert(root.entry.clone())
        .await
        .expect("bootstrap the admin key");
    let args = ["--redis", url.as_str()];
    let a = DemoServer::start(&args);
    let b = DemoServer::start(&args);
    let on_a = AdminClient::new(&a, &root.token);
    let on_b = AdminClient::new(&b, &root.token);
    until(&on_a, &root.token, StatusCode::FORBIDDEN).await;
    until(&on_b, &root.token, StatusCode::FORBIDDEN).await;

    // Created on A: A accepts it at once (read-your-writes), B within 100 ms.
    let (token, key) = on_a
        .create(json!({"label": "Shared Key", "scopes": ["profile:read"]}))
        .await;
    let id = key["id"].as_str().expect("id");
    assert_eq!(
        on_a.profile(&token).await,
        StatusCode::OK,
        "read-your-writes"
    );
    let accepted = until(&on_b, &token, StatusCode::OK).await;
    println!("created on A, accepted by B {accepted:?} after A answered");
    assert!(accepted <= Duration::from_millis(100), "{accepted:?}");
    let shown = on_b.call(Method::GET, &format!("{KEYS}/{id}"), None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json()["label"], "Shared Key");

    // Revoked on A: A refuses it at once, B within 100 ms.
    let revoked = on_a
        .call(Method::POST, &format!("{KEYS}/{id}/revoke"), None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        on_a.profile(&token).await,
        StatusCode::UNAUTHORIZED,
        "read-your-writes"
    );
    let refused = until(&on_b, &token, StatusCode::UNAUTHORIZED).await;
    println!("revoked on A, refused by B {refused:?} after A answered");
    assert!(refused <= Duration::from_millis(100), "{refused:?}");

    // Rotated on B with a grace period: both tokens work on A.
    let (old_token, old) = on_b.create(json!({"label": "Rotated"})).await;
    let rotated = on_b
        .call(
            Method::POST,
            &format!("{KEYS}/{}/rotate", old["id"].as_str().expect("id")),
            Some(json!({"grace_seconds": 60})),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED);
    let new_token = rotated.json()["token"].as_str().expect("token").to_owned();
    until(&on_a, &new_token, StatusCode::FORBIDDEN).await;
    assert_eq!(
        on_a.profile(&old_token).await,
        StatusCode::FORBIDDEN,
        "still valid"
    );

    // Deleted on B: 404 on A once propagated; the token fails on both.
    let deleted = on_b
        .call(Method::DELETE, &format!("{KEYS}/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let started = Instant::now();
    while on_a
        .call(Method::GET, &format!("{KEYS}/{id}"), None)
        .await
        .status
        != StatusCode::NOT_FOUND
    {
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(on_a.profile(&token).await, StatusCode::UNAUTHORIZED);

    // Last uses: a key used only on B shows on A once B has flushed (once
    // a minute, and on a graceful shutdown).
    let (used_token, used) = on_a
        .create(json!({"label": "Used On B", "scopes": ["profile:read"]}))
        .await;
    let used_path = format!("{KEYS}/{}", used["id"].as_str().expect("id"));
    until(&on_b, &used_token, StatusCode::OK).await;
    assert_eq!(
        on_a.call(Method::GET, &used_path, None).await.json()["last_used_at"],
        Value::Null
    );
    b.signal("TERM");
    assert!(
        b.stderr
            .wait_for(
                "last uses flushed to the shared store",
                Duration::from_secs(10)
            )
            .is_some(),
        "{}",
        b.stderr.text()
    );
    let shown = on_a.call(Method::GET, &used_path, None).await.json();
    let last_used = shown["last_used_at"].as_str().expect("B's use, seen on A");
    println!("used on B only; A shows last_used_at {last_used}");
    assert!(last_used.ends_with(":00Z"), "{last_used}");

    // Redis down: the admin API answers 503, never a silent success.
    drop(redis);
    let down = on_a
        .call(Method::POST, KEYS, Some(json!({"label": "Nowhere"})))
        .await;
    down.assert_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "");
}
