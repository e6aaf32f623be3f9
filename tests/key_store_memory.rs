//! Memory per key: a store of 1,000,000 keys, measured as the growth of the
//! process's resident set (allocator overhead included), must stay at about
//! 216 bytes per key plus its label; and the local rate limiter after
//! 1,000,000 distinct keys sent one request each stays under its documented
//! bound. Alone in this binary, one test at a time (`ONE_AT_A_TIME`), so
//! that no other test allocates meanwhile.

use std::time::{Duration, SystemTime};

use tower_bearer_auth::key_store::TokenDigest;
use tower_bearer_auth::{KeyEntry, KeyStore, ScopeSet};

const KEYS: usize = 1_000_000;
/// 200 bytes before the usage counters' pointer (issue 26) moved a record
/// from a 128-byte allocation to a 144-byte one.
const BUDGET_PER_KEY: usize = 216;
/// Keys given real tokens, to check lookups after the load.
const SAMPLES: [usize; 4] = [0, 1, KEYS / 2, KEYS - 1];

/// Resident set size in bytes (Linux).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Deterministic, well-spread digests (`SplitMix64`), standing in for the
/// SHA-256 digests of a keys file.
fn digest(i: usize) -> TokenDigest {
    let mut state = i as u64;
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_exact_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    TokenDigest::from_bytes(bytes)
}

/// The tests measure the process's memory: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
#[cfg(target_os = "linux")]
fn one_million_keys_fit_in_about_200_bytes_each_plus_labels() {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let scope_sets = [
        ScopeSet::parse("profile:read").expect("valid"),
        ScopeSet::parse("profile:read calls:write").expect("valid"),
        ScopeSet::parse("calls:write").expect("valid"),
    ];
    let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let label = |i: usize| format!("Server {i}");
    let label_bytes: usize = (0..KEYS).map(|i| label(i).len()).sum();

    let before = resident_bytes();
    let store = KeyStore::new();
    let entries = (0..KEYS).map(|i| {
        let digest = if SAMPLES.contains(&i) {
            TokenDigest::of(&format!("sk_sample_token_{i}"))
        } else {
            digest(i)
        };
        let entry = KeyEntry::new(format!("key_{i:016}"), label(i), digest)
            .with_scopes(scope_sets[i % 3].clone())
            .with_created_at(created);
        if i % 10 == 0 {
            entry.with_expiry(created + Duration::from_secs(86_400 * 365))
        } else {
            entry
        }
    });
    let counts = store.replace_all(entries).expect("valid keys");
    let after = resident_bytes();
    assert_eq!(counts.active, KEYS);

    let grown = after.saturating_sub(before);
    let per_key = grown as f64 / KEYS as f64;
    let label_per_key = label_bytes as f64 / KEYS as f64;
    let without_labels = per_key - label_per_key;
    println!(
        "{KEYS} keys: resident set grew {:.1} MiB = {per_key:.1} bytes/key, of which labels {label_per_key:.1}: {without_labels:.1} bytes/key without labels (budget {BUDGET_PER_KEY})",
        grown as f64 / (1024.0 * 1024.0)
    );
    assert!(
        without_labels <= BUDGET_PER_KEY as f64,
        "{without_labels:.1} bytes per key"
    );

    // The store still answers, from every part of the index.
    for i in SAMPLES {
        let key = store
            .verify(&format!("sk_sample_token_{i}"))
            .expect("sample key");
        assert_eq!(key.id(), format!("key_{i:016}"));
    }
    assert!(store.verify("sk_sample_token_2").is_err());
}

/// A principal per token, for the rate limiter's memory test.
#[derive(Clone)]
struct Client(String);

impl tower_bearer_auth::Principal for Client {
    fn has_scope(&self, _: &str) -> bool {
        true
    }
}

impl tower_bearer_auth::rate_limit::RateLimited for Client {
    fn rate_limit_key(&self) -> &str {
        &self.0
    }
}

/// Sends one request for each of `keys` through auth and rate limit.
async fn one_request_each<S, B>(service: &mut S, keys: std::ops::Range<usize>)
where
    S: tower::Service<
            http::Request<()>,
            Response = http::Response<B>,
            Error = std::convert::Infallible,
        >,
{
    use tower::ServiceExt;
    for i in keys {
        let request = http::Request::get("/v1/calls")
            .header("authorization", format!("Bearer t{i}"))
            .body(())
            .expect("valid request");
        let response = service
            .ready()
            .await
            .expect("ready")
            .call(request)
            .await
            .expect("infallible");
        assert_eq!(response.status(), http::StatusCode::OK);
    }
}

#[test]
#[cfg(target_os = "linux")]
fn the_rate_limiter_stays_under_its_bound_for_a_million_keys() {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(rate_limiter_bound());
}

async fn rate_limiter_bound() {
    use tower::Layer;
    use tower_bearer_auth::rate_limit::{Quota, RateLimiter};
    use tower_bearer_auth::{BearerAuthLayer, ValidationError};

    /// Documented in `RateLimiter`: about 36 MB for 1,000,000 keys.
    const BOUND: usize = 40 * 1024 * 1024;

    let validator = |token: &str, _: &http::request::Parts| {
        std::future::ready(Ok::<_, ValidationError>(Client(token.to_owned())))
    };
    let auth = BearerAuthLayer::new(validator);
    let service_with = |limiter: &RateLimiter| {
        let inner = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        auth.layer(auth.rate_limit(limiter.clone()).layer(inner))
    };

    // The worst case: 1 request per 60 s, so one request leaves a key 60 s
    // of state, and every key is still tracked at the end.
    let limiter = RateLimiter::builder()
        .default_quota(Quota::new(1, 60).expect("valid"))
        .build();
    let before = resident_bytes();
    one_request_each(&mut service_with(&limiter), 0..KEYS).await;
    let grown = resident_bytes().saturating_sub(before);
    let (tracked, table) = (limiter.tracked_keys(), limiter.table_bytes());
    println!(
        "{KEYS} keys, one request each, all inside their window: {tracked} tracked, table {:.1} MiB ({:.1} bytes/key), resident set grew {:.1} MiB; untracked {}",
        table as f64 / 1_048_576.0,
        table as f64 / KEYS as f64,
        grown as f64 / 1_048_576.0,
        limiter.untracked_requests()
    );
    assert_eq!(tracked, KEYS);
    assert_eq!(limiter.untracked_requests(), 0);
    assert!(table <= BOUND, "{table} bytes");
    assert!(grown <= BOUND + 8 * 1024 * 1024, "{grown} bytes");
    drop(limiter);

    // 100 per 60 s: one request leaves a key 0.6 s of state. Keys idle for
    // that long are dropped as the table grows: 2 batches of keys 0.7 s
    // apart leave about one batch.
    let limiter = RateLimiter::builder()
        .default_quota(Quota::new(100, 60).expect("valid"))
        .build();
    let mut service = service_with(&limiter);
    one_request_each(&mut service, 0..50_000).await;
    let first = limiter.tracked_keys();
    std::thread::sleep(std::time::Duration::from_millis(700));
    one_request_each(&mut service, 50_000..100_000).await;
    let then = limiter.tracked_keys();
    println!("100/60s: 50,000 keys, then 50,000 others 0.7 s later: {first} then {then} tracked");
    assert!(
        then < 75_000,
        "{then}: idle states were not dropped (100,000 without)"
    );
}
