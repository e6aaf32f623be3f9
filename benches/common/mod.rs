//! Shared by the benchmarks: key sets of every size, and polling futures
//! that are ready at once (every service here answers synchronously).

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    missing_debug_implementations
)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use tower_bearer_auth::{KeyEntry, KeyGenerator, KeyStore, ScopeSet};

/// How many distinct tokens each benchmark cycles through, so that large
/// stores are not measured with one hot cache line.
pub const POOL: usize = 1024;

/// A store of `size` active keys, plus tokens to look up.
pub struct KeySet {
    pub store: KeyStore,
    /// Every active token (plaintext, for the plaintext alternatives).
    pub tokens: Vec<String>,
    /// Up to `POOL` active tokens, spread over the set.
    pub valid: Vec<String>,
    /// `POOL` tokens of the same form that were never stored.
    pub unknown: Vec<String>,
    /// `POOL` tokens of keys that are in the store but revoked.
    pub revoked: Vec<String>,
}

pub fn key_set(size: usize) -> KeySet {
    let generator = KeyGenerator::new();
    let scopes = ScopeSet::parse("profile:read calls:write").expect("valid scopes");
    let mut entries = Vec::with_capacity(size + POOL);
    let mut tokens = Vec::with_capacity(size);
    let mut revoked = Vec::with_capacity(POOL);
    for i in 0..size + POOL {
        let key = generator.generate().expect("random source");
        let entry =
            KeyEntry::new(key.id(), format!("Key {i}"), key.digest()).with_scopes(scopes.clone());
        if i < size {
            tokens.push(key.token().expose().to_owned());
            entries.push(entry);
        } else {
            revoked.push(key.token().expose().to_owned());
            entries.push(entry.with_revoked(true));
        }
    }
    let store = KeyStore::new();
    store.replace_all(entries).expect("valid keys");
    let stride = (size / POOL).max(1);
    let valid = tokens.iter().step_by(stride).take(POOL).cloned().collect();
    let unknown = (0..POOL)
        .map(|_| {
            generator
                .generate()
                .expect("random source")
                .token()
                .expose()
                .to_owned()
        })
        .collect();
    KeySet {
        store,
        tokens,
        valid,
        unknown,
        revoked,
    }
}

/// Polls a future that must be ready at once.
pub fn ready_now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("benchmarked future was not ready at once"),
    }
}

/// Writes `entries` into Redis as the shared store keeps them (records,
/// ids, version, epoch), in pipelined batches: fast enough for 1,000,000
/// keys, where an import through the admin scripts would take minutes.
pub async fn load_into_redis(client: &redis::Client, entries: &[KeyEntry]) {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    let mut con = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("connect");
    for batch in entries.chunks(10_000) {
        let file: serde_json::Value = serde_json::from_str(
            &tower_bearer_auth::key_store::keys_file::KeysFile::from_entries(batch.to_vec())
                .to_json(),
        )
        .expect("JSON");
        let mut pipe = redis::pipe();
        for (entry, json) in batch.iter().zip(file["keys"].as_array().expect("keys")) {
            let digest = entry.digest().to_hex();
            pipe.cmd("HSET")
                .arg("{tba:default}:keys")
                .arg(&digest)
                .arg(json.to_string())
                .ignore();
            pipe.cmd("HSET")
                .arg("{tba:default}:ids")
                .arg(entry.id())
                .arg(&digest)
                .ignore();
        }
        let () = pipe.query_async(&mut con).await.expect("HSET");
    }
    let () = redis::pipe()
        .cmd("SET")
        .arg("{tba:default}:ver")
        .arg(0)
        .ignore()
        .cmd("SET")
        .arg("{tba:default}:epoch")
        .arg("bench")
        .ignore()
        .query_async(&mut con)
        .await
        .expect("SET");
}

/// `--rounds N` from the command line, else `default`.
pub fn rounds_arg(default: usize) -> usize {
    let mut rounds = default;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--rounds" {
            rounds = args
                .next()
                .and_then(|n| n.parse().ok())
                .expect("--rounds N");
        }
    }
    rounds
}
