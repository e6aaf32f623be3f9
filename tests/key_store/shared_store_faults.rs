//! The shared key store when Redis misbehaves, with the real process: a
//! replica cut off by a frozen relay, Redis killed and restarted with its
//! append-only file, restarted empty, restarted from an older backup,
//! stopped with SIGSTOP, and a change log trimmed under a disconnected
//! replica. Times printed are measured.

use std::time::{Duration, Instant};

use tower_bearer_auth::ValidationFailure;
use tower_bearer_auth::key_store::{redis::RedisKeyWriter, redis::SharedKeyStore};

use super::shared_store::{NAMESPACE, answer, new_key, replica};
use crate::support::redis::{RedisServer, Relay};

/// Watches a replica's answer for a token from a blocking thread, every
/// millisecond, and records each change of answer with its time.
fn watch(
    store: &SharedKeyStore,
    token: &str,
    from: Instant,
    for_how_long: Duration,
) -> std::thread::JoinHandle<Vec<(Duration, Result<(), ValidationFailure>)>> {
    let store = store.clone();
    let token = token.to_owned();
    std::thread::spawn(move || {
        let mut changes: Vec<(Duration, Result<(), ValidationFailure>)> = Vec::new();
        while from.elapsed() < for_how_long {
            let now = answer(&store, &token);
            if changes.last().is_none_or(|(_, last)| *last != now) {
                changes.push((from.elapsed(), now));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        changes
    })
}

async fn settle(store: &SharedKeyStore, token: &str, expected: Result<(), ValidationFailure>) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while answer(store, token) != expected {
        assert!(
            Instant::now() < deadline,
            "never {expected:?}: {:?}",
            store.status()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// B4: a replica cut off from Redis never accepts a key revoked meanwhile:
/// it answers 503 from `max_staleness` (+ 100 ms) after its last proof of
/// freshness, and 401 within 1 s of being reconnected. The replicas that
/// still reach Redis refuse the key at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_never_accepts_a_key_revoked_meanwhile() {
    let Some(redis) = RedisServer::start("partition") else {
        return;
    };
    let relay = Relay::start(redis.socket());
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (entry, token) = new_key("Leaks Soon");
    let id = entry.id().to_owned();
    admin.insert(entry).await.expect("insert");
    let max_staleness = Duration::from_millis(500);
    let cut_off = replica(&relay.url(), max_staleness, true).await;
    let connected = replica(&redis.url(), max_staleness, true).await;
    assert_eq!(answer(&cut_off, &token), Ok(()));

    let frozen_at = Instant::now();
    relay.freeze();
    let watcher = watch(&cut_off, &token, frozen_at, Duration::from_millis(1_500));
    let version = admin.revoke(&id).await.expect("revoke");
    assert!(
        connected
            .wait_for_version(version, Duration::from_secs(1))
            .await
    );
    assert_eq!(answer(&connected, &token), Err(ValidationFailure::Invalid));
    let changes = watcher.join().expect("watcher");
    println!("cut-off replica after the freeze (ms, answer): {changes:?}");
    let first_503 = changes
        .iter()
        .find(|(_, a)| *a == Err(ValidationFailure::Unavailable))
        .map(|(at, _)| *at)
        .expect("the cut-off replica turns to 503");
    assert!(
        first_503 <= max_staleness + Duration::from_millis(100),
        "503 only after {first_503:?}"
    );
    assert!(
        !changes.iter().any(|(at, a)| *at >= first_503 && a.is_ok()),
        "accepted the key after turning unavailable"
    );

    let thawed_at = Instant::now();
    relay.thaw();
    settle(&cut_off, &token, Err(ValidationFailure::Invalid)).await;
    let recovered = thawed_at.elapsed();
    println!(
        "first 503 {first_503:?} after the freeze; revoked key refused with 401 {recovered:?} after the thaw"
    );
    assert!(recovered <= Duration::from_secs(1), "{recovered:?}");
}

/// B8: Redis killed with -9 and restarted on its append-only file within
/// `max_staleness`: no 503 at all, valid stays valid, revoked stays
/// revoked, and a revocation right after the restart propagates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_within_max_staleness_causes_no_503() {
    let Some(mut redis) = RedisServer::start("restart") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (valid, valid_token) = new_key("Valid");
    let (revoked, revoked_token) = new_key("Revoked");
    admin.insert(valid.clone()).await.expect("insert");
    admin
        .insert(revoked.clone().with_revoked(true))
        .await
        .expect("insert");
    let store = replica(&redis.url(), Duration::from_secs(3), true).await;

    let started = Instant::now();
    let valid_watch = watch(&store, &valid_token, started, Duration::from_millis(3_000));
    let revoked_watch = watch(
        &store,
        &revoked_token,
        started,
        Duration::from_millis(3_000),
    );
    redis.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.start_again();
    let restarted = Instant::now();
    settle_fresh(&store, Duration::from_secs(1)).await;
    let fresh_after = restarted.elapsed();
    let valid_answers = valid_watch.join().expect("watcher");
    let revoked_answers = revoked_watch.join().expect("watcher");
    println!(
        "Redis down 1 s: valid key answers {valid_answers:?}; revoked key answers {revoked_answers:?}; fresh again {fresh_after:?} after the restart"
    );
    assert_eq!(valid_answers.len(), 1, "the valid key always passed");
    assert_eq!(valid_answers[0].1, Ok(()));
    assert_eq!(revoked_answers.len(), 1);
    assert_eq!(revoked_answers[0].1, Err(ValidationFailure::Invalid));

    // The admin reconnects; a revocation made now reaches the replica.
    let version = admin
        .revoke(valid.id())
        .await
        .expect("revoke after the restart");
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(1))
            .await
    );
    assert_eq!(
        answer(&store, &valid_token),
        Err(ValidationFailure::Invalid)
    );
}

