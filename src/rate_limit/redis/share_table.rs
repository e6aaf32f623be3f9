//! What one replica holds of each key's quota in the share mode: the
//! requests it took from Redis and has not spent, and what Redis said
//! last. The decision is local (one shard lock, no await); Redis is asked
//! by the caller, for the [`Take`] a decision hands back.
//!
//! A replica holds at most one share of a key: a take asks for
//! `size - held`, and nothing else adds to `held`, so `held <= size`
//! always. That is what bounds over-admission (see the module docs of
//! `rate_limit`).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

use super::super::Quota;
use super::super::gcra::Decision;
use super::super::local::Fingerprint;

const SHARDS: usize = 64;

/// The smallest size at which a shard looks for idle shares.
const FIRST_SWEEP: usize = 1_024;

/// One key's share on this replica.
struct Share {
    /// The quota the share was taken under; another quota starts over.
    quota: Quota,
    /// Requests taken from Redis and not spent yet (at most one share).
    held: u32,
    /// Requests Redis had left after the last take (for `RateLimit`'s `r`).
    left: u32,
    /// Until when (local ns) Redis has nothing to give: refused here.
    empty_until: u64,
    /// The take in flight, if any: at most one per key.
    taking: Option<Arc<Taking>>,
    /// The last request (local ns), to forget idle shares.
    used_at: u64,
}

/// A take in flight, which requests without a share wait for.
pub(super) struct Taking {
    /// Closed when the answer is in the table (a closed semaphore wakes
    /// every waiter, also those that come after).
    done: Semaphore,
}

impl Taking {
    /// Waits until the take's answer is in the table.
    pub(super) async fn done(&self) {
        // Never acquired: the only outcome is `Closed`.
        let _ = self.done.acquire().await;
    }
}

/// A take to send to Redis: up to `wanted` requests under `quota`.
pub(super) struct Take {
    pub(super) key: u64,
    pub(super) quota: Quota,
    pub(super) wanted: u32,
    pub(super) taking: Arc<Taking>,
}

/// What Redis answered a take.
#[derive(Debug, Clone, Copy)]
pub(super) struct Taken {
    /// Requests taken (0: none left).
    pub(super) taken: u32,
    /// Requests Redis has left after this take.
    pub(super) left: u32,
    /// With none taken: nanoseconds until one fits.
    pub(super) wait: u64,
}

/// How a request goes.
pub(super) enum Step {
    /// Decided here, from the share (or refused: Redis said none left).
    Decided(Decision),
    /// No share: wait for this take, then decide again.
    Wait(Arc<Taking>),
    /// Redis is failing (or the table is full): the local limiter decides.
    Local,
}

struct Shard {
    shares: HashMap<u64, Share, BuildHasherDefault<Fingerprint>>,
    /// Look for idle shares when the shard reaches this size.
    sweep_at: usize,
    /// When (local ns) the shard last looked.
    swept_at: u64,
}

/// A full shard looks for idle shares at most this often (ns), so that a
/// full table does not cost a sweep per request.
const FULL_SWEEP_EVERY: u64 = 1_000_000_000;

/// Every key's share on this replica, in 64 shards.
pub(super) struct ShareTable {
    shards: Box<[Mutex<Shard>]>,
    per_shard_cap: usize,
}

