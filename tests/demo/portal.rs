//! The portal in a real headless Chromium: paste the admin key, generate a
//! key, read its token from the page, use it (200), revoke it in the page,
//! use it again (401). Screenshots of the "shown once" dialog and of the
//! key list go to `target/portal-token.png` and `target/portal-keys.png`.
//! The page runs under its strict Content-Security-Policy: a blocked style
//! or script would show in the console, and the flow would not work. Then
//! 1,106 keys: the list pages to the end, and ids of every shape (`:` at
//! the page boundary, dots) are rotated and revoked in the page. Then the
//! portal as a place to manage keys: search by label, id or owner, filter
//! by status, the id column, a rotated key naming its successor, every
//! field edited in a dialog (and only changed fields sent), a bad value
//! shown in the dialog, a delete after a confirmation; a screenshot of the
//! edit dialog goes to `target/portal-edit.png`. Then a key's usage chart
//! (inline SVG, 30 days by outcome) and the audit tab, screenshots in
//! `target/portal-usage.png` and `target/portal-audit.png`.

use std::path::PathBuf;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;

use tower_bearer_auth::key_store::{TokenDigest, keys_file::KeysFile};
use tower_bearer_auth::{KeyEntry, KeyGenerator, ScopeSet};

use crate::admin_client::{AdminClient, printed_tokens};
use crate::server::{DemoServer, http_client, send};
use crate::support::TempDir;
use crate::webdriver::Browser;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    )
}

