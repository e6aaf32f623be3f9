//! The key store: lifecycle, uniqueness, expiry, atomic replacement,
//! checksums, and revocation while serving from many threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, SystemTime};

use tower_bearer_auth::key_store::{KeyStoreError, TokenDigest};
use tower_bearer_auth::{ApiKey, KeyEntry, KeyGenerator, KeyStore, ScopeSet, ValidationFailure};

fn new_key(store: &KeyStore, label: &str, scopes: &str) -> (String, String) {
    let key = KeyGenerator::new().generate().expect("random source");
    store
        .insert(
            KeyEntry::new(key.id(), label, key.digest())
                .with_scopes(ScopeSet::parse(scopes).expect("valid scopes")),
        )
        .expect("insert");
    (key.id().to_owned(), key.token().expose().to_owned())
}

fn failure(result: Result<ApiKey, tower_bearer_auth::ValidationError>) -> ValidationFailure {
    result.expect_err("refused").failure()
}

#[test]
fn a_stored_key_verifies_with_its_id_label_and_scopes() {
    let store = KeyStore::new();
    let (id, token) = new_key(&store, "Staging Server", "profile:read calls:write");
    let key = store.verify(&token).expect("valid key");
    assert_eq!(key.id(), id);
    assert_eq!(key.label(), "Staging Server");
    assert_eq!(key.scopes().as_str(), "calls:write profile:read");
    assert_eq!(store.get(&id), Some(key.clone()));
    assert_eq!(store.len(), 1);
}

#[test]
fn unknown_tokens_are_invalid() {
    let store = KeyStore::new();
    new_key(&store, "a", "");
    assert_eq!(
        failure(store.verify("sk_unknown")),
        ValidationFailure::Invalid
    );
    assert_eq!(
        failure(KeyStore::new().verify("anything")),
        ValidationFailure::Invalid
    );
}

#[test]
fn revoked_keys_fail_exactly_like_unknown_ones() {
    let store = KeyStore::new();
    let (id, token) = new_key(&store, "Old Laptop", "profile:read");
    store.revoke(&id).expect("revoke");
    assert_eq!(failure(store.verify(&token)), ValidationFailure::Invalid);
    assert!(store.is_revoked(&id));
    assert!(store.get(&id).is_none());
    // Idempotent; unknown ids are errors.
    assert!(store.revoke(&id).is_ok());
    assert_eq!(
        store.revoke("key_nope"),
        Err(KeyStoreError::UnknownId {
            id: "key_nope".into()
        })
    );
    let counts = store.counts();
    assert_eq!((counts.active, counts.revoked), (0, 1));
}

#[test]
fn removed_keys_are_forgotten() {
    let store = KeyStore::new();
    let (id, token) = new_key(&store, "a", "");
    store.remove(&id).expect("remove");
    assert_eq!(failure(store.verify(&token)), ValidationFailure::Invalid);
    assert!(!store.is_revoked(&id));
    assert!(store.entries().is_empty());
}

#[test]
fn expired_keys_are_refused_as_expired() {
    let store = KeyStore::new();
    let past = KeyGenerator::new().generate().expect("random source");
    let future = KeyGenerator::new().generate().expect("random source");
    let now = SystemTime::now();
    store
        .insert(
            KeyEntry::new(past.id(), "past", past.digest())
                .with_expiry(now - Duration::from_secs(1)),
        )
        .expect("insert");
    store
        .insert(
            KeyEntry::new(future.id(), "future", future.digest())
                .with_expiry(now + Duration::from_secs(3600)),
        )
        .expect("insert");
    assert_eq!(
        failure(store.verify(past.token().expose())),
        ValidationFailure::Expired
    );
    assert!(store.verify(future.token().expose()).is_ok());
}

