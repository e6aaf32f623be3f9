//! The JOSE backend with the `jwt-aws-lc` feature: jsonwebtoken's aws-lc
//! provider, except that RSA and ECDSA signatures are verified with public
//! keys parsed once (`aws_lc_rs::signature::ParsedPublicKey`) instead of
//! parsed again for every token, as jsonwebtoken's own verifiers do. The
//! same keys, algorithms and checks: a key aws-lc will not parse is left to
//! jsonwebtoken's verifier, which refuses the token as before.
//!
//! Parsed keys are kept per (algorithm, public key bytes), at most
//! [`MAX_KEYS`] of them: a JWKS rotation adds a few; past the bound the
//! cache starts over. Public keys only: HMAC secrets and Ed25519 (whose
//! parsing is trivial) go through jsonwebtoken's verifiers.

use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::signature::{self as aws, ParsedPublicKey, RsaParameters, VerificationAlgorithm};
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, KeyUtils, aws_lc};
use jsonwebtoken::errors::Result;
use jsonwebtoken::signature::{Error, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};

/// At most this many parsed keys are kept.
const MAX_KEYS: usize = 64;

/// jsonwebtoken's aws-lc provider with [`verifier`] as its verifier factory.
pub(super) fn provider() -> &'static CryptoProvider {
    static PROVIDER: std::sync::OnceLock<CryptoProvider> = std::sync::OnceLock::new();
    PROVIDER.get_or_init(|| {
        let base = &aws_lc::DEFAULT_PROVIDER;
        CryptoProvider {
            signer_factory: base.signer_factory,
            verifier_factory: verifier,
            key_utils: KeyUtils {
                rsa_pub_components_from_private_key: base
                    .key_utils
                    .rsa_pub_components_from_private_key,
                rsa_pub_components_from_public_key: base
                    .key_utils
                    .rsa_pub_components_from_public_key,
                ec_pub_components_from_private_key: base
                    .key_utils
                    .ec_pub_components_from_private_key,
                ed_pub_components_from_private_key: base
                    .key_utils
                    .ed_pub_components_from_private_key,
                compute_digest: base.key_utils.compute_digest,
            },
        }
    })
}

/// A verifier for `algorithm` with `key`: one with the key parsed once for
/// RSA and ECDSA, jsonwebtoken's own for the rest (and for a key aws-lc
/// does not parse).
fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let fallback = aws_lc::DEFAULT_PROVIDER.verifier_factory;
    match parsed(*algorithm, key) {
        Some(parsed) => Ok(Box::new(ParsedVerifier {
            algorithm: *algorithm,
            key: parsed,
        })),
        None => fallback(algorithm, key),
    }
}

/// The aws-lc algorithm jsonwebtoken verifies `algorithm` with, for the
/// families whose keys are worth parsing once.
fn aws_algorithm(algorithm: Algorithm) -> Option<(AlgorithmFamily, AwsAlgorithm)> {
    use AwsAlgorithm::{Ecdsa, Rsa};
    Some(match algorithm {
        Algorithm::ES256 => (AlgorithmFamily::Ec, Ecdsa(&aws::ECDSA_P256_SHA256_FIXED)),
        Algorithm::ES384 => (AlgorithmFamily::Ec, Ecdsa(&aws::ECDSA_P384_SHA384_FIXED)),
        Algorithm::RS256 => (AlgorithmFamily::Rsa, Rsa(&aws::RSA_PKCS1_2048_8192_SHA256)),
        Algorithm::RS384 => (AlgorithmFamily::Rsa, Rsa(&aws::RSA_PKCS1_2048_8192_SHA384)),
        Algorithm::RS512 => (AlgorithmFamily::Rsa, Rsa(&aws::RSA_PKCS1_2048_8192_SHA512)),
        Algorithm::PS256 => (AlgorithmFamily::Rsa, Rsa(&aws::RSA_PSS_2048_8192_SHA256)),
        Algorithm::PS384 => (AlgorithmFamily::Rsa, Rsa(&aws::RSA_PSS_2048_8192_SHA384)),
        Algorithm::PS512 => (AlgorithmFamily::Rsa, Rsa(&aws::RSA_PSS_2048_8192_SHA512)),
        _ => return None,
    })
}

