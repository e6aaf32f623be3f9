//! The shared store on a real three-primary Redis Cluster: any seed works
//! (even one that does not own the key set's slot, after one that is
//! down); every key of a namespace is in one slot; a live reshard of that
//! slot to another node is survived without a restart (the replica and the
//! writer follow `MOVED` to the new owner), and a key revoked after it is
//! refused. The shared rate limit keeps its state in that slot too, and
//! its exact and share modes spend one quota.

use std::time::{Duration, Instant};

use tower_bearer_auth::key_store::redis::RedisKeyWriter;

use crate::shared_store::{
    NAMESPACE, answer, new_key, replica, until_fresh_refusing, until_written,
};
use crate::support::redis_cluster::RedisCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_seed_works_and_a_live_reshard_is_followed() {
    let Some(cluster) = RedisCluster::start("reshard") else {
        return;
    };
    let tag = format!("{{tba:{NAMESPACE}}}");
    let slot = cluster.slot(&tag);
    let owner = cluster.owner(slot);
    let other = (owner + 1) % 3;
    // A dead seed first, then a node that does not own the slot.
    let url = format!(
        "{},{}",
        "redis+cluster://127.0.0.1:1",
        cluster.url(&[other]).trim_start_matches("redis+cluster://")
    );
    let writer = RedisKeyWriter::new(&url, NAMESPACE).expect("valid URL");
    let (entry, token) = new_key("In a cluster");
    let (kept, kept_token) = new_key("Kept");
    let id = entry.id().to_owned();
    writer.insert(entry).await.expect("insert");
    let version = writer.insert(kept).await.expect("insert");
    let store = replica(&url, Duration::from_secs(1), true).await;
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(5))
            .await
    );
    assert_eq!(answer(&store, &token), Ok(()));
    for key in ["keys", "ids", "ver", "log", "epoch"] {
        assert_eq!(cluster.slot(&format!("{tag}:{key}")), slot, "{key}");
    }

    // The slot moves to another node while the replica follows it.
    let moved_at = Instant::now();
    cluster.move_slot(slot, owner, other);
    let revoked = until_written("revoke on the new owner", || writer.revoke(&id)).await;
    println!(
        "the writer revoked on the new owner {:?} after the move",
        moved_at.elapsed()
    );
    assert!(
        store
            .wait_for_version(revoked, Duration::from_secs(10))
            .await,
        "{:?}",
        store.status()
    );
    until_fresh_refusing(&store, &kept_token, &token, Duration::from_secs(5)).await;
    println!(
        "the replica was fresh on the new owner {:?} after the move",
        moved_at.elapsed()
    );
}

/// The slot's owner killed: its replica takes the slot over, and the
/// replica of the key set follows it without a restart; a key revoked on
/// the new owner is refused, and was never accepted after the revoke.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_of_the_slot_owner_is_followed() {
    let Some(mut cluster) = RedisCluster::start_with("failover", true) else {
        return;
    };
    let tag = format!("{{tba:{NAMESPACE}}}");
    let slot = cluster.slot(&tag);
    let owner = cluster.owner(slot);
    let url = cluster.url(&[0, 1, 2, 3, 4, 5]);
    let writer = RedisKeyWriter::new(&url, NAMESPACE).expect("valid URL");
    let (entry, token) = new_key("Failover");
    let (kept, kept_token) = new_key("Kept");
    let id = entry.id().to_owned();
    writer.insert(entry).await.expect("insert");
    let version = writer.insert(kept).await.expect("insert");
    let store = replica(&url, Duration::from_secs(1), true).await;
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(5))
            .await
    );
    assert_eq!(answer(&store, &token), Ok(()));
    cluster.wait_for_replica(owner);

    let killed_at = Instant::now();
    cluster.kill(owner);
    let survivor = (owner + 1) % 3;
    while cluster.owner_port(slot, survivor) != Some(cluster.all_ports[owner + 3]) {
        assert!(killed_at.elapsed() < Duration::from_secs(30), "no failover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "the cluster promoted the replica {:?} after the kill",
        killed_at.elapsed()
    );
    let revoked = until_written("revoke on the new owner", || writer.revoke(&id)).await;
    assert!(
        store
            .wait_for_version(revoked, Duration::from_secs(10))
            .await,
        "{:?}",
        store.status()
    );
    until_fresh_refusing(&store, &kept_token, &token, Duration::from_secs(10)).await;
    println!(
        "the replica was fresh on the new owner {:?} after the kill",
        killed_at.elapsed()
    );
}

