//! JWT validation next to API keys, in the same run: our `JwtValidator`
//! for HS256, RS256, ES256 and `EdDSA` against `jsonwebtoken::decode` alone
//! with the same key, checks and claims struct (the cost of our wrapper
//! over the library), the key store at 10,000 keys (a JWT against an API
//! key), a repeated JWT from the verified-token cache, `KeyOrJwt`
//! dispatching either, and jwt-authorizer 0.15 (jsonwebtoken 9 on ring)
//! validating the same tokens with the same checks. Built with every
//! feature, ours verifies with aws-lc (`jwt-aws-lc`).

pub(crate) mod cases;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion};
use http::request::Parts;
use tower_bearer_auth::TokenValidator;
use tower_bearer_auth::jwt::{JwtKey, JwtValidator, KeyOrJwt};

use self::cases::{SameClaims, TOKENS, cases, peer, same_validation, tokens};
use crate::common::{key_set, ready_now};
use crate::support::jwt::{AUDIENCE, EC_PUBLIC, ISSUER, RSA_PUBLIC, Signer, claims};

fn cycle<'a>(tokens: &'a [String], i: &mut usize) -> &'a str {
    *i = (*i + 1) % tokens.len();
    &tokens[*i]
}

/// The `jwt` group.
pub(crate) fn jwt(c: &mut Criterion) {
    let parts: Parts = http::Request::new(()).into_parts().0;
    let keys = key_set(10_000);
    let mut group = c.benchmark_group("jwt");
    group.sample_size(60);

    let mut i = 0;
    group.bench_function(BenchmarkId::new("key_store", "valid"), |b| {
        b.iter(|| black_box(keys.store.verify(black_box(cycle(&keys.valid, &mut i)))).is_ok());
    });

    for (name, signer, key, decoding) in cases() {
        let tokens = tokens(&signer);
        let validation = same_validation(signer.alg);
        // Every token verified each time (the cache off), then the same
        // validator with its verified-token cache (the default).
        let builder = || {
            JwtValidator::builder([signer.alg])
                .key(key.clone())
                .issuer(ISSUER)
                .audience(AUDIENCE)
        };
        let ours = builder()
            .token_cache(0, 0, std::time::Duration::ZERO)
            .build()
            .expect("valid validator");
        let cached = builder().build().expect("valid validator");
        // Every token passes both ways before anything is timed.
        for token in &tokens {
            assert!(ready_now(ours.validate(token, &parts)).is_ok());
            assert!(ready_now(cached.validate(token, &parts)).is_ok());
            assert!(jsonwebtoken::decode::<SameClaims>(token, &decoding, &validation).is_ok());
        }

        let mut i = 0;
        group.bench_function(BenchmarkId::new("raw_decode", name), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<SameClaims>(
                    black_box(cycle(&tokens, &mut i)),
                    &decoding,
                    &validation,
                )
                .is_ok()
            });
        });
        let mut i = 0;
        group.bench_function(BenchmarkId::new("jwt_validator", name), |b| {
            b.iter(|| {
                black_box(ready_now(
                    ours.validate(black_box(cycle(&tokens, &mut i)), &parts),
                ))
                .is_ok()
            });
        });

        // jwt-authorizer 0.15 (jsonwebtoken 9 on ring), the same checks:
        // the peer the `jwt-aws-lc` backend is measured against.
        let peer = peer(name);
        for token in &tokens {
            assert!(ready_now(peer.check_auth(token)).is_ok(), "{name}");
        }
        let mut i = 0;
        group.bench_function(BenchmarkId::new("jwt_authorizer", name), |b| {
            b.iter(|| {
                black_box(ready_now(
                    peer.check_auth(black_box(cycle(&tokens, &mut i))),
                ))
                .is_ok()
            });
        });

        assert_eq!(cached.cached_tokens(), TOKENS);
        let mut i = 0;
        group.bench_function(BenchmarkId::new("jwt_cached", name), |b| {
            b.iter(|| {
                black_box(ready_now(
                    cached.validate(black_box(cycle(&tokens, &mut i)), &parts),
                ))
                .is_ok()
            });
        });

        if name == "ES256" {
            // Both kinds through the combinator: its dispatch by shape.
            let both = KeyOrJwt::new(keys.store.clone(), Some(ours.clone()));
            let mut i = 0;
            group.bench_function(BenchmarkId::new("key_or_jwt", "ES256"), |b| {
                b.iter(|| {
                    black_box(ready_now(
                        both.validate(black_box(cycle(&tokens, &mut i)), &parts),
                    ))
                    .is_ok()
                });
            });
            let mut i = 0;
            group.bench_function(BenchmarkId::new("key_or_jwt", "key"), |b| {
                b.iter(|| {
                    black_box(ready_now(
                        both.validate(black_box(cycle(&keys.valid, &mut i)), &parts),
                    ))
                    .is_ok()
                });
            });
        }
    }
    forged(&mut group, &keys, &parts);
    group.finish();
}