impl ShareTable {
    /// A table for at most `max_keys` keys at once.
    pub(super) fn new(max_keys: usize) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    shares: HashMap::default(),
                    sweep_at: FIRST_SWEEP,
                    swept_at: 0,
                })
            })
            .collect();
        Self {
            shards,
            per_shard_cap: max_keys.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, Shard> {
        let index = usize::try_from(key % SHARDS as u64).unwrap_or(0);
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides a request of `key` under `quota` at `now` (local ns), with
    /// shares of `size` requests; `answering`: whether Redis may be asked.
    /// Returns the step and, when the share runs low or there is none, the
    /// take to send (the caller sends it and then calls [`Self::taken`]).
    pub(super) fn decide(
        &self,
        key: u64,
        quota: Quota,
        size: u32,
        now: u64,
        answering: bool,
    ) -> (Step, Option<Take>) {
        let mut shard = self.shard(key);
        if !shard.shares.contains_key(&key) {
            let len = shard.shares.len();
            let full = len >= self.per_shard_cap;
            if len >= shard.sweep_at
                || (full && now.saturating_sub(shard.swept_at) >= FULL_SWEEP_EVERY)
            {
                sweep(&mut shard, now);
            }
            if shard.shares.len() >= self.per_shard_cap {
                return (Step::Local, None);
            }
            shard.shares.insert(key, Share::new(quota));
        }
        let Some(share) = shard.shares.get_mut(&key) else {
            return (Step::Local, None);
        };
        if share.quota != quota {
            // The key's quota changed: what was taken under the old one is
            // dropped (a take in flight lands nowhere: see `taken`).
            let taking = share.taking.take();
            *share = Share::new(quota);
            share.taking = taking;
        }
        share.used_at = now;
        if share.held > 0 {
            share.held -= 1;
            let low = share.held <= size / 2;
            let take = (low && answering && share.empty_until <= now)
                .then(|| share.start_take(key, size))
                .flatten();
            let decision = Decision {
                allowed: true,
                remaining: share.held.saturating_add(share.left),
                wait: quota.emission_nanos(),
            };
            return (Step::Decided(decision), take);
        }
        if share.empty_until > now {
            let decision = Decision {
                allowed: false,
                remaining: 0,
                wait: share.empty_until - now,
            };
            return (Step::Decided(decision), None);
        }
        if !answering {
            return (Step::Local, None);
        }
        if let Some(taking) = &share.taking {
            return (Step::Wait(Arc::clone(taking)), None);
        }
        let take = share.start_take(key, size);
        let taking = take.as_ref().map(|take| Arc::clone(&take.taking));
        match taking {
            Some(taking) => (Step::Wait(taking), take),
            None => (Step::Local, None),
        }
    }

    /// Puts Redis's answer to `take` in the table (`None`: Redis failed)
    /// and wakes the requests waiting for it.
    pub(super) fn taken(&self, take: &Take, answer: Option<Taken>, now: u64) {
        {
            let mut shard = self.shard(take.key);
            if let Some(share) = shard.shares.get_mut(&take.key) {
                if share
                    .taking
                    .as_ref()
                    .is_some_and(|taking| Arc::ptr_eq(taking, &take.taking))
                {
                    share.taking = None;
                }
                if let (Some(answer), true) = (answer, share.quota == take.quota) {
                    share.held = share.held.saturating_add(answer.taken);
                    share.left = answer.left;
                    if answer.taken == 0 {
                        share.empty_until = now.saturating_add(answer.wait).max(1);
                    }
                }
            }
        }
        take.taking.done.close();
    }

    /// How many keys have a share entry now.
    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .shares
                    .len()
            })
            .sum()
    }

    /// The requests this replica holds of `key`'s quota now.
    #[cfg(test)]
    pub(super) fn held(&self, key: u64) -> u32 {
        self.shard(key)
            .shares
            .get(&key)
            .map_or(0, |share| share.held)
    }
}

impl Share {
    fn new(quota: Quota) -> Self {
        Self {
            quota,
            held: 0,
            left: 0,
            empty_until: 0,
            taking: None,
            used_at: 0,
        }
    }

    /// A take for what the share lacks (`size - held`), unless one is in
    /// flight already.
    fn start_take(&mut self, key: u64, size: u32) -> Option<Take> {
        if self.taking.is_some() {
            return None;
        }
        let taking = Arc::new(Taking {
            done: Semaphore::new(0),
        });
        self.taking = Some(Arc::clone(&taking));
        Some(Take {
            key,
            quota: self.quota,
            wanted: size.saturating_sub(self.held).max(1),
            taking,
        })
    }
}

