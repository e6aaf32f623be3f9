//! JWT keys from a JWKS served by a local server of the test's own
//! (127.0.0.1:0): OIDC discovery, key rotation after one refetch, a flood
//! of unknown `kid`s bounded by the refetch interval, cached keys while the
//! JWKS is down then 503, a JWKS down since startup (503 for JWTs, keys
//! still pass), and HMAC secrets in a JWKS ignored.

use std::time::{Duration, Instant};

use http::StatusCode;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tower::{Layer, ServiceExt};
use tower_bearer_auth::jwt::{JwtValidator, KeyOrJwt};
use tower_bearer_auth::{BearerAuthLayer, RejectionKind};

use crate::support::jwt::{AUDIENCE, ISSUER, JwksServer, Signer, claims};
use crate::support::{Echo, fixture, get_with_auth};

/// The status (and rejection kind) `validator` gives `token`.
async fn status<V>(layer: &BearerAuthLayer<V>, token: &str) -> (StatusCode, Option<RejectionKind>)
where
    V: tower_bearer_auth::TokenValidator + Clone + Send + Sync + 'static,
    V::Future: Send,
{
    let response = layer
        .layer(Echo::default())
        .oneshot(get_with_auth(&format!("Bearer {token}")))
        .await
        .expect("infallible");
    (
        response.status(),
        response.extensions().get::<RejectionKind>().copied(),
    )
}

