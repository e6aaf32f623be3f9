//! Starting the demo server: the in-memory demo key, and clear one-line
//! failures (never a panic) for a bad keys file or bad arguments.

use std::time::Duration;

use crate::server::{DemoServer, http_client, run_to_exit, send};
use crate::support::TempDir;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;

/// The in-memory demo key the server printed on stdout.
fn printed_demo_token(server: &DemoServer) -> String {
    server
        .stdout
        .text()
        .split_whitespace()
        .find(|word| word.starts_with("sk_"))
        .expect("the demo token is printed")
        .to_owned()
}

#[tokio::test]
async fn without_keys_a_demo_key_is_printed_once_and_works() {
    let server = DemoServer::start(&[]);
    let stdout = server.stdout.text();
    let token = printed_demo_token(&server);
    let curl = stdout
        .lines()
        .find(|line| line.contains("curl"))
        .expect("a curl line");
    assert!(
        curl.contains(&format!("Authorization: Bearer {token}")),
        "{curl}"
    );
    assert!(curl.contains(&server.url("/v1/profile")), "{curl}");

    let client = http_client(false);
    for (method, path, expected) in [
        (Method::GET, "/v1/profile", StatusCode::OK),
        (Method::POST, "/v1/calls", StatusCode::CREATED),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(server.url(path))
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .expect("valid request");
        assert_eq!(send(&client, request).await.0.status, expected, "{path}");
    }
    // Printed on stdout for the user, never logged.
    assert!(!server.stderr.text().contains(&token));
}

fn assert_one_line_failure(args: &[&str], expected_code: i32, needle: &str) {
    let (code, stdout, stderr) = run_to_exit(args);
    assert_eq!(code, Some(expected_code), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(!stdout.contains("listening"), "{args:?}: {stdout}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("server: "))
        .collect();
    assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
    assert!(errors[0].contains(needle), "{args:?}: {}", errors[0]);
}

#[test]
fn a_missing_keys_file_stops_startup_with_one_line() {
    assert_one_line_failure(
        &["--keys", "/nonexistent/keys.json"],
        1,
        "server: keys file /nonexistent/keys.json: No such file or directory",
    );
}

#[test]
fn a_malformed_keys_file_stops_startup_with_one_line() {
    let dir = TempDir::new("demo-startup");
    let path = dir.path().join("keys.json");
    std::fs::write(
        &path,
        r#"{"keys":[{"id":"key_a","label":"a","hash":"md5:abc","created_at":"2026-11-27T00:00:00Z"}]}"#,
    )
    .expect("write");
    assert_one_line_failure(
        &["--keys", path.to_str().expect("utf-8")],
        1,
        "entry 0 (id \"key_a\"): `hash` must be \"sha256:\"",
    );
}

#[test]
fn bad_arguments_fail_clearly() {
    assert_one_line_failure(&["--realm", "caf\u{e9}"], 1, "--realm: realm");
    assert_one_line_failure(
        &["--listen", "not-an-address"],
        1,
        "cannot listen on not-an-address",
    );
    assert_one_line_failure(&["--bogus"], 2, "unknown argument \"--bogus\"");
    let (code, _, stderr) = run_to_exit(&["--keys"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("usage: server"), "{stderr}");
}

#[tokio::test]
async fn rust_log_is_respected_and_sigterm_stops_the_server() {
    let mut server = DemoServer::start_with_log_filter(&[], "warn");
    // Keep an HTTP/2 connection open (and this runtime busy elsewhere) across
    // the shutdown: the server must still stop, within its grace period.
    let client = http_client(true);
    let request = Request::get(server.url("/v1/profile"))
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    assert_eq!(
        send(&client, request).await.0.status,
        StatusCode::UNAUTHORIZED
    );
    // Without request lines the router has no log layer and the layer puts
    // no principal in the response; the handler still gets its caller.
    let token = printed_demo_token(&server);
    let request = Request::get(server.url("/v1/profile"))
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    let (parts, body) = send(&client, request).await;
    assert_eq!(parts.status, StatusCode::OK);
    let profile: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert!(
        profile["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("key_")),
        "{profile}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server.stderr.count("request"),
        0,
        "{}",
        server.stderr.text()
    );

    server.signal("TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while server.is_running() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(client);
}

#[test]
fn check_keys_validates_a_file_without_serving() {
    let dir = TempDir::new("check-keys");
    let path = dir.path().join("keys.json");
    let good = crate::server::TestKey::new("Good", "profile:read");
    let other = crate::server::TestKey::new("Other", "profile:read");
    tower_bearer_auth::key_store::keys_file::KeysFile::from_entries(vec![
        good.entry.clone(),
        other.entry.clone(),
    ])
    .save(&path)
    .expect("save");
    let path_text = path.to_str().expect("utf-8");
    let (code, stdout, _) = run_to_exit(&["--check-keys", path_text]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("OK, 2 keys (2 active, 0 revoked)"),
        "{stdout}"
    );
    assert!(!stdout.contains("listening"), "{stdout}");

    // Two broken entries: both named with their index, id and field, and
    // none of the file's values.
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replacen("\"revoked\": false", "\"revoked\": \"false\"", 1)
        .replacen("\"scopes\"", "\"scope\"", 2)
        .replacen("\"scope\"", "\"scopes\"", 1);
    std::fs::write(&path, text).expect("write");
    let (code, _, stderr) = run_to_exit(&["--check-keys", path_text]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "entry 0 (id \"{}\"): `revoked` must be true or false",
            good.entry.id()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "entry 1 (id \"{}\"): has an unknown field `scope`",
            other.entry.id()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("2 entries refused, 0 valid"), "{stderr}");

    std::fs::write(&path, "{\"keys\": [").expect("write");
    let (code, _, stderr) = run_to_exit(&["--check-keys", path_text]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("invalid JSON") && stderr.contains("a reload would change nothing"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn a_keys_file_others_can_write_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;

    let dir = TempDir::new("writable");
    let path = dir.path().join("keys.json");
    let key = crate::server::TestKey::new("Key", "profile:read");
    tower_bearer_auth::key_store::keys_file::KeysFile::from_entries(vec![key.entry])
        .save(&path)
        .expect("save");
    let server = DemoServer::start(&["--keys", path.to_str().expect("utf-8")]);
    assert!(!server.stderr.text().contains("writable by its group"));
    drop(server);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let server = DemoServer::start(&["--keys", path.to_str().expect("utf-8")]);
    let warning = server
        .stderr
        .wait_for(
            "writable by its group or by everyone",
            Duration::from_secs(5),
        )
        .expect("a warning");
    assert!(
        warning.contains("WARN") && warning.contains("mode=\"666\""),
        "{warning}"
    );
}
