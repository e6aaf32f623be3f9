//! Generating API keys: `<prefix>_<30 random base62><6 base62 CRC32>`.

use std::fmt;

use zeroize::Zeroize;

use super::checksum::{self, BASE62, RANDOM_LEN};
use super::{SecretToken, TokenDigest};
use crate::error::ConfigError;

/// Random characters of a token shown in its hint: 4 of 30, so that 26 ×
/// log2(62) ≈ 154 bits stay secret.
const HINT_LEN: usize = 4;

/// Random base62 characters in a key id (`key_` + 16 ≈ 95 bits: unique, not secret).
const ID_RANDOM_LEN: usize = 16;

/// Generates API keys from the operating system's CSPRNG.
///
/// A key is `<prefix>_<30 base62 characters><6-character base62 CRC32>`:
/// 178 bits of randomness, and a checksum that lets
/// [`KeyStoreBuilder::require_checksum`](super::KeyStoreBuilder::require_checksum)
/// refuse typos and made-up keys before any lookup.
///
/// ```
/// use tower_bearer_auth::KeyGenerator;
///
/// let key = KeyGenerator::with_prefix("ais")?.generate()?;
/// assert!(key.token().expose().starts_with("ais_"));
/// assert_eq!(key.token().expose().len(), "ais_".len() + 36);
/// assert!(key.id().starts_with("key_"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct KeyGenerator {
    prefix: Box<str>,
}

impl Default for KeyGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyGenerator {
    /// A generator with the prefix `sk`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            prefix: "sk".into(),
        }
    }

    /// A generator with another prefix: 1 to 16 ASCII letters and digits, so
    /// that secret scanners can recognise your keys.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an empty, long or non-alphanumeric prefix.
    pub fn with_prefix(prefix: &str) -> Result<Self, ConfigError> {
        if prefix.is_empty()
            || prefix.len() > 16
            || !prefix.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ConfigError::InvalidKeyPrefix {
                prefix: prefix.to_owned(),
            });
        }
        Ok(Self {
            prefix: prefix.into(),
        })
    }

    /// Generates a key: the token (show it once), its digest and a new id.
    ///
    /// # Errors
    ///
    /// [`KeyGenError`] if the operating system's random source fails.
    pub fn generate(&self) -> Result<GeneratedKey, KeyGenError> {
        let random = random_base62::<RANDOM_LEN>()?;
        let check = checksum::checksum(&random);
        let mut token = String::with_capacity(self.prefix.len() + 1 + RANDOM_LEN + check.len());
        token.push_str(&self.prefix);
        token.push('_');
        token.extend(random.iter().chain(&check).map(|&b| char::from(b)));
        let digest = TokenDigest::of(&token);
        let hint = token[..self.prefix.len() + 1 + HINT_LEN].to_owned();
        Ok(GeneratedKey {
            token: SecretToken::new(token),
            digest,
            id: new_key_id()?,
            hint,
        })
    }
}

/// A new key id: `key_` and 16 random base62 characters.
fn new_key_id() -> Result<String, KeyGenError> {
    let random = random_base62::<ID_RANDOM_LEN>()?;
    let mut id = String::with_capacity(4 + ID_RANDOM_LEN);
    id.push_str("key_");
    id.extend(random.iter().map(|&b| char::from(b)));
    Ok(id)
}

/// `N` uniformly random base62 characters (rejection sampling: a byte below
/// 248 = 4 × 62 maps evenly onto the alphabet).
fn random_base62<const N: usize>() -> Result<[u8; N], KeyGenError> {
    let mut out = [0u8; N];
    let mut filled = 0;
    let mut pool = [0u8; 64];
    while filled < N {
        getrandom::fill(&mut pool).map_err(KeyGenError)?;
        for &byte in &pool {
            if byte < 248 && filled < N {
                out[filled] = BASE62[usize::from(byte % 62)];
                filled += 1;
            }
        }
    }
    pool.zeroize();
    Ok(out)
}

/// A newly generated key.
#[derive(Debug)]
pub struct GeneratedKey {
    token: SecretToken,
    digest: TokenDigest,
    id: String,
    hint: String,
}

impl GeneratedKey {
    /// The plaintext token: show it to its owner once, then drop it.
    #[must_use]
    pub const fn token(&self) -> &SecretToken {
        &self.token
    }

    /// The digest to store.
    #[must_use]
    pub const fn digest(&self) -> TokenDigest {
        self.digest
    }

    /// The key's id (not secret).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The prefix and the first 4 random characters, e.g. `ais_0j8g`: enough
    /// to recognise the key in a list, not enough to matter (154 of its 178
    /// random bits stay secret). Give it to [`KeyEntry::with_hint`](super::KeyEntry::with_hint).
    #[must_use]
    pub fn hint(&self) -> &str {
        &self.hint
    }
}

/// The operating system's random source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGenError(getrandom::Error);

impl fmt::Display for KeyGenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the operating system's random source failed: {}", self.0)
    }
}

impl std::error::Error for KeyGenError {}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn generated_keys_have_the_documented_form_and_pass_the_checksum() {
        let generator = KeyGenerator::with_prefix("ais").expect("valid prefix");
        let key = generator.generate().expect("random source");
        let token = key.token().expose();
        let body = token.strip_prefix("ais_").expect("prefix");
        assert_eq!(body.len(), 36);
        assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(checksum::is_valid(token));
        assert_eq!(key.digest(), TokenDigest::of(token));
        assert_eq!(key.hint(), &token[..8]);
        assert!(key.hint().starts_with("ais_"));
    }

    #[test]
    fn keys_and_ids_do_not_repeat() {
        let generator = KeyGenerator::new();
        let mut tokens = HashSet::new();
        let mut ids = HashSet::new();
        for _ in 0..1000 {
            let key = generator.generate().expect("random source");
            assert!(tokens.insert(key.token().expose().to_owned()));
            assert!(ids.insert(key.id().to_owned()));
        }
    }

    #[test]
    fn characters_are_spread_over_the_whole_alphabet() {
        let mut seen = [0u32; 62];
        for _ in 0..200 {
            for b in random_base62::<RANDOM_LEN>().expect("random source") {
                let index = BASE62.iter().position(|&c| c == b).expect("base62");
                seen[index] += 1;
            }
        }
        // 6000 draws over 62 symbols: each expected ~97 times; none may be absent.
        assert!(seen.iter().all(|&n| n > 30), "{seen:?}");
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in ["", "a_b", "a-b", "seventeen-chars-x", "caf\u{e9}"] {
            assert!(KeyGenerator::with_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let key = KeyGenerator::new().generate().expect("random source");
        let debug = format!("{key:?}");
        assert!(!debug.contains(key.token().expose()));
        assert!(debug.contains("[redacted]"));
    }
}
