//! Whether a replica may answer from its key set: proven fresh recently
//! enough, or not. The sync task proves freshness; a watchdog thread (the
//! only writer of the state, so that the two cannot race) turns the age of
//! the last proof into one byte the request path reads.

use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How often the watchdog looks at the age of the last proof, when nothing
/// wakes it sooner.
const TICK: Duration = Duration::from_millis(20);

/// What a replica does when it cannot prove that its key set is fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutagePolicy {
    /// Answer 503 to every token once the last proof of freshness is older
    /// than `max_staleness` (the default): a key revoked during an outage is
    /// never accepted, at the price of refusing every key meanwhile.
    FailClosed,
    /// Keep answering from the last key set for up to `at_most` after the
    /// last proof (a revocation made meanwhile is not seen), then 503. Each
    /// stale period is logged at warn. An explicit, bounded trade of safety
    /// for availability.
    ServeStale {
        /// How long after the last proof stale answers stop.
        at_most: Duration,
    },
}

/// What a replica does with a token now, by how recently it proved its
/// key set fresh ([`SharedKeyStore::state`](super::SharedKeyStore::state)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum ReplicaState {
    /// Not loaded yet: 503.
    Loading = 0,
    /// Proven fresh within `max_staleness`: answers from the key set.
    Fresh = 1,
    /// Not proven fresh within `max_staleness`, serving stale by policy
    /// ([`OutagePolicy::ServeStale`]).
    ServingStale = 2,
    /// Not proven fresh within the allowed time: 503.
    Unavailable = 3,
}

impl ReplicaState {
    /// Every state.
    pub const ALL: [Self; 4] = [
        Self::Loading,
        Self::Fresh,
        Self::ServingStale,
        Self::Unavailable,
    ];

    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Fresh,
            2 => Self::ServingStale,
            3 => Self::Unavailable,
            _ => Self::Loading,
        }
    }

    /// `loading`, `fresh`, `serving stale` or `unavailable`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::Fresh => "fresh",
            Self::ServingStale => "serving stale",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The freshness of one replica.
#[derive(Debug)]
pub(super) struct Freshness {
    state: AtomicU8,
    loaded: AtomicBool,
    /// Nanoseconds after `base` of the last proof of freshness.
    proven_at: AtomicU64,
    base: Instant,
    max_staleness: Duration,
    policy: OutagePolicy,
    watchdog: std::sync::OnceLock<Thread>,
}

impl Freshness {
    pub(super) fn new(max_staleness: Duration, policy: OutagePolicy) -> Self {
        Self {
            state: AtomicU8::new(ReplicaState::Loading as u8),
            loaded: AtomicBool::new(false),
            proven_at: AtomicU64::new(0),
            base: Instant::now(),
            max_staleness,
            policy,
            watchdog: std::sync::OnceLock::new(),
        }
    }

    /// What the request path does now: one relaxed load.
    pub(super) fn state(&self) -> ReplicaState {
        ReplicaState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Records that the key set reflected every write committed before
    /// `at`.
    pub(super) fn proven(&self, at: Instant) {
        let nanos = u64::try_from(at.saturating_duration_since(self.base).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        self.proven_at.fetch_max(nanos, Ordering::AcqRel);
        self.loaded.store(true, Ordering::Release);
        self.wake();
    }

    /// When freshness was last proven, if ever.
    pub(super) fn last_proof(&self) -> Option<Instant> {
        match self.proven_at.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(self.base + Duration::from_nanos(nanos)),
        }
    }

    fn wake(&self) {
        if let Some(watchdog) = self.watchdog.get() {
            watchdog.unpark();
        }
    }

    /// The state the age of the last proof calls for.
    fn assess(&self, now: Instant) -> ReplicaState {
        let Some(proof) = self
            .last_proof()
            .filter(|_| self.loaded.load(Ordering::Acquire))
        else {
            return ReplicaState::Loading;
        };
        let age = now.saturating_duration_since(proof);
        if age <= self.max_staleness {
            return ReplicaState::Fresh;
        }
        match self.policy {
            OutagePolicy::ServeStale { at_most } if age <= at_most => ReplicaState::ServingStale,
            OutagePolicy::FailClosed | OutagePolicy::ServeStale { .. } => ReplicaState::Unavailable,
        }
    }
}

/// Starts the watchdog thread for the `Freshness` that `freshness` finds in
/// `owner`; the thread ends when the owner is dropped (its `Weak` no longer
/// upgrades), leaving nothing behind.
pub(super) fn start_watchdog<T: Send + Sync + 'static>(
    owner: &Arc<T>,
    freshness: fn(&T) -> &Freshness,
    name: &str,
) -> std::io::Result<()> {
    let weak: Weak<T> = Arc::downgrade(owner);
    let handle = std::thread::Builder::new()
        .name(format!("tba-watchdog-{name}"))
        .spawn(move || {
            let mut previous = ReplicaState::Loading;
            loop {
                let Some(owner) = weak.upgrade() else {
                    return;
                };
                let watched = freshness(&owner);
                let state = watched.assess(Instant::now());
                watched.state.store(state as u8, Ordering::Relaxed);
                if state != previous {
                    report(previous, state, watched);
                    previous = state;
                }
                drop(owner);
                std::thread::park_timeout(TICK);
            }
        })?;
    let _ = freshness(owner).watchdog.set(handle.thread().clone());
    Ok(())
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn report(from: ReplicaState, to: ReplicaState, freshness: &Freshness) {
    let since = freshness
        .last_proof()
        .map(|proof| proof.elapsed().as_millis());
    match to {
        ReplicaState::Fresh => {
            trace_event!(info!(from = from.as_str(), "shared key store is fresh"));
        }
        ReplicaState::ServingStale => trace_event!(warn!(
            last_proof_ms_ago = since,
            "shared key store cannot prove freshness: serving the last key set (ServeStale)"
        )),
        ReplicaState::Unavailable => trace_event!(error!(
            last_proof_ms_ago = since,
            "shared key store cannot prove freshness: answering 503 to every token"
        )),
        ReplicaState::Loading => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_of_the_last_proof_decides_the_state() {
        let closed = Freshness::new(Duration::from_millis(500), OutagePolicy::FailClosed);
        let now = Instant::now();
        assert_eq!(closed.assess(now), ReplicaState::Loading);
        closed.proven(now);
        assert_eq!(
            closed.assess(now + Duration::from_millis(500)),
            ReplicaState::Fresh
        );
        assert_eq!(
            closed.assess(now + Duration::from_millis(501)),
            ReplicaState::Unavailable
        );
        // An older proof never moves the clock back.
        closed.proven(now - Duration::from_secs(10));
        assert_eq!(
            closed.assess(now + Duration::from_millis(400)),
            ReplicaState::Fresh
        );

        let stale = Freshness::new(
            Duration::from_millis(500),
            OutagePolicy::ServeStale {
                at_most: Duration::from_secs(2),
            },
        );
        stale.proven(now);
        assert_eq!(
            stale.assess(now + Duration::from_secs(1)),
            ReplicaState::ServingStale
        );
        assert_eq!(
            stale.assess(now + Duration::from_millis(2001)),
            ReplicaState::Unavailable
        );
    }
}