async fn settle_fresh(store: &SharedKeyStore, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        // Fresh means proven after the restart: the proof is younger than
        // the time since we started waiting.
        let status = store.status();
        if status.state.as_str() == "fresh" && status.last_error.is_none() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not fresh in {within:?}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// B9: an outage longer than `max_staleness`: 503 for every token from
/// `max_staleness` + 100 ms, and back to 200 / 401 within 1 s of Redis
/// returning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_is_503_then_recovers() {
    let Some(mut redis) = RedisServer::start("outage") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (valid, token) = new_key("Valid");
    admin.insert(valid).await.expect("insert");
    let max_staleness = Duration::from_millis(500);
    let store = replica(&redis.url(), max_staleness, true).await;
    let started = Instant::now();
    let watcher = watch(&store, &token, started, Duration::from_millis(2_000));
    redis.kill();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    redis.start_again();
    let back = Instant::now();
    settle(&store, &token, Ok(())).await;
    let recovered = back.elapsed();
    let changes = watcher.join().expect("watcher");
    println!(
        "Redis down 1.5 s, max_staleness 500 ms: {changes:?}; 200 again {recovered:?} after Redis returned"
    );
    let first_503 = changes
        .iter()
        .find(|(_, a)| *a == Err(ValidationFailure::Unavailable))
        .map(|(at, _)| *at)
        .expect("503 during the outage");
    assert!(
        first_503 <= max_staleness + Duration::from_millis(100),
        "{first_503:?}"
    );
    assert!(recovered <= Duration::from_secs(1), "{recovered:?}");
    assert_eq!(
        answer(&store, "sk_unknown"),
        Err(ValidationFailure::Invalid)
    );
}

/// B10: a half-open connection (Redis stopped with SIGSTOP: connections
/// stay open, nothing answers) is 503 at `max_staleness`, and recovers
/// within 1 s of SIGCONT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_is_503_then_recovers() {
    let Some(redis) = RedisServer::start("sigstop") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (valid, token) = new_key("Valid");
    admin.insert(valid).await.expect("insert");
    let max_staleness = Duration::from_millis(500);
    let store = replica(&redis.url(), max_staleness, true).await;
    let started = Instant::now();
    let watcher = watch(&store, &token, started, Duration::from_millis(2_500));
    redis.pause();
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.resume();
    let resumed = Instant::now();
    settle(&store, &token, Ok(())).await;
    let recovered = resumed.elapsed();
    let changes = watcher.join().expect("watcher");
    println!("Redis stopped 2 s: {changes:?}; 200 again {recovered:?} after SIGCONT");
    let first_503 = changes
        .iter()
        .find(|(_, a)| *a == Err(ValidationFailure::Unavailable))
        .map(|(at, _)| *at)
        .expect("503 while stopped");
    assert!(
        first_503 <= max_staleness + Duration::from_millis(100),
        "{first_503:?}"
    );
    assert!(recovered <= Duration::from_secs(1), "{recovered:?}");
}

