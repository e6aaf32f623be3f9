//! The replica's handle, the validator requests use, and the state it
//! shares with the task that follows the source.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::request::Parts;
use tokio::sync::watch;

use super::error::SyncError;
use super::freshness::{Freshness, OutagePolicy, ReplicaState, start_watchdog};
use crate::key_store::{ApiKey, KeyCounts, KeyEntry, KeyStore};
use crate::validator::{TokenValidator, ValidationError};

/// A replica of a key set kept in Redis or Postgres, shared by every
/// replica of a service: a key created or revoked anywhere takes effect
/// everywhere, within about a millisecond on one network (measured in
/// BENCHMARKS.md). Started by `SharedKeyStore::builder` (Redis, feature
/// `redis`) or `PostgresStoreBuilder` (feature `postgres`).
///
/// Each replica holds the whole key set in an in-memory [`KeyStore`], so a
/// validation never touches the network and costs what the in-memory store
/// costs; unknown tokens never reach the source. A background task follows
/// the source's change log (Redis: a Stream, with a blocking read;
/// Postgres: a table, woken by `LISTEN` and read at least every heartbeat),
/// and every answer, even an empty one, proves that the replica holds
/// every write committed before the read was sent.
///
/// A replica that has not proven freshness for `max_staleness` (default
/// 5 s) answers 503 to every token ([`OutagePolicy::FailClosed`]), so a key
/// revoked during an outage is never accepted; serving stale answers is an
/// explicit, bounded opt-in ([`OutagePolicy::ServeStale`]). Before the
/// first load, and while the source holds no initialised store (never
/// written, or its data lost), every token gets 503, never 401.
///
/// The replica never writes keys: they are created, revoked and removed
/// through the backend's writer (`RedisKeyWriter`, `PostgresKeyWriter`).
/// The sync task and its watchdog thread end when the last clone of the
/// store is dropped.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_bearer_auth::BearerAuthLayer;
/// use tower_bearer_auth::key_store::redis::SharedKeyStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = SharedKeyStore::builder("redis://127.0.0.1/")
///     .namespace("billing-api")
///     .max_staleness(Duration::from_secs(5))
///     .start()?;
/// store.ready(Duration::from_secs(10)).await?; // optional: gate startup on the first load
/// let layer = BearerAuthLayer::new(store);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SharedKeyStore {
    inner: Arc<Shared>,
}

/// What the handle and the task following the source share (as tower's
/// buffer worker shares a small handle, not the owner's struct).
pub(crate) struct Shared {
    // The two fields the request path reads, side by side.
    pub(super) freshness: Freshness,
    pub(crate) local: KeyStore,
    /// The version of the last write applied to `local`.
    pub(super) applied: watch::Sender<u64>,
    pub(super) resync_requested: AtomicBool,
    /// The operator accepted the source as it is, even behind this replica.
    pub(super) accept_source: AtomicBool,
    /// Asks the task to write last uses back to the source now.
    pub(crate) flush_requested: AtomicBool,
    /// How many writes of last uses succeeded.
    pub(crate) flushes: watch::Sender<u64>,
    pub(super) last_error: Mutex<Option<String>>,
    /// The source's version while it is behind this replica.
    pub(super) behind: Mutex<Option<SourceBehind>>,
    /// How many revoked or deleted digests the replica remembers.
    pub(super) tombstones: AtomicUsize,
    /// How many full loads were put in force, and how long the last took.
    pub(super) loads: Mutex<(u64, Option<Duration>)>,
    /// The source, for `Debug` and thread names (a Redis namespace).
    name: String,
    /// Where the Redis-shared rate limit keeps its state: the source's
    /// client and hash tag, and the limiter's standing problem.
    #[cfg(feature = "redis")]
    redis_home: Option<LimiterHome>,
}

