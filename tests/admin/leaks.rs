//! GitHub's secret-scanning reports, in process, with real signatures: a
//! local HTTP server publishes a test ECDSA P-256 key in GitHub's format,
//! payloads are signed with it, and the receiver verifies them as it would
//! GitHub's. A reported live key is revoked once (the owner's other keys
//! untouched) and labelled `true_positive` by its hash; unknown or
//! mistyped tokens are `false_positive`; a bad or missing signature, an
//! unknown key identifier or a body over 1 MiB revokes nothing.

use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_bearer_auth::admin::GithubSecretScanning;
use tower_bearer_auth::key_store::TokenDigest;
use tower_bearer_auth::key_store::admin::EmbeddedKeyAdmin;
use tower_bearer_auth::{KeyEntry, KeyGenerator, KeyStore};

use crate::support::github::{KeyServer, sign, signing_key};

/// POSTs `body` signed by `key` as `id` (or with the given headers).
async fn post(
    router: &Router,
    body: &[u8],
    id: Option<&str>,
    signature: Option<String>,
) -> (StatusCode, Value) {
    let mut request = Request::post("/admin/v1/secret-scanning/github")
        .header("content-type", "application/json");
    if let Some(id) = id {
        request = request.header("github-public-key-identifier", id);
    }
    if let Some(signature) = signature {
        request = request.header("github-public-key-signature", signature);
    }
    let request = request
        .body(axum::body::Body::from(Bytes::copy_from_slice(body)))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A store with three keys of one owner; their tokens.
fn store() -> (KeyStore, Vec<(String, String)>) {
    let store = KeyStore::new();
    let mut keys = Vec::new();
    for label in ["Leaked", "Sibling", "Other"] {
        let key = KeyGenerator::with_prefix("ais")
            .expect("prefix")
            .generate()
            .expect("random");
        store
            .insert(
                KeyEntry::new(key.id(), label, key.digest()).with_owner(Some("cus_1".to_owned())),
            )
            .expect("insert");
        keys.push((key.id().to_owned(), key.token().expose().to_owned()));
    }
    (store, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_report_revokes_the_leaked_key_once_and_labels_every_token() {
    let github = signing_key();
    let server = KeyServer::start(&[("github-key-1", &github)]).await;
    let (store, keys) = store();
    let router = GithubSecretScanning::new()
        .keys_url(&server.url)
        .router(EmbeddedKeyAdmin::new(store.clone()));
    let (leaked_id, leaked) = &keys[0];
    let unknown = KeyGenerator::with_prefix("ais")
        .expect("prefix")
        .generate()
        .expect("random");
    let mistyped = format!("{}x", &leaked[..leaked.len() - 1]);
    let body = json!([
        {"token": leaked, "type": "ais_api_key", "url": "https://github.com/o/r/blob/1/a.txt", "source": "content"},
        {"token": unknown.token().expose(), "type": "ais_api_key", "url": "", "source": "commit"},
        {"token": mistyped, "type": "ais_api_key", "url": "", "source": "commit"},
    ])
    .to_string();
    let (status, answer) = post(
        &router,
        body.as_bytes(),
        Some("github-key-1"),
        Some(sign(&github, body.as_bytes())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!([
            {"token_hash": TokenDigest::of(leaked).to_hex(), "token_type": "ais_api_key", "label": "true_positive"},
            {"token_hash": TokenDigest::of(unknown.token().expose()).to_hex(), "token_type": "ais_api_key", "label": "false_positive"},
            {"token_hash": TokenDigest::of(&mistyped).to_hex(), "token_type": "ais_api_key", "label": "false_positive"},
        ])
    );
    assert!(
        !answer.to_string().contains(leaked.as_str()),
        "never a token"
    );
    assert!(store.is_revoked(leaked_id));
    assert!(store.verify(leaked).is_err());
    for (_, sibling) in &keys[1..] {
        assert!(store.verify(sibling).is_ok(), "the owner's other keys stay");
    }

    // Reported again (GitHub retries, or the same push twice): still a true
    // positive, no second revocation.
    let before = store.entries();
    let (status, again) = post(
        &router,
        body.as_bytes(),
        Some("github-key-1"),
        Some(sign(&github, body.as_bytes())),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again[0]["label"], "true_positive");
    assert_eq!(store.entries(), before, "nothing changed");
    assert_eq!(server.fetches(), 1, "the keys were fetched once and cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reports_revoke_nothing() {
    let github = signing_key();
    let forger = signing_key();
    let server = KeyServer::start(&[("github-key-1", &github)]).await;
    let (store, keys) = store();
    let router = GithubSecretScanning::new()
        .keys_url(&server.url)
        .min_refetch(Duration::from_millis(300))
        .router(EmbeddedKeyAdmin::new(store.clone()));
    let body = json!([{"token": keys[0].1, "type": "ais_api_key", "url": "", "source": "content"}])
        .to_string();
    let body = body.as_bytes();
    let cases: Vec<(&str, Option<&str>, Option<String>, StatusCode)> = vec![
        ("no headers", None, None, StatusCode::UNAUTHORIZED),
        (
            "no signature",
            Some("github-key-1"),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "not base64",
            Some("github-key-1"),
            Some("%%%".to_owned()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "not DER",
            Some("github-key-1"),
            Some("AAAA".to_owned()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another key's signature",
            Some("github-key-1"),
            Some(sign(&forger, body)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another body's signature",
            Some("github-key-1"),
            Some(sign(&github, b"[]")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "an unknown identifier",
            Some("forged-key"),
            Some(sign(&forger, body)),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (what, id, signature, expected) in cases {
        let (status, answer) = post(&router, body, id, signature).await;
        assert_eq!(status, expected, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], "unauthorized", "{what}");
        assert!(!answer.to_string().contains(keys[0].1.as_str()), "{what}");
    }
    assert!(!store.is_revoked(&keys[0].0), "nothing revoked");
    // The unknown identifier fetched the keys once; more unknown
    // identifiers within the interval fetch nothing.
    let fetched = server.fetches();
    for _ in 0..5 {
        let (status, _) = post(&router, body, Some("forged-key"), Some(sign(&forger, body))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(server.fetches(), fetched, "at most one fetch per interval");

    // GitHub rotates its key: after the interval, the new identifier is
    // fetched and accepted.
    let rotated = signing_key();
    server.publish(&[("github-key-1", &github), ("github-key-2", &rotated)]);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (status, answer) = post(
        &router,
        body,
        Some("github-key-2"),
        Some(sign(&rotated, body)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(store.is_revoked(&keys[0].0));

    // Over 1 MiB: 413 before anything else.
    let huge = vec![b' '; 1024 * 1024 + 1];
    let (status, answer) = post(
        &router,
        &huge,
        Some("github-key-1"),
        Some(sign(&github, &huge)),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    // Signed, but not a report: 400, nothing revoked.
    let (status, _) = post(
        &router,
        b"{}",
        Some("github-key-1"),
        Some(sign(&github, b"{}")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!store.is_revoked(&keys[1].0));
}