/// Opens the portal and unlocks it with `admin_token`; waits for the list.
async fn open_with(browser: &Browser, server: &DemoServer, admin_token: &str) {
    browser.open(&server.url("/portal")).await;
    let field = browser.wait_for("#admin-key").await;
    browser.type_text(&field, admin_token).await;
    browser
        .click(&browser.wait_for("#unlock-button").await)
        .await;
    browser.wait_for("#key-table").await;
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
        // Closed: the token leaves the page. The dialog's `close` event,
        // which clears it, is dispatched after the click returns (the
        // hidden element's text reads "" at once), so wait for it.
        assert_eq!(browser.text(&shown).await, "");
        browser
            .wait_until("the token leaves the page", || async {
                !browser.source().await.contains(&token)
            })
            .await;
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

/// The key set of the many-keys test: 1,100 customer keys whose ids hold
/// `:` (one at each page boundary), ids with dots, dashes and colons, and
/// an admin key; the admin token.
fn many_keys(path: &std::path::Path) -> (Vec<String>, String) {
    let mut entries: Vec<KeyEntry> = (0..1_100)
        .map(|n| {
            let id = format!("cust:{n:04}");
            KeyEntry::new(id.as_str(), format!("Customer {n}"), TokenDigest::of(&id))
        })
        .collect();
    for id in ["...", "a.b.c", "svc.api-1", "Z:9:z", "x-y_z"] {
        entries.push(KeyEntry::new(
            id,
            format!("Odd id {id}"),
            TokenDigest::of(id),
        ));
    }
    let admin = KeyGenerator::new().generate().expect("random source");
    entries.push(
        KeyEntry::new(admin.id(), "Portal admin", admin.digest())
            .with_scopes(ScopeSet::parse("keys:admin").expect("valid scope")),
    );
    let mut ids: Vec<String> = entries.iter().map(|e| e.id().to_owned()).collect();
    ids.sort();
    KeysFile::from_entries(entries).save(path).expect("save");
    (ids, admin.token().expose().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_keys_list_to_the_end_and_any_id_is_revoked_and_rotated() {
    let Some(browser) = Browser::start(1280, 800).await else {
        return;
    };
    let dir = TempDir::new("portal-many");
    let file = dir.path().join("keys.json");
    let (ids, admin_token) = many_keys(&file);
    // The portal pages by 1,000: the last id of the first page holds `:`
    // (sent percent-encoded as the next cursor).
    assert!(ids[999].contains(':'), "{}", ids[999]);
    let total = ids.len();
    let server = DemoServer::start(&["--keys", file.to_str().expect("UTF-8 path")]);
    let admin = AdminClient::new(&server, &admin_token);
    let rows = || async {
        browser
            .run("return document.querySelectorAll('#key-rows tr').length")
            .await
            .as_u64()
            .unwrap_or(0)
    };
    let count = || async { browser.text(&browser.wait_for("#count").await).await };

    open_with(&browser, &server, &admin_token).await;
    browser
        .wait_until("every key is listed", || async {
            usize::try_from(rows().await).unwrap_or(0) == total
        })
        .await;
    assert_eq!(count().await, format!("{total} active, 0 revoked"));

    // Ids at both ends, on both sides of the page boundary, and with dots:
    // each is rotated in the page (a new key), then revoked in the page.
    let chosen = [
        ids[0].clone(),
        ids[998].clone(),
        ids[999].clone(),
        ids[1_000].clone(),
        ids[total - 1].clone(),
        "a.b.c".to_owned(),
        "Z:9:z".to_owned(),
        "svc.api-1".to_owned(),
    ];
    assert_eq!(ids[0], "...", "the dots-only id sorts first");
    for (done, id) in chosen.iter().enumerate() {
        let row = format!("#key-rows tr[data-id=\"{id}\"]");
        browser
            .click(
                &browser
                    .wait_for(&format!("{row} button[data-action=\"rotate\"]"))
                    .await,
            )
            .await;
        browser
            .click(&browser.wait_for("#rotate-submit").await)
            .await;
        let shown = browser.wait_for("#token-value").await;
        browser
            .wait_until("the new token is shown", || async {
                browser.text(&shown).await.starts_with("sk_")
            })
            .await;
        browser.click(&browser.wait_for("#token-done").await).await;
        // Rotated once: no second Rotate for it in the page, and the API
        // names its successor.
        browser
            .wait_until("the old key shows it was rotated", || async {
                browser.find_all(&format!("{row} .replaced")).await.len() == 1
            })
            .await;
        assert!(
            browser
                .find_all(&format!("{row} button[data-action=\"rotate\"]"))
                .await
                .is_empty()
        );
        let shown = admin
            .call(Method::GET, &format!("/admin/v1/keys/{}", encode(id)), None)
            .await
            .json();
        assert!(shown["rotated_to"].is_string(), "{id}: {shown}");

        browser
            .click(
                &browser
                    .wait_for(&format!("{row} button[data-action=\"revoke\"]"))
                    .await,
            )
            .await;
        browser
            .click(&browser.wait_for("#revoke-confirm").await)
            .await;
        browser
            .wait_until("the row shows the key revoked", || async {
                browser.attribute_of(&row, "class").await.as_deref() == Some("revoked")
            })
            .await;
        let revoked = done + 1;
        assert_eq!(
            count().await,
            // Each rotation added an active key; each revocation took one.
            format!("{total} active, {revoked} revoked"),
            "{id}"
        );
    }
    // Every rotation added a key; the list still reaches the end.
    browser
        .wait_until("every key is listed", || async {
            usize::try_from(rows().await).unwrap_or(0) == total + chosen.len()
        })
        .await;
    let on_disk = KeysFile::load(&file).expect("the keys file").into_entries();
    assert_eq!(on_disk.len(), total + chosen.len());
    assert_eq!(
        on_disk.iter().filter(|e| e.is_revoked()).count(),
        chosen.len()
    );
    println!(
        "portal: {} keys listed over two pages; {} ids rotated and revoked in the page",
        total,
        chosen.len()
    );
}

/// An id as a path segment (the characters ids may hold need no escape
/// but `:`, escaped as the portal escapes it).
fn encode(id: &str) -> String {
    id.replace(':', "%3A")
}

/// The visible rows' ids, in page order.
async fn row_ids(browser: &Browser) -> Vec<String> {
    let ids = browser
        .run("return [...document.querySelectorAll('#key-rows tr')].map((row) => row.dataset.id)")
        .await;
    ids.as_array()
        .expect("ids")
        .iter()
        .map(|id| id.as_str().expect("id").to_owned())
        .collect()
}

/// Sets a `<select>` or date field the way a person's choice does (the
/// value, then a `change` event).
async fn choose(browser: &Browser, id: &str, value: &str) {
    browser
        .run(&format!(
            "const f = document.getElementById('{id}'); f.value = '{value}'; \
             f.dispatchEvent(new Event('change')); f.dispatchEvent(new Event('input'));"
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_filter_edit_and_delete_keys_in_the_portal() {
    let Some(browser) = Browser::start(1400, 1000).await else {
        return;
    };
    let server = DemoServer::start(&[]);
    let (_, admin_token) = printed_tokens(&server);
    let admin = AdminClient::new(&server, &admin_token);
    let id_of = |key: &serde_json::Value| key["id"].as_str().expect("id").to_owned();
    let (_, prod) = admin
        .create(serde_json::json!({"label": "Acme Prod", "owner": "cus_acme"}))
        .await;
    let (_, staging) = admin
        .create(serde_json::json!({"label": "Acme Staging", "owner": "cus_acme"}))
        .await;
    let (_, globex) = admin
        .create(serde_json::json!({"label": "Globex", "owner": "cus_globex"}))
        .await;
    let (prod, staging, globex) = (id_of(&prod), id_of(&staging), id_of(&globex));
    let rotated = admin
        .call(
            Method::POST,
            &format!("/admin/v1/keys/{globex}/rotate"),
            Some(serde_json::json!({"grace_seconds": 3600})),
        )
        .await
        .json();
    let successor = rotated["key"]["id"].as_str().expect("id").to_owned();

    open_with(&browser, &server, &admin_token).await;
    // The demo's two keys, the three made here and Globex's successor.
    browser
        .wait_until("every key is listed", || async {
            row_ids(&browser).await.len() == 6
        })
        .await;

    // The id column, and the rotated key naming its successor.
    let id_cell = browser
        .wait_for(&format!("#key-rows tr[data-id=\"{prod}\"] td.id"))
        .await;
    assert_eq!(browser.text(&id_cell).await, prod);
    let replaced = browser
        .wait_for(&format!("#key-rows tr[data-id=\"{globex}\"] .replaced"))
        .await;
    assert_eq!(
        browser.text(&replaced).await,
        format!("Rotated to {successor}")
    );

    // Search by owner, by id, by label; then a status filter.
    browser.fill("#search", "cus_acme").await;
    let mut acme = row_ids(&browser).await;
    acme.sort();
    let mut expected = vec![prod.clone(), staging.clone()];
    expected.sort();
    assert_eq!(acme, expected);
    browser.fill("#search", &successor).await;
    assert_eq!(row_ids(&browser).await, std::slice::from_ref(&successor));
    browser.fill("#search", "globex").await;
    assert_eq!(row_ids(&browser).await.len(), 2, "Globex and its successor");
    browser.fill("#search", "").await;
    let revoked = admin
        .call(
            Method::POST,
            &format!("/admin/v1/keys/{staging}/revoke"),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    choose(&browser, "status-filter", "revoked").await;
    // The page shows the list as loaded: reload it by filtering again
    // after the next refresh (an edit below refreshes it).
    choose(&browser, "status-filter", "all").await;

    // Edit every field of Acme Prod in the dialog.
    browser
        .click(
            &browser
                .wait_for(&format!(
                    "#key-rows tr[data-id=\"{prod}\"] button[data-action=\"edit\"]"
                ))
                .await,
        )
        .await;
    browser.wait_for("#edit-dialog").await;
    let label = browser.wait_for("#edit-label").await;
    assert_eq!(browser.property(&label, "value").await, "Acme Prod");
    browser.fill("#edit-label", "Acme Production").await;
    browser
        .fill("#edit-scopes", "profile:read calls:write")
        .await;
    choose(&browser, "edit-expiry", "2031-01-01").await;
    browser.fill("#edit-owner", "cus_acme_eu").await;
    browser.fill("#edit-rate-requests", "10").await;
    browser.fill("#edit-rate-seconds", "60").await;
    browser.fill("#edit-credits", "500").await;
    browser.fill("#edit-refill-amount", "500").await;
    browser.fill("#edit-refill-every", "86400").await;
    browser
        .fill("#edit-ips", "203.0.113.0/24\n2001:db8::/32")
        .await;
    browser.fill("#edit-metadata", "plan=pro\nregion=eu").await;
    browser
        .screenshot(&target_dir().join("portal-edit.png"))
        .await;
    browser.click(&browser.wait_for("#edit-submit").await).await;
    browser
        .wait_until("the dialog closes", || async {
            browser.find_all("#edit-dialog[open]").await.is_empty()
        })
        .await;
    let key = admin
        .call(Method::GET, &format!("/admin/v1/keys/{prod}"), None)
        .await
        .json();
    assert_eq!(key["label"], "Acme Production");
    assert_eq!(
        key["scopes"],
        serde_json::json!(["calls:write", "profile:read"])
    );
    assert_eq!(key["expires_at"], "2031-01-01T00:00:00Z");
    assert_eq!(key["owner"], "cus_acme_eu");
    assert_eq!(
        key["rate_limit"],
        serde_json::json!({"requests": 10, "per_seconds": 60})
    );
    assert_eq!(key["credits"]["remaining"], 500);
    assert_eq!(
        key["credits"]["refill"],
        serde_json::json!({"amount": 500, "every_seconds": 86400})
    );
    assert_eq!(
        key["allowed_ips"],
        serde_json::json!(["203.0.113.0/24", "2001:db8::/32"])
    );
    assert_eq!(
        key["metadata"],
        serde_json::json!({"plan": "pro", "region": "eu"})
    );
    let refilled_at = key["credits"]["refilled_at"].clone();

    // The list shows the change; the revoked key now too (refreshed).
    browser
        .wait_until("the new label is listed", || async {
            browser
                .run(&format!(
                    "return document.querySelector('#key-rows tr[data-id=\"{prod}\"] td.label').textContent"
                ))
                .await
                == "Acme Production"
        })
        .await;
    choose(&browser, "status-filter", "revoked").await;
    assert_eq!(row_ids(&browser).await, std::slice::from_ref(&staging));
    choose(&browser, "status-filter", "active").await;
    assert!(!row_ids(&browser).await.contains(&staging));
    choose(&browser, "status-filter", "all").await;

    // A label-only edit sends the label only: the credits' period and
    // balance are untouched.
    let edit = format!("#key-rows tr[data-id=\"{prod}\"] button[data-action=\"edit\"]");
    browser.click(&browser.wait_for(&edit).await).await;
    browser.fill("#edit-label", "Acme Production EU").await;
    browser.click(&browser.wait_for("#edit-submit").await).await;
    browser
        .wait_until("the dialog closes", || async {
            browser.find_all("#edit-dialog[open]").await.is_empty()
        })
        .await;
    let key = admin
        .call(Method::GET, &format!("/admin/v1/keys/{prod}"), None)
        .await
        .json();
    assert_eq!(key["label"], "Acme Production EU");
    assert_eq!(key["credits"]["refilled_at"], refilled_at);

    // A bad range: the dialog says what is wrong, nothing changes.
    browser.click(&browser.wait_for(&edit).await).await;
    browser.fill("#edit-ips", "10.0.0.1/8").await;
    browser.click(&browser.wait_for("#edit-submit").await).await;
    let error = browser.wait_for("#edit-error").await;
    assert!(browser.text(&error).await.contains("allowed_ips"));
    browser
        .click(&browser.wait_for("#edit-dialog button[data-close]").await)
        .await;
    let key = admin
        .call(Method::GET, &format!("/admin/v1/keys/{prod}"), None)
        .await
        .json();
    assert_eq!(
        key["allowed_ips"],
        serde_json::json!(["203.0.113.0/24", "2001:db8::/32"])
    );

    // Delete, after a confirmation: gone from the page and the API.
    browser
        .click(
            &browser
                .wait_for(&format!(
                    "#key-rows tr[data-id=\"{staging}\"] button[data-action=\"delete\"]"
                ))
                .await,
        )
        .await;
    let text = browser.wait_for("#delete-text").await;
    assert!(browser.text(&text).await.contains("Acme Staging"));
    browser
        .click(&browser.wait_for("#delete-confirm").await)
        .await;
    browser
        .wait_until("the deleted key leaves the list", || async {
            !row_ids(&browser).await.contains(&staging)
        })
        .await;
    let gone = admin
        .call(Method::GET, &format!("/admin/v1/keys/{staging}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // Nothing blocked by the page's policy, no script error: the one
    // severe line is the bad range's 400, which the page showed.
    let console = browser.console().await;
    assert!(
        console
            .iter()
            .all(|line| !line.contains("SEVERE") || line.contains("status of 400")),
        "{console:?}"
    );
}

/// Sends `GET path` with `token`; the status.
async fn get_with(server: &DemoServer, path: &str, token: &str) -> StatusCode {
    let request = Request::get(server.url(path))
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    send(&http_client(false), request).await.0.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_usage_chart_and_the_audit_log_in_the_portal() {
    let Some(browser) = Browser::start(1400, 1000).await else {
        return;
    };
    let server = DemoServer::start(&[]);
    let (api_token, admin_token) = printed_tokens(&server);
    let admin = AdminClient::new(&server, &admin_token);
    // The demo key: 3 requests pass, 1 lacks its scope (the admin API).
    for _ in 0..3 {
        assert_eq!(
            get_with(&server, "/v1/profile", &api_token).await,
            StatusCode::OK
        );
    }
    assert_eq!(
        get_with(&server, "/admin/v1/keys", &api_token).await,
        StatusCode::FORBIDDEN
    );
    let keys = admin.call(Method::GET, "/admin/v1/keys", None).await.json();
    let demo = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["label"] == "Demo Key")
        .and_then(|key| key["id"].as_str())
        .expect("the demo key")
        .to_owned();
    // Changes for the audit log.
    let (_, made) = admin
        .create(serde_json::json!({"label": "Billing Worker", "owner": "cus_acme"}))
        .await;
    let made = made["id"].as_str().expect("id").to_owned();
    let patched = admin
        .call(
            Method::PATCH,
            &format!("/admin/v1/keys/{made}"),
            Some(serde_json::json!({"label": "Billing Worker (EU)", "metadata": {"region": "eu"}})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);

    open_with(&browser, &server, &admin_token).await;
    browser
        .click(
            &browser
                .wait_for(&format!(
                    "#key-rows tr[data-id=\"{demo}\"] button[data-action=\"usage\"]"
                ))
                .await,
        )
        .await;
    browser
        .wait_until("30 days are drawn", || async {
            browser.find_all("#usage-chart svg g.day").await.len() == 30
        })
        .await;
    let today = browser
        .run("return document.querySelector('#usage-chart svg g.day:last-of-type title').textContent")
        .await;
    let today = today.as_str().expect("text").to_owned();
    println!("today's bar: {today}");
    assert!(
        today.ends_with(": 3 passed, 0 rate limited, 0 usage exceeded, 1 refused"),
        "{today}"
    );
    // Bars for the day's outcomes only, no resource loaded for them.
    assert_eq!(
        browser.find_all("#usage-chart rect.bar.passed").await.len(),
        1
    );
    assert_eq!(
        browser
            .find_all("#usage-chart rect.bar.refused")
            .await
            .len(),
        1
    );
    let total = browser.text(&browser.wait_for("#usage-total").await).await;
    assert!(
        total.contains("3 passed") && total.contains("1 refused"),
        "{total}"
    );
    browser
        .screenshot(&target_dir().join("portal-usage.png"))
        .await;
    browser
        .click(&browser.wait_for("#usage-dialog [data-close]").await)
        .await;

    // The audit tab: newest first, with the fields each change set.
    browser.click(&browser.wait_for("#tab-audit").await).await;
    browser
        .wait_until("the changes are listed", || async {
            browser.find_all("#audit-rows tr").await.len() >= 2
        })
        .await;
    let rows = browser.find_all("#audit-rows tr").await;
    let newest = browser.text(&rows[0]).await;
    let before = browser.text(&rows[1]).await;
    assert!(
        newest.contains("update") && newest.contains(&made) && newest.contains("label, metadata"),
        "{newest}"
    );
    assert!(
        before.contains("create") && before.contains("label, owner"),
        "{before}"
    );
    assert!(
        !browser.source().await.contains(&api_token),
        "no token in the page"
    );
    browser
        .screenshot(&target_dir().join("portal-audit.png"))
        .await;
    // Back to the keys.
    browser.click(&browser.wait_for("#tab-keys").await).await;
    assert!(
        browser
            .is_displayed(&browser.wait_for("#key-table").await)
            .await
    );
    let console = browser.console().await;
    assert!(console.is_empty(), "no CSP violation or error: {console:?}");
}
