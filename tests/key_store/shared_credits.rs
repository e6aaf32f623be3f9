//! Credits counted in Redis (`BearerAuthBuilder::shared_credits`): exact
//! across replicas (two replicas, four concurrent clients, a balance of
//! 100: exactly 100 pass); the admin's `add` and a record written with
//! other credits seen by every replica; a rate-limit refusal (decided in
//! Redis too) gives the credit back; Redis down refuses with 503, never
//! lets a request through.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tower::Layer;
use tower_bearer_auth::BearerAuthLayer;
use tower_bearer_auth::key_policy::Credits;
use tower_bearer_auth::key_store::admin::{CreditChange, KeyAdmin};
use tower_bearer_auth::key_store::redis::{RedisKeyWriter, SharedKeyAdmin};
use tower_bearer_auth::rate_limit::{Quota, RateLimiter};

use crate::shared_rate_limit::send;
use crate::shared_store::{NAMESPACE, new_key, replica};
use crate::support::redis::RedisServer;
use crate::support::{Echo, header};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_spend_one_balance_exactly() {
    let Some(redis) = RedisServer::start("shared-credits") else {
        return;
    };
    let writer = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (entry, token) = new_key("Metered");
    let id = entry.id().to_owned();
    writer
        .insert(entry.with_credits(Some(Credits::new(100))))
        .await
        .expect("insert");
    let replicas = [
        replica(&redis.url(), Duration::from_secs(5), true).await,
        replica(&redis.url(), Duration::from_secs(5), true).await,
    ];
    let services: Vec<_> = replicas
        .iter()
        .map(|store| {
            BearerAuthLayer::builder(store.clone())
                .shared_credits(store)
                .build()
                .expect("valid")
                .layer(Echo::default())
        })
        .collect();
    let bearer = format!("Bearer {token}");
    let passed = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let mut service = services[client % 2].clone();
            let bearer = bearer.clone();
            let passed = Arc::clone(&passed);
            tokio::spawn(async move {
                for _ in 0..60 {
                    let (parts, body) = send(&mut service, &bearer).await;
                    match parts.status {
                        http::StatusCode::OK => {
                            passed.fetch_add(1, Ordering::SeqCst);
                        }
                        http::StatusCode::TOO_MANY_REQUESTS => {
                            let body = String::from_utf8_lossy(&body);
                            assert!(body.contains("usage_exceeded"), "{body}");
                        }
                        other => panic!("unexpected {other}"),
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("client");
    }
    assert_eq!(
        passed.load(Ordering::SeqCst),
        100,
        "240 tries, a balance of 100"
    );

    // The admin adds 10: both replicas see them at once (no record write).
    let admin = SharedKeyAdmin::new(writer, replicas[0].clone());
    let topped = admin
        .change_credits(&id, CreditChange::Add(10))
        .await
        .expect("add");
    assert_eq!(topped.credits().map(|c| c.remaining()), Some(10));
    let mut other = services[1].clone();
    let (parts, _) = send(&mut other, &bearer).await;
    assert_eq!(parts.status, http::StatusCode::OK);
    assert_eq!(header(&parts, "credits-remaining"), "9");
    let seen = admin.entry(&id).await.expect("read").expect("the key");
    assert_eq!(seen.credits().map(|c| c.remaining()), Some(9));

    // A label change keeps the balance; credits written anew start it again.
    let renamed = admin
        .update(&id, |entry| Ok(entry.with_label("Renamed")))
        .await
        .expect("rename");
    assert_eq!(renamed.credits().map(|c| c.remaining()), Some(9));
    admin
        .update(&id, |entry| {
            Ok(entry.with_credits(Some(
                Credits::new(3).with_refilled_at(std::time::SystemTime::now()),
            )))
        })
        .await
        .expect("new credits");
    assert!(
        replicas[1]
            .wait_for_version(replicas[0].status().applied_version, Duration::from_secs(2))
            .await
    );
    let (parts, _) = send(&mut other, &bearer).await;
    assert_eq!(header(&parts, "credits-remaining"), "2");

    // A deleted key leaves no balance behind.
    let mut con = redis.client().get_connection().expect("connect");
    let balance = format!("{{tba:{NAMESPACE}}}:cr:{id}");
    let held: bool = redis::cmd("EXISTS")
        .arg(&balance)
        .query(&mut con)
        .expect("EXISTS");
    assert!(held, "the balance is in Redis");
    admin.remove(&id).await.expect("remove");
    let left: bool = redis::cmd("EXISTS")
        .arg(&balance)
        .query(&mut con)
        .expect("EXISTS");
    assert!(!left, "the credits hash goes with the key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_rate_limit_refusal_gives_the_credit_back_and_redis_down_is_503() {
    let Some(mut redis) = RedisServer::start("shared-credits-rate") else {
        return;
    };
    let writer = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let (entry, token) = new_key("Both");
    writer
        .insert(
            entry
                .with_credits(Some(Credits::new(10)))
                .with_rate_limit(Some(Quota::new(2, 3_600).expect("quota"))),
        )
        .await
        .expect("insert");
    let store = replica(&redis.url(), Duration::from_secs(5), true).await;
    let limiter = RateLimiter::builder().redis(&store).build();
    let echo = Echo::default();
    let mut service = BearerAuthLayer::builder(store.clone())
        .shared_credits(&store)
        .rate_limiter(limiter)
        .build()
        .expect("valid")
        .layer(echo.clone());
    let bearer = format!("Bearer {token}");
    for left in ["9", "8"] {
        let (parts, _) = send(&mut service, &bearer).await;
        assert_eq!(parts.status, http::StatusCode::OK);
        assert_eq!(header(&parts, "credits-remaining"), left);
        assert!(parts.headers.contains_key("ratelimit"));
    }
    for _ in 0..3 {
        let (parts, body) = send(&mut service, &bearer).await;
        assert_eq!(parts.status, http::StatusCode::TOO_MANY_REQUESTS);
        assert!(String::from_utf8_lossy(&body).contains("rate_limited"));
    }
    let mut con = redis.client().get_connection().expect("connect");
    let id = store.entries()[0].id().to_owned();
    let remaining: String = redis::cmd("HGET")
        .arg(format!("{{tba:{NAMESPACE}}}:cr:{id}"))
        .arg("r")
        .query(&mut con)
        .expect("the balance is in Redis");
    assert_eq!(remaining, "8", "every refused request's credit came back");

    redis.kill();
    let (parts, _) = send(&mut service, &bearer).await;
    assert_eq!(parts.status, http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(echo.calls(), 2, "never let through");
}

/// An owner's credits in Redis: two keys of the owner on two replicas
/// spend one balance (`@<owner>`), and the admin reads it live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owners_keys_spend_one_balance_across_replicas() {
    use tower_bearer_auth::key_policy::OwnerLimits;
    let Some(redis) = RedisServer::start("shared-owner-credits") else {
        return;
    };
    let writer = RedisKeyWriter::connect(&redis.url(), NAMESPACE)
        .await
        .expect("connect");
    let limits = OwnerLimits::new().with_credits(Some(
        Credits::new(10).with_refilled_at(std::time::SystemTime::now()),
    ));
    let mut bearers = Vec::new();
    for label in ["A", "B"] {
        let (entry, token) = new_key(label);
        writer
            .insert(
                entry
                    .with_owner(Some("cus_shared".to_owned()))
                    .with_owner_limits(limits),
            )
            .await
            .expect("insert");
        bearers.push(format!("Bearer {token}"));
    }
    let replicas = [
        replica(&redis.url(), Duration::from_secs(5), true).await,
        replica(&redis.url(), Duration::from_secs(5), true).await,
    ];
    let mut services: Vec<_> = replicas
        .iter()
        .map(|store| {
            BearerAuthLayer::builder(store.clone())
                .shared_credits(store)
                .build()
                .expect("valid")
                .layer(Echo::default())
        })
        .collect();
    let mut passed = 0;
    for round in 0..8 {
        for (n, bearer) in bearers.iter().enumerate() {
            let (parts, _) = send(&mut services[(round + n) % 2], bearer).await;
            if parts.status == http::StatusCode::OK {
                passed += 1;
            }
        }
    }
    assert_eq!(
        passed, 10,
        "16 tries over 2 keys and 2 replicas, one balance of 10"
    );
    let admin = SharedKeyAdmin::new(writer, replicas[0].clone());
    let live = admin
        .owner_credits("cus_shared")
        .await
        .expect("read")
        .expect("the owner's credits");
    assert_eq!(live.remaining(), 0);
}
