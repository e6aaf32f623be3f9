//! `examples/keygen.rs` as a user runs it.

use std::process::Command;

use tower_bearer_auth::key_store::keys_file::KeysFile;
use tower_bearer_auth::{KeyEntry, KeyStore};

fn keygen(args: &[&str]) -> std::process::Output {
    Command::new(crate::support::example_binary("keygen"))
        .args(args)
        .output()
        .expect("run keygen")
}

#[test]
fn json_output_is_one_line_whose_entry_accepts_its_token() {
    let output = keygen(&[
        "--label",
        "Staging Server",
        "--scopes",
        "profile:read,calls:write",
        "--expires-at",
        "2099-01-01T00:00:00Z",
        "--prefix",
        "ais",
        "--json",
    ]);
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert_eq!(stdout.lines().count(), 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let token = json["token"].as_str().expect("token");
    assert!(token.starts_with("ais_"));
    assert_eq!(json["key"]["label"], "Staging Server");
    assert_eq!(json["key"]["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(
        json["key"]["hash"],
        format!(
            "sha256:{}",
            tower_bearer_auth::key_store::TokenDigest::of(token).to_hex()
        )
    );

    // The printed entry, put in a keys file, accepts the printed token.
    let file = KeysFile::parse(&format!("{{\"keys\":[{}]}}", json["key"])).expect("valid entry");
    let store = KeyStore::builder().require_checksum(true).build();
    store.replace_all(file.into_entries()).expect("load");
    let key = store.verify(token).expect("token accepted");
    assert_eq!(key.scopes().as_str(), "calls:write profile:read");
}

#[test]
fn text_output_shows_the_token_once_and_the_entry() {
    let output = keygen(&["--label", "Production Dialer"]);
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let token = stdout
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("sk_"))
        .expect("token line");
    assert_eq!(stdout.matches(token).count(), 1, "the token appears once");
    let entry = stdout.lines().last().expect("entry line");
    let parsed: KeyEntry = KeysFile::parse(&format!("{{\"keys\":[{entry}]}}"))
        .expect("valid entry")
        .into_entries()
        .remove(0);
    assert_eq!(parsed.label(), "Production Dialer");
}

#[test]
fn bad_arguments_print_usage_and_fail() {
    for args in [
        &[][..],
        &["--label"],
        &["--label", "x", "--scopes", "bad scope"],
        &["--label", "x", "--expires-at", "tomorrow"],
        &["--label", "x", "--expires-at", "2001-01-01T00:00:00Z"],
        &["--label", "x", "--prefix", "no_underscores"],
        &["--label", "x", "--unknown"],
    ] {
        let output = keygen(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
        let stderr = String::from_utf8(output.stderr).expect("utf-8");
        assert!(
            stderr.contains("usage: keygen --label LABEL"),
            "{args:?}: {stderr}"
        );
    }
}
