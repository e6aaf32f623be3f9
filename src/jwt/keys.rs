//! Verification keys: static ones (an HMAC secret, RSA, EC and Ed25519
//! public keys as PEM or JWK) and those of a JWKS, each with the algorithms
//! it may verify.

use std::fmt;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

/// A key JWTs are verified with. An HMAC secret verifies only `HS*`, an RSA
/// key only `RS*`/`PS*`, an EC key only the `ES*` of its curve, an Ed25519
/// key only `EdDSA`, and each only the algorithms of the validator's
/// allow-list: an RSA public key is never used as an HMAC secret.
///
/// ```
/// use tower_bearer_auth::jwt::JwtKey;
///
/// let secret = JwtKey::hmac(b"a secret of at least 32 bytes!!!").with_kid("2026-11");
/// let jwk = JwtKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
/// # Ok::<(), tower_bearer_auth::jwt::JwtKeyError>(())
/// ```
#[derive(Clone)]
pub struct JwtKey {
    pub(super) kid: Option<String>,
    pub(super) family: AlgorithmFamily,
    /// `None`: any of the family (within the allow-list); else this one.
    pub(super) only: Option<Algorithm>,
    pub(super) decoding: DecodingKey,
}

/// Why a key could not be read. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtKeyError {
    /// Not a PEM (or JWK) of the kind asked for.
    Unreadable {
        /// What kind of key was expected.
        expected: &'static str,
    },
    /// A JWK this crate does not verify with (`use: enc`, an unknown key
    /// type or curve).
    Unsupported {
        /// Why.
        reason: &'static str,
    },
}

impl fmt::Display for JwtKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable { expected } => write!(f, "not a readable {expected}"),
            Self::Unsupported { reason } => write!(f, "unsupported JWK: {reason}"),
        }
    }
}

impl std::error::Error for JwtKeyError {}

impl JwtKey {
    /// An HMAC secret (`HS256`, `HS384`, `HS512`). Use at least 32 random
    /// bytes.
    #[must_use]
    pub fn hmac(secret: &[u8]) -> Self {
        Self::new(AlgorithmFamily::Hmac, DecodingKey::from_secret(secret))
    }

    /// An RSA public key in PEM (`RS*`, `PS*`).
    ///
    /// # Errors
    ///
    /// [`JwtKeyError::Unreadable`] if it is not an RSA public key PEM.
    pub fn rsa_pem(pem: &[u8]) -> Result<Self, JwtKeyError> {
        DecodingKey::from_rsa_pem(pem)
            .map(|key| Self::new(AlgorithmFamily::Rsa, key))
            .map_err(|_| JwtKeyError::Unreadable {
                expected: "RSA public key PEM",
            })
    }

    /// An EC public key in PEM (`ES256`, `ES384`).
    ///
    /// # Errors
    ///
    /// [`JwtKeyError::Unreadable`] if it is not an EC public key PEM.
    pub fn ec_pem(pem: &[u8]) -> Result<Self, JwtKeyError> {
        DecodingKey::from_ec_pem(pem)
            .map(|key| Self::new(AlgorithmFamily::Ec, key))
            .map_err(|_| JwtKeyError::Unreadable {
                expected: "EC public key PEM",
            })
    }

    /// An Ed25519 public key in PEM (`EdDSA`).
    ///
    /// # Errors
    ///
    /// [`JwtKeyError::Unreadable`] if it is not an Ed25519 public key PEM.
    pub fn ed25519_pem(pem: &[u8]) -> Result<Self, JwtKeyError> {
        DecodingKey::from_ed_pem(pem)
            .map(|key| Self::new(AlgorithmFamily::Ed, key))
            .map_err(|_| JwtKeyError::Unreadable {
                expected: "Ed25519 public key PEM",
            })
    }

    /// A public key (or an `oct` secret) as one JWK (RFC 7517), with its
    /// `kid` and, when present, its `alg` (the only algorithm it then
    /// verifies) and curve.
    ///
    /// # Errors
    ///
    /// [`JwtKeyError`] if it is not a JWK, is meant for encryption, or is
    /// of a type or curve this crate does not verify with.
    pub fn from_jwk(json: &str) -> Result<Self, JwtKeyError> {
        let jwk: Jwk =
            serde_json::from_str(json).map_err(|_| JwtKeyError::Unreadable { expected: "JWK" })?;
        Self::from_parsed_jwk(&jwk)
    }

    pub(super) fn from_parsed_jwk(jwk: &Jwk) -> Result<Self, JwtKeyError> {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            return Err(JwtKeyError::Unsupported {
                reason: "an encryption key (\"use\": \"enc\")",
            });
        }
        let (family, curve_alg) = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => (AlgorithmFamily::Rsa, None),
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => (AlgorithmFamily::Ec, Some(Algorithm::ES256)),
                EllipticCurve::P384 => (AlgorithmFamily::Ec, Some(Algorithm::ES384)),
                _ => {
                    return Err(JwtKeyError::Unsupported {
                        reason: "an EC curve other than P-256 and P-384",
                    });
                }
            },
            AlgorithmParameters::OctetKeyPair(okp) => {
                if okp.curve != EllipticCurve::Ed25519 {
                    return Err(JwtKeyError::Unsupported {
                        reason: "an OKP curve other than Ed25519",
                    });
                }
                (AlgorithmFamily::Ed, Some(Algorithm::EdDSA))
            }
            AlgorithmParameters::OctetKey(_) => (AlgorithmFamily::Hmac, None),
            _ => {
                return Err(JwtKeyError::Unsupported {
                    reason: "an unknown key type",
                });
            }
        };
        let declared = jwk.common.key_algorithm.and_then(algorithm_of);
        if jwk.common.key_algorithm.is_some() && declared.is_none() {
            return Err(JwtKeyError::Unsupported {
                reason: "an \"alg\" that is not a JWS algorithm",
            });
        }
        if let Some(declared) = declared
            && (declared.family() != family || curve_alg.is_some_and(|c| c != declared))
        {
            return Err(JwtKeyError::Unsupported {
                reason: "an \"alg\" that does not fit the key",
            });
        }
        let decoding = DecodingKey::from_jwk(jwk).map_err(|_| JwtKeyError::Unreadable {
            expected: "JWK with valid key parameters",
        })?;
        Ok(Self {
            kid: jwk.common.key_id.clone(),
            family,
            only: declared.or(curve_alg),
            decoding,
        })
    }

    const fn new(family: AlgorithmFamily, decoding: DecodingKey) -> Self {
        Self {
            kid: None,
            family,
            only: None,
            decoding,
        }
    }

    /// The key id tokens name in their `kid` header.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key's id, if it has one.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether this key may verify a token signed with `alg`.
    pub(super) fn verifies(&self, alg: Algorithm) -> bool {
        alg.family() == self.family && self.only.is_none_or(|only| only == alg)
    }
}

/// The JWS algorithm of a JWK `alg`, if it is one.
fn algorithm_of(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::HS256 => Algorithm::HS256,
        KeyAlgorithm::HS384 => Algorithm::HS384,
        KeyAlgorithm::HS512 => Algorithm::HS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key material (an HMAC secret is one).
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("only", &self.only)
            .finish_non_exhaustive()
    }
}