fn algorithms() -> [Algorithm; 3] {
    [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
}

/// A validator of `server`'s JWKS with the given refetch interval and
/// staleness limit.
fn remote(server: &JwksServer, min_refetch: Duration, max_stale: Duration) -> JwtValidator {
    JwtValidator::builder(algorithms())
        .jwks_url(server.jwks_url())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks_min_refetch(min_refetch)
        .jwks_max_stale(max_stale)
        .build()
        .expect("valid validator")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_found_by_oidc_discovery_verify_tokens() {
    let signer = Signer::ed("ed-1");
    let server = JwksServer::start(vec![signer.jwk()]);
    let validator = JwtValidator::builder(algorithms())
        .oidc_discovery(&server.base)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .expect("valid validator");
    assert!(validator.ready(Duration::from_secs(5)).await, "first fetch");
    let layer = BearerAuthLayer::new(validator);
    assert_eq!(
        status(&layer, &signer.sign(&claims("profile:read")))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_in_key_passes_after_exactly_one_refetch() {
    let old = Signer::rsa("2026-10");
    let new = Signer::ec("2026-11");
    let server = JwksServer::start(vec![old.jwk()]);
    let min_refetch = Duration::from_millis(300);
    let validator = remote(&server, min_refetch, Duration::from_secs(3_600));
    assert!(validator.ready(Duration::from_secs(5)).await);
    let layer = BearerAuthLayer::new(validator.clone());
    assert_eq!(
        status(&layer, &old.sign(&claims(""))).await.0,
        StatusCode::OK
    );

    // The issuer publishes the new key and starts signing with it.
    server.set_keys(vec![old.jwk(), new.jwk()]);
    tokio::time::sleep(min_refetch).await;
    let before = (server.hits(), validator.jwks_fetches());
    let started = Instant::now();
    assert_eq!(
        status(&layer, &new.sign(&claims(""))).await.0,
        StatusCode::OK
    );
    println!(
        "rotation: the first token of the new kid passed after {:?}",
        started.elapsed()
    );
    assert_eq!(server.hits(), before.0 + 1, "one refetch");
    assert_eq!(validator.jwks_fetches(), before.1 + 1);
    // Both keys work now, with no more fetches.
    for _ in 0..10 {
        assert_eq!(
            status(&layer, &new.sign(&claims(""))).await.0,
            StatusCode::OK
        );
        assert_eq!(
            status(&layer, &old.sign(&claims(""))).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(server.hits(), before.0 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_interval() {
    // Ed25519: quick to sign (RSA signing in a debug build is not).
    let signer = Signer::ed("real");
    let server = JwksServer::start(vec![signer.jwk()]);
    let min_refetch = Duration::from_millis(500);
    let validator = remote(&server, min_refetch, Duration::from_secs(3_600));
    assert!(validator.ready(Duration::from_secs(5)).await);
    let layer = BearerAuthLayer::new(validator);

    let before = server.hits();
    let started = Instant::now();
    let mut refused = 0;
    let mut tasks = tokio::task::JoinSet::new();
    // 8 concurrent attackers, each with 60 made-up kids, for about 1.5 s.
    for attacker in 0..8 {
        let layer = layer.clone();
        let signer = signer.clone();
        tasks.spawn(async move {
            let mut refused = 0;
            for n in 0..60 {
                let token = signer
                    .with_kid(&format!("made-up-{attacker}-{n}"))
                    .sign(&claims(""));
                if status(&layer, &token).await.0 == StatusCode::UNAUTHORIZED {
                    refused += 1;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            refused
        });
    }
    while let Some(done) = tasks.join_next().await {
        refused += done.expect("attacker");
    }
    let elapsed = started.elapsed();
    let fetches = server.hits() - before;
    // One per started interval since the last fetch (the first fetch
    // happened just before the flood, so the first refetch waits for it).
    let allowed =
        usize::try_from(elapsed.as_millis() / min_refetch.as_millis()).expect("small") + 1;
    println!(
        "flood: 480 tokens with unknown kids in {elapsed:?} caused {fetches} JWKS fetches (at most {allowed} allowed)"
    );
    assert_eq!(refused, 480, "every made-up kid is refused");
    assert!(fetches >= 1, "an unknown kid does ask for a refetch");
    assert!(fetches <= allowed, "{fetches} fetches > {allowed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_keys_work_while_the_jwks_is_down_then_503_and_keys_still_pass() {
    let signer = Signer::ec("ec-1");
    let server = JwksServer::start(vec![signer.jwk()]);
    let max_stale = Duration::from_millis(1_500);
    // Refreshed every 0.75 s (half of `max_stale`), retried every 0.2 s
    // after a failure.
    let validator = remote(&server, Duration::from_millis(200), max_stale);
    assert!(validator.ready(Duration::from_secs(5)).await);
    let fixture = fixture();
    let layer = BearerAuthLayer::new(KeyOrJwt::new(fixture.store.clone(), Some(validator)));
    let token = signer.sign(&claims(""));

    server.set_down(true);
    let down_at = Instant::now();
    // A token with an unknown kid asks for a refetch, which fails.
    let unknown = signer.with_kid("ec-2").sign(&claims(""));
    assert_eq!(status(&layer, &unknown).await.0, StatusCode::UNAUTHORIZED);
    // The cached key keeps working within `max_stale`.
    assert_eq!(status(&layer, &token).await.0, StatusCode::OK);
    let mut last_ok = down_at.elapsed();
    let unavailable_after = loop {
        let (code, kind) = status(&layer, &token).await;
        if code == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(kind, Some(RejectionKind::ValidatorUnavailable));
            break down_at.elapsed();
        }
        assert_eq!(code, StatusCode::OK);
        last_ok = down_at.elapsed();
        assert!(down_at.elapsed() < Duration::from_secs(5), "never 503");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "JWKS down: cached keys passed until {last_ok:?}, 503 from {unavailable_after:?} (max_stale {max_stale:?}, counted from the last successful fetch)"
    );
    assert!(last_ok < max_stale + Duration::from_millis(100));
    assert!(unavailable_after >= max_stale - Duration::from_millis(300));
    let attempts = server.hits();
    assert!(attempts >= 3, "the JWKS was retried while down: {attempts}");
    // API keys are not affected.
    assert_eq!(status(&layer, &fixture.full).await.0, StatusCode::OK);

    // Back up: the periodic retry (every `min_refetch` after a failure)
    // brings the keys back.
    server.set_down(false);
    let back = Instant::now();
    loop {
        let answer = status(&layer, &token).await;
        if answer.0 == StatusCode::OK {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "keys never came back: {answer:?}, {} JWKS requests",
            server.hits()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_down_since_startup_is_503_for_jwts_never_401_and_keys_pass() {
    let signer = Signer::rsa("rsa-1");
    let server = JwksServer::start(vec![signer.jwk()]);
    server.set_down(true);
    let validator = remote(
        &server,
        Duration::from_millis(200),
        Duration::from_secs(3_600),
    );
    assert!(!validator.ready(Duration::from_millis(300)).await);
    let fixture = fixture();
    let layer = BearerAuthLayer::new(KeyOrJwt::new(
        fixture.store.clone(),
        Some(validator.clone()),
    ));
    for token in [
        signer.sign(&claims("")),
        signer.with_kid("other").sign(&claims("")),
    ] {
        let (code, kind) = status(&layer, &token).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(kind, Some(RejectionKind::ValidatorUnavailable));
    }
    assert_eq!(status(&layer, &fixture.full).await.0, StatusCode::OK);
    assert_eq!(
        status(&layer, &fixture.revoked).await.0,
        StatusCode::UNAUTHORIZED
    );

    server.set_down(false);
    assert!(validator.ready(Duration::from_secs(5)).await);
    assert_eq!(
        status(&layer, &signer.sign(&claims(""))).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hmac_secret_published_in_a_jwks_is_never_used() {
    // A JWKS is public: an `oct` key in it would let anyone sign.
    let secret = b"0123456789abcdef0123456789abcdef";
    let hmac = Signer::hmac(secret, "oct-1");
    let oct =
        json!({"kty": "oct", "kid": "oct-1", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"});
    let rsa = Signer::rsa("rsa-1");
    let server = JwksServer::start(vec![oct, rsa.jwk()]);
    let validator = JwtValidator::builder([Algorithm::HS256, Algorithm::RS256])
        .jwks_url(server.jwks_url())
        .build()
        .expect("valid validator");
    assert!(validator.ready(Duration::from_secs(5)).await);
    let layer = BearerAuthLayer::new(validator);
    assert_eq!(
        status(&layer, &rsa.sign(&claims(""))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        status(&layer, &hmac.sign(&claims(""))).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// The verified-token cache: a repeated token is verified once; `exp` is
/// checked again on a hit (an expired token is 401 `expired`, not served
/// from the cache); a token whose key leaves the JWKS is refused at the
/// next refresh, a token of a key that stays is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tokens_are_cached_until_exp_or_until_their_key_leaves() {
    let old = Signer::ed("ed-old");
    let new = Signer::ed("ed-new");
    let server = JwksServer::start(vec![old.jwk(), new.jwk()]);
    let validator = JwtValidator::builder(algorithms())
        .jwks_url(server.jwks_url())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .leeway(Duration::ZERO)
        .jwks_refresh_every(Duration::from_millis(200))
        .build()
        .expect("valid validator");
    assert!(validator.ready(Duration::from_secs(5)).await);
    let layer = BearerAuthLayer::new(validator.clone());
    let of_old = old.sign(&claims("profile:read"));
    let of_new = new.sign(&claims("profile:read"));
    for _ in 0..3 {
        assert_eq!(status(&layer, &of_old).await.0, StatusCode::OK);
        assert_eq!(status(&layer, &of_new).await.0, StatusCode::OK);
    }
    assert_eq!(validator.cached_tokens(), 2, "each verified once, kept");

    let mut short = claims("profile:read");
    short["exp"] = json!(crate::support::jwt::now() + 2);
    let expiring = new.sign(&short);
    assert_eq!(status(&layer, &expiring).await.0, StatusCode::OK);
    assert_eq!(validator.cached_tokens(), 3);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    assert_eq!(
        status(&layer, &expiring).await,
        (StatusCode::UNAUTHORIZED, Some(RejectionKind::ExpiredToken)),
        "exp is checked again on a hit"
    );

    server.set_keys(vec![new.jwk()]);
    let started = Instant::now();
    while status(&layer, &of_old).await.0 == StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the old key's token is refused after the refresh"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "token cache: the removed key's token refused {:?} after the JWKS changed",
        started.elapsed()
    );
    assert_eq!(status(&layer, &of_new).await.0, StatusCode::OK);
}
