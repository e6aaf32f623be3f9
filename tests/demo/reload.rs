//! Key lifecycle while serving: SIGHUP reloads the keys file in one atomic
//! swap, entry by entry. Revoked, removed and refused entries' keys fail
//! from the next request on, other keys keep working with no failed
//! request, a file that is not a keys file changes nothing, `/health` says
//! how the last reload went, and a reload never stalls other requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::server::{DemoServer, TestKey, http_client, send};
use crate::support::TempDir;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tower_bearer_auth::key_store::keys_file::KeysFile;

async fn status(server: &DemoServer, key: &TestKey) -> StatusCode {
    let request = Request::get(server.url("/v1/profile"))
        .header("authorization", key.bearer())
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    send(&http_client(false), request).await.0.status
}

async fn health(server: &DemoServer) -> serde_json::Value {
    let request = Request::get(server.url("/health"))
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    let (parts, body) = send(&http_client(false), request).await;
    assert_eq!(parts.status, StatusCode::OK);
    serde_json::from_slice(&body).expect("JSON")
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

    assert_eq!(health(&server).await["keys"]["outcome"], "ok");

    // 3. A file that is not JSON: an error naming the problem, nothing
    // changes, and /health says the keys in force differ from the file.
    std::fs::write(&path, "{\"keys\": [").expect("write");
    server.signal("HUP");
    wait_for_reloads(&server, "SIGHUP: keys file reload failed", 1);
    let line = server
        .stderr
        .wait_for("reload failed", Duration::from_secs(1))
        .expect("error line");
    assert!(line.contains("invalid JSON"), "{line}");
    assert_eq!(status(&server, &c).await, StatusCode::OK);
    let after_failure = health(&server).await;
    assert_eq!(after_failure["status"], "degraded");
    assert_eq!(after_failure["keys"]["outcome"], "failed");
    assert!(after_failure["keys"]["reloaded_at"].is_string());

    // 4. A file repeating an id: neither entry is put in force (which one
    // was meant cannot be known), each is named in the error log.
    let twice = KeysFile::from_entries(vec![b.entry.clone(), c.entry.clone(), c.entry.clone()]);
    std::fs::write(&path, twice.to_json()).expect("write");
    server.signal("HUP");
    wait_for_reloads(&server, "SIGHUP: keys file reloaded in part", 1);
    let refused: Vec<String> = server
        .stderr
        .all()
        .into_iter()
        .filter(|l| l.contains("entry refused"))
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused[0].contains(&format!(
            "entry 1 (id \"{}\"): `id` is also used by entry 2",
            c.entry.id()
        )),
        "{refused:?}"
    );
    assert_eq!(status(&server, &c).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&server, &a).await, StatusCode::UNAUTHORIZED);
    let partial = health(&server).await;
    assert_eq!(partial["status"], "degraded");
    assert_eq!(partial["keys"]["outcome"], "partial");
    assert!(
        !partial.to_string().contains(c.entry.id()),
        "/health names no key"
    );

    // 5. Fixed: every key in force again, /health ok.
    KeysFile::from_entries(vec![b.entry.clone(), c.entry.clone()])
        .save(&path)
        .expect("save");
    server.signal("HUP");
    // The fourth such line: "reloaded in part" (step 4) counts too.
    wait_for_reloads(&server, "SIGHUP: keys file reloaded", 4);
    assert_eq!(status(&server, &c).await, StatusCode::OK);
    assert_eq!(health(&server).await["status"], "ok");

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