#[test]
fn ids_and_digests_are_unique_including_revoked_keys() {
    let store = KeyStore::new();
    let digest = TokenDigest::of("sk_one");
    store
        .insert(KeyEntry::new("key_a", "a", digest))
        .expect("insert");
    assert_eq!(
        store.insert(KeyEntry::new("key_a", "again", TokenDigest::of("sk_two"))),
        Err(KeyStoreError::DuplicateId { id: "key_a".into() })
    );
    assert_eq!(
        store.insert(KeyEntry::new("key_b", "same hash", digest)),
        Err(KeyStoreError::DuplicateDigest {
            id: "key_b".into(),
            existing: "key_a".into()
        })
    );
    store.revoke("key_a").expect("revoke");
    assert!(matches!(
        store.insert(KeyEntry::new("key_c", "reuse revoked hash", digest)),
        Err(KeyStoreError::DuplicateDigest { .. })
    ));
    assert!(matches!(
        store.insert(KeyEntry::new(
            "key_a",
            "reuse revoked id",
            TokenDigest::of("x")
        )),
        Err(KeyStoreError::DuplicateId { .. })
    ));
}

#[test]
fn bad_ids_and_labels_are_refused() {
    let store = KeyStore::new();
    for id in ["", "has space", "quote\"", &"x".repeat(129)] {
        assert!(
            matches!(
                store.insert(KeyEntry::new(id, "l", TokenDigest::of(id))),
                Err(KeyStoreError::InvalidId { .. })
            ),
            "{id:?}"
        );
    }
    assert!(matches!(
        store.insert(KeyEntry::new("key_x", "line\nbreak", TokenDigest::of("x"))),
        Err(KeyStoreError::InvalidLabel { .. })
    ));
    assert!(store.is_empty());
}

#[test]
fn replace_all_is_all_or_nothing() {
    let store = KeyStore::new();
    let (_, old_token) = new_key(&store, "old", "");
    let fresh = KeyGenerator::new().generate().expect("random source");
    let bad = vec![
        KeyEntry::new(fresh.id(), "fresh", fresh.digest()),
        KeyEntry::new(fresh.id(), "same id", TokenDigest::of("other")),
    ];
    assert!(matches!(
        store.replace_all(bad),
        Err(KeyStoreError::DuplicateId { .. })
    ));
    assert!(
        store.verify(&old_token).is_ok(),
        "a failed replacement keeps the old keys"
    );
    assert!(store.verify(fresh.token().expose()).is_err());

    let same_hash = vec![
        KeyEntry::new("key_1", "one", TokenDigest::of("t")),
        KeyEntry::new("key_2", "two", TokenDigest::of("t")).with_revoked(true),
    ];
    assert!(matches!(
        store.replace_all(same_hash),
        Err(KeyStoreError::DuplicateDigest { .. })
    ));

    let good = vec![
        KeyEntry::new(fresh.id(), "fresh", fresh.digest()),
        KeyEntry::new("key_gone", "revoked", TokenDigest::of("gone")).with_revoked(true),
    ];
    let counts = store.replace_all(good).expect("valid set");
    assert_eq!((counts.active, counts.revoked), (1, 1));
    assert!(store.verify(fresh.token().expose()).is_ok());
    assert!(store.verify(&old_token).is_err());
    assert!(store.verify("gone").is_err());
    assert_eq!(store.entries().len(), 2);
}

#[test]
fn checksum_mode_refuses_typos_as_malformed_and_default_mode_accepts_imports() {
    let strict = KeyStore::builder().require_checksum(true).build();
    let (_, token) = new_key(&strict, "generated", "");
    assert!(strict.verify(&token).is_ok());
    // Change one character of the random part: the checksum no longer matches.
    let mut typo = token.clone().into_bytes();
    let i = token.find('_').expect("prefix") + 3;
    typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).expect("ascii");
    assert_eq!(failure(strict.verify(&typo)), ValidationFailure::Malformed);

    let imported = "legacy-key-from-another-system";
    strict
        .insert(KeyEntry::new(
            "key_legacy",
            "legacy",
            TokenDigest::of(imported),
        ))
        .expect("insert");
    assert_eq!(
        failure(strict.verify(imported)),
        ValidationFailure::Malformed
    );

    let lenient = KeyStore::new();
    lenient
        .insert(KeyEntry::new(
            "key_legacy",
            "legacy",
            TokenDigest::of(imported),
        ))
        .expect("insert");
    assert!(lenient.verify(imported).is_ok());
    assert_eq!(failure(lenient.verify(&typo)), ValidationFailure::Invalid);
}

