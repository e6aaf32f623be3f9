//! Tests of the keys file format and its errors.

use super::*;

const HASH: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn one(entry: &str) -> String {
    format!(r#"{{"keys":[{entry}]}}"#)
}

fn valid(id: &str, hash: &str) -> String {
    format!(
        r#"{{"id":"{id}","label":"Staging Server","hash":"{hash}","scopes":["profile:read"],"created_at":"2026-11-27T10:00:00Z"}}"#
    )
}

fn error(json: &str) -> String {
    KeysFile::parse(json).expect_err("refused").to_string()
}

#[test]
fn parses_the_documented_format() {
    let json = one(&format!(
        r#"{{"id":"key_a","label":"Staging Server","hash":"{HASH}","scopes":["profile:read","calls:write"],"created_at":"2026-11-27T10:00:00Z","expires_at":"2027-01-01T00:00:00Z","revoked":true,"metadata":{{"owner":"ops"}}}}"#
    ));
    let file = KeysFile::parse(&json).expect("valid");
    let entry = &file.entries()[0];
    assert_eq!(entry.id(), "key_a");
    assert_eq!(entry.scopes().as_str(), "calls:write profile:read");
    assert!(entry.is_revoked());
    assert_eq!(entry.metadata()["owner"], "ops");
    assert_eq!(entry.digest(), &TokenDigest::of("abc"));
    assert!(entry.expires_at().is_some());
}

#[test]
fn round_trips_through_json() {
    let file = KeysFile::parse(&one(&valid("key_a", HASH))).expect("valid");
    let again = KeysFile::parse(&file.to_json()).expect("valid");
    assert_eq!(file, again);
}

#[test]
fn errors_name_the_entry_and_the_problem() {
    let bad_hash = error(&one(&valid("key_a", "sha256:ABC")));
    assert_eq!(
        bad_hash,
        "keys file, entry 0 (id \"key_a\"): hash must be \"sha256:\" followed by 64 lowercase hexadecimal digits"
    );
    let upper = error(&one(&valid(
        "key_a",
        &HASH.to_uppercase().replace("SHA256", "sha256"),
    )));
    assert!(upper.contains("64 lowercase hexadecimal digits"), "{upper}");
    let typo = error(&one(
        r#"{"id":"key_a","label":"l","hash":"x","created_at":"2026-11-27T10:00:00Z","expires":"2027-01-01T00:00:00Z"}"#,
    ));
    assert!(
        typo.starts_with("keys file, entry 0 (id \"key_a\"): unknown field `expires`"),
        "{typo}"
    );
    let date = error(&one(
        &valid("key_a", HASH).replace("2026-11-27T10:00:00Z", "yesterday")
    ));
    assert!(
        date.contains("created_at: \"yesterday\" is not an RFC 3339 timestamp"),
        "{date}"
    );
    let scope = error(&one(
        &valid("key_a", HASH).replace("profile:read", "has space")
    ));
    assert!(scope.contains("invalid scope"), "{scope}");
    let missing = error(&one(
        r#"{"label":"l","hash":"x","created_at":"2026-11-27T10:00:00Z"}"#,
    ));
    assert!(
        missing.starts_with("keys file, entry 0: missing field `id`"),
        "{missing}"
    );
}

#[test]
fn repeated_ids_and_hashes_are_refused() {
    let other = "sha256:".to_owned() + &"0".repeat(64);
    let twice = format!(
        r#"{{"keys":[{},{}]}}"#,
        valid("key_a", HASH),
        valid("key_a", &other)
    );
    assert_eq!(
        error(&twice),
        "keys file, entry 1 (id \"key_a\"): key id \"key_a\" is used twice"
    );
    let same_hash = format!(
        r#"{{"keys":[{},{}]}}"#,
        valid("key_a", HASH),
        valid("key_b", HASH)
    );
    assert!(
        error(&same_hash).contains("has the same hash as key"),
        "{}",
        error(&same_hash)
    );
}

#[test]
fn malformed_documents_are_refused() {
    assert!(error("").starts_with("keys file: invalid JSON"));
    assert!(error("{\"keys\": [").starts_with("keys file: invalid JSON"));
    assert_eq!(
        error("[]"),
        "keys file: the file must be a JSON object {\"keys\": [...]}"
    );
    assert_eq!(
        error("{}"),
        "keys file: the file must have a \"keys\" array"
    );
    assert_eq!(
        error(r#"{"keys":[],"x":1}"#),
        "keys file: unknown top-level field \"x\""
    );
    assert!(
        KeysFile::parse(r#"{"keys":[]}"#)
            .expect("empty is valid")
            .entries()
            .is_empty()
    );
}
