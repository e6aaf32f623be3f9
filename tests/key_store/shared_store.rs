//! The shared key store on a real `redis-server`: propagation to several
//! replicas (measured), readiness, atomic admin writes, import and export,
//! and no Redis command per validation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tower_bearer_auth::key_store::{
    TokenDigest, admin::AdminError, keys_file::CheckedKeysFile, keys_file::KeysFile,
    redis::OutagePolicy, redis::RedisKeyWriter, redis::SharedKeyStore,
};
use tower_bearer_auth::{KeyEntry, KeyGenerator, ScopeSet, ValidationFailure};

use crate::support::redis::{RedisServer, command_calls};

pub(crate) const NAMESPACE: &str = "test";

/// A new key: its entry and its token.
pub(crate) fn new_key(label: &str) -> (KeyEntry, String) {
    let key = KeyGenerator::new().generate().expect("random source");
    let entry = KeyEntry::new(key.id(), label, key.digest())
        .with_scopes(ScopeSet::parse("profile:read").expect("valid"));
    (entry, key.token().expose().to_owned())
}

/// A replica of `url`, started and (when `wait`) loaded.
pub(crate) async fn replica(url: &str, max_staleness: Duration, wait: bool) -> SharedKeyStore {
    let store = SharedKeyStore::builder(url)
        .namespace(NAMESPACE)
        .max_staleness(max_staleness)
        .outage_policy(OutagePolicy::FailClosed)
        .start()
        .expect("start a replica");
    if wait {
        store
            .ready(Duration::from_secs(10))
            .await
            .expect("the replica loads");
    }
    store
}

/// What a replica answers for a token: `Ok`, or the failure.
pub(crate) fn answer(store: &SharedKeyStore, token: &str) -> Result<(), ValidationFailure> {
    store.verify(token).map(|_| ()).map_err(|e| e.failure())
}