#[derive(Clone, Copy)]
enum AwsAlgorithm {
    Ecdsa(&'static aws::EcdsaVerificationAlgorithm),
    Rsa(&'static RsaParameters),
}

/// A parsed key, identified by its algorithm and bytes (for RSA
/// components, the modulus then the exponent, with the modulus's length).
struct Entry {
    algorithm: Algorithm,
    bytes: Box<[u8]>,
    key: Arc<ParsedPublicKey>,
}

static KEYS: RwLock<Vec<Entry>> = RwLock::new(Vec::new());

/// The parsed form of `key` for `algorithm`: kept, or parsed now and kept.
fn parsed(algorithm: Algorithm, key: &DecodingKey) -> Option<Arc<ParsedPublicKey>> {
    let (family, aws_algorithm) = aws_algorithm(algorithm)?;
    if key.family() != family {
        return None;
    }
    let identity = identity(key);
    let found = KEYS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|entry| entry.algorithm == algorithm && *entry.bytes == *identity)
        .map(|entry| Arc::clone(&entry.key));
    if found.is_some() {
        return found;
    }
    let parsed = Arc::new(parse(aws_algorithm, key)?);
    let mut keys = KEYS.write().unwrap_or_else(PoisonError::into_inner);
    if keys.len() >= MAX_KEYS {
        keys.clear();
    }
    keys.push(Entry {
        algorithm,
        bytes: identity.into_boxed_slice(),
        key: Arc::clone(&parsed),
    });
    Some(parsed)
}

/// The bytes that identify a public key.
fn identity(key: &DecodingKey) -> Vec<u8> {
    match key.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => bytes.clone(),
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            let mut bytes = Vec::with_capacity(8 + n.len() + e.len());
            bytes.extend_from_slice(&(n.len() as u64).to_be_bytes());
            bytes.extend_from_slice(n);
            bytes.extend_from_slice(e);
            bytes
        }
    }
}