/// Where a Redis-shared rate limiter keeps its state (next to the key
/// set), and where it reports a problem that makes it count per replica
/// (shown in [`SyncStatus::shared_rate_limit_problem`]).
#[cfg(feature = "redis")]
#[derive(Clone, Debug)]
pub(crate) struct LimiterHome {
    pub(crate) source: crate::key_store::redis::Source,
    pub(crate) hash_tag: String,
    #[cfg(feature = "rate-limit")]
    pub(crate) problem: Arc<Mutex<Option<String>>>,
}

impl Shared {
    pub(crate) fn set_error(&self, problem: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = problem;
    }
}

/// What a replica is made of, from the backend's builder.
pub(crate) struct ReplicaSettings {
    pub(crate) name: String,
    pub(crate) max_staleness: Duration,
    pub(crate) policy: OutagePolicy,
    pub(crate) require_checksum: bool,
    /// The Redis client and hash tag a shared rate limiter may use (a
    /// replica that Redis feeds).
    #[cfg(feature = "redis")]
    pub(crate) redis_home: Option<(crate::key_store::redis::Source, String)>,
}

/// A source that was behind what this replica applied: it proves nothing
/// and is not loaded until it is ahead again or the operator accepts it
/// ([`SharedKeyStore::accept_source`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceBehind {
    /// The highest version this replica applied.
    pub applied_version: u64,
    /// The version the source answered with.
    pub source_version: u64,
}

impl SharedKeyStore {
    /// A replica that nothing follows yet, and its watchdog thread; the
    /// backend starts the task that follows its source with
    /// [`SharedKeyStore::shared`].
    pub(crate) fn new(settings: ReplicaSettings) -> Result<Self, SyncError> {
        let inner = Arc::new(Shared {
            local: KeyStore::builder()
                .require_checksum(settings.require_checksum)
                .build(),
            freshness: Freshness::new(settings.max_staleness, settings.policy),
            applied: watch::Sender::new(0),
            resync_requested: AtomicBool::new(false),
            accept_source: AtomicBool::new(false),
            flush_requested: AtomicBool::new(false),
            flushes: watch::Sender::new(0),
            last_error: Mutex::new(None),
            behind: Mutex::new(None),
            tombstones: AtomicUsize::new(0),
            loads: Mutex::new((0, None)),
            name: settings.name,
            #[cfg(feature = "redis")]
            redis_home: settings.redis_home.map(|(source, hash_tag)| LimiterHome {
                source,
                hash_tag,
                #[cfg(feature = "rate-limit")]
                problem: Arc::default(),
            }),
        });
        start_watchdog(&inner, |inner| &inner.freshness, &inner.name).map_err(|e| {
            SyncError::Thread {
                problem: format!("cannot start the watchdog thread: {e}"),
            }
        })?;
        Ok(Self { inner })
    }

    /// What the following task holds: the replica, until the last handle
    /// is dropped.
    pub(crate) fn shared(&self) -> std::sync::Weak<Shared> {
        Arc::downgrade(&self.inner)
    }