/// B11: Redis back with no data (no persistence, or `FLUSHALL`): 503, never
/// "every key is 401"; importing the exported keys file brings every
/// replica back within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_back_empty_is_503_until_the_keys_are_imported() {
    let Some(mut redis) = RedisServer::start("data-loss") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (valid, token) = new_key("Valid");
    admin.insert(valid).await.expect("insert");
    let backup = admin.export().await.expect("export");
    let store = replica(&redis.url(), Duration::from_millis(500), true).await;
    redis.kill();
    redis.start_again_empty();
    let emptied = Instant::now();
    settle(&store, &token, Err(ValidationFailure::Unavailable)).await;
    let unavailable_after = emptied.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        answer(&store, &token),
        Err(ValidationFailure::Unavailable),
        "never 401 for a key the replica cannot check"
    );
    assert!(
        unavailable_after <= Duration::from_secs(2),
        "{unavailable_after:?}"
    );
    let status = store.status();
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("no initialised key store")),
        "{status:?}"
    );

    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("reconnect");
    let imported_at = Instant::now();
    let report = admin.import(&backup, true).await.expect("import");
    assert!(
        store
            .wait_for_version(report.version, Duration::from_secs(1))
            .await
    );
    settle(&store, &token, Ok(())).await;
    println!(
        "Redis back empty: 503 after {unavailable_after:?}; keys back {:?} after the import",
        imported_at.elapsed()
    );
    assert!(imported_at.elapsed() <= Duration::from_secs(2));
}

/// B3: a replica disconnected while the log it needs is trimmed converges
/// by a full resync once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_behind_a_trimmed_log_resyncs_in_full() {
    let Some(redis) = RedisServer::start("trimmed") else {
        return;
    };
    let relay = Relay::start(redis.socket());
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (first, first_token) = new_key("First");
    admin.insert(first.clone()).await.expect("insert");
    let store = replica(&relay.url(), Duration::from_secs(5), true).await;
    relay.freeze();
    let mut added = Vec::new();
    for i in 0..50 {
        let (entry, token) = new_key(&format!("Added {i}"));
        admin.insert(entry).await.expect("insert");
        added.push(token);
    }
    admin.revoke(first.id()).await.expect("revoke");
    let mut con = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let _: u64 = redis::cmd("XTRIM")
        .arg("{tba:test}:log")
        .arg("MAXLEN")
        .arg(0)
        .query_async(&mut con)
        .await
        .expect("XTRIM");
    let version = admin.version().await.expect("version");
    relay.thaw();
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(5))
            .await,
        "{:?}",
        store.status()
    );
    assert_eq!(
        answer(&store, &first_token),
        Err(ValidationFailure::Invalid)
    );
    for token in &added {
        assert_eq!(answer(&store, token), Ok(()));
    }
}

/// With a Redis user that may only read (and record last uses), a replica
/// syncs and flushes its last uses, and an admin cannot write: a
/// compromised API server cannot mint keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_redis_user_can_sync_but_not_write() {
    let Some(redis) = RedisServer::start("acl") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (valid, token) = new_key("Valid");
    admin.insert(valid).await.expect("insert");
    let mut con = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("replica")
        .arg("on")
        .arg(">replica-password")
        // Read every key of the store; write one hash (last uses) with one
        // command, through the script.
        .arg("%R~{tba:*}*")
        .arg("%RW~{tba:*}:used")
        .arg("+@read")
        .arg("+@transaction")
        .arg("+ping")
        .arg("+hello")
        .arg("+client|setname")
        .arg("+evalsha")
        .arg("+eval")
        .arg("+script|load")
        .arg("+hset")
        .query_async(&mut con)
        .await
        .expect("ACL SETUSER");
    let url = format!("{}?user=replica&pass=replica-password", redis.url());
    let store = replica(&url, Duration::from_secs(5), true).await;
    assert_eq!(answer(&store, &token), Ok(()));
    assert!(
        store.flush_last_uses(Duration::from_secs(5)).await,
        "flushed"
    );
    let flushed = admin.last_uses().await.expect("read");
    assert_eq!(flushed.len(), 1, "{flushed:?}");
    let read_only = RedisKeyWriter::connect(&url, NAMESPACE)
        .await
        .expect("connect");
    let (entry, _) = new_key("Minted");
    let refused = read_only
        .insert(entry)
        .await
        .expect_err("no write permission");
    assert!(
        refused.to_string().to_lowercase().contains("noperm"),
        "{refused}"
    );
    // Nor through a script of its own.
    let mut replica_con = redis::Client::open(url.as_str())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let forged: Result<i64, _> = redis::cmd("EVAL")
        .arg("return redis.call('HSET', KEYS[1], 'forged', '{}')")
        .arg(1)
        .arg(format!("{{tba:{NAMESPACE}}}:keys"))
        .query_async(&mut replica_con)
        .await;
    let forged = forged.expect_err("no write permission on the key set");
    assert!(
        forged.to_string().to_lowercase().contains("noperm")
            || forged.to_string().contains("No permissions"),
        "{forged}"
    );
}

