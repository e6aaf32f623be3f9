//! The JWT cases the benchmarks share: one signer and key per algorithm,
//! tokens to cycle through, the library's checks as `JwtValidator` sets
//! them up, and jwt-authorizer 0.15 (the peer) with the same checks.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tower_bearer_auth::jwt::JwtKey;

use crate::common::ready_now;
use crate::support::jwt::{AUDIENCE, EC_PUBLIC, ED_PUBLIC, ISSUER, RSA_PUBLIC, Signer, claims};

pub(crate) const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// Distinct tokens cycled through per algorithm (different `sub`s).
pub(crate) const TOKENS: usize = 64;

/// The claims `JwtValidator` reads, declared the same way, for the raw
/// decode: what the library costs with the same work asked of it.
#[derive(Deserialize, Clone)]
#[allow(dead_code)]
pub(crate) struct SameClaims {
    sub: Option<String>,
    iss: Option<String>,
    exp: Option<u64>,
    scope: Option<ScopeValue>,
    scp: Option<ScopeValue>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum ScopeValue {
    Text(String),
    List(Vec<String>),
}

/// One algorithm: a signer, our key, the library's key.
pub(crate) fn cases() -> Vec<(&'static str, Signer, JwtKey, DecodingKey)> {
    vec![
        (
            "HS256",
            Signer::hmac(SECRET, ""),
            JwtKey::hmac(SECRET),
            DecodingKey::from_secret(SECRET),
        ),
        (
            "RS256",
            Signer::rsa(""),
            JwtKey::rsa_pem(RSA_PUBLIC).expect("RSA key"),
            DecodingKey::from_rsa_pem(RSA_PUBLIC).expect("RSA key"),
        ),
        (
            "ES256",
            Signer::ec(""),
            JwtKey::ec_pem(EC_PUBLIC).expect("EC key"),
            DecodingKey::from_ec_pem(EC_PUBLIC).expect("EC key"),
        ),
        (
            "EdDSA",
            Signer::ed(""),
            JwtKey::ed25519_pem(ED_PUBLIC).expect("Ed25519 key"),
            DecodingKey::from_ed_pem(ED_PUBLIC).expect("Ed25519 key"),
        ),
    ]
}

/// jwt-authorizer's authorizer for `name`'s key, with our checks (issuer,
/// audience, 30 s leeway, `nbf`).
pub(crate) fn peer(name: &str) -> jwt_authorizer::Authorizer<SameClaims> {
    use jwt_authorizer::JwtAuthorizer;
    let pem = |bytes: &'static [u8]| std::str::from_utf8(bytes).expect("PEM is ASCII");
    let builder = match name {
        "HS256" => JwtAuthorizer::from_secret(std::str::from_utf8(SECRET).expect("ASCII")),
        "RS256" => JwtAuthorizer::from_rsa_pem_text(pem(RSA_PUBLIC)),
        "ES256" => JwtAuthorizer::from_ec_pem_text(pem(EC_PUBLIC)),
        _ => JwtAuthorizer::from_ed_pem_text(pem(ED_PUBLIC)),
    };
    let validation = jwt_authorizer::Validation::new()
        .iss(&[ISSUER])
        .aud(&[AUDIENCE])
        .leeway(30)
        .nbf(true);
    ready_now(builder.validation(validation).build()).expect("jwt-authorizer")
}

/// The library's checks as `JwtValidator` sets them up.
pub(crate) fn same_validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = 30;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp"]);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation
}

pub(crate) fn tokens(signer: &Signer) -> Vec<String> {
    (0..TOKENS)
        .map(|n| {
            let mut claims = claims("profile:read calls:write");
            claims["sub"] = format!("user-{n}").into();
            signer.sign(&claims)
        })
        .collect()
}
