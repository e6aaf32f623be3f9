//! Tests of the keys file format, its errors, reading entry by entry, and
//! saving.

use super::*;
use crate::key_store::TokenDigest;

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
fn errors_name_the_entry_the_field_and_the_problem() {
    assert_eq!(
        error(&one(&valid("key_a", "sha256:ABC"))),
        "keys file, entry 0 (id \"key_a\"): `hash` must be \"sha256:\" followed by 64 lowercase hexadecimal digits"
    );
    let upper = error(&one(&valid(
        "key_a",
        &HASH.to_uppercase().replace("SHA256", "sha256"),
    )));
    assert!(upper.contains("64 lowercase hexadecimal digits"), "{upper}");
    assert_eq!(
        error(&one(
            r#"{"id":"key_a","label":"l","hash":"x","created_at":"2026-11-27T10:00:00Z","expires":"2027-01-01T00:00:00Z"}"#,
        )),
        "keys file, entry 0 (id \"key_a\"): has an unknown field `expires`; fields are id, label, hash, scopes, created_at, expires_at, revoked, metadata, hint, last_used_at, rate_limit, rotated_from, rotated_to, owner, allowed_ips, credits, owner_limits"
    );
    assert_eq!(
        error(&one(
            &valid("key_a", HASH).replace("2026-11-27T10:00:00Z", "yesterday")
        )),
        "keys file, entry 0 (id \"key_a\"): `created_at` is not an RFC 3339 timestamp (e.g. 2027-01-01T00:00:00Z)"
    );
    let scope = error(&one(
        &valid("key_a", HASH).replace("profile:read", "has space")
    ));
    assert!(scope.contains("`scopes` holds an invalid scope"), "{scope}");
    assert_eq!(
        error(&one(
            r#"{"label":"l","hash":"x","created_at":"2026-11-27T10:00:00Z"}"#,
        )),
        "keys file, entry 0: `id` is missing"
    );
    assert_eq!(
        error(&one(&valid("key_a", HASH).replace(
            "\"created_at\"",
            "\"revoked\":\"true\",\"created_at\""
        ))),
        "keys file, entry 0 (id \"key_a\"): `revoked` must be true or false"
    );
    assert_eq!(
        error(&one(&valid("bad id", HASH))),
        "keys file, entry 0: `id` must be 1 to 128 characters from A-Z a-z 0-9 _ - . : (but not \".\" or \"..\")"
    );
    assert_eq!(
        error("[1]"),
        "keys file: the file must be a JSON object {\"keys\": [...]}"
    );
    assert_eq!(
        error(r#"{"keys":[7]}"#),
        "keys file, entry 0: is not an object"
    );
}

/// A token pasted into any field, or as a field name, never comes back in
/// an error: errors name the field, never the value.
#[test]
fn errors_never_repeat_a_value_from_the_file() {
    let token = "sk_0j8getr74edHoPo3MP54ozbDTfkKID40devq";
    let pasted = [
        valid("key_a", token),
        valid("key_a", &format!("sha256:{token}")),
        valid("key_a", HASH).replace("2026-11-27T10:00:00Z", token),
        valid("key_a", HASH).replace(
            "\"created_at\"",
            &format!("\"expires_at\":\"{token}\",\"created_at\""),
        ),
        valid("key_a", HASH).replace(
            "\"created_at\"",
            &format!("\"revoked\":\"{token}\",\"created_at\""),
        ),
        valid("key_a", HASH).replace("profile:read", &format!("{token} x")),
        valid("key_a", HASH).replace("[\"profile:read\"]", &format!("\"{token}\"")),
        valid("key_a", HASH).replace(
            "\"created_at\"",
            &format!("\"metadata\":{{\"k\":[\"{token}\"]}},\"created_at\""),
        ),
        valid("key_a", HASH).replace("\"created_at\"", &format!("\"{token}\":1,\"created_at\"")),
        valid("key_a", HASH).replace("Staging Server", &format!("{token}\\u0001")),
        valid(&format!("{token}!"), HASH),
        format!(r#"{{"keys":[],"{token}":1}}"#),
        format!(r#"{{"keys":["{token}"]}}"#),
        format!(r#"{{"keys":[{{"id":"key_a","label":"{token}"#),
    ];
    for json in pasted {
        let json = if json.starts_with("{\"keys\"") {
            json
        } else {
            one(&json)
        };
        let message = error(&json);
        assert!(!message.contains(token), "{message}");
        assert!(!message.contains("0j8getr"), "{message}");
    }
}

#[test]
fn repeated_ids_and_hashes_refuse_every_entry_involved() {
    let other = "sha256:".to_owned() + &"0".repeat(64);
    let third = "sha256:".to_owned() + &"1".repeat(64);
    let twice = format!(
        r#"{{"keys":[{},{},{}]}}"#,
        valid("key_a", HASH),
        valid("key_a", &other),
        valid("key_c", &third)
    );
    assert_eq!(
        error(&twice),
        "keys file, entry 0 (id \"key_a\"): `id` is also used by entry 1"
    );
    let (file, refused) = KeysFile::parse_each(&twice).expect("a keys file");
    assert_eq!(
        file.entries().iter().map(KeyEntry::id).collect::<Vec<_>>(),
        ["key_c"]
    );
    assert_eq!(
        refused.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "keys file, entry 0 (id \"key_a\"): `id` is also used by entry 1",
            "keys file, entry 1 (id \"key_a\"): `id` is also used by entry 0",
        ]
    );
    let same_hash = format!(
        r#"{{"keys":[{},{}]}}"#,
        valid("key_a", HASH),
        valid("key_b", HASH)
    );
    let (file, refused) = KeysFile::parse_each(&same_hash).expect("a keys file");
    assert!(file.entries().is_empty());
    assert_eq!(refused[1].field(), Some("hash"));
    assert_eq!(refused[1].entry_id(), Some("key_b"));
    assert_eq!(refused[1].entry_index(), Some(1));
}

#[test]
fn entry_by_entry_keeps_the_valid_entries_and_names_each_refused_one() {
    let other = "sha256:".to_owned() + &"0".repeat(64);
    let json = format!(
        r#"{{"keys":[{},{},{}]}}"#,
        valid("key_good", HASH),
        valid("key_typo", &other).replace("\"scopes\"", "\"scope\""),
        valid(
            "key_revoked_as_text",
            &("sha256:".to_owned() + &"2".repeat(64))
        )
        .replace("\"created_at\"", "\"revoked\":\"true\",\"created_at\""),
    );
    let (file, refused) = KeysFile::parse_each(&json).expect("a keys file");
    assert_eq!(
        file.entries().iter().map(KeyEntry::id).collect::<Vec<_>>(),
        ["key_good"]
    );
    let named: Vec<_> = refused
        .iter()
        .map(|e| (e.entry_index(), e.entry_id(), e.field()))
        .collect();
    assert_eq!(
        named,
        [
            (Some(1), Some("key_typo"), None),
            (Some(2), Some("key_revoked_as_text"), Some("revoked")),
        ]
    );
    // Strict parsing refuses the same file whole.
    assert!(KeysFile::parse(&json).is_err());
}

#[test]
fn what_is_not_a_keys_file_is_refused_whole() {
    for (json, expected) in [
        (
            "",
            "keys file: invalid JSON at line 1 column 0 (the file ends early)",
        ),
        (
            "{\"keys\": [",
            "keys file: invalid JSON at line 1 column 10 (the file ends early)",
        ),
        (
            "{\"keys\": [],}",
            "keys file: invalid JSON at line 1 column 13 (a syntax error)",
        ),
        (
            "[]",
            "keys file: the file must be a JSON object {\"keys\": [...]}",
        ),
        ("{}", "keys file: the file must have a \"keys\" array"),
        (
            r#"{"keys":[],"x":1}"#,
            "keys file: an unknown field `x` besides \"keys\"",
        ),
    ] {
        assert_eq!(
            KeysFile::parse_each(json)
                .map(|_| ())
                .expect_err("not a keys file")
                .to_string(),
            expected,
            "{json:?}"
        );
    }
    assert!(
        KeysFile::parse(r#"{"keys":[]}"#)
            .expect("empty is valid")
            .entries()
            .is_empty()
    );
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tba-keys-file-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

#[cfg(unix)]
#[test]
fn save_is_private_atomic_and_never_follows_a_planted_file() {
    use std::os::unix::fs::PermissionsExt;

    let dir = scratch("save");
    let path = dir.join("keys.json");
    let file = KeysFile::parse(&one(&valid("key_a", HASH))).expect("valid");
    // What the old code wrote to: a fixed temporary name, planted
    // world-writable, and a link planted as the same name.
    let planted = dir.join("keys.json.tmp");
    std::fs::write(&planted, "planted").expect("plant a file");
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let target = dir.join("target.txt");
    std::fs::write(&target, "do not overwrite").expect("write target");

    file.save(&path).expect("saved");
    let mode = std::fs::metadata(&path)
        .expect("saved file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    assert_eq!(KeysFile::load(&path).expect("loads"), file);
    assert_eq!(
        std::fs::read_to_string(&planted).expect("planted"),
        "planted"
    );

    // A link at the keys file's own path is replaced, not written through.
    std::fs::remove_file(&path).expect("remove");
    std::os::unix::fs::symlink(&target, &path).expect("link");
    file.save(&path).expect("saved over the link");
    assert_eq!(
        std::fs::read_to_string(&target).expect("target"),
        "do not overwrite"
    );
    assert!(
        !std::fs::symlink_metadata(&path)
            .expect("saved")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::metadata(&path)
            .expect("saved")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".keys-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_failed_save_leaves_the_file_as_it_was() {
    let dir = scratch("failed-save");
    let path = dir.join("missing-directory").join("keys.json");
    let file = KeysFile::parse(&one(&valid("key_a", HASH))).expect("valid");
    let refused = file.save(&path).expect_err("no such directory");
    assert!(refused.to_string().contains("keys.json"), "{refused}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_rate_limit_is_read_checked_and_written() {
    let with = |rate_limit: &str| {
        one(&format!(
            r#"{{"id":"key_a","label":"Dialer","hash":"{HASH}","scopes":[],"created_at":"2026-11-27T10:00:00Z","rate_limit":{rate_limit}}}"#
        ))
    };
    let file = KeysFile::parse(&with(r#"{"requests":100,"per_seconds":60}"#)).expect("valid");
    let quota = file.entries()[0].rate_limit().expect("a quota");
    assert_eq!((quota.requests(), quota.per_seconds()), (100, 60));
    let written: serde_json::Value = serde_json::from_str(&file.to_json()).expect("JSON");
    assert_eq!(
        written["keys"][0]["rate_limit"],
        serde_json::json!({"requests": 100, "per_seconds": 60})
    );
    assert_eq!(KeysFile::parse(&file.to_json()).expect("valid"), file);
    let none = KeysFile::parse(&with("null")).expect("valid");
    assert_eq!(none.entries()[0].rate_limit(), None);
    assert!(!none.to_json().contains("rate_limit"));
    for bad in [
        r#"{"requests":0,"per_seconds":60}"#,
        r#"{"requests":100,"per_seconds":0}"#,
        r#"{"requests":100,"per_seconds":86401}"#,
        r#"{"requests":100}"#,
        r#"{"requests":100,"per_seconds":60,"burst":5}"#,
        r#"{"requests":-1,"per_seconds":60}"#,
        r#"{"requests":1.5,"per_seconds":60}"#,
        r#""100/60s""#,
        r#"{"requests":4294967296,"per_seconds":60}"#,
    ] {
        let message = error(&with(bad));
        assert!(message.contains("`rate_limit` must be"), "{bad}: {message}");
        assert!(
            !message.contains("4294967296"),
            "no value repeated: {message}"
        );
    }
}

#[test]
fn a_rotation_lineage_is_read_checked_and_written() {
    let with = |lineage: &str| {
        KeysFile::parse(&format!(
            r#"{{"keys":[{{"id":"key_a","label":"Dialer","hash":"{HASH}","created_at":"2026-11-27T10:00:00Z"{lineage}}}]}}"#
        ))
    };
    let file = with(r#","rotated_from":"key_0","rotated_to":"key:b""#).expect("valid lineage");
    let entry = &file.entries()[0];
    assert_eq!(
        (entry.rotated_from(), entry.rotated_to()),
        (Some("key_0"), Some("key:b"))
    );
    let written: serde_json::Value = serde_json::from_str(&file.to_json()).expect("JSON");
    assert_eq!(written["keys"][0]["rotated_from"], "key_0");
    assert_eq!(written["keys"][0]["rotated_to"], "key:b");
    assert_eq!(KeysFile::parse(&file.to_json()).expect("round trip"), file);
    let plain = with("").expect("no lineage");
    assert!(!plain.to_json().contains("rotated"));
    for bad in [
        r#","rotated_to":"..""#,
        r#","rotated_from":5"#,
        r#","rotated_to":"a b""#,
    ] {
        let message = with(bad).expect_err(bad).to_string();
        assert!(message.contains("must be a key id"), "{bad}: {message}");
    }
}

#[test]
fn the_file_is_read_entry_by_entry_with_the_same_answers_for_its_shape() {
    let error = |json: &str| KeysFile::parse(json).expect_err(json).to_string();
    for (json, says) in [
        ("[1]", "must be a JSON object"),
        ("\"keys\"", "must be a JSON object"),
        ("{}", "must have a \"keys\" array"),
        ("{\"keys\":{}}", "must have a \"keys\" array"),
        ("{\"keys\":null}", "must have a \"keys\" array"),
        (
            "{\"keys\":[],\"version\":1}",
            "an unknown field `version` besides \"keys\"",
        ),
        (
            "{\"sk_0j8getr74edHoPo3MP54ozbDTfkKID40devq\":1}",
            "an unknown field besides",
        ),
        ("{\"keys\":[],\"keys\":[]}", "\"keys\" twice"),
        ("{\"keys\":[{}", "invalid JSON"),
        ("{\"keys\":[]} trailing", "invalid JSON"),
    ] {
        let message = error(json);
        assert!(message.contains(says), "{json}: {message}");
        assert!(!message.contains("sk_0j8g"), "{json}: {message}");
    }
    let empty = KeysFile::parse("{\"keys\":[]}").expect("an empty keys file");
    assert!(empty.entries().is_empty());
}

/// A checked file refuses exactly what `KeysFile::parse` refuses, with the
/// same first error, and reads back exactly its entries.
#[cfg(feature = "replica")]
#[test]
fn a_checked_file_agrees_with_the_parsed_one() {
    let a = format!("sha256:{}", "0".repeat(64));
    let b = format!("sha256:{}", "1".repeat(64));
    let c = format!("sha256:{}", "2".repeat(64));
    let file = |entries: &[String]| format!("{{\"keys\":[{}]}}", entries.join(","));
    let cases = [
        file(&[valid("key_a", &a), valid("key_b", &b)]),
        file(&[]),
        file(&[valid("key_a", &a), valid("key_a", &b)]),
        file(&[valid("key_a", &a), valid("key_b", &a)]),
        // Two repeats: the earliest entry is named (key_a at 0, not key_b at 1).
        file(&[
            valid("key_a", &a),
            valid("key_b", &b),
            valid("key_b", &c),
            valid("key_x", &a),
        ]),
        // A bad entry before a repeat, and after one.
        file(&[
            valid("key_a", &a),
            "{\"id\":\"key_q\"}".to_owned(),
            valid("key_a", &b),
        ]),
        file(&[
            valid("key_a", &a),
            valid("key_a", &b),
            "{\"id\":\"key_q\"}".to_owned(),
        ]),
        "{\"keys\":{}}".to_owned(),
        "not json".to_owned(),
    ];
    for text in cases {
        match (KeysFile::parse(&text), CheckedKeysFile::parse(text.clone())) {
            (Ok(parsed), Ok(checked)) => {
                let mut read = Vec::new();
                checked.for_each_entry(|entry| read.push(entry));
                assert_eq!(read, parsed.entries(), "{text}");
                assert_eq!(checked.len(), parsed.entries().len());
                assert!(parsed.entries().iter().all(|e| checked.contains_id(e.id())));
                assert!(!checked.contains_id("key_none"));
            }
            (Err(parsed), Err(checked)) => {
                assert_eq!(checked.to_string(), parsed.to_string(), "{text}");
                println!("both refuse: {checked}");
            }
            (parsed, checked) => panic!("{text}: {parsed:?} but {checked:?}"),
        }
    }
}