/// Forgets shares idle for a whole window (their unspent requests are not
/// given back: the key may get fewer than its quota, never more), unless a
/// take is in flight or Redis said none are left.
fn sweep(shard: &mut Shard, now: u64) {
    shard.shares.retain(|_, share| {
        share.taking.is_some()
            || share.empty_until > now
            || now.saturating_sub(share.used_at) < share.quota.window_nanos()
    });
    let kept = shard.shares.len();
    shard.sweep_at = (kept * 2).max(FIRST_SWEEP);
    shard.swept_at = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(requests: u32, per_seconds: u32) -> Quota {
        Quota::new(requests, per_seconds).expect("valid")
    }

    fn allowed(step: &Step) -> Option<bool> {
        match step {
            Step::Decided(decision) => Some(decision.allowed),
            _ => None,
        }
    }

    #[test]
    fn the_first_request_waits_for_a_share_then_spends_it_locally() {
        let table = ShareTable::new(1_000);
        let q = quota(100, 60);
        let (step, take) = table.decide(7, q, 10, 1, true);
        assert!(matches!(step, Step::Wait(_)));
        let take = take.expect("a take to send");
        assert_eq!(take.wanted, 10);
        // A second request meanwhile waits for the same take, sends none.
        let (step, again) = table.decide(7, q, 10, 2, true);
        assert!(matches!(step, Step::Wait(_)) && again.is_none());
        table.taken(
            &take,
            Some(Taken {
                taken: 10,
                left: 90,
                wait: 0,
            }),
            3,
        );
        // Ten local decisions; the fifth leaves 5 held (<= 10/2): a take
        // for 5 more, sent once.
        let mut takes = Vec::new();
        for n in 0..10 {
            let (step, take) = table.decide(7, q, 10, 4 + n, true);
            assert_eq!(allowed(&step), Some(true));
            takes.extend(take);
        }
        assert_eq!(takes.len(), 1);
        assert_eq!(takes[0].wanted, 5);
        assert_eq!(table.held(7), 0);
        // Redis has none left: refused here until its wait is over.
        table.taken(
            &takes[0],
            Some(Taken {
                taken: 0,
                left: 0,
                wait: 500,
            }),
            20,
        );
        let (step, take) = table.decide(7, q, 10, 100, true);
        match step {
            Step::Decided(decision) => {
                assert!(!decision.allowed);
                assert_eq!(decision.wait, 420);
            }
            _ => panic!("refused here"),
        }
        assert!(take.is_none());
        // After it: a new take.
        let (step, take) = table.decide(7, q, 10, 520, true);
        assert!(matches!(step, Step::Wait(_)) && take.is_some());
    }

    #[test]
    fn a_replica_never_holds_more_than_one_share() {
        let table = ShareTable::new(1_000);
        let q = quota(1_000, 60);
        let size = 8;
        let (_, take) = table.decide(1, q, size, 1, true);
        let mut pending = take.into_iter().collect::<Vec<_>>();
        for now in 2..500 {
            // Answer every other take late, after some spending.
            if now % 3 == 0 {
                for take in pending.drain(..) {
                    table.taken(
                        &take,
                        Some(Taken {
                            taken: take.wanted,
                            left: 500,
                            wait: 0,
                        }),
                        now,
                    );
                }
            }
            let (_, take) = table.decide(1, q, size, now, true);
            pending.extend(take);
            assert!(table.held(1) <= size, "{}", table.held(1));
            assert!(pending.len() <= 1, "one take in flight");
        }
    }

    #[test]
    fn failing_redis_or_a_full_table_decides_locally_and_a_new_quota_starts_over() {
        let table = ShareTable::new(1);
        let q = quota(10, 1);
        assert!(matches!(table.decide(1, q, 2, 1, false).0, Step::Local));
        // One entry per shard at most: a second key of shard 1 is local.
        assert!(matches!(
            table.decide(1 + SHARDS as u64, q, 2, 1, true).0,
            Step::Local
        ));
        let (_, take) = table.decide(1, q, 2, 2, true);
        let take = take.expect("a take");
        table.taken(
            &take,
            Some(Taken {
                taken: 2,
                left: 8,
                wait: 0,
            }),
            3,
        );
        assert_eq!(table.held(1), 2);
        // While Redis fails, a held share is still spent.
        assert_eq!(allowed(&table.decide(1, q, 2, 4, false).0), Some(true));
        let (step, take) = table.decide(1, quota(5, 1), 2, 5, true);
        assert!(matches!(step, Step::Wait(_)), "the old share is dropped");
        assert_eq!(take.expect("a take").quota, quota(5, 1));
    }

    /// Redis as a model: the GCRA state `take.lua` keeps, in ns.
    struct ModelRedis {
        tat: u64,
        emission: u64,
        window: u64,
        granted: u64,
    }

    impl ModelRedis {
        fn take(&mut self, wanted: u32, now: u64) -> Taken {
            let tat = self.tat.max(now);
            let room = (self.window.saturating_sub(tat - now)) / self.emission;
            if room == 0 {
                return Taken {
                    taken: 0,
                    left: 0,
                    wait: tat + self.emission - now - self.window,
                };
            }
            let taken = room.min(u64::from(wanted));
            self.tat = tat + taken * self.emission;
            self.granted += taken;
            Taken {
                taken: u32::try_from(taken).expect("small"),
                left: u32::try_from(room - taken).expect("small"),
                wait: 0,
            }
        }
    }

    /// Random interleavings of N replicas' requests and late answers to
    /// their takes, against a model of Redis: no replica ever holds more
    /// than a share, nothing is admitted that Redis did not give, and in
    /// every period the replicas admit at most what the exact limit admits
    /// in it plus N shares.
    #[test]
    fn the_bound_holds_in_random_interleavings() {
        let q = quota(20, 2); // T = 100 ms, window 2 s
        let (emission, window) = (q.emission_nanos(), q.window_nanos());
        let size = 4;
        for seed in 1..=200_u64 {
            let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut next = |below: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % below
            };
            let replicas = 2 + usize::try_from(next(2)).expect("small");
            let tables: Vec<_> = (0..replicas).map(|_| ShareTable::new(1_000)).collect();
            let mut redis = ModelRedis {
                tat: 0,
                emission,
                window,
                granted: 0,
            };
            let mut pending: Vec<(usize, Take, u64)> = Vec::new();
            let mut admitted = Vec::new();
            let mut now = 1_000_000_000;
            for _ in 0..600 {
                // Bursts and lulls: mostly a few ms apart, sometimes a second.
                now += if next(20) == 0 {
                    next(window)
                } else {
                    next(emission / 10)
                };
                let replica = usize::try_from(next(replicas as u64)).expect("small");
                // Answer the takes whose time has come (Redis answers at
                // the time it is asked; the replica learns it later).
                let (due, later): (Vec<_>, Vec<_>) =
                    pending.drain(..).partition(|(_, _, at)| *at <= now);
                pending = later;
                for (r, take, asked) in due {
                    let answer = redis.take(take.wanted, asked);
                    tables[r].taken(&take, Some(answer), now);
                }
                let (step, take) = tables[replica].decide(3, q, size, now, true);
                if let Some(take) = take {
                    pending.push((replica, take, now + next(emission / 2)));
                }
                if matches!(step, Step::Decided(decision) if decision.allowed) {
                    admitted.push(now);
                }
                for table in &tables {
                    assert!(table.held(3) <= size, "seed {seed}: more than a share");
                }
            }
            assert!(admitted.len() as u64 <= redis.granted, "seed {seed}");
            let bound = |d: u64| {
                u64::from(q.requests()) + d / emission + 1 + (replicas as u64) * u64::from(size)
            };
            for (i, &start) in admitted.iter().enumerate() {
                for (j, &end) in admitted.iter().enumerate().skip(i) {
                    let count = (j - i + 1) as u64;
                    assert!(
                        count <= bound(end - start),
                        "seed {seed}: {count} admitted in {} ns (bound {})",
                        end - start,
                        bound(end - start)
                    );
                }
            }
        }
    }

    #[test]
    fn idle_shares_are_forgotten_when_the_table_grows() {
        let table = ShareTable::new(1 << 20);
        let q = quota(1, 1);
        for key in 0..(SHARDS as u64 * 1_100) {
            let (_, take) = table.decide(key, q, 1, 1, true);
            let take = take.expect("a take");
            table.taken(
                &take,
                Some(Taken {
                    taken: 1,
                    left: 0,
                    wait: 0,
                }),
                1,
            );
        }
        let before = table.len();
        // Two seconds later (a 1 s window), new keys sweep the old ones.
        let later = 2_000_000_001;
        for key in 0..(SHARDS as u64 * 1_100) {
            let _ = table.decide(key + (1 << 40), q, 1, later, true);
        }
        let after = table.len();
        assert!(after <= SHARDS * 1_100 + 2_000, "{before} -> {after}");
    }
}
