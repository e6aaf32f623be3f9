//! List cursors round-trip every id the store accepts: ids with `:` (sent
//! percent-encoded, as browsers and the portal send them) at a page
//! boundary once made the list start over forever.

use http::{Method, StatusCode};
use tower_bearer_auth::KeyEntry;
use tower_bearer_auth::key_store::TokenDigest;

use crate::client::{KEYS, embedded};

/// `text` percent-encoded as `encodeURIComponent` does.
fn encode_uri_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn every_page_boundary_id_round_trips_as_a_cursor() {
    let (admin, store) = embedded();
    let ids: Vec<String> = (0..60)
        .map(|i| match i % 6 {
            0 => format!("key:{i:03}"),
            1 => format!("key.{i:03}"),
            2 => format!("key-{i:03}"),
            3 => format!("key_{i:03}"),
            4 => format!("KEY:{i:03}:x"),
            _ => format!("{i:03}..."),
        })
        .collect();
    for id in &ids {
        store
            .insert(KeyEntry::new(id.as_str(), "Listed", TokenDigest::of(id)))
            .expect("insert");
    }
    let total = store.entries().len();
    for limit in [1, 2, 7] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..=total {
            let path = match &cursor {
                Some(cursor) => format!(
                    "{KEYS}?limit={limit}&cursor={}",
                    encode_uri_component(cursor)
                ),
                None => format!("{KEYS}?limit={limit}"),
            };
            let answer = admin.call(Method::GET, &path, None).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}");
            let page = answer.json();
            for key in page["keys"].as_array().expect("keys") {
                seen.push(key["id"].as_str().expect("id").to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(seen, sorted, "limit {limit}: in order, each once");
        assert_eq!(seen.len(), total, "limit {limit}: every key, then the end");
    }
    // A cursor that is not valid percent-encoding is a 400, not a loop.
    admin
        .call(Method::GET, &format!("{KEYS}?cursor=%zz"), None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request", "`cursor`");
}
