//! Per-key policies in-process: an address allowlist (the connection's
//! peer, or the address trusted proxies forwarded; 403 `forbidden` without
//! a challenge, gRPC 7, decided before the scope check) and usage credits
//! (spent per request at the route's cost, `Credits-Remaining` on passing
//! answers, 429 `usage_exceeded` with gRPC 8, refills, and the rate limit
//! and credits never spending each other's budget).

use std::net::SocketAddr;

use http::{Request, StatusCode};
use tower::Layer;
use tower_bearer_auth::key_policy::{CreditCosts, Credits, PeerAddress, Refill, TrustedProxies};
use tower_bearer_auth::rate_limit::{Quota, RateLimiter};
use tower_bearer_auth::{
    BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore, RejectionKind, ScopeRequirement, ScopeSet,
};

use crate::rate_limit::{Answer, send};
use crate::support::{Echo, as_grpc, get_with_auth, header};

/// Inserts a key made by `entry` (given id, label and digest), returns its
/// bearer value.
fn key(store: &KeyStore, entry: impl FnOnce(KeyEntry) -> KeyEntry) -> String {
    let key = KeyGenerator::new().generate().expect("random source");
    store
        .insert(entry(KeyEntry::new(
            key.id(),
            "Production Dialer",
            key.digest(),
        )))
        .expect("insert");
    format!("Bearer {}", key.token().expose())
}

/// A request from `peer` (none: the server said nothing) to `path`.
fn from(peer: Option<&str>, bearer: &str, path: &str) -> Request<()> {
    let mut request = get_with_auth(bearer);
    *request.uri_mut() = path.parse().expect("path");
    if let Some(peer) = peer {
        let peer: SocketAddr = peer.parse().expect("socket address");
        request.extensions_mut().insert(PeerAddress(peer));
    }
    request
}

fn allowlisted(entry: KeyEntry) -> KeyEntry {
    entry.with_allowed_ips([
        "203.0.113.0/24".parse().expect("range"),
        "2001:db8::/32".parse().expect("range"),
    ])
}

#[tokio::test]
async fn an_allowlisted_key_passes_from_its_ranges_and_is_refused_elsewhere() {
    let store = KeyStore::new();
    let bearer = key(&store, allowlisted);
    let plain = key(&store, |entry| entry);
    let echo = Echo::default();
    let mut service = BearerAuthLayer::new(store).layer(echo.clone());

    for peer in [
        "203.0.113.7:50000",
        "[2001:db8::5]:443",
        "[::ffff:203.0.113.9]:1",
    ] {
        let answer = send(&mut service, from(Some(peer), &bearer, "/v1/calls")).await;
        assert_eq!(answer.status, StatusCode::OK, "{peer}");
    }
    for peer in [Some("198.51.100.7:50000"), Some("[2001:db9::1]:1"), None] {
        let answer = send(&mut service, from(peer, &bearer, "/v1/calls")).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{peer:?}");
        assert_eq!(
            answer.body,
            r#"{"error":{"code":"forbidden","message":"This key may not be used from the client's address"}}"#
        );
        // The token is fine: no challenge to send another.
        assert!(answer.parts.headers.get("www-authenticate").is_none());
        assert_eq!(
            answer.parts.extensions.get::<RejectionKind>(),
            Some(&RejectionKind::AddressNotAllowed)
        );
        // Never the list.
        assert!(!answer.body.contains("203.0.113"));
    }
    assert_eq!(echo.calls(), 3);
    // A key without a list is not affected, known peer or not.
    for peer in [Some("198.51.100.7:1"), None] {
        let answer = send(&mut service, from(peer, &plain, "/v1/calls")).await;
        assert_eq!(answer.status, StatusCode::OK);
    }

    let grpc = send(
        &mut service,
        as_grpc(from(
            Some("198.51.100.7:1"),
            &bearer,
            "/dialer.v1.Dialer/Dial",
        )),
    )
    .await;
    assert_eq!(grpc.status, StatusCode::OK);
    assert_eq!(header(&grpc.parts, "grpc-status"), "7");
}