/// Redis restarted from a backup older than an acknowledged revocation:
/// no replica accepts the revoked key at any moment, none proves itself
/// fresh on the older state (503 after `max_staleness`, the versions in
/// its status), and writes that move the store past the replicas bring
/// them back, the revocation still in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restored_from_an_older_backup_never_unrevokes() {
    let Some(mut redis) = RedisServer::start("restored") else {
        return;
    };
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (revoked, revoked_token) = new_key("Revoked later");
    let (kept, kept_token) = new_key("Kept");
    admin.insert(revoked.clone()).await.expect("insert");
    admin.insert(kept).await.expect("insert");
    redis.kill();
    redis.save_data("before-revocation");
    redis.start_again();
    let max_staleness = Duration::from_millis(500);
    let replicas = [
        replica(&redis.url(), max_staleness, true).await,
        replica(&redis.url(), max_staleness, true).await,
    ];
    let version = admin.revoke(revoked.id()).await.expect("revoke");
    for store in &replicas {
        assert!(
            store
                .wait_for_version(version, Duration::from_secs(2))
                .await
        );
        assert_eq!(
            answer(store, &revoked_token),
            Err(ValidationFailure::Invalid)
        );
    }

    redis.kill();
    redis.restore_data("before-revocation");
    let started = Instant::now();
    let watchers: Vec<_> = replicas
        .iter()
        .map(|store| watch(store, &revoked_token, started, Duration::from_millis(3_000)))
        .collect();
    let kept_watchers: Vec<_> = replicas
        .iter()
        .map(|store| watch(store, &kept_token, started, Duration::from_millis(3_000)))
        .collect();
    redis.start_again();
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    for (watcher, kept_watcher) in watchers.into_iter().zip(kept_watchers) {
        let revoked_answers = watcher.join().expect("watcher");
        let kept_answers = kept_watcher.join().expect("watcher");
        println!("restored backup: revoked key {revoked_answers:?}; valid key {kept_answers:?}");
        assert!(
            revoked_answers.iter().all(|(_, answer)| answer.is_err()),
            "the revoked key was accepted: {revoked_answers:?}"
        );
        assert_eq!(
            kept_answers.last().map(|(_, answer)| *answer),
            Some(Err(ValidationFailure::Unavailable)),
            "the older state proves nothing: 503 after max_staleness"
        );
    }
    for store in &replicas {
        let status = store.status();
        let behind = status.source_behind.expect("the status says so");
        assert_eq!((behind.applied_version, behind.source_version), (3, 2));
        assert!(
            status
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("version 2")),
            "{status:?}"
        );
    }

    // Writes move the store past the replicas (here: the revocation made
    // again, and one more key): they load it, and the key stays revoked.
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    admin.revoke(revoked.id()).await.expect("revoke again");
    let (later, later_token) = new_key("Later");
    let version = admin.insert(later).await.expect("insert");
    for store in &replicas {
        assert!(
            store
                .wait_for_version(version, Duration::from_secs(3))
                .await
        );
        settle_fresh(store, Duration::from_secs(3)).await;
        assert_eq!(store.status().source_behind, None);
        assert_eq!(
            answer(store, &revoked_token),
            Err(ValidationFailure::Invalid)
        );
        assert_eq!(answer(store, &kept_token), Ok(()));
        assert_eq!(answer(store, &later_token), Ok(()));
    }
}
