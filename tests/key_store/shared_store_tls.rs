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
