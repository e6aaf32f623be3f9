//! The per-process limiter: one GCRA state (8 bytes) per key, in 64 shards
//! behind their own mutexes, keyed by a 64-bit fingerprint of the key id.
//!
//! Bounded: a key idle for its whole window has a TAT in the past, which
//! answers exactly like no state at all, so each shard drops those states
//! whenever it has doubled since it last did (amortized O(1)). What is kept
//! is the keys active within their window, and never more than
//! `max_keys`: past that, a new key is not tracked (its request passes)
//! and a warning is logged, at most once a minute.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::gcra::{self, Decision, Units};

const SHARDS: usize = 64;

/// The smallest size at which a shard looks for idle states.
const FIRST_SWEEP: usize = 1_024;

/// A hasher for keys that are already well-mixed 64-bit fingerprints.
#[derive(Default)]
pub(crate) struct Fingerprint(u64);

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; stay correct for anything else.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type States = HashMap<u64, u64, BuildHasherDefault<Fingerprint>>;

struct Shard {
    states: States,
    /// Look for idle states when the shard reaches this size.
    sweep_at: usize,
    /// When (ns since the epoch) the shard last looked.
    swept_at: u64,
}

/// A full shard looks for idle states at most this often (ns), so that a
/// full table does not cost a sweep per request.
const FULL_SWEEP_EVERY: u64 = 1_000_000_000;

/// The local limiter's table.
pub(crate) struct LocalLimiter {
    epoch: Instant,
    shards: Box<[Mutex<Shard>]>,
    /// At most this many keys per shard.
    per_shard_cap: usize,
    /// Requests of keys that could not be tracked (the table was full).
    untracked: AtomicU64,
    /// When (ns since `epoch`) the last "table full" warning was logged.
    warned_at: AtomicU64,
}

/// 64-bit FNV-1a of the key id, finished with the `fmix64` mixer of
/// `MurmurHash3` so that every bit of the fingerprint depends on every byte.
pub(crate) fn fingerprint(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl LocalLimiter {
    /// A table for at most `max_keys` keys at once.
    pub(crate) fn new(max_keys: usize) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    states: States::default(),
                    sweep_at: FIRST_SWEEP,
                    swept_at: 0,
                })
            })
            .collect();
        Self {
            epoch: Instant::now(),
            shards,
            per_shard_cap: max_keys.div_ceil(SHARDS).max(1),
            untracked: AtomicU64::new(0),
            warned_at: AtomicU64::new(0),
        }
    }

    /// Nanoseconds since the table was made (monotonic).
    pub(crate) fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Decides a request of the key with this fingerprint.
    pub(crate) fn check(&self, key: u64, units: Units) -> Decision {
        let now = self.now();
        // The low bits pick the shard; the map hashes the whole value.
        let index = usize::try_from(key % SHARDS as u64).unwrap_or(0);
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tat) = shard.states.get_mut(&key) {
            let (decision, next) = gcra::decide(*tat, now, units);
            *tat = next;
            return decision;
        }
        let (decision, next) = gcra::decide(0, now, units);
        let len = shard.states.len();
        let full = len >= self.per_shard_cap;
        if len >= shard.sweep_at || (full && now - shard.swept_at >= FULL_SWEEP_EVERY) {
            shard.states.retain(|_, tat| *tat > now);
            let kept = shard.states.len();
            shard.sweep_at = (kept * 2).max(FIRST_SWEEP);
            shard.swept_at = now;
            if shard.states.capacity() > 4 * kept.max(FIRST_SWEEP) {
                shard.states.shrink_to(kept * 2);
            }
        }
        if shard.states.len() >= self.per_shard_cap {
            drop(shard);
            self.note_untracked(now);
            return decision;
        }
        shard.states.insert(key, next);
        decision
    }

    fn note_untracked(&self, now: u64) {
        self.untracked.fetch_add(1, Ordering::Relaxed);
        let last = self.warned_at.load(Ordering::Relaxed);
        let minute = 60 * 1_000_000_000;
        if (last == 0 || now.saturating_sub(last) >= minute)
            && self
                .warned_at
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            super::report::table_full(self.untracked.load(Ordering::Relaxed));
        }
    }

    /// How many keys have state now.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .states
                    .len()
            })
            .sum()
    }

    /// Bytes the tables hold (capacity, not length), for the memory bound.
    pub(crate) fn table_bytes(&self) -> usize {
        // hashbrown: one control byte and one (u64, u64) slot per bucket.
        self.shards
            .iter()
            .map(|shard| {
                let capacity = shard
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .states
                    .capacity();
                // Buckets are a power of two at 7/8 load at most.
                let buckets = (capacity * 8 / 7).next_power_of_two();
                buckets * (16 + 1)
            })
            .sum()
    }

    /// Requests that passed untracked because the table was full.
    pub(crate) fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::Quota;

    #[test]
    fn fingerprints_differ_for_close_ids() {
        let a = fingerprint("key_aaaaaaaaaaaaaaaa");
        let b = fingerprint("key_aaaaaaaaaaaaaaab");
        assert_ne!(a, b);
        assert!((a ^ b).count_ones() > 16, "well mixed: {a:x} {b:x}");
        assert_eq!(fingerprint("key_x"), fingerprint("key_x"));
    }

    #[test]
    fn exactly_the_burst_passes_then_idle_keys_are_forgotten() {
        let limiter = LocalLimiter::new(1_000_000);
        let units = Units::nanos(Quota::new(100, 60).expect("valid"));
        let key = fingerprint("key_one");
        let passed = (0..250)
            .filter(|_| limiter.check(key, units).allowed)
            .count();
        assert_eq!(passed, 100);
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn the_cap_holds() {
        let limiter = LocalLimiter::new(SHARDS * 100);
        let units = Units::nanos(Quota::new(1, 60).expect("valid"));
        for n in 0..20_000 {
            assert!(
                limiter
                    .check(fingerprint(&format!("key_{n}")), units)
                    .allowed
            );
        }
        assert!(limiter.len() <= SHARDS * 100, "{}", limiter.len());
        assert_eq!(limiter.untracked(), 20_000 - limiter.len() as u64);
    }

    #[test]
    fn idle_states_are_swept() {
        let limiter = LocalLimiter::new(1_000_000);
        // A 1-second window: states idle for a second are worth nothing.
        let units = Units::nanos(Quota::new(1, 1).expect("valid"));
        let first = 20_000;
        for n in 0..first {
            limiter.check(fingerprint(&format!("old_{n}")), units);
        }
        assert_eq!(limiter.len(), first);
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        let second = SHARDS * 1_100;
        for n in 0..second {
            limiter.check(fingerprint(&format!("new_{n}")), units);
        }
        // Every shard passed 1,024 states and dropped the idle ones.
        let len = limiter.len();
        assert!(len <= second, "{len} states: the first batch was not swept");
        assert!(len > second - 2_000, "{len}: live states were dropped");
    }
}