/// Forged JWTs against an unknown API key (issue 28, part 3): what a
/// token costs the server when no key made it. A disallowed `alg`, an
/// unknown `kid` and a broken shape are refused before any signature work;
/// a forged signature costs one verification (RS256 and ES256 shown, the
/// expensive ones).
fn forged(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    keys: &crate::common::KeySet,
    parts: &Parts,
) {
    use base64::Engine as _;
    let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let mut i = 0;
    group.bench_function(BenchmarkId::new("refused", "unknown_api_key"), |b| {
        b.iter(|| black_box(keys.store.verify(black_box(cycle(&keys.unknown, &mut i)))).is_err());
    });
    for (name, signer, key) in [
        (
            "RS256",
            Signer::rsa("k1"),
            JwtKey::rsa_pem(RSA_PUBLIC).expect("RSA key"),
        ),
        (
            "ES256",
            Signer::ec("k1"),
            JwtKey::ec_pem(EC_PUBLIC).expect("EC key"),
        ),
    ] {
        let validator = JwtValidator::builder([signer.alg])
            .key(key.with_kid("k1"))
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .token_cache(0, 0, std::time::Duration::ZERO)
            .build()
            .expect("valid validator");
        let genuine = signer.sign(&claims("profile:read"));
        let (head, rest) = genuine.split_once('.').expect("a JWS");
        let (payload, signature) = rest.split_once('.').expect("a JWS");
        // Another subject, the genuine signature: a forged signature.
        let forged_payload = b64(&claims("admin").to_string().replace("user-42", "user-1"));
        let mut flipped = signature.to_owned().into_bytes();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        let forgeries = [
            (
                "alg_none",
                format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#)),
            ),
            (
                "alg_not_allowed",
                format!(
                    "{}.{payload}.{signature}",
                    b64(r#"{"alg":"HS256","kid":"k1"}"#)
                ),
            ),
            (
                "unknown_kid",
                format!(
                    "{}.{payload}.{signature}",
                    b64(&format!(r#"{{"alg":"{name}","kid":"k9"}}"#))
                ),
            ),
            ("bad_shape", format!("{head}.{payload}")),
            (
                "forged_payload",
                format!("{head}.{forged_payload}.{signature}"),
            ),
            (
                "forged_signature",
                format!(
                    "{head}.{payload}.{}",
                    String::from_utf8(flipped).expect("ASCII")
                ),
            ),
        ];
        for (what, token) in forgeries {
            assert!(
                ready_now(validator.validate(&token, parts)).is_err(),
                "{name} {what} is refused"
            );
            group.bench_function(BenchmarkId::new(format!("refused_{name}"), what), |b| {
                b.iter(|| ready_now(validator.validate(black_box(&token), parts)).is_err());
            });
        }
    }
}
