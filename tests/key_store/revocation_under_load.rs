//! Revocation under load: several tasks serve requests through the layer at
//! once while keys are revoked and added. No request with a revoked key is
//! accepted once its `revoke` has returned, and no request with a valid key
//! is refused.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tower::{Layer, ServiceExt};
use tower_bearer_auth::{BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore};

fn new_key(store: &KeyStore, label: &str) -> (String, String) {
    let key = KeyGenerator::new().generate().expect("random source");
    store
        .insert(KeyEntry::new(key.id(), label, key.digest()))
        .expect("insert");
    (key.id().to_owned(), key.token().expose().to_owned())
}

struct Shared {
    doomed: Vec<(String, String)>,
    revoked: Vec<AtomicBool>,
    stable: Vec<String>,
    added: std::sync::RwLock<Vec<String>>,
    stop: AtomicBool,
    accepted_after_revoke: AtomicUsize,
    refused_valid: AtomicUsize,
    requests: AtomicUsize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoked_keys_stop_at_once_and_valid_keys_never_fail() {
    const DOOMED: usize = 300;
    let store = KeyStore::new();
    let shared = Arc::new(Shared {
        doomed: (0..DOOMED)
            .map(|i| new_key(&store, &format!("doomed {i}")))
            .collect(),
        revoked: (0..DOOMED).map(|_| AtomicBool::new(false)).collect(),
        stable: (0..20)
            .map(|i| new_key(&store, &format!("stable {i}")).1)
            .collect(),
        added: std::sync::RwLock::default(),
        stop: AtomicBool::new(false),
        accepted_after_revoke: AtomicUsize::new(0),
        refused_valid: AtomicUsize::new(0),
        requests: AtomicUsize::new(0),
    });
    let ok = tower::service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let service = BearerAuthLayer::new(store.clone()).layer(ok);

    let send = |service: &tower_bearer_auth::BearerAuth<_, KeyStore>, token: &str| {
        let request = Request::get("/v1/profile")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .expect("valid request");
        service.clone().oneshot(request)
    };

    let mut workers = Vec::new();
    for worker in 0..8usize {
        let shared = Arc::clone(&shared);
        let service = service.clone();
        workers.push(tokio::spawn(async move {
            let mut i = worker * 37;
            while !shared.stop.load(Ordering::SeqCst) {
                i = (i + 13) % DOOMED;
                // Read before sending: was the revocation already complete?
                let revoked_before = shared.revoked[i].load(Ordering::SeqCst);
                let response = send(&service, &shared.doomed[i].1)
                    .await
                    .expect("infallible");
                if revoked_before && response.status() == StatusCode::OK {
                    shared.accepted_after_revoke.fetch_add(1, Ordering::SeqCst);
                }
                let stable = &shared.stable[i % shared.stable.len()];
                if send(&service, stable).await.expect("infallible").status() != StatusCode::OK {
                    shared.refused_valid.fetch_add(1, Ordering::SeqCst);
                }
                let newest = shared.added.read().expect("lock").last().cloned();
                if let Some(token) = newest
                    && send(&service, &token).await.expect("infallible").status() != StatusCode::OK
                {
                    shared.refused_valid.fetch_add(1, Ordering::SeqCst);
                }
                shared.requests.fetch_add(3, Ordering::Relaxed);
            }
        }));
    }

    // Revoke every doomed key and add a fresh one each time, while serving.
    let revoker = {
        let shared = Arc::clone(&shared);
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            for (i, (id, _)) in shared.doomed.iter().enumerate() {
                store.revoke(id).expect("revoke");
                shared.revoked[i].store(true, Ordering::SeqCst);
                let (_, token) = new_key(&store, &format!("fresh {i}"));
                shared.added.write().expect("lock").push(token);
                std::thread::sleep(Duration::from_micros(300));
            }
        })
    };
    revoker.await.expect("revoker");
    shared.stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.expect("worker");
    }

    let requests = shared.requests.load(Ordering::Relaxed);
    assert!(
        requests > 3 * DOOMED,
        "the workers served during the revocations ({requests} requests)"
    );
    assert_eq!(
        shared.accepted_after_revoke.load(Ordering::SeqCst),
        0,
        "a revoked key was accepted"
    );
    assert_eq!(
        shared.refused_valid.load(Ordering::SeqCst),
        0,
        "a valid key was refused"
    );
    for (_, token) in &shared.doomed {
        assert_eq!(
            send(&service, token).await.expect("infallible").status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
