//! The admin API of the demo server (demo mode, keys in memory), over real
//! HTTP: every endpoint, the scope it needs, the log line per change, and
//! that no answer but create and rotate ever carries a token, none a
//! digest. The request validation is tested in process (`tests/admin`).

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use tower_bearer_auth::key_store::TokenDigest;

use crate::admin_client::{AdminClient, printed_tokens};
use crate::server::DemoServer;

const KEYS: &str = "/admin/v1/keys";

fn key_fields(key: &Value) -> Vec<String> {
    let mut fields: Vec<String> = key.as_object().expect("object").keys().cloned().collect();
    fields.sort();
    fields
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_both_keys_then_the_portal_and_serves_the_admin_api() {
    let server = DemoServer::start(&[]);
    let out = server.stdout.text();
    let (demo_token, admin_token) = printed_tokens(&server);
    // The demo key, then the admin key, each with its curl line; then the
    // portal's address.
    let demo_at = out.find("Demo API key").expect("demo key line");
    let admin_at = out.find("Admin key").expect("admin key line");
    let portal_at = out.find("/portal").expect("portal line");
    assert!(demo_at < admin_at && admin_at < portal_at, "{out}");
    assert!(out.contains(&format!(
        "curl -i -H 'Authorization: Bearer {demo_token}' http://{}/v1/profile",
        server.address
    )));
    assert!(out.contains(&format!(
        "curl -i -H 'Authorization: Bearer {admin_token}' http://{}/admin/v1/keys",
        server.address
    )));
    assert_eq!(
        out.matches(&admin_token).count(),
        2,
        "printed once, plus its curl line"
    );

    let admin = AdminClient::new(&server, &admin_token);
    let user = AdminClient::new(&server, &demo_token);

    // Every endpoint needs keys:admin: 401 without a key, 403 with the demo
    // key (a valid key without the scope).
    let anonymous = admin.raw(Method::GET, KEYS, None, Bytes::new(), None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers.contains_key("www-authenticate"));
    for (method, path) in [
        (Method::GET, KEYS.to_owned()),
        (Method::POST, KEYS.to_owned()),
        (Method::GET, format!("{KEYS}/key_x")),
        (Method::PATCH, format!("{KEYS}/key_x")),
        (Method::DELETE, format!("{KEYS}/key_x")),
        (Method::POST, format!("{KEYS}/key_x/revoke")),
        (Method::POST, format!("{KEYS}/key_x/rotate")),
    ] {
        let answer = user.call(method.clone(), &path, None).await;
        answer.assert_error(StatusCode::FORBIDDEN, "forbidden", "");
        let challenge = answer.headers["www-authenticate"].to_str().expect("ascii");
        assert!(
            challenge.contains("insufficient_scope"),
            "{method} {path}: {challenge}"
        );
        assert!(challenge.contains("scope=\"keys:admin\""), "{challenge}");
    }

    // Create: 201, the token once, no-store, the key with its hint.
    let created = admin
        .call(
            Method::POST,
            KEYS,
            Some(json!({"label": "Staging Server", "scopes": ["profile:read"]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
    assert_eq!(created.headers["cache-control"], "no-store");
    let body = created.json();
    let token = body["token"].as_str().expect("token").to_owned();
    let key = body["key"].clone();
    let id = key["id"].as_str().expect("id").to_owned();
    assert_eq!(
        key_fields(&key),
        [
            "allowed_ips",
            "created_at",
            "credits",
            "expires_at",
            "hint",
            "id",
            "label",
            "last_used_at",
            "metadata",
            "owner",
            "owner_limits",
            "rate_limit",
            "revoked",
            "rotated_from",
            "rotated_to",
            "scopes"
        ]
    );
    assert_eq!(key["label"], "Staging Server");
    assert_eq!(key["scopes"], json!(["profile:read"]));
    assert_eq!(
        key["hint"].as_str(),
        Some(&token[..7]),
        "prefix and 4 characters"
    );
    assert_eq!(key["revoked"], false);
    assert_eq!(key["expires_at"], Value::Null);
    assert_eq!(key["last_used_at"], Value::Null);
    assert_eq!(key["rate_limit"], Value::Null);
    let created_at = key["created_at"].as_str().expect("created_at");
    assert!(
        created_at.ends_with('Z') && created_at.len() == 20,
        "{created_at}"
    );

    // The new key works at once, for the scopes it has.
    assert_eq!(admin.profile(&token).await, StatusCode::OK);

    // Get: the same key, now with its last use, in whole minutes.
    let shown = admin.call(Method::GET, &format!("{KEYS}/{id}"), None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.headers["cache-control"], "no-store");
    let last_used = shown.json()["last_used_at"]
        .as_str()
        .expect("used")
        .to_owned();
    println!("last_used_at after one request: {last_used}");
    assert!(last_used.ends_with(":00Z"), "{last_used}");

    // Patch: label, scopes, expiry; null removes the expiry.
    let patched = admin
        .call(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(
                json!({"label": "Production Dialer", "scopes": ["calls:write"],
                        "expires_at": "2099-01-01T00:00:00Z"}),
            ),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.json());
    assert_eq!(patched.json()["label"], "Production Dialer");
    assert_eq!(patched.json()["scopes"], json!(["calls:write"]));
    assert_eq!(patched.json()["expires_at"], "2099-01-01T00:00:00Z");
    // The scope change applies to the next request: profile:read is gone.
    assert_eq!(admin.profile(&token).await, StatusCode::FORBIDDEN);
    let unexpired = admin
        .call(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(json!({"expires_at": null})),
        )
        .await;
    assert_eq!(unexpired.json()["expires_at"], Value::Null);
    assert_eq!(unexpired.json()["label"], "Production Dialer", "untouched");
    admin
        .call(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(json!({"scopes": ["profile:read"]})),
        )
        .await;
    assert_eq!(admin.profile(&token).await, StatusCode::OK);

    // A rate limit of its own: set, shown, enforced, removed.
    let limited = admin
        .call(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(json!({"rate_limit": {"requests": 1, "per_seconds": 3600}})),
        )
        .await;
    assert_eq!(
        limited.json()["rate_limit"],
        json!({"requests": 1, "per_seconds": 3600})
    );
    assert_eq!(admin.profile(&token).await, StatusCode::OK);
    assert_eq!(admin.profile(&token).await, StatusCode::TOO_MANY_REQUESTS);
    let unlimited = admin
        .call(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(json!({"rate_limit": null})),
        )
        .await;
    assert_eq!(unlimited.json()["rate_limit"], Value::Null);
    assert_eq!(admin.profile(&token).await, StatusCode::OK);

    // List: by id, paginated with a cursor, revoked keys included unless
    // asked otherwise.
    let mut made = vec![id.clone()];
    for n in 0..3 {
        made.push(
            admin.create(json!({"label": format!("Batch {n}")})).await.1["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let everything = admin.call(Method::GET, KEYS, None).await.json();
    let all_ids: Vec<&str> = everything["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["id"].as_str().expect("id"))
        .collect();
    assert_eq!(all_ids.len(), 6, "2 demo keys + 4");
    assert!(
        all_ids.windows(2).all(|w| w[0] < w[1]),
        "ordered by id: {all_ids:?}"
    );
    assert_eq!(everything["next_cursor"], Value::Null);
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(after) => format!("{KEYS}?limit=4&cursor={after}"),
            None => format!("{KEYS}?limit=4"),
        };
        let page = admin.call(Method::GET, &path, None).await.json();
        let keys = page["keys"].as_array().expect("keys");
        assert!(keys.len() <= 4);
        paged.extend(
            keys.iter()
                .map(|k| k["id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all_ids, "pages of 4 walk the whole list once");

    // Revoke: no body, 200 with revoked: true, idempotent; the key fails.
    let revoke_path = format!("{KEYS}/{}/revoke", made[1]);
    let revoked = admin.call(Method::POST, &revoke_path, None).await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.json()["revoked"], true);
    let again = admin.call(Method::POST, &revoke_path, None).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["revoked"], true);
    admin
        .call(Method::POST, &revoke_path, Some(json!({})))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request", "no body");
    let active_only = admin
        .call(Method::GET, &format!("{KEYS}?include_revoked=false"), None)
        .await
        .json();
    assert!(
        active_only["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .all(|k| k["revoked"] == false)
    );
    assert_eq!(active_only["keys"].as_array().expect("keys").len(), 5);

    // Rotating a revoked key: 409.
    admin
        .call(Method::POST, &format!("{KEYS}/{}/rotate", made[1]), None)
        .await
        .assert_error(StatusCode::CONFLICT, "conflict", "revoked");

    // Delete: 204, then 404 everywhere; its token fails like a revoked one.
    let (doomed_token, doomed) = admin.create(json!({"label": "Doomed"})).await;
    let doomed_id = doomed["id"].as_str().expect("id");
    assert_eq!(
        admin.profile(&doomed_token).await,
        StatusCode::FORBIDDEN,
        "no scopes"
    );
    let deleted = admin
        .call(Method::DELETE, &format!("{KEYS}/{doomed_id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.body.is_empty());
    assert_eq!(admin.profile(&doomed_token).await, StatusCode::UNAUTHORIZED);
    for (method, path) in [
        (Method::GET, format!("{KEYS}/{doomed_id}")),
        (Method::DELETE, format!("{KEYS}/{doomed_id}")),
        (Method::POST, format!("{KEYS}/{doomed_id}/revoke")),
        (Method::POST, format!("{KEYS}/{doomed_id}/rotate")),
    ] {
        admin.call(method, &path, None).await.assert_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no key",
        );
    }
    admin
        .call(
            Method::PATCH,
            &format!("{KEYS}/{doomed_id}"),
            Some(json!({"label": "x"})),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", "no key");

    // One log line per change: action, key id, the admin key's id.
    let admin_id = admin.id_of("Demo Admin Key").await;
    let log = server.stderr.text();
    let changes: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("admin: key changed"))
        .collect();
    for line in &changes {
        assert!(line.contains(&format!("by=\"{admin_id}\"")), "{line}");
    }
    let count = |action: &str, key: &str| {
        changes
            .iter()
            .filter(|l| {
                l.contains(&format!("action=\"{action}\""))
                    && l.contains(&format!("key_id=\"{key}\""))
            })
            .count()
    };
    assert_eq!(count("create", &id), 1);
    assert_eq!(count("update", &id), 5);
    assert_eq!(count("revoke", &made[1]), 2, "each revoke call logs");
    assert_eq!(count("delete", doomed_id), 1);
    assert_eq!(changes.len(), 1 + 4 + 5 + 2 + 1, "{changes:#?}");

    // No answer but create and rotate carries a token; none a digest; and
    // no log line carries either. The tokens: the two printed at startup,
    // and every one a create answered.
    let answers = admin.answers();
    let mut tokens = vec![demo_token.clone(), admin_token.clone()];
    for answer in answers.iter().filter(|a| a.status == StatusCode::CREATED) {
        tokens.push(answer.json()["token"].as_str().expect("token").to_owned());
    }
    assert_eq!(tokens.len(), 2 + 5, "five creates");
    assert!(tokens.contains(&token) && tokens.contains(&doomed_token));
    let digests: Vec<String> = tokens.iter().map(|t| TokenDigest::of(t).to_hex()).collect();
    for answer in answers.iter().chain(user.answers().iter()) {
        let text = String::from_utf8_lossy(&answer.body);
        let held = tokens.iter().filter(|t| text.contains(t.as_str())).count();
        if answer.status == StatusCode::CREATED {
            assert_eq!(held, 1, "{}: exactly its own token", answer.asked);
        } else {
            assert_eq!(held, 0, "{} answered a token: {text}", answer.asked);
        }
        for digest in &digests {
            assert!(
                !text.contains(digest.as_str()),
                "{} answered a digest",
                answer.asked
            );
        }
    }
    for secret in tokens.iter().chain(&digests) {
        assert!(!log.contains(secret.as_str()), "a secret in the log");
    }
}