/// Parses `key` as jsonwebtoken's verifier would for each token.
fn parse(algorithm: AwsAlgorithm, key: &DecodingKey) -> Option<ParsedPublicKey> {
    match (algorithm, key.kind()) {
        (AwsAlgorithm::Ecdsa(ecdsa), DecodingKeyKind::SecretOrDer(bytes)) => {
            ParsedPublicKey::new(ecdsa as &'static dyn VerificationAlgorithm, bytes).ok()
        }
        (AwsAlgorithm::Rsa(rsa), DecodingKeyKind::SecretOrDer(bytes)) => {
            ParsedPublicKey::new(rsa as &'static dyn VerificationAlgorithm, bytes).ok()
        }
        (AwsAlgorithm::Rsa(rsa), DecodingKeyKind::RsaModulusExponent { n, e }) => {
            aws::RsaPublicKeyComponents { n, e }
                .to_parsed_public_key(rsa)
                .ok()
        }
        (AwsAlgorithm::Ecdsa(_), DecodingKeyKind::RsaModulusExponent { .. }) => None,
    }
}

/// Verifies with a key parsed once.
struct ParsedVerifier {
    algorithm: Algorithm,
    key: Arc<ParsedPublicKey>,
}

impl Verifier<Vec<u8>> for ParsedVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> std::result::Result<(), Error> {
        self.key
            .verify_sig(message, signature)
            .map_err(Error::from_source)
    }
}

impl JwtVerifier for ParsedVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
        RsaKeyPair,
    };

    use super::*;

    const MESSAGE: &[u8] = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0";

    /// The kept keys are the process's: tests that count on them take turns.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether ours and jsonwebtoken's verifier agree on `signature`; ours
    /// answers `Ok`.
    fn both(algorithm: Algorithm, key: &DecodingKey, message: &[u8], signature: &[u8]) -> bool {
        let signature = signature.to_vec();
        let ours = verifier(&algorithm, key).expect("a verifier");
        let theirs =
            (aws_lc::DEFAULT_PROVIDER.verifier_factory)(&algorithm, key).expect("a verifier");
        let answer = ours.verify(message, &signature).is_ok();
        assert_eq!(
            answer,
            theirs.verify(message, &signature).is_ok(),
            "{algorithm:?}"
        );
        answer
    }

    #[test]
    fn ecdsa_keys_are_parsed_once_and_verify_as_jsonwebtoken_does() {
        let _turn = one_at_a_time();
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("a key");
        let key = DecodingKey::from_ec_der(pair.public_key().as_ref());
        let signature = pair.sign(&SystemRandom::new(), MESSAGE).expect("signed");
        assert!(both(Algorithm::ES256, &key, MESSAGE, signature.as_ref()));
        assert!(!both(
            Algorithm::ES256,
            &key,
            b"another message",
            signature.as_ref()
        ));
        let mut forged = signature.as_ref().to_vec();
        forged[10] ^= 1;
        assert!(!both(Algorithm::ES256, &key, MESSAGE, &forged));
        // The wrong curve's algorithm: refused by both.
        assert!(!both(Algorithm::ES384, &key, MESSAGE, signature.as_ref()));
        let first = parsed(Algorithm::ES256, &key).expect("parsed");
        let again = parsed(Algorithm::ES256, &key).expect("kept");
        assert!(Arc::ptr_eq(&first, &again), "parsed once");
    }

    #[test]
    fn rsa_components_are_parsed_once_and_verify_as_jsonwebtoken_does() {
        let _turn = one_at_a_time();
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("a key");
        let components: PublicKeyComponents<Vec<u8>> = pair.public_key().into();
        let key = DecodingKey::from_rsa_raw_components(&components.n, &components.e);
        let rng = SystemRandom::new();
        let mut pkcs1 = vec![0; pair.public_modulus_len()];
        pair.sign(&RSA_PKCS1_SHA256, &rng, MESSAGE, &mut pkcs1)
            .expect("signed");
        let mut pss = vec![0; pair.public_modulus_len()];
        pair.sign(&RSA_PSS_SHA256, &rng, MESSAGE, &mut pss)
            .expect("signed");
        assert!(both(Algorithm::RS256, &key, MESSAGE, &pkcs1));
        assert!(both(Algorithm::PS256, &key, MESSAGE, &pss));
        assert!(
            !both(Algorithm::RS256, &key, MESSAGE, &pss),
            "PSS is not PKCS#1"
        );
        assert!(
            !both(Algorithm::RS384, &key, MESSAGE, &pkcs1),
            "another hash"
        );
        assert!(!both(Algorithm::RS256, &key, b"another message", &pkcs1));
        let first = parsed(Algorithm::RS256, &key).expect("parsed");
        assert!(Arc::ptr_eq(
            &first,
            &parsed(Algorithm::RS256, &key).expect("kept")
        ));
        // Another algorithm over the same key is a key of its own.
        let pss_key = parsed(Algorithm::PS256, &key).expect("parsed");
        assert!(!Arc::ptr_eq(&first, &pss_key));
    }

    #[test]
    fn keys_that_do_not_fit_are_left_to_jsonwebtoken() {
        // An RSA key for ES256: refused when the verifier is made, as by
        // jsonwebtoken.
        let components: PublicKeyComponents<Vec<u8>> = RsaKeyPair::generate(KeySize::Rsa2048)
            .expect("a key")
            .public_key()
            .into();
        let rsa = DecodingKey::from_rsa_raw_components(&components.n, &components.e);
        assert!(verifier(&Algorithm::ES256, &rsa).is_err());
        // Bytes aws-lc does not parse: not kept, and every signature fails.
        let garbage = DecodingKey::from_ec_der(&[4; 65]);
        assert!(parsed(Algorithm::ES256, &garbage).is_none());
        assert!(!both(Algorithm::ES256, &garbage, MESSAGE, &[1; 64]));
        // HMAC and EdDSA are jsonwebtoken's own.
        assert!(parsed(Algorithm::HS256, &DecodingKey::from_secret(b"secret")).is_none());
    }

    #[test]
    fn the_kept_keys_are_bounded() {
        let _turn = one_at_a_time();
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("a key");
        let key = DecodingKey::from_ec_der(pair.public_key().as_ref());
        for _ in 0..(MAX_KEYS + 5) {
            let other = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("a key");
            let other = DecodingKey::from_ec_der(other.public_key().as_ref());
            assert!(parsed(Algorithm::ES256, &other).is_some());
            assert!(KEYS.read().expect("lock").len() <= MAX_KEYS);
        }
        // Still verifies after the cache started over.
        let signature = pair.sign(&SystemRandom::new(), MESSAGE).expect("signed");
        assert!(both(Algorithm::ES256, &key, MESSAGE, signature.as_ref()));
    }
}
