//! Verified tokens, kept: a token's SHA-256 to the claims it was verified
//! with, so that a repeated JWT costs a hash and a lookup instead of a
//! signature check. Bounded in entries and bytes; an entry lives until the
//! token's `exp` and at most the configured TTL, is dropped as soon as the
//! key it was verified with leaves the key set, and `exp` and `nbf` are
//! checked again on every hit.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::JwtClaims;
use super::jwks::KeySet;

/// Shards, so that concurrent requests rarely wait on one lock.
const SHARDS: usize = 16;

/// What an entry costs beyond its token, in bytes (the claims, the map).
const ENTRY_OVERHEAD: usize = 256;

/// The cache's bounds, and how long an entry may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CacheLimits {
    pub(super) entries: usize,
    pub(super) bytes: usize,
    pub(super) ttl: Duration,
}

pub(super) struct TokenCache<C> {
    shards: Box<[Mutex<Shard<C>>]>,
    entries_per_shard: usize,
    bytes_per_shard: usize,
    ttl: Duration,
    /// The validator's leeway, in seconds, for `exp` and `nbf`.
    leeway: u64,
}

struct Shard<C> {
    map: HashMap<[u8; 32], Entry<C>, BuildDigestHasher>,
    bytes: usize,
}

/// Hashes a SHA-256 digest by its first 8 bytes: already uniform, so not
/// hashed again (`SipHash` would cost more than the lookup).
#[derive(Default, Clone, Copy)]
struct BuildDigestHasher;

impl std::hash::BuildHasher for BuildDigestHasher {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(first) = bytes.first_chunk::<8>() {
            self.0 = u64::from_ne_bytes(*first);
        }
    }

    // The array's length prefix: not part of the name.
    fn write_usize(&mut self, _: usize) {}
}

struct Entry<C> {
    claims: JwtClaims<C>,
    /// The `kid` of the key that verified the token (none: a static key
    /// without one; such an entry goes when the key set changes).
    kid: Option<Box<str>>,
    /// The key set the entry was last checked against.
    set: usize,
    /// The earlier of the token's `exp` (with the leeway) and the end of
    /// the TTL.
    until: SystemTime,
    bytes: usize,
}

