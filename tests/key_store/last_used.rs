//! Last use: noted on the request path to the minute, shown by entries,
//! kept across a reload of an older file, saved in the keys file.

use std::time::{Duration, SystemTime};

use tower_bearer_auth::key_store::{admin::EmbeddedKeyAdmin, admin::KeyAdmin, keys_file::KeysFile};
use tower_bearer_auth::{KeyEntry, KeyGenerator, KeyStore};

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[test]
fn a_verified_key_shows_its_last_use_in_whole_minutes() {
    let store = KeyStore::new();
    let key = KeyGenerator::new().generate().expect("key");
    store
        .insert(KeyEntry::new(key.id(), "Staging Server", key.digest()))
        .expect("insert");
    assert_eq!(store.entry(key.id()).expect("entry").last_used_at(), None);

    let before = seconds(SystemTime::now());
    store.verify(key.token().expose()).expect("valid");
    let used = seconds(
        store
            .entry(key.id())
            .expect("entry")
            .last_used_at()
            .expect("noted"),
    );
    println!("verified at {before} s, last use noted as {used} s");
    assert_eq!(used % 60, 0, "whole minutes");
    // The coarse clock ticks once a minute: the minute noted is this one
    // (or the one before, right at a minute's turn).
    assert!(used <= before && before - used < 120, "{used} vs {before}");

    // A refused token notes nothing.
    let other = KeyGenerator::new().generate().expect("key");
    store
        .insert(KeyEntry::new(other.id(), "Unused", other.digest()).with_revoked(true))
        .expect("insert");
    assert!(store.verify(other.token().expose()).is_err());
    assert_eq!(store.entry(other.id()).expect("entry").last_used_at(), None);
}

#[test]
fn a_reload_keeps_the_later_last_use() {
    let store = KeyStore::new();
    let key = KeyGenerator::new().generate().expect("key");
    let entry = KeyEntry::new(key.id(), "Staging Server", key.digest());
    store.insert(entry.clone()).expect("insert");
    store.verify(key.token().expose()).expect("valid");
    let used = store.entry(key.id()).expect("entry").last_used_at();
    assert!(used.is_some());

    // The file was saved before that use: reloading it must not forget it.
    store.replace_all([entry.clone()]).expect("reload");
    assert_eq!(store.entry(key.id()).expect("entry").last_used_at(), used);

    // A file with a later use (another process saved it) wins.
    let later = used.expect("used") + Duration::from_secs(3_600);
    store
        .replace_all([entry.with_last_used_at(Some(later))])
        .expect("reload");
    assert_eq!(
        store.entry(key.id()).expect("entry").last_used_at(),
        Some(later)
    );
}

#[tokio::test]
async fn admin_changes_save_last_uses_to_the_keys_file() {
    let dir = crate::support::TempDir::new("last-used");
    let path = dir.path().join("keys.json");
    let store = KeyStore::new();
    let admin = EmbeddedKeyAdmin::with_keys_file(store.clone(), &path);
    let key = KeyGenerator::new().generate().expect("key");
    admin
        .insert(KeyEntry::new(key.id(), "Staging Server", key.digest()).with_hint(key.hint()))
        .await
        .expect("insert");
    store.verify(key.token().expose()).expect("valid");
    admin
        .update(key.id(), |entry| Ok(entry.with_label("Production Dialer")))
        .await
        .expect("update");

    let saved = KeysFile::load(&path).expect("load");
    let saved = &saved.entries()[0];
    assert_eq!(saved.label(), "Production Dialer");
    assert_eq!(saved.hint(), Some(key.hint()));
    assert_eq!(
        saved.last_used_at(),
        store.entry(key.id()).expect("entry").last_used_at()
    );
    assert!(saved.last_used_at().is_some());
}
