//! The shared key store on a real Postgres (`initdb` in a temp dir, unix
//! socket): propagation to three replicas (measured), the writer's rules
//! (duplicates, compare-and-set, import and export), Postgres stopped and
//! back, a restore from an older dump (never un-revoke), hand-written bad
//! rows (fail safe), and no statement per validation (counted on the
//! server).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tower_bearer_auth::ValidationFailure;
use tower_bearer_auth::key_store::admin::AdminError;
use tower_bearer_auth::key_store::keys_file::KeysFile;
use tower_bearer_auth::key_store::postgres::{
    OutagePolicy, PostgresKeyWriter, PostgresStoreBuilder, SharedKeyStore,
};

use crate::shared_store::{NAMESPACE, answer, new_key, propagation};
use crate::support::postgres::PostgresServer;

/// A writer on `server`, with the schema applied.
async fn writer(server: &PostgresServer) -> PostgresKeyWriter {
    let writer = PostgresKeyWriter::new(&server.url(), NAMESPACE).expect("valid URL");
    writer.init().await.expect("apply the schema");
    writer
}

/// A replica of `server`, started and (when `wait`) loaded.
async fn replica(server: &PostgresServer, max_staleness: Duration, wait: bool) -> SharedKeyStore {
    let store = PostgresStoreBuilder::new(&server.url())
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

/// Creations and revocations on 3 replicas: each is visible on all three
/// within 100 ms (p99) of the writer's call returning, over 200 of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_three_replicas_within_the_bound() {
    let Some(server) = PostgresServer::start("propagation") else {
        return;
    };
    let admin = writer(&server).await;
    let (first, _) = new_key("First");
    admin.insert(first).await.expect("initialise");
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(replica(&server, Duration::from_secs(5), true).await);
    }
    let spreads = propagation(
        &replicas,
        200,
        async |entry| admin.insert(entry).await,
        async |id| admin.revoke(&id).await,
    )
    .await;
    for times in spreads {
        assert!(
            times.p99 <= Duration::from_millis(100),
            "Postgres: {times:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_refuses_duplicates_and_changes_by_compare_and_set() {
    let Some(server) = PostgresServer::start("writer") else {
        return;
    };
    let admin = writer(&server).await;
    // The schema again: nothing changes, no error.
    admin.init().await.expect("init is idempotent");
    let (entry, token) = new_key("Staging Server");
    let id = entry.id().to_owned();
    let v1 = admin.insert(entry.clone()).await.expect("insert");
    assert_eq!(v1, 1);
    assert!(matches!(
        admin.insert(entry.clone()).await,
        Err(AdminError::DuplicateId { .. })
    ));
    let (other, _) = new_key("Other");
    let same_digest = tower_bearer_auth::KeyEntry::new(other.id(), "Same hash", *entry.digest());
    assert!(matches!(
        admin.insert(same_digest).await,
        Err(AdminError::DuplicateDigest { .. })
    ));
    // Refused writes take no version.
    assert_eq!(admin.version().await.expect("version"), 1);

    // Concurrent changes of one key: every one lands (compare-and-set
    // retries), none is lost.
    let admin = Arc::new(admin);
    let mut tasks = Vec::new();
    for n in 0..8 {
        let admin = Arc::clone(&admin);
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            admin
                .update(&id, |entry| {
                    let label = format!("{} {n}", entry.label());
                    Ok(entry.with_label(&label))
                })
                .await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("update");
    }
    let label = admin
        .get(&id)
        .await
        .expect("get")
        .expect("exists")
        .label()
        .to_owned();
    for n in 0..8 {
        assert!(label.contains(&format!(" {n}")), "{label}");
    }
    assert_eq!(admin.version().await.expect("version"), 9);

    // A replica sees the last state; the token stays valid until revoked.
    let store = replica(&server, Duration::from_secs(5), true).await;
    assert_eq!(answer(&store, &token), Ok(()));
    let version = admin.revoke(&id).await.expect("revoke");
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(2))
            .await
    );
    assert_eq!(answer(&store, &token), Err(ValidationFailure::Invalid));
    assert!(matches!(
        admin.remove("key_missing").await,
        Err(AdminError::UnknownId { .. })
    ));
    let version = admin.remove(&id).await.expect("remove");
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(2))
            .await
    );
    assert_eq!(answer(&store, &token), Err(ValidationFailure::Invalid));
    assert_eq!(admin.get(&id).await.expect("get"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_export_round_trip() {
    let Some(server) = PostgresServer::start("import") else {
        return;
    };
    let admin = writer(&server).await;
    let mut entries = Vec::new();
    let mut tokens = Vec::new();
    for n in 0..4_500 {
        let (entry, token) = new_key(&format!("Imported {n}"));
        entries.push(entry);
        tokens.push(token);
    }
    let file = KeysFile::from_entries(entries.clone());
    let report = admin.import(&file, false).await.expect("import");
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (4_500, 0, 0)
    );
    assert_eq!(report.version, 4_500);
    let again = admin.import(&file, false).await.expect("import again");
    assert_eq!(
        (again.inserted, again.updated, again.unchanged),
        (0, 0, 4_500)
    );
    assert_eq!(again.version, 4_500, "an unchanged import takes no version");

    let store = replica(&server, Duration::from_secs(5), true).await;
    assert_eq!(store.status().counts.active, 4_500);
    assert_eq!(answer(&store, &tokens[4_321]), Ok(()));

    // Replace with the first 100 only: the rest go, every replica follows.
    let kept = KeysFile::from_entries(entries[..100].to_vec());
    let replaced = admin.import(&kept, true).await.expect("replace");
    assert_eq!((replaced.unchanged, replaced.removed), (100, 4_400));
    assert!(
        store
            .wait_for_version(replaced.version, Duration::from_secs(10))
            .await
    );
    assert_eq!(answer(&store, &tokens[50]), Ok(()));
    assert_eq!(
        answer(&store, &tokens[4_321]),
        Err(ValidationFailure::Invalid)
    );

    let exported = admin.export().await.expect("export");
    assert_eq!(exported.entries().len(), 100);
    let mut ids: Vec<&str> = exported
        .entries()
        .iter()
        .map(tower_bearer_auth::KeyEntry::id)
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = entries[..100]
        .iter()
        .map(tower_bearer_auth::KeyEntry::id)
        .collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);

    // An id twice in one batch refuses the batch.
    let (twice, _) = new_key("Twice");
    let doubled = KeysFile::from_entries(vec![twice.clone(), twice]);
    assert!(matches!(
        admin.import(&doubled, false).await,
        Err(AdminError::DuplicateId { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_postgres_is_503_within_max_staleness_then_fresh_again() {
    let Some(mut server) = PostgresServer::start("outage") else {
        return;
    };
    let admin = writer(&server).await;
    let (entry, token) = new_key("Outage");
    admin.insert(entry).await.expect("insert");
    let max_staleness = Duration::from_secs(1);
    let store = replica(&server, max_staleness, true).await;
    assert_eq!(answer(&store, &token), Ok(()));

    server.stop();
    let stopped = Instant::now();
    // Valid until the staleness bound, then 503: never 401.
    loop {
        match answer(&store, &token) {
            Ok(()) => assert!(
                stopped.elapsed() <= max_staleness + Duration::from_millis(100),
                "still accepted {:?} after the stop",
                stopped.elapsed()
            ),
            Err(ValidationFailure::Unavailable) => break,
            Err(other) => panic!("answered {other:?} during the outage"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "Postgres stopped: 503 after {:?} (max_staleness {max_staleness:?})",
        stopped.elapsed()
    );
    assert!(stopped.elapsed() <= max_staleness + Duration::from_millis(100));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(answer(&store, &token), Err(ValidationFailure::Unavailable));

    server.start_again();
    let back = Instant::now();
    while answer(&store, &token) != Ok(()) {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "{:?}",
            store.status()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("Postgres back: fresh again after {:?}", back.elapsed());
    // Writes work again through the same writer (it reconnects).
    let version = admin
        .revoke(&{
            let exported = admin.export().await.expect("export");
            exported.entries()[0].id().to_owned()
        })
        .await
        .expect("revoke after the restart");
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(2))
            .await
    );
    assert_eq!(answer(&store, &token), Err(ValidationFailure::Invalid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_from_an_older_dump_never_unrevokes() {
    let Some(server) = PostgresServer::start("restore") else {
        return;
    };
    let admin = writer(&server).await;
    let (entry, token) = new_key("Leaked");
    let (kept, kept_token) = new_key("Kept");
    let id = entry.id().to_owned();
    admin.insert(entry).await.expect("insert");
    admin.insert(kept).await.expect("insert");
    let dump = server.dump();
    let store = replica(&server, Duration::from_secs(1), true).await;
    let version = admin.revoke(&id).await.expect("revoke");
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(2))
            .await
    );
    assert_eq!(answer(&store, &token), Err(ValidationFailure::Invalid));

    // The database goes back to before the revocation.
    server.restore(&dump);
    let restored = Instant::now();
    while restored.elapsed() < Duration::from_secs(3) {
        assert_ne!(
            answer(&store, &token),
            Ok(()),
            "the revoked key was accepted"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = store.status();
    assert!(status.source_behind.is_some(), "{status:?}");
    // A source behind the replica proves nothing: past max_staleness
    // every key is 503 (never the restored "active"), until the keys are
    // imported again or the operator accepts the older state.
    assert_eq!(
        answer(&store, &kept_token),
        Err(ValidationFailure::Unavailable)
    );
    println!("after the restore: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_written_bad_rows_fail_safe() {
    let Some(server) = PostgresServer::start("bad-rows") else {
        return;
    };
    let admin = writer(&server).await;
    let (broken, broken_token) = new_key("Broken");
    let (good, good_token) = new_key("Good");
    admin.insert(broken.clone()).await.expect("insert");
    admin.insert(good).await.expect("insert");
    // A record edited by hand: the full load leaves its key out.
    server.psql(&format!(
        "UPDATE tba_key SET record = 'not a record' WHERE id = '{}'",
        broken.id()
    ));
    let store = replica(&server, Duration::from_secs(5), true).await;
    assert_eq!(
        answer(&store, &broken_token),
        Err(ValidationFailure::Invalid)
    );
    assert_eq!(answer(&store, &good_token), Ok(()));

    // A log row written by hand with a garbage record, at the next
    // version: the replica refuses that key, never serves a guess.
    let (late, late_token) = new_key("Late");
    let version = admin.insert(late.clone()).await.expect("insert");
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(2))
            .await
    );
    assert_eq!(answer(&store, &late_token), Ok(()));
    server.psql(&format!(
        "BEGIN; UPDATE tba_store SET version = version + 1; \
         INSERT INTO tba_log SELECT namespace, version, '{}', '{}', 'garbage' FROM tba_store; \
         SELECT pg_notify('tba_changes', '{NAMESPACE}'); COMMIT;",
        late.digest().to_hex(),
        late.id()
    ));
    let started = Instant::now();
    while answer(&store, &late_token) == Ok(()) {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            store.status()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(answer(&store, &good_token), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_sends_no_statement_to_postgres() {
    let Some(server) = PostgresServer::start("no-statements") else {
        return;
    };
    let admin = writer(&server).await;
    let (entry, token) = new_key("Counted");
    admin.insert(entry).await.expect("insert");
    let store = replica(&server, Duration::from_secs(20), true).await;
    let transactions = || -> u64 {
        // Statistics reach the view when a backend goes idle (at most a
        // second late); the replica's heartbeat is 1 s apart here.
        std::thread::sleep(Duration::from_millis(1_500));
        server
            .psql("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'postgres'")
            .parse()
            .expect("a count")
    };
    let before = transactions();
    let started = Instant::now();
    for _ in 0..10_000 {
        assert_eq!(answer(&store, &token), Ok(()));
        assert_eq!(
            answer(&store, "ais_unknown_token"),
            Err(ValidationFailure::Invalid)
        );
    }
    let took = started.elapsed();
    let after = transactions();
    // psql's own query counts once per call; the heartbeat at most once
    // a second of the test's time.
    let spent = after - before;
    println!(
        "20,000 validations in {took:?}: {spent} transactions on the server (psql's own and heartbeats included)"
    );
    assert!(spent < 20, "{spent} transactions for 20,000 validations");
}

/// Another history at the same version, as a failover to an asynchronous
/// standby that missed a write and took another can leave: the replica
/// finds that the log row it applied last is not there (its entry id
/// differs) and loads in full, instead of passing for fresh without the
/// new history's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_history_at_the_same_version_is_loaded_in_full() {
    let Some(server) = PostgresServer::start("history") else {
        return;
    };
    let admin = writer(&server).await;
    let (first, first_token) = new_key("First");
    let (lost, lost_token) = new_key("Lost in the failover");
    admin.insert(first).await.expect("insert");
    let version = admin.insert(lost.clone()).await.expect("insert");
    let store = replica(&server, Duration::from_secs(5), true).await;
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(2))
            .await
    );
    assert_eq!(answer(&store, &lost_token), Ok(()));
    let loads = store.status().full_loads;

    // The other history: version 2 is `taken` instead of `lost`, written by
    // hand in one transaction (the store's row, the key, the log row).
    let (taken, taken_token) = new_key("Taken by the new primary");
    let other = PostgresKeyWriter::new(&server.url(), "scratch").expect("valid URL");
    other.insert(taken.clone()).await.expect("insert elsewhere");
    server.psql(&format!(
        "BEGIN; \
         DELETE FROM tba_key WHERE namespace = '{NAMESPACE}' AND id = '{lost}'; \
         DELETE FROM tba_log WHERE namespace = '{NAMESPACE}' AND version = 2; \
         UPDATE tba_key SET namespace = '{NAMESPACE}' WHERE namespace = 'scratch'; \
         INSERT INTO tba_log (namespace, version, digest, id, record) \
           SELECT '{NAMESPACE}', 2, digest, id, record FROM tba_key WHERE id = '{taken}'; \
         SELECT pg_notify('tba_changes', '{NAMESPACE}'); COMMIT;",
        lost = lost.id(),
        taken = taken.id(),
    ));
    let started = Instant::now();
    while answer(&store, &taken_token) != Ok(()) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never loaded the other history: {:?}",
            store.status()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "another history at version 2 was loaded {:?} after it was written",
        started.elapsed()
    );
    assert!(store.status().full_loads > loads);
    assert_eq!(answer(&store, &lost_token), Err(ValidationFailure::Invalid));
    assert_eq!(answer(&store, &first_token), Ok(()));
}

/// An owner's keys revoked together (`update_many`: one transaction), one
/// version per key, the other owner's key and revoked keys left alone; a
/// replica sees all of them revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_many_revokes_an_owners_keys_in_one_transaction() {
    let Some(server) = PostgresServer::start("update-many") else {
        return;
    };
    let admin = writer(&server).await;
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for (label, owner) in [
        ("A1", "cus_a"),
        ("A2", "cus_a"),
        ("A3", "cus_a"),
        ("B1", "cus_b"),
    ] {
        let (entry, token) = new_key(label);
        ids.push(entry.id().to_owned());
        tokens.push(token);
        admin
            .insert(entry.with_owner(Some(owner.to_owned())))
            .await
            .expect("insert");
    }
    admin.revoke(&ids[2]).await.expect("revoke A3 first");
    let before = admin.version().await.expect("version");
    let (revoked, version) = admin
        .update_many(&ids, |entry| {
            (entry.owner() == Some("cus_a") && !entry.is_revoked())
                .then(|| entry.clone().with_revoked(true))
        })
        .await
        .expect("revoke cus_a");
    assert_eq!(revoked, 2, "A1 and A2 (A3 was revoked already)");
    assert_eq!(version, before + 2);
    for (id, expected) in ids.iter().zip([true, true, true, false]) {
        let entry = admin.get(id).await.expect("get").expect("the key");
        assert_eq!(entry.is_revoked(), expected, "{id}");
    }
    let store = replica(&server, Duration::from_secs(5), true).await;
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(2))
            .await
    );
    for (token, accepted) in tokens.iter().zip([false, false, false, true]) {
        assert_eq!(store.verify(token).is_ok(), accepted);
    }
}