#[tokio::test]
async fn the_address_is_checked_before_the_scope() {
    let store = KeyStore::new();
    let bearer = key(&store, |entry| {
        allowlisted(entry).with_scopes(ScopeSet::parse("profile:read").expect("scope"))
    });
    let auth = BearerAuthLayer::builder(store)
        .scope_policy(ScopeRequirement::all(["calls:write"]).expect("scope"))
        .build()
        .expect("valid");
    let mut service = auth.layer(Echo::default());
    // From outside the list: the address, not what the key may do, is said.
    let outside = send(&mut service, from(Some("198.51.100.7:1"), &bearer, "/")).await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN);
    assert!(!outside.body.contains("scope"), "{}", outside.body);
    let inside = send(&mut service, from(Some("203.0.113.7:1"), &bearer, "/")).await;
    assert_eq!(inside.status, StatusCode::FORBIDDEN);
    assert!(inside.body.contains("calls:write"), "{}", inside.body);
}

#[tokio::test]
async fn through_trusted_proxies_the_forwarded_client_is_checked_and_spoofing_fails() {
    let store = KeyStore::new();
    let bearer = key(&store, allowlisted);
    let auth = BearerAuthLayer::builder(store)
        .trusted_proxies(TrustedProxies::new(["10.0.0.0/8".parse().expect("range")]))
        .build()
        .expect("valid");
    let mut service = auth.layer(Echo::default());
    let cases = [
        // peer, X-Forwarded-For, expected
        ("10.1.2.3:1", Some("203.0.113.7"), StatusCode::OK),
        ("10.1.2.3:1", Some("203.0.113.7, 10.0.0.9"), StatusCode::OK),
        // The client wrote the allowed address itself; the proxy appended
        // the real one.
        (
            "10.1.2.3:1",
            Some("203.0.113.7, 198.51.100.1"),
            StatusCode::FORBIDDEN,
        ),
        // Not through a trusted proxy: the header is the client's own word.
        ("198.51.100.1:1", Some("203.0.113.7"), StatusCode::FORBIDDEN),
        // A trusted proxy that forwarded nothing: the client is unknown.
        ("10.1.2.3:1", None, StatusCode::FORBIDDEN),
        ("10.1.2.3:1", Some("unknown"), StatusCode::FORBIDDEN),
    ];
    for (peer, forwarded, expected) in cases {
        let mut request = from(Some(peer), &bearer, "/");
        if let Some(forwarded) = forwarded {
            request
                .headers_mut()
                .insert("x-forwarded-for", forwarded.parse().expect("value"));
        }
        let answer = send(&mut service, request).await;
        assert_eq!(answer.status, expected, "{peer} {forwarded:?}");
    }
    let mut request = from(Some("10.1.2.3:1"), &bearer, "/");
    request.headers_mut().insert(
        "forwarded",
        "for=\"[2001:db8::17]:4711\";proto=https"
            .parse()
            .expect("value"),
    );
    assert_eq!(send(&mut service, request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn credits_are_spent_at_each_routes_cost_then_usage_exceeded() {
    let store = KeyStore::new();
    let bearer = key(&store, |entry| entry.with_credits(Some(Credits::new(10))));
    let echo = Echo::default();
    let auth = BearerAuthLayer::builder(store.clone())
        .credit_costs(
            CreditCosts::new()
                .route("/v1/calls", 4)
                .prefix("/v1/status/", 0),
        )
        .build()
        .expect("valid");
    let mut service = auth.layer(echo.clone());

    let mut seen = Vec::new();
    for path in ["/v1/calls", "/v1/profile", "/v1/status/health", "/v1/calls"] {
        let answer = send(&mut service, from(None, &bearer, path)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        seen.push(header(&answer.parts, "credits-remaining").to_owned());
    }
    assert_eq!(seen, ["6", "5", "5", "1"]);
    // 1 left: a call costing 4 is refused and spends nothing.
    let refused = send(&mut service, from(None, &bearer, "/v1/calls")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.body,
        r#"{"error":{"code":"usage_exceeded","message":"This key has no usage credits left"}}"#
    );
    assert!(
        refused.parts.headers.get("retry-after").is_none(),
        "no refill"
    );
    assert!(refused.parts.headers.get("www-authenticate").is_none());
    assert!(refused.parts.headers.get("credits-remaining").is_none());
    assert_eq!(
        refused.parts.extensions.get::<RejectionKind>(),
        Some(&RejectionKind::UsageExceeded)
    );
    let last = send(&mut service, from(None, &bearer, "/v1/profile")).await;
    assert_eq!(header(&last.parts, "credits-remaining"), "0");
    // 0 left: even a free route (cost 0 only checks) is refused.
    let free = send(&mut service, from(None, &bearer, "/v1/status/health")).await;
    assert_eq!(free.status, StatusCode::TOO_MANY_REQUESTS);
    let grpc = send(
        &mut service,
        as_grpc(from(None, &bearer, "/dialer.v1.Dialer/Dial")),
    )
    .await;
    assert_eq!(header(&grpc.parts, "grpc-status"), "8");
    assert_eq!(echo.calls(), 5);
    // The balance is the key's, as handlers and the admin API read it.
    let entry = store.entries().into_iter().next().expect("one key");
    assert_eq!(entry.credits().map(|credits| credits.remaining()), Some(0));
}

#[tokio::test]
async fn a_refilling_key_says_when_to_retry() {
    let store = KeyStore::new();
    let bearer = key(&store, |entry| {
        entry.with_credits(Some(
            Credits::new(1).with_refill(Refill::new(1, 3_600).expect("refill")),
        ))
    });
    let mut service = BearerAuthLayer::new(store).layer(Echo::default());
    assert_eq!(
        send(&mut service, from(None, &bearer, "/")).await.status,
        StatusCode::OK
    );
    let refused = send(&mut service, from(None, &bearer, "/")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(&refused.parts, "retry-after")
        .parse()
        .expect("seconds");
    assert!((3_590..=3_600).contains(&retry), "{retry}");
    assert!(refused.body.contains("retry after"), "{}", refused.body);
}

#[tokio::test]
async fn the_rate_limit_and_credits_never_spend_each_others_budget() {
    let store = KeyStore::new();
    let bearer = key(&store, |entry| entry.with_credits(Some(Credits::new(3))));
    let limiter = RateLimiter::builder()
        .default_quota(Quota::new(2, 3_600).expect("quota"))
        .build();
    let auth = BearerAuthLayer::builder(store.clone())
        .rate_limiter(limiter)
        .build()
        .expect("valid");
    let mut service = auth.layer(Echo::default());
    let remaining = |answer: &Answer| header(&answer.parts, "credits-remaining").to_owned();

    let first = send(&mut service, from(None, &bearer, "/")).await;
    assert_eq!(
        (first.status, remaining(&first)),
        (StatusCode::OK, "2".to_owned())
    );
    assert!(
        first.parts.headers.get("ratelimit").is_some(),
        "both fields"
    );
    assert_eq!(
        send(&mut service, from(None, &bearer, "/")).await.status,
        StatusCode::OK
    );
    // The rate limit refuses: the credit it would have cost is given back.
    for _ in 0..3 {
        let limited = send(&mut service, from(None, &bearer, "/")).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(limited.body.contains("rate_limited"), "{}", limited.body);
    }
    let entry = store.entries().into_iter().next().expect("one key");
    assert_eq!(entry.credits().map(|credits| credits.remaining()), Some(1));

    // The reverse: a key out of credits is refused before the rate limit,
    // which keeps its whole burst.
    let broke = key(&store, |entry| entry.with_credits(Some(Credits::new(0))));
    for _ in 0..5 {
        let refused = send(&mut service, from(None, &broke, "/")).await;
        assert!(refused.body.contains("usage_exceeded"), "{}", refused.body);
    }
    store
        .upsert(
            store
                .entries()
                .into_iter()
                .find(|entry| entry.credits().is_some_and(|c| c.remaining() == 0))
                .expect("the broke key")
                .with_credits(Some(Credits::new(10))),
        )
        .expect("topped up");
    for _ in 0..2 {
        let passed = send(&mut service, from(None, &broke, "/")).await;
        assert_eq!(
            passed.status,
            StatusCode::OK,
            "the burst is whole: {}",
            passed.body
        );
    }
}

#[tokio::test]
async fn a_change_to_a_key_read_from_the_store_keeps_its_balance_as_read() {
    let store = KeyStore::new();
    let bearer = key(&store, |entry| entry.with_credits(Some(Credits::new(5))));
    let mut service = BearerAuthLayer::new(store.clone()).layer(Echo::default());
    for _ in 0..2 {
        send(&mut service, from(None, &bearer, "/")).await;
    }
    let entry = store.entries().remove(0);
    assert_eq!(entry.credits().map(|c| c.remaining()), Some(3));
    store
        .upsert(entry.clone().with_label("Renamed"))
        .expect("label only");
    let id = entry.id();
    assert_eq!(
        store
            .entry(id)
            .and_then(|e| e.credits())
            .map(|c| c.remaining()),
        Some(3)
    );
    // Writing credits sets the balance.
    store
        .upsert(entry.with_credits(Some(Credits::new(50))))
        .expect("top up");
    let answer = send(&mut service, from(None, &bearer, "/")).await;
    assert_eq!(header(&answer.parts, "credits-remaining"), "49");
}

#[tokio::test]
async fn an_owners_keys_share_its_credits_and_rate_limit_unless_they_have_their_own() {
    use tower_bearer_auth::key_policy::OwnerLimits;
    let store = KeyStore::new();
    let limits = OwnerLimits::new()
        .with_credits(Some(Credits::new(5)))
        .with_rate_limit(Some(Quota::new(4, 3_600).expect("quota")));
    let of_owner = |entry: KeyEntry| {
        entry
            .with_owner(Some("cus_1".to_owned()))
            .with_owner_limits(limits)
    };
    let first = key(&store, of_owner);
    let second = key(&store, of_owner);
    // Its own credits and quota: the owner's are not its.
    let own = key(&store, |entry| {
        of_owner(entry)
            .with_credits(Some(Credits::new(100)))
            .with_rate_limit(Some(Quota::new(50, 3_600).expect("quota")))
    });
    let limiter = RateLimiter::new();
    let mut service = BearerAuthLayer::builder(store.clone())
        .rate_limiter(limiter)
        .build()
        .expect("valid")
        .layer(Echo::default());

    // 4 requests over both keys: one bucket of 4 and one balance of 5.
    let mut remaining = Vec::new();
    for bearer in [&first, &second, &first, &second] {
        let answer = send(&mut service, from(None, bearer, "/")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        remaining.push(header(&answer.parts, "credits-remaining").to_owned());
    }
    assert_eq!(remaining, ["4", "3", "2", "1"], "one balance for both keys");
    let limited = send(&mut service, from(None, &first, "/")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited.body.contains("rate_limited"),
        "one bucket: {}",
        limited.body
    );
    assert!(
        header(&limited.parts, "ratelimit-policy").contains("q=4"),
        "the owner's quota"
    );
    // The key with its own limits is untouched by the owner's.
    let answer = send(&mut service, from(None, &own, "/")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(header(&answer.parts, "credits-remaining"), "99");
    // The rate-limit refusal gave the owner's credit back: 1 left.
    let admin = tower_bearer_auth::key_store::admin::EmbeddedKeyAdmin::new(store.clone());
    let live = tower_bearer_auth::key_store::admin::KeyAdmin::owner_credits(&admin, "cus_1")
        .await
        .expect("read")
        .expect("the owner has credits");
    assert_eq!(live.remaining(), 1);
    let entry = store
        .entries()
        .into_iter()
        .find(|entry| entry.credits().is_none())
        .expect("a key of the owner");
    assert_eq!(entry.owner_limits(), limits, "keys carry them as written");
}
