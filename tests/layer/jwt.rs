//! JWT access tokens with static keys, in-process: tokens we did not make
//! (RFC 7515 Appendix A, RFC 8037), each algorithm family, every refusal
//! (expired, not yet valid, issuer, audience, truncated, oversized, `alg:
//! none`, algorithm confusion), scopes like keys', custom claims, one layer
//! for keys and JWTs, and gRPC statuses.

use std::convert::Infallible;
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};
use tower_bearer_auth::jwt::{Caller, JwtClaims, JwtConfigError, JwtKey, JwtValidator, KeyOrJwt};
use tower_bearer_auth::{ApiKey, BearerAuthLayer, RejectionKind, ScopeRequirement, TokenValidator};

use crate::support::jwt::{
    AUDIENCE, EC_PUBLIC, ED_PUBLIC, ISSUER, RSA_PUBLIC, Signer, claims, now,
};
use crate::support::{
    EXPIRED_CHALLENGE, INVALID_CHALLENGE, MALFORMED_CHALLENGE, as_grpc, collect, fixture,
    get_with_auth, header,
};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// What a request got, and whether it reached the inner service.
struct Answer {
    status: StatusCode,
    challenge: String,
    body: String,
    grpc_status: String,
    kind: Option<RejectionKind>,
}

/// An inner service that says who it let in: `jwt <sub> <scopes>` or
/// `key <label>`, from whichever principal the layer inserted.
#[derive(Clone, Copy)]
struct Whoami;

impl Service<Request<()>> for Whoami {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        let extensions = request.extensions();
        let jwt = |claims: &JwtClaims| {
            format!(
                "jwt {} {}",
                claims.subject().unwrap_or("-"),
                claims.scopes()
            )
        };
        let who = if let Some(claims) = extensions.get::<JwtClaims>() {
            jwt(claims)
        } else if let Some(caller) = extensions.get::<Caller<ApiKey, JwtClaims>>() {
            match caller {
                Caller::Key(key) => format!("key {}", key.label()),
                Caller::Jwt(claims) => jwt(claims),
            }
        } else {
            "nobody".to_owned()
        };
        std::future::ready(Ok(Response::new(Full::new(Bytes::from(who)))))
    }
}

async fn send<L, B>(layer: &L, request: Request<()>) -> Answer
where
    L: Layer<Whoami>,
    L::Service: Service<Request<()>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = layer
        .layer(Whoami)
        .oneshot(request)
        .await
        .expect("infallible");
    let kind = response.extensions().get::<RejectionKind>().copied();
    let (parts, body) = collect(response).await;
    Answer {
        status: parts.status,
        challenge: header(&parts, "www-authenticate").to_owned(),
        grpc_status: header(&parts, "grpc-status").to_owned(),
        body: String::from_utf8(body.to_vec()).expect("utf-8 body"),
        kind,
    }
}

fn bearer(token: &str) -> Request<()> {
    get_with_auth(&format!("Bearer {token}"))
}

/// A validator of `algorithms` over `key`, checking our issuer and audience.
fn validator(algorithms: &[Algorithm], key: JwtKey) -> JwtValidator {
    JwtValidator::builder(algorithms.iter().copied())
        .key(key)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .expect("valid validator")
}

/// A layer that requires `scopes` of every request.
fn scoped<V: TokenValidator>(
    validator: V,
    scopes: ScopeRequirement,
) -> BearerAuthLayer<V, ScopeRequirement> {
    BearerAuthLayer::builder(validator)
        .scope_policy(scopes)
        .build()
        .expect("valid layer")
}

fn hs256() -> (BearerAuthLayer<JwtValidator>, Signer) {
    let layer = BearerAuthLayer::new(validator(&[Algorithm::HS256], JwtKey::hmac(SECRET)));
    (layer, Signer::hmac(SECRET, ""))
}

/// A base64url JSON segment.
fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON"))
}

/// Flips one character of the signature (the last part).
fn tampered(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = token.rfind('.').expect("a JWS") + 5;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII")
}

