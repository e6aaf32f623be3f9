//! Memory per key: a store of 1,000,000 keys, measured as the growth of the
//! process's resident set (allocator overhead included), must stay at about
//! 200 bytes per key plus its label. Alone in its file so that no other test
//! allocates meanwhile.

use std::time::{Duration, SystemTime};

use tower_bearer_auth::key_store::TokenDigest;
use tower_bearer_auth::{KeyEntry, KeyStore, ScopeSet};

const KEYS: usize = 1_000_000;
const BUDGET_PER_KEY: usize = 200;
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

#[test]
#[cfg(target_os = "linux")]
fn one_million_keys_fit_in_about_200_bytes_each_plus_labels() {
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
