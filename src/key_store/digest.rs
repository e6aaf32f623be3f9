//! The SHA-256 digest under which a token is stored.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 digest of a token's bytes: all the key store keeps of a token.
///
/// Equality is constant-time ([`subtle::ConstantTimeEq`] over all 32
/// bytes). `Debug` does not print the bytes; [`to_hex`](Self::to_hex) does,
/// for the keys file.
///
/// ```
/// use tower_bearer_auth::key_store::TokenDigest;
///
/// let digest = TokenDigest::of("sk_example");
/// assert_eq!(TokenDigest::from_hex(&digest.to_hex()), Some(digest));
/// assert_eq!(format!("{digest:?}"), "TokenDigest([redacted])");
/// ```
#[derive(Clone, Copy, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// Hashes a token.
    #[must_use]
    pub fn of(token: &str) -> Self {
        let bytes = token.as_bytes();
        match one_block(bytes) {
            // Every token this crate generates, and most others: one
            // compression of one padded block, without the streaming
            // hasher's buffering.
            Some(block) => {
                let mut state = SHA256_INITIAL;
                sha2::block_api::compress256(&mut state, &[block]);
                let mut digest = [0u8; 32];
                for (out, word) in digest.chunks_exact_mut(4).zip(state) {
                    out.copy_from_slice(&word.to_be_bytes());
                }
                Self(digest)
            }
            None => Self(Sha256::digest(bytes).into()),
        }
    }

    /// Wraps 32 digest bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 64 lowercase hexadecimal digits; `None` for anything else.
    #[must_use]
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = lower_hex_value(pair[0])? << 4 | lower_hex_value(pair[1])?;
        }
        Some(Self(bytes))
    }

    /// 64 lowercase hexadecimal digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
        out
    }

    /// The digest bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Which of `shards` (a power of two) the digest lives in. Uses the last
    /// byte, which the table hash below does not.
    /// The first 8 bytes, as a well-mixed 64-bit value (a SHA-256 output):
    /// for tables keyed by key that need no hashing of their own.
    #[cfg(feature = "rate-limit")]
    pub(crate) fn prefix_u64(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(first)
    }

    pub(crate) fn shard(&self, shards: usize) -> usize {
        usize::from(self.0[31]) & (shards - 1)
    }

    /// The digest as four native-endian words, for comparison.
    fn words(&self) -> [u64; 4] {
        let mut words = [0u64; 4];
        for (word, bytes) in words.iter_mut().zip(self.0.chunks_exact(8)) {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(bytes);
            *word = u64::from_ne_bytes(chunk);
        }
        words
    }

    fn table_hash(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(first)
    }
}

fn lower_hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

impl PartialEq for TokenDigest {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

/// All 32 bytes are compared, with no early exit: the four 64-bit words'
/// differences are OR-ed together without branches, and `subtle` compares
/// that one word with zero (one optimization barrier in all).
impl ConstantTimeEq for TokenDigest {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        let difference = self
            .words()
            .iter()
            .zip(other.words())
            .fold(0u64, |acc, (a, b)| acc | (a ^ b));
        difference.ct_eq(&0)
    }
}

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const SHA256_INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// A message of at most 55 bytes as its one padded SHA-256 block (FIPS
/// 180-4, 5.1.1: the message, `0x80`, zeros, the length in bits as a
/// big-endian 64-bit number); `None` for longer messages.
fn one_block(message: &[u8]) -> Option<[u8; 64]> {
    if message.len() > 55 {
        return None;
    }
    let bits = u64::try_from(message.len()).ok()? * 8;
    let mut block = [0u8; 64];
    block[..message.len()].copy_from_slice(message);
    block[message.len()] = 0x80;
    block[56..].copy_from_slice(&bits.to_be_bytes());
    Some(block)
}

/// SHA-256 output is uniform, so its first eight bytes are a perfect table
/// hash: no `SipHash` round on the request path.
impl Hash for TokenDigest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.table_hash());
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest([redacted])")
    }
}

/// Hasher for tables keyed by [`TokenDigest`]: passes the digest's own hash
/// through.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `TokenDigest` hashes into this hasher, through `write_u64`.
        // Anything else still gets a reasonable (FNV-1a) hash.
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Builds [`DigestHasher`]s.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BuildDigestHasher;

impl BuildHasher for BuildDigestHasher {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_block_path_is_sha256_at_every_length() {
        let message: Vec<u8> = (0..130u8).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..=message.len() {
            let text = String::from_utf8_lossy(&message[..len]).into_owned();
            let expected: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            assert_eq!(TokenDigest::of(&text).0, expected, "length {}", text.len());
        }
    }

    #[test]
    fn a_difference_in_any_byte_is_unequal() {
        let a = TokenDigest::from_bytes([0x5a; 32]);
        assert!(bool::from(a.ct_eq(&a)));
        for byte in 0..32 {
            for bit in 0..8 {
                let mut other = [0x5a; 32];
                other[byte] ^= 1 << bit;
                assert!(!bool::from(a.ct_eq(&TokenDigest::from_bytes(other))));
            }
        }
    }

    #[test]
    fn matches_known_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            TokenDigest::of("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_is_strict_lowercase() {
        let hex = TokenDigest::of("abc").to_hex();
        assert!(TokenDigest::from_hex(&hex.to_uppercase()).is_none());
        assert!(TokenDigest::from_hex(&hex[..63]).is_none());
        assert!(TokenDigest::from_hex(&format!("{hex}0")).is_none());
        assert!(TokenDigest::from_hex(&hex.replace('a', "g")).is_none());
    }

    #[test]
    fn equality_is_over_all_bytes() {
        let a = TokenDigest::from_bytes([7; 32]);
        let mut last = [7; 32];
        last[31] = 8;
        assert_eq!(a, TokenDigest::from_bytes([7; 32]));
        assert_ne!(a, TokenDigest::from_bytes(last));
    }

    #[test]
    fn debug_does_not_print_the_digest() {
        let digest = TokenDigest::of("secret");
        assert!(!format!("{digest:?}").contains(&digest.to_hex()[..8]));
    }
}
