//! Key lifecycle while serving: SIGHUP reloads the keys file atomically.
//! Revoked or removed keys are refused from the next request on, other keys
//! keep working with no failed request, and a broken file keeps the old
//! keys in force.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::server::{DemoServer, TestKey, http_client, send};
use crate::support::TempDir;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tower_bearer_auth::key_store::KeysFile;

async fn status(server: &DemoServer, key: &TestKey) -> StatusCode {
    let request = Request::get(server.url("/v1/profile"))
        .header("authorization", key.bearer())
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    send(&http_client(false), request).await.0.status
}

fn wait_for_reloads(server: &DemoServer, needle: &str, count: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server.stderr.count(needle) < count {
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle:?} #{count}:\n{}",
            server.stderr.text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_revokes_and_survives_a_broken_file() {
    let dir = TempDir::new("demo-reload");
    let path = dir.path().join("keys.json");
    let a = TestKey::new("Key A", "profile:read");
    let b = TestKey::new("Key B", "profile:read");
    let c = TestKey::new("Key C", "profile:read");
    KeysFile::from_entries(vec![a.entry.clone(), b.entry.clone()])
        .save(&path)
        .expect("save");
    let mut server = DemoServer::start(&["--keys", path.to_str().expect("utf-8 path")]);
    let server_url = server.url("/v1/profile");
    assert_eq!(status(&server, &a).await, StatusCode::OK);
    assert_eq!(status(&server, &c).await, StatusCode::UNAUTHORIZED);

    // Key B is used continuously, over one kept-alive connection, while
    // everything below happens: not one of its requests may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let load = tokio::spawn({
        let (stop, sent, failed) = (Arc::clone(&stop), Arc::clone(&sent), Arc::clone(&failed));
        let bearer = b.bearer();
        async move {
            let client = http_client(false);
            while !stop.load(Ordering::SeqCst) {
                let request = Request::get(&server_url)
                    .header("authorization", &bearer)
                    .body(Full::new(Bytes::new()))
                    .expect("valid request");
                let (parts, _) = send(&client, request).await;
                sent.fetch_add(1, Ordering::SeqCst);
                if parts.status != StatusCode::OK {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    });

    // 1. Revoke A in the file: refused from the next request on.
    KeysFile::from_entries(vec![a.entry.clone().with_revoked(true), b.entry.clone()])
        .save(&path)
        .expect("save");
    server.signal("HUP");
    wait_for_reloads(&server, "SIGHUP: keys file reloaded", 1);
    assert_eq!(status(&server, &a).await, StatusCode::UNAUTHORIZED);
    assert!(
        server
            .stderr
            .wait_for("active=1 revoked=1", Duration::from_secs(5))
            .is_some()
    );

    // 2. Remove A entirely and add C.
    KeysFile::from_entries(vec![b.entry.clone(), c.entry.clone()])
        .save(&path)
        .expect("save");
    server.signal("HUP");
    wait_for_reloads(&server, "SIGHUP: keys file reloaded", 2);
    assert_eq!(status(&server, &a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&server, &c).await, StatusCode::OK);

    // 3. A broken file: an error naming the problem, the old keys stay.
    std::fs::write(&path, "{\"keys\": [").expect("write");
    server.signal("HUP");
    wait_for_reloads(&server, "SIGHUP: keys file reload failed", 1);
    let line = server
        .stderr
        .wait_for("reload failed", Duration::from_secs(1))
        .expect("error line");
    assert!(line.contains("invalid JSON"), "{line}");
    assert_eq!(status(&server, &c).await, StatusCode::OK);

    // 4. A file repeating an id: refused, naming the entry.
    let twice = KeysFile::from_entries(vec![b.entry.clone(), c.entry.clone(), c.entry.clone()]);
    std::fs::write(&path, twice.to_json()).expect("write");
    server.signal("HUP");
    wait_for_reloads(&server, "SIGHUP: keys file reload failed", 2);
    let lines = server.stderr.all();
    let line = lines
        .iter()
        .rev()
        .find(|l| l.contains("reload failed"))
        .expect("error line");
    assert!(
        line.contains("entry 2") && line.contains("is used twice"),
        "{line}"
    );
    assert_eq!(status(&server, &c).await, StatusCode::OK);
    assert_eq!(status(&server, &a).await, StatusCode::UNAUTHORIZED);

    stop.store(true, Ordering::SeqCst);
    load.await.expect("load task");
    assert!(
        sent.load(Ordering::SeqCst) > 20,
        "the load ran during the reloads"
    );
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "a valid key was refused during a reload"
    );
    assert!(server.is_running());
    for key in [&a, &b, &c] {
        assert!(!server.stderr.text().contains(&key.token));
    }
}
