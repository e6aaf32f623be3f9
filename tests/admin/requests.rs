//! Every request the admin API must refuse, and how: 400 naming the field
//! (never repeating a value), 413, 415, 405, 404 without echoing the path;
//! repeated JSON member names; the key model's one label rule.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use tower_bearer_auth::KeyEntry;
use tower_bearer_auth::key_store::{TokenDigest, keys_file::KeysFile};

use crate::client::{KEYS, embedded};

#[tokio::test]
async fn bad_requests_get_the_error_the_contract_names() {
    let (admin, store) = embedded();
    let (_, key) = admin.create(json!({"label": "Target"})).await;
    let one = format!("{KEYS}/{}", key["id"].as_str().expect("id"));
    let bearer = admin.bearer.clone();

    // 400, naming the field.
    let past = "2001-01-01T00:00:00Z";
    let long = "x".repeat(129);
    for (method, path, body, field) in [
        (
            Method::POST,
            KEYS.to_owned(),
            json!({}),
            "`label` is required",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            json!({"label": ""}),
            "`label`",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            json!({"label": long}),
            "`label`",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            json!({"label": "a\u{7}b"}),
            "`label`",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            json!({"label": 5}),
            "`label`",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            json!({"label": "x", "scopes": "profile:read"}),
            "`scopes`",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            json!({"label": "x", "scopes": ["a b"]}),
            "`scopes`",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            json!({"label": "x", "expires_at": past}),
            "`expires_at`",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            json!({"label": "x", "expires_at": "tomorrow"}),
            "`expires_at`",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            json!({"label": "x", "token": "sk_mine"}),
            "unknown field `token`",
        ),
        (
            Method::PATCH,
            one.clone(),
            json!({"revoked": false}),
            "unknown field `revoked`",
        ),
        (
            Method::PATCH,
            one.clone(),
            json!({"label": null}),
            "`label`",
        ),
        (
            Method::PATCH,
            one.clone(),
            json!({"rate_limit": {"requests": 0, "per_seconds": 60}}),
            "`rate_limit`",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            json!({"label": "x", "rate_limit": "100/60s"}),
            "`rate_limit`",
        ),
        (
            Method::POST,
            format!("{one}/rotate"),
            json!({"grace_seconds": -1}),
            "`grace_seconds`",
        ),
        (
            Method::POST,
            format!("{one}/rotate"),
            json!({"grace_seconds": 604_801}),
            "`grace_seconds`",
        ),
        (
            Method::POST,
            format!("{one}/rotate"),
            json!({"grace_seconds": 1.5}),
            "`grace_seconds`",
        ),
    ] {
        let answer = admin.call(method, &path, Some(body.clone())).await;
        let message = answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", field);
        assert!(
            !message.contains("sk_mine"),
            "values are not repeated: {message}"
        );
    }
    for (query, field) in [
        ("limit=0", "`limit`"),
        ("limit=1001", "`limit`"),
        ("limit=ten", "`limit`"),
        ("include_revoked=yes", "`include_revoked`"),
        ("colour=blue", "unknown parameter `colour`"),
    ] {
        admin
            .call(Method::GET, &format!("{KEYS}?{query}"), None)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_request", field);
    }
    for (body, problem) in [
        ("{\"label\": ", "not JSON"),
        ("[\"label\"]", "a JSON object"),
    ] {
        admin
            .raw(
                Method::POST,
                KEYS,
                Some("application/json"),
                Bytes::from(body),
                Some(&bearer),
            )
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_request", problem);
    }
    admin
        .raw(Method::POST, KEYS, None, Bytes::new(), Some(&bearer))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "body is required",
        );

    // 415: a body that is not application/json (a charset is fine).
    let body = Bytes::from(json!({"label": "x"}).to_string());
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        admin
            .raw(
                Method::POST,
                KEYS,
                content_type,
                body.clone(),
                Some(&bearer),
            )
            .await
            .assert_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "application/json",
            );
    }
    let charset = admin
        .raw(
            Method::POST,
            KEYS,
            Some("application/json; charset=utf-8"),
            body,
            Some(&bearer),
        )
        .await;
    assert_eq!(charset.status, StatusCode::CREATED);

    // 413 past 64 KiB; 64 KiB exactly is read (and refused for its field).
    let label = "y".repeat(64 * 1024);
    let big = Bytes::from(json!({"label": label}).to_string());
    admin
        .raw(
            Method::POST,
            KEYS,
            Some("application/json"),
            big,
            Some(&bearer),
        )
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "64 KiB");
    let mut exact = format!("{{\"label\": \"{}\"}}", "z".repeat(10));
    exact.push_str(&" ".repeat(64 * 1024 - exact.len()));
    assert_eq!(exact.len(), 64 * 1024);
    let answer = admin
        .raw(
            Method::POST,
            KEYS,
            Some("application/json"),
            Bytes::from(exact),
            Some(&bearer),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "64 KiB is the limit, not over it"
    );

    // 405 for another method on an admin path (after authentication).
    admin
        .call(Method::PUT, &one, Some(json!({"label": "x"})))
        .await
        .assert_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method",
        );
    let anonymous_put = admin.raw(Method::PUT, &one, None, Bytes::new(), None).await;
    assert_eq!(
        anonymous_put.status,
        StatusCode::UNAUTHORIZED,
        "no key, no hint about routes"
    );

    // A path that is not a key id gets 404 without echoing it.
    let answer = admin
        .call(
            Method::GET,
            &format!("{KEYS}/sk_pasted_token_by_mistake"),
            None,
        )
        .await;
    let message = answer.assert_error(StatusCode::NOT_FOUND, "not_found", "no key");
    assert!(
        !String::from_utf8_lossy(&answer.body).contains("sk_pasted"),
        "{message}"
    );

    // An expiry in the future is taken; a key past its expiry fails.
    let soon = SystemTime::now() + Duration::from_secs(2);
    let soon = rfc3339_seconds(soon);
    let (token, expiring) = admin
        .create(json!({"label": "Expiring", "expires_at": soon}))
        .await;
    assert_eq!(expiring["expires_at"], soon.as_str());
    assert!(store.verify(&token).is_ok(), "not expired yet");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(store.verify(&token).is_err(), "expired");
}

