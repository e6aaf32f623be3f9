//! JWT access tokens beside API keys (`--jwks-url`): the validator, and
//! what handlers read from either kind of caller.

use std::time::Duration;

use serde_json::{Value, json};
use tower_bearer_auth::ApiKey;
use tower_bearer_auth::jwt::{Algorithm, Caller, JwtClaims, JwtValidator, ScopeClaim};

use crate::args::JwtArgs;

/// Who passed the layer: an API key or a JWT's claims.
pub(crate) type Who = Caller<ApiKey, JwtClaims>;

/// The asymmetric algorithms a JWKS signs with (HMAC secrets are never in
/// a JWKS).
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The JWT validator of `args`, its JWKS thread started. It does not wait
/// for the JWKS beyond `wait`: the server starts without it, JWTs get 503
/// until the first fetch succeeds, API keys work meanwhile.
pub(crate) async fn validator(args: &JwtArgs, wait: Duration) -> Result<JwtValidator, String> {
    let validator = JwtValidator::builder(ALGORITHMS)
        .jwks_url(&args.jwks_url)
        .issuer(&args.issuer)
        .audience(&args.audience)
        .scope_claim(ScopeClaim::Scope)
        .jwks_min_refetch(args.min_refetch)
        .build()
        .map_err(|e| format!("--jwks-url: {e}"))?;
    if validator.ready(wait).await {
        tracing::info!(
            jwks_url = args.jwks_url,
            issuer = args.issuer,
            audience = args.audience,
            "JWTs accepted beside API keys"
        );
    } else {
        tracing::warn!(
            jwks_url = args.jwks_url,
            "the JWKS cannot be fetched yet: JWTs get 503 until it can (API keys work)"
        );
    }
    Ok(validator)
}

/// The caller's id for logs and answers: the key id, or `jwt:<sub>`.
pub(crate) fn caller_id(who: &Who) -> String {
    match who {
        Caller::Key(key) => key.id().to_owned(),
        Caller::Jwt(claims) => format!("jwt:{}", claims.subject().unwrap_or("-")),
    }
}

/// `GET /v1/profile`'s answer for either kind of caller.
pub(crate) fn profile(who: &Who) -> Value {
    match who {
        Caller::Key(key) => json!({
            "id": key.id(),
            "label": key.label(),
            "scopes": key.scopes().iter().collect::<Vec<_>>(),
        }),
        Caller::Jwt(claims) => json!({
            "subject": claims.subject(),
            "issuer": claims.issuer(),
            "scopes": claims.scopes().iter().collect::<Vec<_>>(),
        }),
    }
}
