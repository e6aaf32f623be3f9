//! The demo server receives GitHub's secret-scanning reports: started with
//! `--github-keys-url` pointing at a local stand-in for GitHub's keys, a
//! signed report of the demo API key revokes it (401 at once), and the
//! answer labels it by its hash.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use serde_json::json;
use tower_bearer_auth::key_store::TokenDigest;

use crate::admin_client::{AdminClient, printed_tokens};
use crate::server::{DemoServer, http_client, send};
use crate::support::github::{KeyServer, sign, signing_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_leak_report_revokes_the_demo_key() {
    let github = signing_key();
    let keys = KeyServer::start(&[("github-key-1", &github)]).await;
    let server = DemoServer::start(&["--github-keys-url", &keys.url]);
    let (demo_token, admin_token) = printed_tokens(&server);
    let admin = AdminClient::new(&server, &admin_token);
    assert_eq!(admin.profile(&demo_token).await, StatusCode::OK);

    let body = json!([{
        "token": demo_token,
        "type": "demo_api_key",
        "url": "https://github.com/octocat/hello/blob/0/config.txt",
        "source": "content",
    }])
    .to_string();
    let report = Request::post(server.url("/admin/v1/secret-scanning/github"))
        .header("content-type", "application/json")
        .header("github-public-key-identifier", "github-key-1")
        .header(
            "github-public-key-signature",
            sign(&github, body.as_bytes()),
        )
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let (parts, answer) = send(&http_client(false), report).await;
    assert_eq!(parts.status, StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_slice(&answer).expect("JSON");
    assert_eq!(
        answer,
        json!([{
            "token_hash": TokenDigest::of(&demo_token).to_hex(),
            "token_type": "demo_api_key",
            "label": "true_positive",
        }])
    );
    assert_eq!(admin.profile(&demo_token).await, StatusCode::UNAUTHORIZED);
    // One log event: the action, the key, where it leaked; never the token.
    let line = server
        .stderr
        .wait_for("leak_revoke", std::time::Duration::from_secs(5))
        .expect("the revocation is logged");
    assert!(line.contains("github.com/octocat"), "{line}");
    assert!(
        !server.stderr.text().contains(&demo_token[8..]),
        "never the token in a log"
    );
}
