//! The portal in a real headless Chromium: paste the admin key, generate a
//! key, read its token from the page, use it (200), revoke it in the page,
//! use it again (401). Screenshots of the "shown once" dialog and of the
//! key list go to `target/portal-token.png` and `target/portal-keys.png`.
//! The page runs under its strict Content-Security-Policy: a blocked style
//! or script would show in the console, and the flow would not work.

use std::path::PathBuf;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;

use crate::admin_client::{AdminClient, printed_tokens};
use crate::server::{DemoServer, http_client, send};
use crate::webdriver::Browser;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    )
}

/// Waits for the "shown once" dialog's token: the element and the token.
async fn shown_token(browser: &Browser) -> (crate::webdriver::Element, String) {
    let shown = browser.wait_for("#token-value").await;
    browser
        .wait_until("the token is shown", || async {
            browser.text(&shown).await.starts_with("sk_")
        })
        .await;
    let token = browser.text(&shown).await;
    (shown, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_use_and_revoke_a_key_in_the_portal() {
    let Some(browser) = Browser::start(1280, 800).await else {
        return;
    };
    let server = DemoServer::start(&[]);
    let (_, admin_token) = printed_tokens(&server);
    let admin = AdminClient::new(&server, &admin_token);

    // The page and its policy, as served.
    let page = Request::get(server.url("/portal"))
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    let (parts, _) = send(&http_client(false), page).await;
    assert_eq!(parts.status, StatusCode::OK);
    let policy = parts.headers["content-security-policy"]
        .to_str()
        .expect("ascii");
    println!("portal CSP: {policy}");
    assert!(policy.starts_with("default-src 'none';"));
    assert!(!policy.contains("unsafe") && !policy.contains('*'));

    // A label that is HTML: the page must show it as text.
    let (_, injected) = admin
        .create(serde_json::json!({"label": "<b id=\"injected\">Old Dialer</b>"}))
        .await;

    browser.open(&server.url("/portal")).await;

    // A wrong key is refused in the page.
    let field = browser.wait_for("#admin-key").await;
    browser.type_text(&field, "sk_not_a_real_key").await;
    browser
        .click(&browser.wait_for("#unlock-button").await)
        .await;
    let refusal = browser.wait_for("#unlock-error").await;
    assert!(browser.text(&refusal).await.contains("not accepted"));

    // The admin key opens the list; the field is emptied at once.
    browser.type_text(&field, &admin_token).await;
    browser
        .click(&browser.wait_for("#unlock-button").await)
        .await;
    browser.wait_for("#key-table").await;
    browser
        .wait_until("the three keys are listed", || async {
            browser.find_all("#key-rows tr").await.len() == 3
        })
        .await;
    assert_eq!(browser.property(&field, "value").await, "");
    assert!(
        browser.find_all("#injected").await.is_empty(),
        "a label became HTML"
    );
    let labels = browser.find_all("#key-rows td.label").await;
    let mut shown = Vec::new();
    for label in &labels {
        shown.push(browser.text(label).await);
    }
    assert!(
        shown.contains(&"<b id=\"injected\">Old Dialer</b>".to_owned()),
        "{shown:?}"
    );
    // Out of the screenshots: the page drops it at its next refresh.
    let gone = admin
        .call(
            Method::DELETE,
            &format!("/admin/v1/keys/{}", injected["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);

    // Generate a first key, to have a realistic list, then the one we use.
    let mut tokens = Vec::new();
    for (label, scopes) in [
        ("Production Dialer", "profile:read calls:write"),
        ("Staging Server", "profile:read"),
    ] {
        browser.click(&browser.wait_for("#generate").await).await;
        browser
            .type_text(&browser.wait_for("#new-label").await, label)
            .await;
        browser
            .type_text(&browser.wait_for("#new-scopes").await, scopes)
            .await;
        browser
            .click(&browser.wait_for("#generate-submit").await)
            .await;
        let (shown, token) = shown_token(&browser).await;
        let warning = browser
            .text(&browser.wait_for("#token-dialog .warning").await)
            .await;
        assert!(warning.contains("only time"), "{warning}");
        if label == "Staging Server" {
            browser
                .screenshot(&target_dir().join("portal-token.png"))
                .await;
        }
        browser.click(&browser.wait_for("#token-done").await).await;
        // Closed: the token has left the page.
        assert_eq!(browser.text(&shown).await, "");
        assert!(!browser.source().await.contains(&token));
        tokens.push(token);
    }
    let (first_token, token) = (tokens[0].clone(), tokens[1].clone());
    println!("the token read from the page starts with {}", &token[..7]);

    // The token works.
    assert_eq!(admin.profile(&token).await, StatusCode::OK);

    // Revoke it in the page, confirming in the dialog.
    let id = admin.id_of("Staging Server").await;
    let row = format!("#key-rows tr[data-id=\"{id}\"]");
    browser
        .wait_until("the new key is listed", || async {
            browser.find_all(&row).await.len() == 1
        })
        .await;
    let revoke = browser
        .wait_for(&format!("{row} button[data-action=\"revoke\"]"))
        .await;
    browser.click(&revoke).await;
    let question = browser.text(&browser.wait_for("#revoke-text").await).await;
    assert!(question.contains("Staging Server"), "{question}");
    assert_eq!(
        admin.profile(&token).await,
        StatusCode::OK,
        "not before confirming"
    );
    browser
        .click(&browser.wait_for("#revoke-confirm").await)
        .await;
    browser
        .wait_until("the row shows the key revoked", || async {
            browser.attribute_of(&row, "class").await.as_deref() == Some("revoked")
        })
        .await;

    // The token is refused.
    assert_eq!(admin.profile(&token).await, StatusCode::UNAUTHORIZED);
    browser
        .screenshot(&target_dir().join("portal-keys.png"))
        .await;

    // Rotate the other key in the page (grace period: the default, 1 day):
    // a new token is shown once, and both work.
    let dialer = admin.id_of("Production Dialer").await;
    let rotate = browser
        .wait_for(&format!(
            "#key-rows tr[data-id=\"{dialer}\"] button[data-action=\"rotate\"]"
        ))
        .await;
    browser.click(&rotate).await;
    browser
        .click(&browser.wait_for("#rotate-submit").await)
        .await;
    let (_, rotated) = shown_token(&browser).await;
    let previous = browser
        .text(&browser.wait_for("#token-previous").await)
        .await;
    assert!(previous.contains("keeps working until"), "{previous}");
    browser.click(&browser.wait_for("#token-done").await).await;
    assert_eq!(admin.profile(&rotated).await, StatusCode::OK);
    assert_eq!(
        admin.profile(&first_token).await,
        StatusCode::OK,
        "in its grace period"
    );
    browser
        .wait_until("the rotated key is listed", || async {
            browser.find_all("#key-rows tr").await.len() == 5
        })
        .await;
    browser
        .screenshot(&target_dir().join("portal-keys.png"))
        .await;

    // The admin key stayed in page memory: not in the page, no cookie, no
    // storage; and the page ran without a policy violation.
    assert!(!browser.source().await.contains(&admin_token));
    let stored = browser
        .run("return [document.cookie, localStorage.length, sessionStorage.length]")
        .await;
    assert_eq!(stored, serde_json::json!(["", 0, 0]));
    let console = browser.console().await;
    for line in &console {
        println!("console: {line}");
    }
    assert!(
        !console
            .iter()
            .any(|l| l.contains("Content Security Policy") || l.contains("Refused")),
        "{console:#?}"
    );
    println!(
        "screenshots: {} and {}",
        target_dir().join("portal-token.png").display(),
        target_dir().join("portal-keys.png").display()
    );
}
