//! The keys file on disk: start from it (strictly), reload it (entry by
//! entry, failing safe), save it.

use crate::support::TempDir;
use tower_bearer_auth::key_store::keys_file::KeysFile;
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
    let reload = store.reload_keys_file(&path).expect("reload");
    assert_eq!((reload.counts.active, reload.counts.revoked), (1, 1));
    assert!(reload.refused.is_empty());
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
fn a_file_that_is_not_a_keys_file_changes_nothing() {
    let dir = TempDir::new("failed");
    let path = dir.path().join("keys.json");
    let (a, token_a) = generated("Staging Server");
    KeysFile::from_entries(vec![a.clone()])
        .save(&path)
        .expect("save");
    let store = KeyStore::from_keys_file(&path).expect("load");
    let revoking = KeysFile::from_entries(vec![a.clone().with_revoked(true)]).to_json();

    // A revocation inside a file that is not JSON (a trailing comma, a
    // half-written file) cannot be read, so nothing changes, and the
    // error says so.
    for broken in [
        revoking.replacen('}', "},", 1),
        revoking[..revoking.len() / 2].to_owned(),
        "[]".to_owned(),
    ] {
        std::fs::write(&path, broken).expect("write");
        let error = store.reload_keys_file(&path).expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with(&format!("keys file {}", path.display())),
            "{error}"
        );
        assert!(store.verify(&token_a).is_ok(), "unchanged after: {error}");
    }
    std::fs::remove_file(&path).expect("remove");
    assert!(store.reload_keys_file(&path).is_err());
    assert!(store.verify(&token_a).is_ok());
}

/// The outside review's case: an edit revokes a key and holds a mistake
/// elsewhere. The revocation must take effect, the broken entry's key must
/// fail too (it is refused), and a key whose entry is fine keeps working.
#[test]
fn a_reload_fails_safe_entry_by_entry() {
    let dir = TempDir::new("entry-by-entry");
    let path = dir.path().join("keys.json");
    let (revoked, revoked_token) = generated("Leaked Laptop");
    let (typo, typo_token) = generated("Typo Server");
    let (fine, fine_token) = generated("Production Dialer");
    let (dropped, dropped_token) = generated("Retired");
    KeysFile::from_entries(vec![
        revoked.clone(),
        typo.clone(),
        fine.clone(),
        dropped.clone(),
    ])
    .save(&path)
    .expect("save");
    let store = KeyStore::from_keys_file(&path).expect("load");
    for token in [&revoked_token, &typo_token, &fine_token, &dropped_token] {
        assert!(store.verify(token).is_ok());
    }

    let mistakes = [
        ("\"scopes\"", "\"scope\""),
        ("\"revoked\": false", "\"revoked\": \"false\""),
        ("\"label\": \"Typo Server\"", "\"label\": 7"),
    ];
    for (correct, mistaken) in mistakes {
        // `revoked` revoked as it should be; `typo` with one mistake;
        // `dropped` no longer listed.
        let text = KeysFile::from_entries(vec![revoked.clone().with_revoked(true), fine.clone()])
            .to_json();
        let typo_text = KeysFile::from_entries(vec![typo.clone()]).to_json();
        let typo_entry = typo_text
            .trim()
            .trim_start_matches("{\n  \"keys\": [")
            .trim_end_matches("]\n}")
            .replacen(correct, mistaken, 1);
        assert!(typo_entry.contains(mistaken), "{typo_entry}");
        let text = text.replacen("\"keys\": [", &format!("\"keys\": [{typo_entry},"), 1);
        std::fs::write(&path, &text).expect("write");

        let reload = store.reload_keys_file(&path).expect("a keys file");
        assert_eq!(reload.refused.len(), 1, "{mistaken}: {:?}", reload.refused);
        let refused = &reload.refused[0];
        assert_eq!(refused.entry_index(), Some(0));
        assert_eq!(refused.entry_id(), Some(typo.id()));
        assert!(
            store.verify(&revoked_token).is_err(),
            "{mistaken}: the revocation holds"
        );
        assert!(
            store.verify(&typo_token).is_err(),
            "{mistaken}: the refused entry's key fails"
        );
        assert!(
            store.verify(&dropped_token).is_err(),
            "{mistaken}: unlisted keys are removed"
        );
        assert!(
            store.verify(&fine_token).is_ok(),
            "{mistaken}: valid entries stay in force"
        );

        // Putting everything back restores every listed key.
        KeysFile::from_entries(vec![
            revoked.clone(),
            typo.clone(),
            fine.clone(),
            dropped.clone(),
        ])
        .save(&path)
        .expect("save");
        let reload = store.reload_keys_file(&path).expect("reload");
        assert!(reload.refused.is_empty());
        assert!(store.verify(&typo_token).is_ok());
    }

    // A duplicated id: neither entry is in force.
    let twice = KeysFile::from_entries(vec![revoked.clone(), revoked.clone(), fine.clone()]);
    twice.save(&path).expect("save");
    let reload = store.reload_keys_file(&path).expect("a keys file");
    assert_eq!(reload.refused.len(), 2);
    assert!(store.verify(&revoked_token).is_err());
    assert!(store.verify(&fine_token).is_ok());
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
