//! The shared store at 200,000 keys on a real `redis-server`: a pipelined
//! import, the first load, and a full resync during which the replica
//! keeps answering from its copy in force, proven fresh: not one 503 (a
//! timed contract; the times printed are measured, not asserted).

use std::time::{Duration, Instant};

use tower_bearer_auth::KeyEntry;
use tower_bearer_auth::ValidationFailure;
use tower_bearer_auth::key_store::TokenDigest;
use tower_bearer_auth::key_store::keys_file::KeysFile;
use tower_bearer_auth::key_store::redis::RedisKeyWriter;

use super::shared_store::{NAMESPACE, answer, replica};
use crate::support::redis::RedisServer;

const KEYS: usize = 200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_at_200_000_keys_answers_no_503() {
    let Some(redis) = RedisServer::start("scale") else {
        return;
    };
    let entries: Vec<KeyEntry> = (0..KEYS)
        .map(|n| {
            let token = format!("sk_scale_{n:07}");
            KeyEntry::new(format!("key_{n:07}"), "Scale", TokenDigest::of(&token))
        })
        .collect();
    let admin = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let started = Instant::now();
    let report = admin
        .import(&KeysFile::from_entries(entries), false)
        .await
        .expect("import");
    let imported = started.elapsed();
    assert_eq!(report.inserted, KEYS);
    let started = Instant::now();
    let store = replica(&redis.url(), Duration::from_secs(5), false).await;
    store
        .ready(Duration::from_secs(120))
        .await
        .expect("the first load");
    let first_load = started.elapsed();

    // A watcher asks the replica for a valid and an unknown token without
    // pause, through a full resync.
    let watcher = {
        let store = store.clone();
        std::thread::spawn(move || {
            let (mut asked, mut unavailable) = (0_u64, 0_u64);
            let loads = store.status().full_loads;
            let deadline = Instant::now() + Duration::from_secs(120);
            while store.status().full_loads == loads && Instant::now() < deadline {
                for token in ["sk_scale_0000007", "sk_scale_unknown"] {
                    asked += 1;
                    if answer(&store, token) == Err(ValidationFailure::Unavailable) {
                        unavailable += 1;
                    }
                }
            }
            (asked, unavailable, store.status())
        })
    };
    store.resync();
    let (asked, unavailable, status) = watcher.join().expect("watcher");
    println!(
        "{KEYS} keys: import {imported:?} ({:.0} keys/s), first load {first_load:?}, resync {:?}: {asked} answers, {unavailable} were 503",
        KEYS as f64 / imported.as_secs_f64(),
        status.last_load_took
    );
    assert_eq!(status.full_loads, 2, "the resync finished: {status:?}");
    assert_eq!(unavailable, 0, "503s during the resync");
    assert_eq!(answer(&store, "sk_scale_0000007"), Ok(()));
    assert_eq!(status.counts.active, KEYS);
}