// RFC 7515 Appendix A: the same payload (`iss: joe`, `exp: 1300819380`,
// in 2011) signed with HS256, RS256 and ES256 by the RFC's published keys.
const RFC7515_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
const A1_HS256: &str =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.{p}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const A1_KEY: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
const A2_RS256: &str = "eyJhbGciOiJSUzI1NiJ9.{p}.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const A2_KEY: &str = r#"{"kty":"RSA","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB"}"#;
const A3_ES256: &str = "eyJhbGciOiJFUzI1NiJ9.{p}.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const A3_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
// RFC 8037 Appendix A.4/A.5: Ed25519 over the payload "Example of Ed25519
// signing" (not JSON: not a JWT, but a JWS whose signature must verify).
const RFC8037_EDDSA: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
const RFC8037_KEY: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

#[tokio::test]
async fn the_rfc_examples_verify_with_their_published_keys() {
    let examples = [
        ("RFC 7515 A.1", Algorithm::HS256, A1_HS256, A1_KEY),
        ("RFC 7515 A.2", Algorithm::RS256, A2_RS256, A2_KEY),
        ("RFC 7515 A.3", Algorithm::ES256, A3_ES256, A3_KEY),
    ];
    for (name, alg, template, jwk) in examples {
        let token = template.replace("{p}", RFC7515_PAYLOAD);
        let key = JwtKey::from_jwk(jwk).expect("the RFC's key");
        let layer = BearerAuthLayer::new(
            JwtValidator::builder([alg])
                .key(key)
                .build()
                .expect("valid validator"),
        );
        // The signature verifies, so the claims are read: `exp` is in 2011.
        let answer = send(&layer, bearer(&token)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(answer.challenge, EXPIRED_CHALLENGE, "{name}");
        // One character of the signature changed: refused as invalid, not
        // as expired (the signature is checked first).
        let answer = send(&layer, bearer(&tampered(&token))).await;
        assert_eq!(answer.challenge, INVALID_CHALLENGE, "{name} tampered");
        assert_eq!(answer.kind, Some(RejectionKind::InvalidToken), "{name}");
    }

    let layer = BearerAuthLayer::new(
        JwtValidator::builder([Algorithm::EdDSA])
            .key(JwtKey::from_jwk(RFC8037_KEY).expect("the RFC's key"))
            .build()
            .expect("valid validator"),
    );
    // The signature verifies; the payload is not a claims set.
    let answer = send(&layer, bearer(RFC8037_EDDSA)).await;
    assert_eq!(answer.challenge, MALFORMED_CHALLENGE);
    let answer = send(&layer, bearer(&tampered(RFC8037_EDDSA))).await;
    assert_eq!(answer.challenge, INVALID_CHALLENGE, "RFC 8037 tampered");
}

#[tokio::test]
async fn every_algorithm_family_passes_with_its_key_and_hands_on_the_claims() {
    let cases = [
        (Signer::hmac(SECRET, ""), JwtKey::hmac(SECRET)),
        (
            Signer::rsa(""),
            JwtKey::rsa_pem(RSA_PUBLIC).expect("RSA public key"),
        ),
        (
            Signer::ec(""),
            JwtKey::ec_pem(EC_PUBLIC).expect("EC public key"),
        ),
        (
            Signer::ed(""),
            JwtKey::ed25519_pem(ED_PUBLIC).expect("Ed25519 public key"),
        ),
    ];
    for (signer, key) in cases {
        let layer = scoped(
            validator(&[signer.alg], key),
            ScopeRequirement::all(["profile:read"]).expect("valid"),
        );
        let token = signer.sign(&claims("profile:read calls:write"));
        let answer = send(&layer, bearer(&token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", signer.alg);
        assert_eq!(answer.body, "jwt user-42 calls:write profile:read");
    }
}

#[tokio::test]
async fn a_missing_scope_is_403_with_the_same_challenge_and_body_as_for_keys() {
    let fixture = fixture();
    let layer = scoped(
        KeyOrJwt::new(
            fixture.store.clone(),
            Some(validator(&[Algorithm::HS256], JwtKey::hmac(SECRET))),
        ),
        ScopeRequirement::all(["calls:write"]).expect("valid"),
    );
    let jwt = Signer::hmac(SECRET, "").sign(&claims("profile:read"));
    let by_jwt = send(&layer, bearer(&jwt)).await;
    let by_key = send(&layer, bearer(&fixture.read_only)).await;
    assert_eq!(by_jwt.status, StatusCode::FORBIDDEN);
    assert_eq!(
        by_jwt.challenge,
        r#"Bearer realm="api", error="insufficient_scope", error_description="The bearer token lacks the required scope", scope="calls:write""#
    );
    assert_eq!(
        by_jwt.body,
        r#"{"error":{"code":"forbidden","message":"The bearer token lacks the required scope: calls:write"}}"#
    );
    assert_eq!(
        (by_jwt.status, &by_jwt.challenge, &by_jwt.body),
        (by_key.status, &by_key.challenge, &by_key.body)
    );
}

#[tokio::test]
async fn expired_tokens_say_so_like_expired_keys_within_the_leeway_they_pass() {
    let (layer, signer) = hs256();
    let mut expired = claims("");
    expired["exp"] = json!(now() - 120);
    let answer = send(&layer, bearer(&signer.sign(&expired))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge, EXPIRED_CHALLENGE);
    assert_eq!(
        answer.body,
        r#"{"error":{"code":"unauthorized","message":"The bearer token has expired"}}"#
    );
    assert_eq!(answer.kind, Some(RejectionKind::ExpiredToken));
    let fixture = fixture();
    let key_layer = BearerAuthLayer::new(fixture.store.clone());
    let expired_key = send(&key_layer, bearer(&fixture.expired)).await;
    assert_eq!(
        (expired_key.challenge, expired_key.body),
        (answer.challenge, answer.body)
    );

    // 10 s ago, within the default 30 s of clock skew.
    let mut just = claims("");
    just["exp"] = json!(now() - 10);
    assert_eq!(
        send(&layer, bearer(&signer.sign(&just))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn claims_that_do_not_fit_are_401_invalid() {
    let (layer, signer) = hs256();
    let mut not_yet = claims("");
    not_yet["nbf"] = json!(now() + 600);
    let mut issuer = claims("");
    issuer["iss"] = json!("http://someone-else.test");
    let mut audience = claims("");
    audience["aud"] = json!(["other.api", "another.api"]);
    let mut no_exp = claims("");
    no_exp.as_object_mut().expect("object").remove("exp");
    let mut bad_scope = claims("");
    bad_scope["scope"] = json!("a\"quote");
    for (name, claims) in [
        ("nbf in the future", not_yet),
        ("another issuer", issuer),
        ("another audience", audience),
        ("no exp", no_exp),
        ("a scope that is not a scope token", bad_scope),
    ] {
        let answer = send(&layer, bearer(&signer.sign(&claims))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(answer.challenge, INVALID_CHALLENGE, "{name}");
        assert_eq!(answer.kind, Some(RejectionKind::InvalidToken), "{name}");
    }
    // The audience in a list with others is fine.
    let mut listed = claims("");
    listed["aud"] = json!(["other.api", AUDIENCE]);
    assert_eq!(
        send(&layer, bearer(&signer.sign(&listed))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_configured_issuer_or_audience_is_a_required_claim() {
    let (layer, signer) = hs256();
    for missing in ["iss", "aud"] {
        let mut without = claims("");
        without.as_object_mut().expect("object").remove(missing);
        let answer = send(&layer, bearer(&signer.sign(&without))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "no {missing}");
        assert_eq!(answer.challenge, INVALID_CHALLENGE, "no {missing}");
        assert_eq!(
            answer.kind,
            Some(RejectionKind::InvalidToken),
            "no {missing}"
        );
    }
    // Without the configuration, neither is required.
    let open = BearerAuthLayer::new(
        JwtValidator::builder([Algorithm::HS256])
            .key(JwtKey::hmac(SECRET))
            .build()
            .expect("valid validator"),
    );
    let bare = json!({"sub": "user-42", "exp": now() + 3_600});
    assert_eq!(
        send(&open, bearer(&signer.sign(&bare))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_claim_number_is_accepted_or_refused_by_rule_never_a_panic() {
    let (layer, signer) = hs256();
    let later = now() + 3_600;
    let earlier = now() - 60;
    #[allow(clippy::cast_precision_loss, reason = "a float claim on purpose")]
    let cases: Vec<(&str, Value, StatusCode)> = vec![
        ("exp", json!(1_u64 << 63), StatusCode::UNAUTHORIZED),
        ("exp", json!(u64::MAX), StatusCode::UNAUTHORIZED),
        ("exp", json!(i64::MAX), StatusCode::OK),
        ("exp", json!(1e300), StatusCode::UNAUTHORIZED),
        ("exp", json!(-1), StatusCode::UNAUTHORIZED),
        ("exp", json!(i64::MIN), StatusCode::UNAUTHORIZED),
        ("exp", json!(later as f64 + 0.5), StatusCode::OK),
        ("exp", json!(later.to_string()), StatusCode::UNAUTHORIZED),
        ("exp", json!(null), StatusCode::UNAUTHORIZED),
        ("exp", json!([later]), StatusCode::UNAUTHORIZED),
        ("nbf", json!(u64::MAX), StatusCode::UNAUTHORIZED),
        ("nbf", json!(1_u64 << 63), StatusCode::UNAUTHORIZED),
        ("nbf", json!(-1), StatusCode::UNAUTHORIZED),
        ("nbf", json!(earlier as f64 + 0.25), StatusCode::OK),
        ("nbf", json!(earlier.to_string()), StatusCode::UNAUTHORIZED),
        ("nbf", json!(0), StatusCode::OK),
        // `iat` is not a check of this validator: any value passes.
        ("iat", json!(u64::MAX), StatusCode::OK),
        ("iat", json!(-1), StatusCode::OK),
        ("iat", json!(1.5), StatusCode::OK),
        ("iat", json!("yesterday"), StatusCode::OK),
    ];
    for (claim, value, expected) in cases {
        let mut token_claims = claims("");
        token_claims[claim] = value.clone();
        let answer = send(&layer, bearer(&signer.sign(&token_claims))).await;
        println!("{claim} = {value}: {}", answer.status);
        assert_eq!(answer.status, expected, "{claim} = {value}");
        if expected == StatusCode::UNAUTHORIZED {
            // Invalid, or malformed where the value breaks the library's
            // claim reading (an array): 401 `invalid_token` either way.
            assert!(
                [INVALID_CHALLENGE, MALFORMED_CHALLENGE].contains(&answer.challenge.as_str()),
                "{claim} = {value}: {}",
                answer.challenge
            );
        }
    }
}

#[tokio::test]
async fn a_header_naming_critical_extensions_is_refused() {
    let (layer, signer) = hs256();
    for crit in [&["b64"][..], &["exp"], &["http://example.com/ext"]] {
        let token = signer.sign_with_crit(&claims(""), crit);
        let answer = send(&layer, bearer(&token)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{crit:?}");
        assert_eq!(answer.challenge, INVALID_CHALLENGE, "{crit:?}");
    }
    // The same token without `crit` passes: only `crit` refused it.
    assert_eq!(
        send(&layer, bearer(&signer.sign(&claims("")))).await.status,
        StatusCode::OK
    );
}

#[test]
fn a_leeway_over_a_day_is_refused() {
    let built = JwtValidator::builder([Algorithm::HS256])
        .key(JwtKey::hmac(SECRET))
        .leeway(std::time::Duration::MAX)
        .build();
    assert!(matches!(
        built,
        Err(JwtConfigError::LeewayTooLarge { seconds: u64::MAX })
    ));
}

#[tokio::test]
async fn truncated_and_oversized_tokens_are_refused() {
    let (layer, signer) = hs256();
    let token = signer.sign(&claims(""));
    let signature_cut = &token[..token.len() - 4];
    let no_signature = &token[..token.rfind('.').expect("a JWS")];
    let half_payload = &token[..token.find('.').expect("a JWS") + 10];
    for (name, cut) in [
        ("signature cut", signature_cut),
        ("no signature part", no_signature),
        ("half a payload", half_payload),
    ] {
        let answer = send(&layer, bearer(cut)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            answer.challenge == INVALID_CHALLENGE || answer.challenge == MALFORMED_CHALLENGE,
            "{name}: {}",
            answer.challenge
        );
    }
    // A validly signed token over the layer's 4096-byte limit never reaches
    // the validator: malformed.
    let mut big = claims("");
    big["padding"] = json!("x".repeat(4_096));
    let answer = send(&layer, bearer(&signer.sign(&big))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge, MALFORMED_CHALLENGE);
    assert_eq!(answer.kind, Some(RejectionKind::MalformedToken));
}

#[tokio::test]
async fn alg_none_is_refused_whatever_its_spelling() {
    let (layer, _) = hs256();
    let payload = segment(&claims("profile:read"));
    for alg in ["none", "None", "NONE"] {
        let token = format!("{}.{payload}.", segment(&json!({"alg": alg, "typ": "JWT"})));
        let answer = send(&layer, bearer(&token)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "alg {alg}");
        assert_ne!(answer.body, "jwt user-42 profile:read");
    }
}

#[tokio::test]
async fn an_rsa_public_key_is_never_an_hmac_secret() {
    // The classic confusion: the attacker knows the RSA public key (it is
    // public) and signs HS256 with its PEM bytes as the secret.
    let forged = Signer::hmac(RSA_PUBLIC, "").sign(&claims("profile:read"));
    // The forgery is a correct HMAC under those bytes: a validator that
    // took the key's bytes as a secret would let it in.
    let mut naive = Validation::new(Algorithm::HS256);
    naive.set_audience(&[AUDIENCE]);
    assert!(
        jsonwebtoken::decode::<Value>(&forged, &DecodingKey::from_secret(RSA_PUBLIC), &naive)
            .is_ok()
    );
    // Ours, even with HS256 in the allow-list beside RS256: refused.
    let rsa = JwtKey::rsa_pem(RSA_PUBLIC).expect("RSA public key");
    let layer = BearerAuthLayer::new(validator(
        &[Algorithm::RS256, Algorithm::HS256],
        rsa.clone(),
    ));
    let answer = send(&layer, bearer(&forged)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge, INVALID_CHALLENGE);
    // And the genuine RS256 token passes on the same layer.
    let genuine = Signer::rsa("").sign(&claims("profile:read"));
    assert_eq!(send(&layer, bearer(&genuine)).await.status, StatusCode::OK);
    // A JWK that says RSA but names HS256 is refused when read.
    let jwk = Signer::rsa("").jwk();
    let mut lying = jwk.clone();
    lying["alg"] = json!("HS256");
    assert!(JwtKey::from_jwk(&lying.to_string()).is_err());
    // An RSA key alone with an HMAC-only allow-list is a configuration error.
    assert_eq!(
        JwtValidator::builder([Algorithm::HS256])
            .key(rsa)
            .build()
            .err(),
        Some(JwtConfigError::KeyFitsNoAlgorithm { kid: None })
    );
}

#[tokio::test]
async fn an_algorithm_outside_the_allow_list_is_refused_even_with_the_right_key() {
    // RS512 with the very key the validator holds, but only RS256 allowed.
    let rsa = JwtKey::rsa_pem(RSA_PUBLIC).expect("RSA public key");
    let layer = BearerAuthLayer::new(validator(&[Algorithm::RS256], rsa));
    let mut signer = Signer::rsa("");
    signer.alg = Algorithm::RS512;
    let answer = send(&layer, bearer(&signer.sign(&claims("")))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge, INVALID_CHALLENGE);
}

#[tokio::test]
async fn scopes_come_from_scope_or_scp_and_custom_claims_through_serde() {
    #[derive(Clone, Debug, serde::Deserialize)]
    struct Tenant {
        tenant_id: String,
    }
    let signer = Signer::hmac(SECRET, "");
    let layer = BearerAuthLayer::new(
        JwtValidator::builder([Algorithm::HS256])
            .key(JwtKey::hmac(SECRET))
            .custom_claims::<Tenant>()
            .build()
            .expect("valid validator"),
    );
    let mut with_scp = claims("");
    with_scp.as_object_mut().expect("object").remove("scope");
    with_scp["scp"] = json!(["profile:read", "calls:write"]);
    with_scp["tenant_id"] = json!("acme");
    let service = layer.layer(tower::service_fn(|request: Request<()>| async move {
        let claims = request
            .extensions()
            .get::<JwtClaims<Tenant>>()
            .expect("the claims");
        let body = format!("{} {}", claims.custom().tenant_id, claims.scopes());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
    }));
    let response = service
        .clone()
        .oneshot(bearer(&signer.sign(&with_scp)))
        .await
        .expect("infallible");
    let (parts, body) = collect(response).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, "acme calls:write profile:read");
    // A token without the custom claim does not fit `Tenant`: refused.
    let response = service
        .oneshot(bearer(&signer.sign(&claims("profile:read"))))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn one_route_takes_a_key_or_a_jwt() {
    let fixture = fixture();
    let layer = scoped(
        KeyOrJwt::new(
            fixture.store.clone(),
            Some(validator(
                &[Algorithm::ES256],
                JwtKey::ec_pem(EC_PUBLIC).expect("EC key"),
            )),
        ),
        ScopeRequirement::all(["profile:read"]).expect("valid"),
    );
    let signer = Signer::ec("");

    let key = send(&layer, bearer(&fixture.read_only)).await;
    assert_eq!(
        (key.status, key.body.as_str()),
        (StatusCode::OK, "key Staging Server")
    );
    let jwt = send(&layer, bearer(&signer.sign(&claims("profile:read")))).await;
    assert_eq!(
        (jwt.status, jwt.body.as_str()),
        (StatusCode::OK, "jwt user-42 profile:read")
    );
    for (name, token, challenge) in [
        ("revoked key", fixture.revoked.clone(), INVALID_CHALLENGE),
        ("expired key", fixture.expired.clone(), EXPIRED_CHALLENGE),
        (
            "forged JWT",
            tampered(&signer.sign(&claims("profile:read"))),
            INVALID_CHALLENGE,
        ),
        (
            "anything else",
            "not-a-key-nor-a-jwt".to_owned(),
            INVALID_CHALLENGE,
        ),
    ] {
        let answer = send(&layer, bearer(&token)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(answer.challenge, challenge, "{name}");
    }
    // Without a JWT validator, JWTs go to the key store, which refuses them.
    let keys_only = BearerAuthLayer::new(KeyOrJwt::<_, JwtValidator>::new(
        fixture.store.clone(),
        None,
    ));
    let answer = send(&keys_only, bearer(&signer.sign(&claims("profile:read")))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_jwt_never_shares_a_rate_limit_bucket_with_a_key_or_another_token() {
    use tower_bearer_auth::KeyEntry;
    use tower_bearer_auth::rate_limit::{Quota, RateLimiter};

    let store = tower_bearer_auth::KeyStore::new();
    let key = tower_bearer_auth::KeyGenerator::new()
        .generate()
        .expect("random source");
    store
        .insert(KeyEntry::new(key.id(), "Dialer", key.digest()))
        .expect("insert");
    let limiter = RateLimiter::builder()
        .default_quota(Quota::new(1, 3_600).expect("valid quota"))
        .build();
    let layer = BearerAuthLayer::builder(KeyOrJwt::new(
        store,
        Some(validator(&[Algorithm::HS256], JwtKey::hmac(SECRET))),
    ))
    .rate_limiter(limiter)
    .build()
    .expect("valid layer");
    let signer = Signer::hmac(SECRET, "");

    // The key spends its one request.
    let api_key = key.token().expose().to_owned();
    assert_eq!(send(&layer, bearer(&api_key)).await.status, StatusCode::OK);
    assert_eq!(
        send(&layer, bearer(&api_key)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A JWT whose subject is the key's id has a bucket of its own.
    let mut same_name = claims("");
    same_name["sub"] = json!(key.id());
    let token = signer.sign(&same_name);
    assert_eq!(send(&layer, bearer(&token)).await.status, StatusCode::OK);
    assert_eq!(
        send(&layer, bearer(&token)).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the same subject twice shares its own bucket"
    );
    // Tokens without `sub` are each counted under their own hash: two
    // tokens pass once each, and a second use of one is over its quota.
    let mut first = claims("");
    first.as_object_mut().expect("object").remove("sub");
    let mut second = first.clone();
    second["jti"] = json!("another token");
    let (first, second) = (signer.sign(&first), signer.sign(&second));
    assert_eq!(send(&layer, bearer(&first)).await.status, StatusCode::OK);
    assert_eq!(send(&layer, bearer(&second)).await.status, StatusCode::OK);
    assert_eq!(
        send(&layer, bearer(&first)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // An issuer and subject never run together: `iss` "a/b" + `sub` "c"
    // and `iss` "a" + `sub` "b/c" are two buckets.
    let issuer_layer = |issuer: &str| {
        BearerAuthLayer::builder(
            JwtValidator::builder([Algorithm::HS256])
                .key(JwtKey::hmac(SECRET))
                .issuer(issuer)
                .build()
                .expect("valid validator"),
        )
    };
    let shared = RateLimiter::builder()
        .default_quota(Quota::new(1, 3_600).expect("valid quota"))
        .build();
    let one = issuer_layer("a/b")
        .rate_limiter(shared.clone())
        .build()
        .expect("valid layer");
    let two = issuer_layer("a")
        .rate_limiter(shared)
        .build()
        .expect("valid layer");
    let token =
        |iss: &str, sub: &str| signer.sign(&json!({"iss": iss, "sub": sub, "exp": now() + 3_600}));
    assert_eq!(
        send(&one, bearer(&token("a/b", "c"))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&two, bearer(&token("a", "b/c"))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn grpc_clients_get_grpc_statuses_for_jwts() {
    let layer = scoped(
        validator(&[Algorithm::HS256], JwtKey::hmac(SECRET)),
        ScopeRequirement::all(["calls:write"]).expect("valid"),
    );
    let signer = Signer::hmac(SECRET, "");
    let mut expired = claims("calls:write");
    expired["exp"] = json!(now() - 120);
    for (name, token, status) in [
        ("missing scope", signer.sign(&claims("profile:read")), "7"),
        ("expired", signer.sign(&expired), "16"),
        (
            "forged",
            tampered(&signer.sign(&claims("calls:write"))),
            "16",
        ),
        ("good", signer.sign(&claims("calls:write")), ""),
    ] {
        let answer = send(&layer, as_grpc(bearer(&token))).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}");
        assert_eq!(answer.grpc_status, status, "{name}");
    }
}

#[test]
fn debug_output_never_shows_a_secret() {
    let key = JwtKey::hmac(SECRET).with_kid("k1");
    let validator = JwtValidator::builder([Algorithm::HS256])
        .key(key.clone())
        .build()
        .expect("valid validator");
    let secret = std::str::from_utf8(SECRET).expect("ASCII");
    for shown in [format!("{key:?}"), format!("{validator:?}")] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains("0123456789"), "{shown}");
    }
    assert!(format!("{key:?}").contains("k1"));
}
