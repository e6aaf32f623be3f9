//! The Postgres store over TLS only (feature `postgres-tls`): a real
//! Postgres whose TCP port refuses anything but TLS, with a certificate of
//! a CA made by the test. `verify-full` and `verify-ca` with that CA, and
//! `require`, load and follow; another CA, the system's roots, a name
//! the certificate does not carry (`verify-full`) and plaintext never
//! load (503, never 401).

use std::time::Duration;

use tower_bearer_auth::ValidationFailure;
use tower_bearer_auth::key_store::postgres::{PostgresKeyWriter, PostgresStoreBuilder};

use crate::shared_store::{NAMESPACE, answer, new_key};
use crate::support::postgres::PostgresServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_only_postgres_loads_with_the_right_ca_and_never_without() {
    let Some(server) = PostgresServer::start_tls("tls") else {
        return;
    };
    let ca = server.dir().join("ca.pem").display().to_string();
    crate::support::redis_tls::make_ca(server.dir(), "other");
    let other = server.dir().join("other.pem").display().to_string();
    let port = server
        .tls_url("")
        .rsplit(':')
        .next()
        .and_then(|rest| rest.split('/').next())
        .expect("port")
        .to_owned();

    let verified = server.tls_url(&format!("sslmode=verify-full&sslrootcert={ca}"));
    let writer = PostgresKeyWriter::new(&verified, NAMESPACE).expect("valid URL");
    writer.init().await.expect("schema over TLS");
    let (entry, token) = new_key("Over TLS");
    let id = entry.id().to_owned();
    writer.insert(entry).await.expect("insert over TLS");

    let good = [
        ("verify-full, the test CA", verified.clone()),
        (
            "verify-ca, the test CA, a name the certificate lacks",
            format!(
                "postgres://tba@not-in-the-cert:{port}/postgres?hostaddr=127.0.0.1&sslmode=verify-ca&sslrootcert={ca}"
            ),
        ),
        (
            "require (encrypted, not verified)",
            server.tls_url("sslmode=require"),
        ),
    ];
    let mut replicas = Vec::new();
    for (what, url) in good {
        let store = PostgresStoreBuilder::new(&url)
            .namespace(NAMESPACE)
            .max_staleness(Duration::from_secs(2))
            .start()
            .expect("start");
        store
            .ready(Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(answer(&store, &token), Ok(()), "{what}");
        replicas.push(store);
    }
    let bad = [
        (
            "verify-full, another CA",
            server.tls_url(&format!("sslmode=verify-full&sslrootcert={other}")),
        ),
        (
            "verify-full, the system's roots",
            server.tls_url("sslmode=verify-full"),
        ),
        (
            "verify-full, a name the certificate lacks",
            format!(
                "postgres://tba@not-in-the-cert:{port}/postgres?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca}"
            ),
        ),
        (
            "plaintext to the TLS-only port",
            server.tls_url("sslmode=disable"),
        ),
    ];
    for (what, url) in bad {
        let store = PostgresStoreBuilder::new(&url)
            .namespace(NAMESPACE)
            .start()
            .expect("start");
        let refused = store.ready(Duration::from_secs(2)).await.expect_err(what);
        println!("{what}: {refused}");
        assert_eq!(
            answer(&store, &token),
            Err(ValidationFailure::Unavailable),
            "{what}"
        );
    }

    // Changes reach the TLS replicas.
    let version = writer.revoke(&id).await.expect("revoke over TLS");
    for store in &replicas {
        assert!(
            store
                .wait_for_version(version, Duration::from_secs(2))
                .await
        );
        assert_eq!(answer(store, &token), Err(ValidationFailure::Invalid));
    }
}

#[test]
fn unsupported_ssl_modes_are_refused_by_name() {
    for (url, expected) in [
        (
            "postgres://tba@localhost/db?sslmode=prefer",
            "sslmode=prefer is not supported",
        ),
        (
            "postgres://tba@localhost/db?sslmode=allow",
            "sslmode=allow is not supported",
        ),
        (
            "postgres://tba@localhost/db?sslrootcert=/ca.pem",
            "sslrootcert goes with",
        ),
    ] {
        let refused = PostgresKeyWriter::new(url, NAMESPACE).expect_err(url);
        assert!(refused.to_string().contains(expected), "{url}: {refused}");
    }
    // The password never appears in a refusal.
    let refused = PostgresKeyWriter::new(
        "postgres://tba:s3cret@localhost/db?sslmode=bogus",
        NAMESPACE,
    )
    .expect_err("bogus");
    assert!(!refused.to_string().contains("s3cret"), "{refused}");
}