/// `time`, rounded down to the second, in RFC 3339 as the crate writes it
/// (through a keys file entry).
fn rfc3339_seconds(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970");
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs());
    let entry = KeyEntry::new("key_t", "t", TokenDigest::of("t")).with_expiry(time);
    let json: Value =
        serde_json::from_str(&KeysFile::from_entries(vec![entry]).to_json()).expect("JSON");
    json["keys"][0]["expires_at"]
        .as_str()
        .expect("expires_at")
        .to_owned()
}

#[tokio::test]
async fn a_repeated_member_name_is_400_naming_it_and_changes_nothing() {
    let (admin, store) = embedded();
    let (_, key) = admin.create(json!({"label": "Target"})).await;
    let id = key["id"].as_str().expect("id").to_owned();
    let one = format!("{KEYS}/{id}");
    let keys_before = store.entries().len();
    for (method, path, body, names) in [
        (
            Method::POST,
            KEYS.to_owned(),
            r#"{"label":"a","label":"b"}"#,
            "`label`",
        ),
        (
            Method::PATCH,
            one.clone(),
            r#"{"label":"Renamed","scopes":[],"scopes":["keys:admin"]}"#,
            "`scopes`",
        ),
        (
            Method::PATCH,
            one.clone(),
            r#"{"rate_limit":{"requests":1,"per_seconds":60,"requests":1000}}"#,
            "`requests`",
        ),
        (
            Method::POST,
            format!("{one}/rotate"),
            r#"{"grace_seconds":0,"grace_seconds":600}"#,
            "`grace_seconds`",
        ),
        (
            Method::POST,
            KEYS.to_owned(),
            r#"{"label":"a","sk_0j8getr74edHoPo3MP54ozbDTfkKID40devq":1,"sk_0j8getr74edHoPo3MP54ozbDTfkKID40devq":2}"#,
            "a field appears more than once",
        ),
    ] {
        let answer = admin
            .raw(
                method,
                &path,
                Some("application/json"),
                Bytes::from(body),
                Some(&admin.bearer.clone()),
            )
            .await;
        let message = answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", names);
        assert!(message.contains("more than once"), "{message}");
        assert!(!message.contains("sk_0j8g"), "{message}");
    }
    assert_eq!(store.entries().len(), keys_before, "nothing created");
    let after = admin.call(Method::GET, &one, None).await.json();
    assert_eq!(after["label"], "Target");
    assert_eq!(after["scopes"], json!([]));
    assert_eq!(after["rate_limit"], Value::Null);
    assert_eq!(after["revoked"], false);
    assert_eq!(after["rotated_to"], Value::Null);
}

#[tokio::test]
async fn the_api_and_the_keys_file_share_one_label_rule() {
    let (admin, store) = embedded();
    // 128 characters (256 bytes) is a label for both; 129 for neither.
    let longest = "é".repeat(128);
    let (_, key) = admin.create(json!({"label": longest})).await;
    assert_eq!(key["label"], longest.as_str());
    let file = KeysFile::from_entries(store.entries());
    assert!(KeysFile::parse(&file.to_json()).is_ok());
    let too_long = "x".repeat(129);
    admin
        .call(Method::POST, KEYS, Some(json!({"label": too_long})))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request", "`label`");
    for bad in [too_long.as_str(), "", "  "] {
        let entry = KeyEntry::new("key_t", bad, TokenDigest::of("t"));
        let json = KeysFile::from_entries(vec![entry]).to_json();
        let refused = KeysFile::parse(&json).expect_err("refused").to_string();
        assert!(refused.contains("label"), "{bad:?}: {refused}");
        assert!(
            store
                .insert(KeyEntry::new("key_t", bad, TokenDigest::of("t")))
                .is_err(),
            "{bad:?}"
        );
    }
}
