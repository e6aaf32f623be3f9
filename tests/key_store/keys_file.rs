//! The keys file on disk: start from it, reload it, save it; a failed
//! reload keeps the old keys in force.

use crate::support::TempDir;
use tower_bearer_auth::key_store::KeysFile;
use tower_bearer_auth::{KeyEntry, KeyGenerator, KeyStore, ScopeSet};

fn generated(label: &str) -> (KeyEntry, String) {
    let key = KeyGenerator::new().generate().expect("random source");
    let entry = KeyEntry::new(key.id(), label, key.digest())
        .with_scopes(ScopeSet::parse("profile:read").expect("valid"));
    (entry, key.token().expose().to_owned())
}

#[test]
fn save_load_and_reload_with_revocation() {
    let dir = TempDir::new("reload");
    let path = dir.path().join("keys.json");
    let (a, token_a) = generated("Staging Server");
    let (b, token_b) = generated("Production Dialer");
    KeysFile::from_entries(vec![a.clone(), b.clone()])
        .save(&path)
        .expect("save");

    let store = KeyStore::from_keys_file(&path).expect("load");
    assert!(store.verify(&token_a).is_ok());
    assert!(store.verify(&token_b).is_ok());

    // Mark `a` revoked in the file and reload: refused from then on; `b` unaffected.
    KeysFile::from_entries(vec![a.clone().with_revoked(true), b.clone()])
        .save(&path)
        .expect("save");
    let counts = store.reload_keys_file(&path).expect("reload");
    assert_eq!((counts.active, counts.revoked), (1, 1));
    assert!(store.verify(&token_a).is_err());
    assert!(store.verify(&token_b).is_ok());

    // The store saves what it holds, revoked keys included.
    let saved = dir.path().join("saved.json");
    store.save_keys_file(&saved).expect("save");
    let reloaded = KeysFile::load(&saved).expect("load");
    assert_eq!(reloaded.entries().len(), 2);
    assert!(
        reloaded
            .entries()
            .iter()
            .any(|e| e.id() == a.id() && e.is_revoked())
    );
    let text = std::fs::read_to_string(&saved).expect("read");
    assert!(
        !text.contains(&token_a) && !text.contains(&token_b),
        "no plaintext token on disk"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_failed_reload_keeps_the_old_keys() {
    let dir = TempDir::new("failed");
    let path = dir.path().join("keys.json");
    let (a, token_a) = generated("Staging Server");
    KeysFile::from_entries(vec![a.clone()])
        .save(&path)
        .expect("save");
    let store = KeyStore::from_keys_file(&path).expect("load");

    for broken in [
        "{\"keys\": [".to_owned(),
        r#"{"keys":[{"id":"key_x","label":"x","hash":"sha256:nothex","created_at":"2026-11-27T10:00:00Z"}]}"#.to_owned(),
        KeysFile::from_entries(vec![a.clone(), a.clone()]).to_json(),
    ] {
        std::fs::write(&path, broken).expect("write");
        let error = store.reload_keys_file(&path).expect_err("refused");
        assert!(error.to_string().starts_with(&format!("keys file {}", path.display())), "{error}");
        assert!(store.verify(&token_a).is_ok(), "old keys stay in force after: {error}");
    }
    std::fs::remove_file(&path).expect("remove");
    assert!(store.reload_keys_file(&path).is_err());
    assert!(store.verify(&token_a).is_ok());
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let error = KeyStore::from_keys_file("/nonexistent/keys.json").expect_err("missing");
    assert!(
        error
            .to_string()
            .starts_with("keys file /nonexistent/keys.json: "),
        "{error}"
    );
}