/// A token's name in the cache.
pub(super) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl<C> TokenCache<C> {
    pub(super) fn new(limits: CacheLimits, leeway: u64) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::with_hasher(BuildDigestHasher),
                        bytes: 0,
                    })
                })
                .collect(),
            entries_per_shard: limits.entries.div_ceil(SHARDS),
            bytes_per_shard: limits.bytes.div_ceil(SHARDS),
            ttl: limits.ttl,
            leeway,
        }
    }

    fn shard(&self, digest: &[u8; 32]) -> std::sync::MutexGuard<'_, Shard<C>> {
        self.shards[usize::from(digest[0]) % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The claims of a token verified before, if they still hold: within
    /// the TTL, `exp` and `nbf` (with the leeway), and the key that
    /// verified it still in `set`.
    pub(super) fn get(&self, digest: &[u8; 32], set: &KeySet) -> Option<JwtClaims<C>> {
        let set_id = std::ptr::from_ref(set) as usize;
        let mut shard = self.shard(digest);
        let entry = shard.map.get_mut(digest)?;
        // One clock read: `until` holds the earlier of `exp` and the TTL.
        let now = SystemTime::now();
        let expired = now >= entry.until;
        let key_gone = entry.set != set_id
            && !entry
                .kid
                .as_deref()
                .is_some_and(|kid| set.keys.iter().any(|key| key.kid.as_deref() == Some(kid)));
        if expired || key_gone {
            let bytes = entry.bytes;
            shard.map.remove(digest);
            shard.bytes -= bytes;
            return None;
        }
        entry.set = set_id;
        if let Some(nbf) = entry.claims.not_before() {
            let seconds = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            if nbf > seconds.saturating_add(self.leeway) {
                return None;
            }
        }
        Some(entry.claims.clone())
    }

    /// Keeps `claims`, verified with the key `kid` of `set`, for a token of
    /// `token_len` bytes; makes room by dropping expired entries, then
    /// others.
    pub(super) fn insert(
        &self,
        digest: [u8; 32],
        claims: JwtClaims<C>,
        kid: Option<&str>,
        set: &KeySet,
        token_len: usize,
    ) {
        let bytes = token_len + ENTRY_OVERHEAD;
        if bytes > self.bytes_per_shard || self.entries_per_shard == 0 {
            return;
        }
        let now = SystemTime::now();
        // Checked: an `exp` near the end of time must not overflow (the
        // claims tests send such numbers).
        let until = match (
            claims
                .expires_at()
                .checked_add(Duration::from_secs(self.leeway)),
            now.checked_add(self.ttl),
        ) {
            (Some(exp), Some(ttl)) => exp.min(ttl),
            (Some(end), None) | (None, Some(end)) => end,
            (None, None) => now,
        };
        let mut shard = self.shard(&digest);
        if let Some(old) = shard.map.remove(&digest) {
            shard.bytes -= old.bytes;
        }
        if shard.map.len() >= self.entries_per_shard || shard.bytes + bytes > self.bytes_per_shard {
            shard.map.retain(|_, entry| now < entry.until);
            shard.bytes = shard.map.values().map(|entry| entry.bytes).sum();
        }
        while shard.map.len() >= self.entries_per_shard
            || shard.bytes + bytes > self.bytes_per_shard
        {
            let Some(victim) = shard.map.keys().next().copied() else {
                break;
            };
            if let Some(old) = shard.map.remove(&victim) {
                shard.bytes -= old.bytes;
            }
        }
        shard.bytes += bytes;
        shard.map.insert(
            digest,
            Entry {
                claims,
                kid: kid.map(Into::into),
                set: std::ptr::from_ref(set) as usize,
                until,
                bytes,
            },
        );
    }

    /// How many entries are held.
    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .map
                    .len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::claims::BasicClaims;
    use crate::jwt::{NoCustomClaims, ScopeClaim};

    fn claims(exp: u64) -> JwtClaims<NoCustomClaims> {
        let raw: BasicClaims =
            serde_json::from_value(serde_json::json!({"sub": "user-1", "exp": exp})).unwrap();
        raw.into_claims(ScopeClaim::default(), NoCustomClaims, "token")
            .unwrap()
    }

    fn in_an_hour() -> u64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3_600
    }

    fn no_keys() -> KeySet {
        KeySet {
            keys: Vec::new(),
            fetched_at: None,
        }
    }

    #[test]
    fn entries_and_bytes_stay_within_their_caps() {
        let set = no_keys();
        let limits = CacheLimits {
            entries: 32,
            bytes: 1 << 20,
            ttl: Duration::from_secs(60),
        };
        let cache = TokenCache::new(limits, 0);
        for n in 0..1_000 {
            let token = format!("token-{n}");
            cache.insert(
                digest(&token),
                claims(in_an_hour()),
                None,
                &set,
                token.len(),
            );
        }
        assert!(cache.len() <= 32, "{}", cache.len());
        assert!(cache.len() >= 16, "{}", cache.len());

        // 1 KiB in all: 64 bytes per shard, less than one entry.
        let tiny = TokenCache::new(
            CacheLimits {
                bytes: 1_024,
                ..limits
            },
            0,
        );
        tiny.insert(digest("t"), claims(in_an_hour()), None, &set, 1);
        assert_eq!(tiny.len(), 0);
    }

    #[test]
    fn a_hit_is_the_same_claims_and_the_ttl_ends_it() {
        let set = no_keys();
        let cache = TokenCache::new(
            CacheLimits {
                entries: 100,
                bytes: 1 << 20,
                ttl: Duration::from_millis(50),
            },
            0,
        );
        let key = digest("a token");
        cache.insert(key, claims(in_an_hour()), None, &set, 7);
        let hit = cache.get(&key, &set).expect("a hit");
        assert_eq!(hit.subject(), Some("user-1"));
        assert!(cache.get(&digest("another"), &set).is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&key, &set).is_none(), "past the TTL");
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn another_key_set_without_the_kid_drops_the_entry() {
        let set = no_keys();
        let cache = TokenCache::new(
            CacheLimits {
                entries: 100,
                bytes: 1 << 20,
                ttl: Duration::from_secs(60),
            },
            0,
        );
        let key = digest("a token");
        cache.insert(key, claims(in_an_hour()), Some("kid-1"), &set, 7);
        assert!(cache.get(&key, &set).is_some());
        let other = no_keys();
        assert!(cache.get(&key, &other).is_none(), "kid-1 is not in it");
        assert_eq!(cache.len(), 0);
    }
}
