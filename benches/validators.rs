//! Token validation alone: our key store against the alternatives a user
//! would pick, at 1, 100, 10,000 and 1,000,000 keys, in one run; and the
//! shared key store (a replica of a key set in a real `redis-server`) against
//! the in-memory store it wraps, at 1, 10,000 and 1,000,000 keys; and JWT
//! validation (HS256, RS256, ES256, `EdDSA`) against the raw `jsonwebtoken`
//! decode and against an API key (`jwt_validation`).
//!
//! ```text
//! cargo bench --bench validators
//! ```
//!
//! Every benchmark cycles through `common::POOL` distinct tokens. Without
//! `redis-server` the shared-store group is skipped with one line.

mod common;
#[path = "jwt_validation/mod.rs"]
mod jwt_validation;
#[path = "../tests/support/mod.rs"]
#[allow(missing_docs, missing_debug_implementations)]
mod support;

use std::collections::{HashMap, HashSet};
use std::future::ready;
use std::hint::black_box;

use common::{KeySet, key_set, ready_now};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::request::Parts;
use subtle::ConstantTimeEq;
use tower_bearer_auth::{ApiKey, TokenValidator, ValidationError};

const SIZES: [usize; 4] = [1, 100, 10_000, 1_000_000];

/// The naive constant-time choice: compare against every key.
fn linear_scan(keys: &[String], token: &str) -> bool {
    let mut found = subtle::Choice::from(0);
    for key in keys {
        found |= key.as_bytes().ct_eq(token.as_bytes());
    }
    found.into()
}

fn cycle<'a>(tokens: &'a [String], i: &mut usize) -> &'a str {
    *i = (*i + 1) % tokens.len();
    &tokens[*i]
}

/// The store sizes to measure: all of `SIZES`, or those listed in
/// `BENCH_SIZES` (comma-separated, e.g. `BENCH_SIZES=1,10000`) to skip the
/// large stores' setup.
fn sizes() -> Vec<usize> {
    std::env::var("BENCH_SIZES").map_or_else(
        |_| SIZES.to_vec(),
        |list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        },
    )
}

fn validators(c: &mut Criterion) {
    let parts: Parts = http::Request::new(()).into_parts().0;
    for size in sizes() {
        let set: KeySet = key_set(size);
        let plain_set: HashSet<String> = set.tokens.iter().cloned().collect();
        let plain_map: HashMap<String, ApiKey> = set
            .tokens
            .iter()
            .map(|t| (t.clone(), set.store.verify(t).expect("valid")))
            .collect();

        let mut group = c.benchmark_group("validate");
        group.sample_size(if size >= 1_000_000 { 20 } else { 60 });

        for (case, tokens) in [
            ("valid", &set.valid),
            ("unknown", &set.unknown),
            ("revoked", &set.revoked),
        ] {
            let mut i = 0;
            group.bench_with_input(
                BenchmarkId::new(format!("key_store/{case}"), size),
                &size,
                |b, _| {
                    b.iter(|| {
                        black_box(set.store.verify(black_box(cycle(tokens, &mut i)))).is_ok()
                    });
                },
            );
            // The same store through the `TokenValidator` trait, as the layer calls it.
            let mut i = 0;
            group.bench_with_input(
                BenchmarkId::new(format!("key_store_trait/{case}"), size),
                &size,
                |b, _| {
                    b.iter(|| {
                        let token = black_box(cycle(tokens, &mut i));
                        black_box(ready_now(set.store.validate(token, &parts))).is_ok()
                    });
                },
            );
        }

        for (case, tokens) in [("valid", &set.valid), ("unknown", &set.unknown)] {
            let mut i = 0;
            group.bench_with_input(
                BenchmarkId::new(format!("hashset_plaintext/{case}"), size),
                &size,
                |b, _| {
                    b.iter(|| plain_set.contains(black_box(cycle(tokens, &mut i))));
                },
            );
            let mut i = 0;
            group.bench_with_input(
                BenchmarkId::new(format!("hashmap_plaintext/{case}"), size),
                &size,
                |b, _| {
                    b.iter(|| black_box(plain_map.get(black_box(cycle(tokens, &mut i))).cloned()));
                },
            );
            let mut i = 0;
            group.bench_with_input(
                BenchmarkId::new(format!("linear_ct_scan/{case}"), size),
                &size,
                |b, _| {
                    b.iter(|| linear_scan(&set.tokens, black_box(cycle(tokens, &mut i))));
                },
            );
        }

        if matches!(size, 1 | 10_000 | 1_000_000) {
            shared_store(&mut group, &set, size);
        }

        if size == 1 {
            // A closure validator over one constant-time-compared key, through the trait.
            let expected = set.tokens[0].clone();
            let closure = move |token: &str, _: &Parts| {
                ready(if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) {
                    Ok(())
                } else {
                    Err(ValidationError::invalid())
                })
            };
            for (case, tokens) in [("valid", &set.valid), ("unknown", &set.unknown)] {
                let mut i = 0;
                group.bench_with_input(
                    BenchmarkId::new(format!("closure_ct/{case}"), size),
                    &size,
                    |b, _| {
                        b.iter(|| {
                            black_box(ready_now(
                                closure.validate(black_box(cycle(tokens, &mut i)), &parts),
                            ))
                            .is_ok()
                        });
                    },
                );
            }
        }
        group.finish();
    }
}

/// The shared store's replica of the same keys, loaded from a real Redis,
/// next to the in-memory store it wraps (the `key_store` rows above).
fn shared_store(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    set: &KeySet,
    size: usize,
) {
    let Some(redis) = support::redis::RedisServer::start("bench") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = runtime.block_on(async {
        common::load_into_redis(&redis.client(), &set.store.entries()).await;
        let store = tower_bearer_auth::key_store::redis::SharedKeyStore::builder(&redis.url())
            .start()
            .expect("start");
        store
            .ready(std::time::Duration::from_secs(120))
            .await
            .expect("loaded");
        store
    });
    // The in-memory store holding the same records built in the same order
    // as the replica's: the difference to it is the shared store's own.
    let same_order = tower_bearer_auth::KeyStore::new();
    same_order.replace_all(store.entries()).expect("valid keys");
    for (case, tokens) in [("valid", &set.valid), ("unknown", &set.unknown)] {
        let mut i = 0;
        group.bench_with_input(
            BenchmarkId::new(format!("shared_store/{case}"), size),
            &size,
            |b, _| {
                b.iter(|| black_box(store.verify(black_box(cycle(tokens, &mut i)))).is_ok());
            },
        );
        let mut i = 0;
        group.bench_with_input(
            BenchmarkId::new(format!("key_store_replica_order/{case}"), size),
            &size,
            |b, _| {
                b.iter(|| black_box(same_order.verify(black_box(cycle(tokens, &mut i)))).is_ok());
            },
        );
    }
    drop(store);
    drop(runtime);
}

criterion_group!(benches, validators, jwt_validation::jwt);
criterion_main!(benches);