    /// Waits until the key set is loaded and fresh, at most `within`.
    ///
    /// # Errors
    ///
    /// [`SyncError::NotReady`] with the last problem met (Redis unreachable,
    /// the store not initialised yet) if it is not ready in time.
    pub async fn ready(&self, within: Duration) -> Result<(), SyncError> {
        let deadline = Instant::now() + within;
        loop {
            if self.inner.freshness.state() == ReplicaState::Fresh {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(SyncError::NotReady {
                    last_error: self.status().last_error,
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until this replica has applied the write that produced
    /// `version` (what [`RedisKeyWriter`](crate::key_store::redis::RedisKeyWriter) returns), at
    /// most `within`: read-your-writes for the replica that served an admin
    /// call. Whether it did.
    pub async fn wait_for_version(&self, version: u64, within: Duration) -> bool {
        let mut applied = self.inner.applied.subscribe();
        tokio::time::timeout(within, applied.wait_for(|&applied| applied >= version))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// Asks for a full load (the demo server does on SIGHUP); it starts
    /// within about a second, and the copy in force keeps answering, fresh,
    /// until the new one replaces it.
    pub fn resync(&self) {
        self.inner.resync_requested.store(true, Ordering::Release);
    }

    /// Accepts the source as it is, even behind what this replica applied
    /// (a snapshot restored on purpose): the replica forgets the highest
    /// version it applied and the digests it saw revoked or deleted, and
    /// loads the source in full. Call it only once you have checked the
    /// revocations the source lost; re-importing the keys from a backup
    /// (which moves the source ahead again) is the usual way out.
    pub fn accept_source(&self) {
        self.inner.accept_source.store(true, Ordering::Release);
        self.inner.resync_requested.store(true, Ordering::Release);
    }

    /// The Redis client and the hash tag of this key set (`{tba:<ns>}`),
    /// for others that keep state next to it (the rate limiter); `None`
    /// when another backend feeds this replica.
    #[cfg(feature = "redis")]
    pub(crate) fn redis_home(&self) -> Option<LimiterHome> {
        self.inner.redis_home.clone()
    }

    /// Writes this replica's last uses to Redis now rather than at the next
    /// periodic flush (once a minute), keeping the later time per key: call
    /// it before a graceful shutdown, so the last minute of use is not lost.
    /// Returns whether a flush completed within `within`.
    pub async fn flush_last_uses(&self, within: Duration) -> bool {
        let mut flushes = self.inner.flushes.subscribe();
        let before = *flushes.borrow_and_update();
        self.inner.flush_requested.store(true, Ordering::Release);
        tokio::time::timeout(within, flushes.wait_for(|&done| done > before))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// What the replica does with a token now (one atomic load; cheap
    /// enough for a health check on every request).
    #[must_use]
    pub fn state(&self) -> ReplicaState {
        self.inner.freshness.state()
    }

    /// The version of the last write the replica applied.
    #[must_use]
    pub fn version(&self) -> u64 {
        *self.inner.applied.borrow()
    }

    /// The replica's state in detail, for health checks and metrics.
    #[must_use]
    pub fn status(&self) -> SyncStatus {
        let (full_loads, last_load_took) = *self
            .inner
            .loads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        SyncStatus {
            state: self.inner.freshness.state(),
            applied_version: *self.inner.applied.borrow(),
            last_proof_age: self
                .inner
                .freshness
                .last_proof()
                .map(|proof| proof.elapsed()),
            last_error: self
                .inner
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            counts: self.inner.local.counts(),
            source_behind: *self
                .inner
                .behind
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            tombstones: self.inner.tombstones.load(Ordering::Relaxed),
            full_loads,
            last_load_took,
            #[cfg(all(feature = "rate-limit", feature = "redis"))]
            shared_rate_limit_problem: self.inner.redis_home.as_ref().and_then(|home| {
                home.problem
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            }),
            #[cfg(not(all(feature = "rate-limit", feature = "redis")))]
            shared_rate_limit_problem: None,
        }
    }

    /// Checks a token against the replica's key set.
    ///
    /// # Errors
    ///
    /// As [`KeyStore::verify`], and [`ValidationError::unavailable`] while
    /// the replica cannot prove its key set fresh (the outage policy) or has
    /// not loaded it yet.
    pub fn verify(&self, token: &str) -> Result<ApiKey, ValidationError> {
        match self.inner.freshness.state() {
            ReplicaState::Fresh | ReplicaState::ServingStale => self.inner.local.verify(token),
            state @ (ReplicaState::Loading | ReplicaState::Unavailable) => {
                Err(ValidationError::unavailable(NotFresh(state.as_str())))
            }
        }
    }

    /// The key with this id in the replica's key set, active or revoked.
    #[must_use]
    pub fn entry(&self, id: &str) -> Option<KeyEntry> {
        self.inner.local.entry(id)
    }

    /// Every key in the replica's key set, active and revoked.
    #[must_use]
    pub fn entries(&self) -> Vec<KeyEntry> {
        self.inner.local.entries()
    }

    /// The usage counts of key `id` this replica did not flush yet.
    #[cfg(feature = "admin")]
    pub(crate) fn unflushed_usage(
        &self,
        id: &str,
    ) -> Vec<(u32, crate::key_store::usage::DayCounts)> {
        let mut counts = Vec::new();
        self.inner.local.usage_of(id, |usage| counts = usage.peek());
        counts
    }

    /// The owner credits the record of the active key `id` carries, as
    /// written, if it carries any.
    #[cfg(feature = "admin")]
    pub(crate) fn owner_credits_given(&self, id: &str) -> Option<crate::key_policy::Credits> {
        let key = self.inner.local.get(id)?;
        let owner = crate::Principal::key_policies(&key)?.owner()?;
        Some(owner.credits.as_ref()?.given())
    }

    /// The owner credits of the active key `id` as this replica counts
    /// them, if it carries its owner's credits.
    #[cfg(feature = "admin")]
    pub(crate) fn owner_credits_now(&self, id: &str) -> Option<crate::key_policy::Credits> {
        let key = self.inner.local.get(id)?;
        crate::Principal::key_policies(&key)?.owner_credits_now()
    }

    /// The key whose token has `digest` in this replica's key set.
    #[cfg(feature = "admin")]
    pub(crate) fn entry_by_digest(
        &self,
        digest: &crate::key_store::TokenDigest,
    ) -> Option<KeyEntry> {
        self.inner.local.entry_by_digest(digest)
    }

    /// The credits the record of the active key `id` gives, as written
    /// (not as this replica spent them), if it has credits.
    #[cfg(feature = "admin")]
    pub(crate) fn credits_given(&self, id: &str) -> Option<crate::key_policy::Credits> {
        let key = self.inner.local.get(id)?;
        Some(crate::Principal::key_policies(&key)?.own_account()?.given())
    }
}

impl TokenValidator for SharedKeyStore {
    type Principal = ApiKey;
    type Future = Ready<Result<ApiKey, ValidationError>>;

    fn validate(&self, token: &str, _request: &Parts) -> Self::Future {
        ready(self.verify(token))
    }
}

impl fmt::Debug for SharedKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKeyStore")
            .field("source", &self.inner.name)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// A replica's state, for health checks and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncStatus {
    /// What the replica does with a token now.
    pub state: ReplicaState,
    /// The version of the last write applied.
    pub applied_version: u64,
    /// How long ago freshness was last proven, if ever.
    pub last_proof_age: Option<Duration>,
    /// The last problem the sync task met, until it is solved.
    pub last_error: Option<String>,
    /// The keys the replica holds.
    pub counts: KeyCounts,
    /// The source's version while it is behind this replica (it then
    /// proves nothing: 503 after `max_staleness`).
    pub source_behind: Option<SourceBehind>,
    /// How many revoked or deleted digests the replica remembers, so that
    /// no source brings them back (at most 1,048,576).
    pub tombstones: usize,
    /// How many full loads were put in force (the first, periodic ones,
    /// `resync`, gaps).
    pub full_loads: u64,
    /// How long the last full load took, from its first read to the swap.
    pub last_load_took: Option<Duration>,
    /// Why a rate limiter sharing this store's Redis counts per replica
    /// (Redis refused its script: an ACL without the commands it needs),
    /// until it is solved; `None` without such a limiter.
    pub shared_rate_limit_problem: Option<String>,
}

/// The source of the 503 a replica answers while it cannot prove that its
/// key set is fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NotFresh(&'static str);

impl fmt::Display for NotFresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the shared key store is not fresh ({})", self.0)
    }
}

impl std::error::Error for NotFresh {}