/// Reading and parsing a 200,000-key file takes a while (seconds in a debug
/// build). It must not stall other requests meanwhile: every `/health`
/// request sent during the reload is answered within 100 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_reload_does_not_stall_other_requests() {
    let dir = TempDir::new("big-reload");
    let path = dir.path().join("keys.json");
    let probe = TestKey::new("Probe", "profile:read");
    KeysFile::from_entries(vec![probe.entry.clone()])
        .save(&path)
        .expect("save");
    let server = DemoServer::start(&["--keys", path.to_str().expect("utf-8 path")]);

    const BULK: u64 = 200_000;
    let mut entries = vec![probe.entry.clone()];
    entries.extend((0..BULK).map(|i| {
        // Distinct digests without hashing 200,000 tokens.
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
        bytes[24..].copy_from_slice(&i.to_le_bytes());
        tower_bearer_auth::KeyEntry::new(
            format!("key_bulk_{i:08}"),
            "Bulk",
            tower_bearer_auth::key_store::TokenDigest::from_bytes(bytes),
        )
    }));
    KeysFile::from_entries(entries).save(&path).expect("save");

    let client = http_client(false);
    let health = || {
        Request::get(server.url("/health"))
            .body(Full::new(Bytes::new()))
            .expect("valid request")
    };
    send(&client, health()).await; // a warm, kept-alive connection
    server.signal("HUP");
    let started = std::time::Instant::now();
    let mut worst = Duration::ZERO;
    let mut polls = 0;
    while server.stderr.count("SIGHUP: keys file reloaded") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no reload:\n{}",
            server.stderr.text()
        );
        let sent = std::time::Instant::now();
        let (parts, _) = send(&client, health()).await;
        assert_eq!(parts.status, StatusCode::OK);
        worst = worst.max(sent.elapsed());
        polls += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    println!(
        "200,000-key reload took {took:?}; {polls} /health requests meanwhile, the slowest {worst:?}"
    );
    assert!(polls >= 5, "the reload was too quick to observe ({took:?})");
    assert!(
        worst < Duration::from_millis(100),
        "a /health request waited {worst:?} during the reload"
    );
    assert!(
        server
            .stderr
            .wait_for("active=200001", Duration::from_secs(5))
            .is_some(),
        "{}",
        server.stderr.text()
    );
    assert_eq!(status(&server, &probe).await, StatusCode::OK);
}