/// Retries `write` until the writer reaches the node holding the key set
/// (a failover or a slot move takes a moment), at most 20 s.
pub(crate) async fn until_written<F, Fut>(what: &str, mut write: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, tower_bearer_auth::key_store::admin::AdminError>>,
{
    let started = Instant::now();
    loop {
        match write().await {
            Ok(version) => return version,
            Err(error) => {
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "{what}: {error}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Waits (up to `within`) until `store` accepts `kept` again (fresh after
/// a failover or a move), checking at every step that it never accepts
/// `revoked`; then that `revoked` is refused as invalid.
pub(crate) async fn until_fresh_refusing(
    store: &SharedKeyStore,
    kept: &str,
    revoked: &str,
    within: Duration,
) {
    let started = Instant::now();
    while answer(store, kept) != Ok(()) {
        assert_ne!(
            answer(store, revoked),
            Ok(()),
            "the revoked key was accepted"
        );
        assert!(started.elapsed() < within, "{:?}", store.status());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(answer(store, revoked), Err(ValidationFailure::Invalid));
}

/// Polls from a blocking thread (not a runtime worker, which the replicas'
/// sync tasks need) until `done` holds for every replica; the time it took.
pub(crate) async fn time_until(
    replicas: &[SharedKeyStore],
    within: Duration,
    done: impl Fn(&SharedKeyStore) -> bool + Send + Sync + 'static,
) -> Option<Duration> {
    let replicas = replicas.to_vec();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        while started.elapsed() < within {
            if replicas.iter().all(&done) {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        None
    })
    .await
    .expect("polling thread")
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Creations and revocations on 3 replicas: each is visible on all three
/// within 100 ms (p99) and 5 ms (p50) of the admin call returning, over
/// 200 of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_every_replica_within_the_bound() {
    let Some(redis) = RedisServer::start("propagation") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (first, _) = new_key("First");
    admin.insert(first).await.expect("initialise");
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(replica(&redis.url(), Duration::from_secs(5), true).await);
    }
    let [created, revoked] = propagation(
        &replicas,
        200,
        async |entry| admin.insert(entry).await,
        async |id| admin.revoke(&id).await,
    )
    .await;
    assert!(created.p50 <= Duration::from_millis(5), "{created:?}");
    assert!(revoked.p50 <= Duration::from_millis(5), "{revoked:?}");
    for times in [created, revoked] {
        assert!(times.p99 <= Duration::from_millis(100), "{times:?}");
    }
}

/// How long changes took to reach every replica.
#[derive(Debug)]
pub(crate) struct Spread {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

/// `changes` keys created through `insert` then revoked through `revoke`,
/// each timed from the writer's return until every one of `replicas`
/// answers accordingly; printed, and the creations' and revocations'
/// spreads returned.
pub(crate) async fn propagation(
    replicas: &[SharedKeyStore],
    changes: usize,
    mut insert: impl AsyncFnMut(KeyEntry) -> Result<u64, AdminError>,
    mut revoke: impl AsyncFnMut(String) -> Result<u64, AdminError>,
) -> [Spread; 2] {
    let mut created = Vec::new();
    let mut revoked = Vec::new();
    for _ in 0..changes {
        let (entry, token) = new_key("Propagation");
        let id = entry.id().to_owned();
        insert(entry).await.expect("insert");
        let token = Arc::new(token);
        let seen = {
            let token = Arc::clone(&token);
            time_until(replicas, Duration::from_secs(2), move |r| {
                answer(r, &token).is_ok()
            })
            .await
        };
        created.push(seen.expect("the new key reaches every replica"));
        revoke(id).await.expect("revoke");
        let gone = time_until(replicas, Duration::from_secs(2), move |r| {
            answer(r, &token) == Err(ValidationFailure::Invalid)
        })
        .await;
        revoked.push(gone.expect("the revocation reaches every replica"));
    }
    [("creation", created), ("revocation", revoked)].map(|(what, mut times)| {
        times.sort();
        let (p50, p99, max) = (
            percentile(&times, 0.50),
            percentile(&times, 0.99),
            times[times.len() - 1],
        );
        println!(
            "{what} visible on all {} replicas, {} changes: p50 {p50:?}, p99 {p99:?}, max {max:?}",
            replicas.len(),
            times.len()
        );
        Spread { p50, p99 }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_answers_503_until_its_first_load_and_the_first_write_initialises() {
    let Some(redis) = RedisServer::start("readiness") else {
        return;
    };
    // Nothing in Redis yet: the replica cannot know any key, so it refuses
    // every token with 503, never 401.
    let store = replica(&redis.url(), Duration::from_secs(5), false).await;
    let (entry, token) = new_key("Initialises");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(answer(&store, &token), Err(ValidationFailure::Unavailable));
    assert_eq!(
        answer(&store, "sk_unknown"),
        Err(ValidationFailure::Unavailable)
    );
    let not_ready = store
        .ready(Duration::from_millis(100))
        .await
        .expect_err("not ready");
    assert!(
        not_ready.to_string().contains("no initialised key store"),
        "{not_ready}"
    );
    assert_eq!(store.status().state.as_str(), "loading");

    // The first write initialises the store; the replica follows.
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let version = admin.insert(entry).await.expect("insert");
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(3))
            .await
    );
    store.ready(Duration::from_secs(3)).await.expect("ready");
    assert_eq!(answer(&store, &token), Ok(()));
    assert_eq!(
        answer(&store, "sk_unknown"),
        Err(ValidationFailure::Invalid)
    );
    let status = store.status();
    assert_eq!((status.state.as_str(), status.counts.active), ("fresh", 1));
}

/// 1,000 concurrent inserts of one id from two admins: exactly one wins.
/// And concurrent read-modify-writes of one key lose no change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_atomic() {
    let Some(redis) = RedisServer::start("atomic") else {
        return;
    };
    let admins = [
        Arc::new(
            RedisKeyWriter::connect(&redis.url(), NAMESPACE)
                .await
                .expect("connect"),
        ),
        Arc::new(
            RedisKeyWriter::connect(&redis.url(), NAMESPACE)
                .await
                .expect("connect"),
        ),
    ];
    let mut tasks = Vec::new();
    for i in 0..1_000 {
        let admin = Arc::clone(&admins[i % 2]);
        tasks.push(tokio::spawn(async move {
            let entry = KeyEntry::new(
                "key_contended",
                format!("Attempt {i}"),
                TokenDigest::of(&format!("sk_attempt_{i}")),
            );
            admin.insert(entry).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => won += 1,
            Err(AdminError::DuplicateId { .. }) => {}
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!(won, 1, "exactly one insert wins");

    // 2 admins × 50 read-modify-writes of one key, each adding its own
    // scope: all 100 land (compare-and-set loses none).
    let mut tasks = Vec::new();
    for i in 0..100 {
        let admin = Arc::clone(&admins[i % 2]);
        tasks.push(tokio::spawn(async move {
            admin
                .update("key_contended", |entry| {
                    let mut scopes: Vec<String> =
                        entry.scopes().iter().map(str::to_owned).collect();
                    scopes.push(format!("writer_{i}"));
                    Ok(entry.with_scopes(ScopeSet::new(scopes).expect("valid scopes")))
                })
                .await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("update");
    }
    let entry = admins[0]
        .get("key_contended")
        .await
        .expect("get")
        .expect("the key");
    assert_eq!(entry.scopes().iter().count(), 100);
}

/// Validations never talk to Redis: 100,000 of them (half unknown tokens)
/// add no command beyond the sync task's heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validations_send_no_command_to_redis() {
    let Some(redis) = RedisServer::start("commandstats") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let mut tokens = Vec::new();
    for i in 0..100 {
        let (entry, token) = new_key(&format!("Key {i}"));
        admin.insert(entry).await.expect("insert");
        tokens.push(token);
    }
    let store = replica(&redis.url(), Duration::from_secs(5), true).await;
    let client = redis.client();
    let before = command_calls(&client).await;
    let started = Instant::now();
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..100_000 {
        let token = if i % 2 == 0 {
            tokens[i % tokens.len()].clone()
        } else {
            format!("sk_unknown_{i}")
        };
        match answer(&store, &token) {
            Ok(()) => accepted += 1,
            Err(_) => refused += 1,
        }
    }
    let elapsed = started.elapsed();
    let after = command_calls(&client).await;
    assert_eq!((accepted, refused), (50_000, 50_000));
    let delta: Vec<(String, u64)> = after
        .iter()
        .map(|(name, calls)| (name.clone(), calls - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, calls)| *calls > 0)
        .collect();
    println!("100,000 validations in {elapsed:?}; Redis commands meanwhile: {delta:?}");
    // The heartbeat: one XREAD + GET + GET per round, a round per second
    // (block 1 s at max_staleness 5 s); the INFO call itself.
    let allowed_rounds = elapsed.as_secs() + 2;
    for (name, calls) in &delta {
        match name.as_str() {
            "xread" => assert!(*calls <= allowed_rounds, "{calls} XREADs"),
            "get" => assert!(*calls <= 2 * allowed_rounds, "{calls} GETs"),
            "info" => {}
            other => panic!("a validation sent {other} to Redis ({calls} calls)"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_round_trip_and_replace() {
    let Some(redis) = RedisServer::start("import") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (a, token_a) = new_key("A");
    let (b, token_b) = new_key("B");
    let (c, token_c) = new_key("C");
    let report = admin
        .import(&KeysFile::from_entries(vec![a.clone(), b.clone()]), false)
        .await
        .expect("import");
    assert_eq!((report.inserted, report.updated, report.removed), (2, 0, 0));
    let store = replica(&redis.url(), Duration::from_secs(5), true).await;
    assert_eq!(answer(&store, &token_a), Ok(()));

    // Import again: B revoked, C new, A unchanged; without `replace` keys
    // absent from the file stay.
    let report = admin
        .import(
            &KeysFile::from_entries(vec![b.clone().with_revoked(true), c.clone()]),
            false,
        )
        .await
        .expect("import");
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (1, 1, 0)
    );
    assert!(
        store
            .wait_for_version(report.version, Duration::from_secs(3))
            .await
    );
    assert_eq!(answer(&store, &token_a), Ok(()));
    assert_eq!(answer(&store, &token_b), Err(ValidationFailure::Invalid));
    assert_eq!(answer(&store, &token_c), Ok(()));

    // With `replace`, keys absent from the file are removed.
    let exported = admin.export().await.expect("export");
    assert_eq!(exported.entries().len(), 3);
    let report = admin
        .import(&KeysFile::from_entries(vec![c.clone()]), true)
        .await
        .expect("import");
    assert_eq!((report.unchanged, report.removed), (1, 2));
    assert!(
        store
            .wait_for_version(report.version, Duration::from_secs(3))
            .await
    );
    assert_eq!(answer(&store, &token_a), Err(ValidationFailure::Invalid));
    assert_eq!(store.entries().len(), 1);

    // The export restores everything.
    let report = admin.import(&exported, true).await.expect("restore");
    assert!(
        store
            .wait_for_version(report.version, Duration::from_secs(3))
            .await
    );
    assert_eq!(answer(&store, &token_a), Ok(()));
    assert_eq!(answer(&store, &token_b), Err(ValidationFailure::Invalid));
    // Redis holds digests, never tokens.
    let mut con = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let dump: Vec<String> = redis::cmd("HVALS")
        .arg("{tba:test}:keys")
        .query_async(&mut con)
        .await
        .expect("HVALS");
    let dump = dump.join("\n");
    for token in [&token_a, &token_b, &token_c] {
        assert!(!dump.contains(token.as_str()));
    }
}

/// Startup with 10,000 keys in Redis: the replica loads them in under
/// 200 ms. Measured here in the test build and printed; the release figure
/// is in BENCHMARKS.md (`benches/shared_store.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_loads_ten_thousand_keys_quickly() {
    let Some(redis) = RedisServer::start("startup") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let entries: Vec<KeyEntry> = (0..10_000)
        .map(|i| {
            KeyEntry::new(
                format!("key_{i:05}"),
                "Bulk",
                TokenDigest::of(&format!("sk_bulk_{i}")),
            )
        })
        .collect();
    admin
        .import(&KeysFile::from_entries(entries), false)
        .await
        .expect("import");
    let started = Instant::now();
    let store = replica(&redis.url(), Duration::from_secs(5), true).await;
    let took = started.elapsed();
    println!("a replica started and loaded 10,000 keys in {took:?}");
    assert_eq!(store.status().counts.active, 10_000);
    assert_eq!(answer(&store, "sk_bulk_9999"), Ok(()));
    // The test build is unoptimized; this guards against a regression
    // (the release figure is the one measured against 200 ms).
    assert!(took <= Duration::from_secs(1), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_uses_are_flushed_keeping_the_later_minute() {
    let Some(redis) = RedisServer::start("last-use") else {
        return;
    };
    let url = redis.url();
    let admin = RedisKeyWriter::connect(&url, NAMESPACE)
        .await
        .expect("connect");
    let (used, used_token) = new_key("Used Here");
    let (seen_later, seen_later_token) = new_key("Used Later Elsewhere");
    let (gone, gone_token) = new_key("Deleted");
    let mut version = 0;
    for entry in [&used, &seen_later, &gone] {
        version = admin.insert(entry.clone()).await.expect("insert");
    }
    let store = replica(&url, Duration::from_secs(5), true).await;
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(2))
            .await
    );
    for token in [&used_token, &seen_later_token, &gone_token] {
        assert!(answer(&store, token).is_ok());
    }
    let minute = store
        .entry(used.id())
        .and_then(|e| e.last_used_at())
        .expect("noted in memory");
    let minute = minute
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        / 60;

    // Another replica flushed a later use of one key; the third key is
    // deleted, and the replica flushes after applying the deletion (it
    // flushes only the keys it holds).
    let mut con = redis.client().get_connection().expect("connect");
    let later = minute + 90;
    redis::cmd("HSET")
        .arg(format!("{{tba:{NAMESPACE}}}:used"))
        .arg(seen_later.id())
        .arg(later)
        .query::<()>(&mut con)
        .expect("HSET");
    let version = admin.remove(gone.id()).await.expect("remove");
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(2))
            .await
    );

    assert!(
        store.flush_last_uses(Duration::from_secs(5)).await,
        "flushed"
    );
    let flushed = admin.last_uses().await.expect("read");
    println!("flushed last uses: {flushed:?} (this replica's minute: {minute})");
    assert_eq!(flushed.get(used.id()).copied().map(u64::from), Some(minute));
    assert_eq!(
        flushed.get(seen_later.id()).copied().map(u64::from),
        Some(later),
        "the later minute is kept"
    );
    assert!(!flushed.contains_key(gone.id()), "a deleted key stays gone");
}

/// An import batch is checked whole before any of it is written: a hash
/// another key holds refuses the batch (named by the key's id) and
/// writes nothing of it. A checked file (read again entry by entry)
/// imports as the same file in memory does.
#[tokio::test]
async fn an_import_batch_is_all_or_nothing_and_a_checked_file_imports_alike() {
    let Some(redis) = RedisServer::start("import-batch") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (held, _) = new_key("Held");
    admin.insert(held.clone()).await.expect("insert");
    let before = admin.version().await.expect("version");
    let (fresh, _) = new_key("Fresh");
    let thief = KeyEntry::new("key_thief", "Thief", *held.digest());
    let refused = admin
        .import(&KeysFile::from_entries(vec![fresh.clone(), thief]), false)
        .await
        .expect_err("a held hash");
    assert_eq!(
        refused,
        AdminError::DuplicateDigest {
            id: "key_thief".to_owned()
        }
    );
    assert_eq!(admin.version().await.expect("version"), before);
    assert_eq!(admin.get(fresh.id()).await.expect("read"), None);
    // Given twice in one batch (a file never checked): refused, nothing
    // of the batch written.
    let (twin, _) = new_key("Twin");
    let twice = [
        (
            vec![
                fresh.clone(),
                twin.clone(),
                KeyEntry::new("key_twin2", "T", *twin.digest()),
            ],
            AdminError::DuplicateDigest {
                id: "key_twin2".to_owned(),
            },
        ),
        (
            vec![
                fresh.clone(),
                twin.clone(),
                twin.clone().with_label("Again"),
            ],
            AdminError::DuplicateId {
                id: twin.id().to_owned(),
            },
        ),
    ];
    for (entries, expected) in twice {
        let refused = admin
            .import(&KeysFile::from_entries(entries), false)
            .await
            .expect_err("given twice");
        assert_eq!(refused, expected);
        assert_eq!(admin.version().await.expect("version"), before);
    }

    // The same keys through a checked file on disk, with `replace`.
    let (other, _) = new_key("Other");
    let dir = crate::support::TempDir::new("import-checked");
    let path = dir.path().join("keys.json");
    let file = KeysFile::from_entries(vec![fresh.clone(), other.clone()]);
    std::fs::write(&path, file.to_json()).expect("write the file");
    let checked = CheckedKeysFile::load(&path).expect("a valid file");
    assert_eq!(checked.len(), 2);
    let report = admin.import_checked(&checked, true).await.expect("import");
    assert_eq!(
        (
            report.inserted,
            report.updated,
            report.unchanged,
            report.removed
        ),
        (2, 0, 0, 1)
    );
    let again = admin.import_checked(&checked, true).await.expect("again");
    assert_eq!((again.unchanged, again.version), (2, report.version));
    let mut ids: Vec<String> = admin
        .export()
        .await
        .expect("export")
        .into_entries()
        .into_iter()
        .map(|entry| entry.id().to_owned())
        .collect();
    ids.sort();
    let mut expected = vec![fresh.id().to_owned(), other.id().to_owned()];
    expected.sort();
    assert_eq!(ids, expected);
}