#[test]
fn principals_are_cheap_clones_and_scope_sets_are_shared() {
    let store = KeyStore::new();
    let (_, a) = new_key(&store, "a", "profile:read calls:write");
    let (_, b) = new_key(&store, "b", "calls:write profile:read");
    let key_a = store.verify(&a).expect("valid");
    let key_b = store.verify(&b).expect("valid");
    assert_eq!(
        key_a.scopes().as_str().as_ptr(),
        key_b.scopes().as_str().as_ptr(),
        "equal scope sets are interned"
    );
    let again = store.verify(&a).expect("valid");
    assert_eq!(
        key_a.label().as_ptr(),
        again.label().as_ptr(),
        "no copy per request"
    );
}

#[test]
fn debug_output_holds_no_secret() {
    let store = KeyStore::new();
    let (_, token) = new_key(&store, "Staging", "profile:read");
    let key = store.verify(&token).expect("valid");
    for debug in [
        format!("{store:?}"),
        format!("{key:?}"),
        format!("{:?}", store.entries()),
    ] {
        assert!(!debug.contains(&token), "{debug}");
        assert!(
            !debug.contains(&TokenDigest::of(&token).to_hex()),
            "{debug}"
        );
    }
}

/// Readers serve continuously while a writer revokes keys one by one and
/// adds new ones. A reader records, before each lookup, whether the key's
/// `revoke` had already returned; such a lookup must fail. Keys that are
/// never revoked must never fail, and added keys must work once `insert`
/// has returned.
#[test]
fn revocation_is_in_force_for_every_lookup_that_starts_after_it_returns() {
    const KEYS: usize = 200;
    let store = KeyStore::new();
    let doomed: Vec<(String, String)> = (0..KEYS)
        .map(|i| new_key(&store, &format!("doomed {i}"), ""))
        .collect();
    let (_, stable) = new_key(&store, "stable", "");
    let revoked_flags: Arc<Vec<AtomicBool>> =
        Arc::new((0..KEYS).map(|_| AtomicBool::new(false)).collect());
    let added: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let violations = Arc::new(AtomicUsize::new(0));
    let lookups = Arc::new(AtomicUsize::new(0));

    let readers: Vec<_> = (0..4)
        .map(|r| {
            let store = store.clone();
            let doomed = doomed.clone();
            let flags = Arc::clone(&revoked_flags);
            let added = Arc::clone(&added);
            let done = Arc::clone(&done);
            let violations = Arc::clone(&violations);
            let lookups = Arc::clone(&lookups);
            let stable = stable.clone();
            thread::spawn(move || {
                let mut i = r;
                while !done.load(Ordering::SeqCst) {
                    i = (i + 7) % KEYS;
                    let was_revoked = flags[i].load(Ordering::SeqCst);
                    if was_revoked && store.verify(&doomed[i].1).is_ok() {
                        violations.fetch_add(1, Ordering::SeqCst);
                    }
                    if store.verify(&stable).is_err() {
                        violations.fetch_add(1, Ordering::SeqCst);
                    }
                    let newest = added.lock().expect("lock").last().cloned();
                    if newest.is_some_and(|token| store.verify(&token).is_err()) {
                        violations.fetch_add(1, Ordering::SeqCst);
                    }
                    lookups.fetch_add(3, Ordering::Relaxed);
                }
            })
        })
        .collect();

    for (i, (id, _)) in doomed.iter().enumerate() {
        store.revoke(id).expect("revoke");
        revoked_flags[i].store(true, Ordering::SeqCst);
        let (_, token) = new_key(&store, &format!("fresh {i}"), "");
        added.lock().expect("lock").push(token);
        thread::sleep(Duration::from_micros(200));
    }
    done.store(true, Ordering::SeqCst);
    for reader in readers {
        reader.join().expect("reader thread");
    }
    assert_eq!(violations.load(Ordering::SeqCst), 0);
    assert!(
        lookups.load(Ordering::Relaxed) > 1000,
        "readers ran concurrently"
    );
    for (_, token) in &doomed {
        assert!(store.verify(token).is_err());
    }
    assert_eq!(store.counts().active, KEYS + 1);
}