/// A slot migration that stops halfway (the change log and the version on
/// the importing node, the records still on the old owner, for longer
/// than `max_staleness`): the replica follows `ASK` for each read and stays
/// fresh; writes are refused meanwhile (a script on keys split between
/// two nodes is `TRYAGAIN`), never half made; once the migration ends,
/// both go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_migrating_halfway_is_followed_through_ask() {
    let Some(cluster) = RedisCluster::start("ask") else {
        return;
    };
    let tag = format!("{{tba:{NAMESPACE}}}");
    let slot = cluster.slot(&tag);
    let owner = cluster.owner(slot);
    let other = (owner + 1) % 3;
    let url = cluster.url(&[0, 1, 2]);
    let writer = RedisKeyWriter::new(&url, NAMESPACE).expect("valid URL");
    let (entry, token) = new_key("Migrating");
    let (kept, kept_token) = new_key("Kept");
    let id = entry.id().to_owned();
    writer.insert(entry).await.expect("insert");
    let version = writer.insert(kept).await.expect("insert");
    let max_staleness = Duration::from_secs(1);
    let store = replica(&url, max_staleness, true).await;
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(5))
            .await
    );

    cluster.begin_move(slot, owner, other);
    cluster.migrate(owner, other, &[format!("{tag}:log"), format!("{tag}:ver")]);
    let halfway = Instant::now();
    let mut checks = 0;
    while halfway.elapsed() < max_staleness * 3 {
        assert_eq!(
            answer(&store, &token),
            Ok(()),
            "{:?} into the migration: {:?}",
            halfway.elapsed(),
            store.status()
        );
        checks += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = store.status();
    assert_eq!(status.state.as_str(), "fresh", "{status:?}");
    assert!(
        writer.revoke(&id).await.is_err(),
        "a write on keys split between two nodes"
    );
    println!(
        "{checks} checks over {:?} of a migration stopped halfway: fresh throughout (proof age {:?})",
        halfway.elapsed(),
        status.last_proof_age
    );

    let keys: Vec<String> = ["keys", "ids", "epoch", "used"]
        .iter()
        .map(|key| format!("{tag}:{key}"))
        .collect();
    cluster.migrate(owner, other, &keys);
    cluster.finish_move(slot, other);
    let revoked = until_written("revoke after the migration", || writer.revoke(&id)).await;
    assert!(
        store
            .wait_for_version(revoked, Duration::from_secs(10))
            .await,
        "{:?}",
        store.status()
    );
    until_fresh_refusing(&store, &kept_token, &token, Duration::from_secs(5)).await;
}

/// A shared rate limit in a cluster, seeded with a node that does not own
/// the key set's slot: the state sits in that slot (beside the key set),
/// and the exact mode and the share mode spend one quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_rate_limit_modes_spend_one_quota_in_a_cluster() {
    use tower_bearer_auth::rate_limit::{Quota, RateLimiter, ShareSize};

    use crate::shared_rate_limit::{limited, send};

    let Some(cluster) = RedisCluster::start("rate-limit") else {
        return;
    };
    let tag = format!("{{tba:{NAMESPACE}}}");
    let slot = cluster.slot(&tag);
    let url = cluster.url(&[(cluster.owner(slot) + 1) % 3]);
    let writer = RedisKeyWriter::new(&url, NAMESPACE).expect("valid URL");
    let (entry, token) = new_key("Limited in a cluster");
    let id = entry.id().to_owned();
    let quota = Quota::new(3, 60).expect("valid quota");
    writer
        .insert(entry.with_rate_limit(Some(quota)))
        .await
        .expect("insert");
    let store = replica(&url, Duration::from_secs(5), true).await;
    let mut services = [
        limited(&store, RateLimiter::builder().redis(&store)),
        limited(
            &store,
            RateLimiter::builder().redis_shares(&store, ShareSize::requests(1)),
        ),
    ];
    let bearer = format!("Bearer {token}");
    let mut statuses = Vec::new();
    for mode in [0, 0, 1, 1] {
        statuses.push(send(&mut services[mode], &bearer).await.0.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429], "one quota of 3");
    assert_eq!(store.status().shared_rate_limit_problem, None);
    assert_eq!(cluster.slot(&format!("{tag}:rl:{id}")), slot);
}
