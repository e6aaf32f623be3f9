//! The shared store over TLS (feature `redis-tls`), against a real
//! TLS-only `redis-server` with a CA and certificates made by the test:
//! with the CA and a client certificate a replica loads and a writer
//! writes; without the client certificate, with the system's roots, or in
//! plaintext to the TLS port, a replica never loads (503, never 401).

use std::time::Duration;

use tower_bearer_auth::ValidationFailure;
use tower_bearer_auth::key_store::redis::{OutagePolicy, RedisKeyWriter, RedisTls, SharedKeyStore};

use crate::shared_store::{NAMESPACE, answer, new_key};
use crate::support::redis_tls::{TlsRedis, make_ca};

fn replica(url: &str, tls: Option<RedisTls>) -> SharedKeyStore {
    let mut builder = SharedKeyStore::builder(url)
        .namespace(NAMESPACE)
        .max_staleness(Duration::from_secs(2))
        .outage_policy(OutagePolicy::FailClosed);
    if let Some(tls) = tls {
        builder = builder.tls(tls);
    }
    builder.start().expect("start a replica")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_with_the_ca_and_a_client_certificate_and_never_without() {
    let Some(redis) = TlsRedis::start("mtls", true) else {
        return;
    };
    let ca = redis.file("ca.pem");
    let (cert, key) = (redis.file("client.pem"), redis.file("client.key"));
    let full = RedisTls::from_files(Some(&ca), Some((&cert, &key))).expect("read the PKI");

    // A writer over TLS: the first write initialises the store.
    let writer = RedisKeyWriter::with_tls(&redis.url(), NAMESPACE, &full).expect("valid");
    let (entry, token) = new_key("Over TLS");
    let version = writer.insert(entry).await.expect("a write over TLS");

    let store = replica(&redis.url(), Some(full.clone()));
    store
        .ready(Duration::from_secs(10))
        .await
        .expect("a replica over TLS loads");
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(2))
            .await
    );
    assert_eq!(answer(&store, &token), Ok(()));
    assert!(format!("{full:?}").contains("set"), "{full:?}");
    assert!(!format!("{full:?}").contains("PRIVATE"), "{full:?}");

    // Each of these never loads: 503 (unavailable), never 401.
    make_ca(redis.dir(), "other");
    let other =
        RedisTls::from_files(Some(&redis.file("other.pem")), Some((&cert, &key))).expect("read");
    let without_cert = RedisTls::from_files(Some(&ca), None).expect("read");
    let refused = [
        ("no client certificate", redis.url(), Some(without_cert)),
        ("another CA", redis.url(), Some(other)),
        ("the system's roots", redis.url(), None),
        ("plaintext to the TLS port", redis.plaintext_url(), None),
    ];
    let stores: Vec<_> = refused
        .into_iter()
        .map(|(what, url, tls)| (what, replica(&url, tls)))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (what, store) in &stores {
        assert!(
            store.ready(Duration::from_millis(100)).await.is_err(),
            "{what}: loaded"
        );
        assert_eq!(
            answer(store, &token),
            Err(ValidationFailure::Unavailable),
            "{what}"
        );
        println!("{what}: {:?}", store.status().last_error);
    }
}

/// `rediss+cluster://`: a three-primary cluster whose nodes also listen on
/// TLS ports (the cluster bus over TLS): seeded with a TLS port, the
/// replica is told the owner's TLS port and follows the key set there; a
/// writer writes over TLS; another CA never loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_over_tls_is_followed_with_the_ca_and_never_without() {
    let Some(cluster) = crate::support::redis_cluster::RedisCluster::start_tls("tls") else {
        return;
    };
    let ca = cluster.dir().join("ca.pem");
    let tls = RedisTls::from_files(Some(&ca), None).expect("read the CA");
    let tag = format!("{{tba:{NAMESPACE}}}");
    let owner = cluster.owner(cluster.slot(&tag));
    // Seeded with a node that does not own the slot: the owner's address
    // comes from CLUSTER SLOTS, over TLS.
    let url = cluster.tls_url(&[(owner + 1) % 3]);
    let writer = RedisKeyWriter::with_tls(&url, NAMESPACE, &tls).expect("valid URL");
    let (entry, token) = new_key("Cluster over TLS");
    let id = entry.id().to_owned();
    writer.insert(entry).await.expect("insert over TLS");
    let store = replica(&url, Some(tls));
    store
        .ready(Duration::from_secs(10))
        .await
        .expect("loads over TLS");
    assert_eq!(answer(&store, &token), Ok(()));
    let version = writer.revoke(&id).await.expect("revoke over TLS");
    assert!(
        store
            .wait_for_version(version, Duration::from_secs(5))
            .await
    );
    assert_eq!(answer(&store, &token), Err(ValidationFailure::Invalid));

    make_ca(cluster.dir(), "other");
    let other = RedisTls::from_files(Some(&cluster.dir().join("other.pem")), None).expect("read");
    let refused = replica(&url, Some(other));
    let problem = refused
        .ready(Duration::from_secs(2))
        .await
        .expect_err("another CA");
    println!("rediss+cluster with another CA: {problem}");
    assert_eq!(
        answer(&refused, &token),
        Err(ValidationFailure::Unavailable)
    );
}