/// The outside review's case: an edit that revokes a key and breaks
/// something else. If the file is still a keys file, the revocation holds
/// (and the broken entry's key fails too); if it is not (a trailing comma, a
/// half-written or deleted file), nothing changes and `/health` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_holds_whatever_else_the_edit_breaks() {
    let dir = TempDir::new("revoke-and-break");
    let path = dir.path().join("keys.json");
    let a = TestKey::new("Leaked", "profile:read");
    let b = TestKey::new("Typo", "profile:read");
    let c = TestKey::new("Fine", "profile:read");
    let all = || vec![a.entry.clone(), b.entry.clone(), c.entry.clone()];
    KeysFile::from_entries(all()).save(&path).expect("save");
    let server = DemoServer::start(&["--keys", path.to_str().expect("utf-8 path")]);
    let revoked_a = || {
        KeysFile::from_entries(vec![
            a.entry.clone().with_revoked(true),
            b.entry.clone(),
            c.entry.clone(),
        ])
        .to_json()
    };
    let edits = [
        // `"revoked": "true"` as a string: the entry is refused, so A fails.
        (
            "revoked as a string",
            KeysFile::from_entries(all()).to_json().replacen(
                "\"revoked\": false",
                "\"revoked\": \"true\"",
                1,
            ),
            [StatusCode::UNAUTHORIZED, StatusCode::OK, StatusCode::OK],
        ),
        // A typo'd field in another entry: A revoked, B refused, C fine.
        (
            "a typo elsewhere",
            revoked_a().replacen("\"scopes\"", "\"scope\"", 2).replacen(
                "\"scope\"",
                "\"scopes\"",
                1,
            ),
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::OK,
            ],
        ),
        // A duplicated entry: A revoked, both copies of C refused.
        (
            "a duplicate id",
            KeysFile::from_entries(vec![
                a.entry.clone().with_revoked(true),
                b.entry.clone(),
                c.entry.clone(),
                c.entry.clone(),
            ])
            .to_json(),
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::OK,
                StatusCode::UNAUTHORIZED,
            ],
        ),
    ];
    for (reloads, (name, text, expected)) in edits.into_iter().enumerate() {
        KeysFile::from_entries(all()).save(&path).expect("save");
        server.signal("HUP");
        wait_for_reloads(&server, "SIGHUP: keys file reloaded", 2 * reloads + 1);
        std::fs::write(&path, text).expect("write");
        server.signal("HUP");
        wait_for_reloads(&server, "SIGHUP: keys file reloaded", 2 * reloads + 2);
        for (key, expected) in [&a, &b, &c].into_iter().zip(expected) {
            assert_eq!(
                status(&server, key).await,
                expected,
                "{name}: {}",
                key.entry.label()
            );
        }
        assert_eq!(
            health(&server).await["keys"]["outcome"],
            "partial",
            "{name}"
        );
    }

    // Not a keys file any more: nothing changes (A was put back above and
    // stays accepted), the error log says why, /health says "failed".
    KeysFile::from_entries(all()).save(&path).expect("save");
    server.signal("HUP");
    wait_for_reloads(&server, "SIGHUP: keys file reloaded", 7);
    let revoking = revoked_a();
    let not_json = [
        ("a trailing comma", revoking.replacen(']', ",]", 1)),
        (
            "a half-written file",
            revoking[..revoking.len() / 2].to_owned(),
        ),
    ];
    for (failures, (name, text)) in not_json.into_iter().enumerate() {
        std::fs::write(&path, text).expect("write");
        server.signal("HUP");
        wait_for_reloads(&server, "SIGHUP: keys file reload failed", failures + 1);
        assert_eq!(status(&server, &a).await, StatusCode::OK, "{name}");
        let state = health(&server).await;
        assert_eq!(state["status"], "degraded", "{name}");
        assert_eq!(state["keys"]["outcome"], "failed", "{name}");
    }
    std::fs::remove_file(&path).expect("delete");
    server.signal("HUP");
    wait_for_reloads(&server, "SIGHUP: keys file reload failed", 3);
    assert!(server.stderr.text().contains("No such file or directory"));
    assert_eq!(health(&server).await["keys"]["outcome"], "failed");
    for key in [&a, &b, &c] {
        assert!(!server.stderr.text().contains(&key.token));
    }
}

/// A read that never returns (the path is a FIFO nobody writes, or a hung
/// file system) fails at the time limit; the server keeps serving, and the
/// next reload works once the read is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_hangs_fails_at_its_time_limit() {
    let dir = TempDir::new("reload-fifo");
    let path = dir.path().join("keys.json");
    let key = TestKey::new("Probe", "profile:read");
    KeysFile::from_entries(vec![key.entry.clone()])
        .save(&path)
        .expect("save");
    let server = DemoServer::start(&[
        "--keys",
        path.to_str().expect("utf-8 path"),
        "--reload-timeout",
        "300ms",
    ]);
    std::fs::remove_file(&path).expect("remove");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("run mkfifo");
    assert!(made.success());

    let sent = std::time::Instant::now();
    server.signal("HUP");
    wait_for_reloads(&server, "reading the file took too long", 1);
    let waited = sent.elapsed();
    println!("a reload blocked on a FIFO failed after {waited:?} (limit 300 ms)");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(status(&server, &key).await, StatusCode::OK);
    assert_eq!(health(&server).await["keys"]["outcome"], "failed");

    // While the first read is stuck, a second SIGHUP does not pile up
    // another blocked thread.
    server.signal("HUP");
    wait_for_reloads(&server, "the previous read has not returned yet", 1);

    // Release the stuck read (a writer opens and closes the FIFO), put a
    // real file back, and reload.
    drop(
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open the FIFO"),
    );
    std::thread::sleep(Duration::from_millis(100));
    std::fs::remove_file(&path).expect("remove the FIFO");
    KeysFile::from_entries(vec![key.entry.clone()])
        .save(&path)
        .expect("save");
    server.signal("HUP");
    wait_for_reloads(&server, "SIGHUP: keys file reloaded", 1);
    assert_eq!(health(&server).await["status"], "ok");
}
