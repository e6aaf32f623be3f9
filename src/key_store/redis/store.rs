//! A replica of a key set kept in Redis: the validator requests use.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::request::Parts;
use tokio::sync::watch;

use super::error::{NotFresh, SyncError};
use super::freshness::{Freshness, OutagePolicy, State, start_watchdog};
use super::layout::{Layout, is_valid_namespace};
use super::sync;
use crate::key_store::{ApiKey, KeyCounts, KeyEntry, KeyStore};
use crate::validator::{TokenValidator, ValidationError};

/// A replica of a key set kept in Redis, shared by every replica of a
/// service: a key created or revoked anywhere takes effect everywhere,
/// within about a millisecond on one network (measured in BENCHMARKS.md).
///
/// Each replica holds the whole key set in an in-memory [`KeyStore`], so a
/// validation never touches the network and costs what the in-memory store
/// costs; unknown tokens never reach Redis. A background task follows the
/// store's change log (a Redis Stream) with a blocking read, which doubles
/// as a heartbeat: every answer, even an empty one, proves that the replica
/// holds every write committed before the read was sent.
///
/// A replica that has not proven freshness for `max_staleness` (default
/// 5 s) answers 503 to every token ([`OutagePolicy::FailClosed`]), so a key
/// revoked during an outage is never accepted; serving stale answers is an
/// explicit, bounded opt-in ([`OutagePolicy::ServeStale`]). Before the
/// first load, and while Redis holds no initialised store (never written,
/// or its data lost), every token gets 503, never 401.
///
/// The replica never writes: keys are created, revoked and removed through
/// [`RedisKeyAdmin`](super::RedisKeyAdmin). The sync task and its watchdog
/// thread end when the last clone of the store is dropped.
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
    inner: Arc<Inner>,
}

/// What the store handle and its sync task share.
pub(super) struct Inner {
    // The two fields the request path reads, side by side.
    pub(super) freshness: Freshness,
    pub(super) local: KeyStore,
    /// The version of the last write applied to `local`.
    pub(super) applied: watch::Sender<u64>,
    pub(super) resync_requested: AtomicBool,
    /// Asks the sync thread to write last uses to Redis now.
    pub(super) flush_requested: AtomicBool,
    /// How many flushes of last uses succeeded.
    pub(super) flushes: watch::Sender<u64>,
    pub(super) last_error: Mutex<Option<String>>,
    pub(super) layout: Layout,
    namespace: String,
    /// For others that talk to the same Redis (the rate limiter).
    #[cfg(feature = "rate-limit")]
    client: redis::Client,
}

impl Inner {
    pub(super) fn set_error(&self, problem: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = problem;
    }
}

/// Configures and starts a [`SharedKeyStore`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SharedKeyStoreBuilder {
    url: String,
    namespace: String,
    max_staleness: Duration,
    policy: OutagePolicy,
    resync_every: Duration,
    require_checksum: bool,
}

impl SharedKeyStoreBuilder {
    /// The namespace of the key set in Redis (default `default`): replicas
    /// and admins of one service share it; other services use their own.
    pub fn namespace(mut self, namespace: &str) -> Self {
        namespace.clone_into(&mut self.namespace);
        self
    }

    /// How long a replica may go without proving that its key set is fresh
    /// before the outage policy applies (default 5 s). Also the hard bound
    /// on accepting a key revoked while this replica was cut off.
    pub fn max_staleness(mut self, max_staleness: Duration) -> Self {
        self.max_staleness = max_staleness;
        self
    }

    /// What to do past `max_staleness` (default: [`OutagePolicy::FailClosed`]).
    pub fn outage_policy(mut self, policy: OutagePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How often the replica reloads the whole key set, to catch writes
    /// that bypassed the change log (default 10 minutes, with jitter).
    pub fn resync_every(mut self, every: Duration) -> Self {
        self.resync_every = every;
        self
    }

    /// Refuse tokens without a valid checksum before any lookup, as
    /// [`KeyStoreBuilder::require_checksum`](crate::key_store::KeyStoreBuilder::require_checksum).
    pub fn require_checksum(mut self, require: bool) -> Self {
        self.require_checksum = require;
        self
    }

    /// Starts the replica: it answers 503 until its first load, which
    /// happens in the background (see [`SharedKeyStore::ready`]).
    ///
    /// The sync task runs on a thread of its own (with a single-threaded
    /// Tokio runtime), and a watchdog on another: following Redis never
    /// competes with request handling, and a saturated server cannot delay
    /// the proofs of freshness into a false 503.
    ///
    /// # Errors
    ///
    /// [`SyncError`] for an invalid URL or namespace, or if the threads
    /// cannot be started.
    pub fn start(self) -> Result<SharedKeyStore, SyncError> {
        if !is_valid_namespace(&self.namespace) {
            return Err(SyncError::InvalidNamespace {
                namespace: self.namespace,
            });
        }
        let client = redis::Client::open(self.url.as_str()).map_err(|e| SyncError::InvalidUrl {
            problem: e.to_string(),
        })?;
        let inner = Arc::new(Inner {
            local: KeyStore::builder()
                .require_checksum(self.require_checksum)
                .build(),
            freshness: Freshness::new(self.max_staleness, self.policy),
            applied: watch::Sender::new(0),
            resync_requested: AtomicBool::new(false),
            flush_requested: AtomicBool::new(false),
            flushes: watch::Sender::new(0),
            last_error: Mutex::new(None),
            layout: Layout::new(&self.namespace),
            namespace: self.namespace,
            #[cfg(feature = "rate-limit")]
            client: client.clone(),
        });
        let thread = |what: &str, e: std::io::Error| SyncError::Thread {
            problem: format!("cannot start the {what} thread: {e}"),
        };
        start_watchdog(&inner, |inner| &inner.freshness, &inner.namespace)
            .map_err(|e| thread("watchdog", e))?;
        let settings = sync::Settings {
            block: (self.max_staleness / 4)
                .clamp(Duration::from_millis(10), Duration::from_secs(1)),
            resync_every: self.resync_every,
        };
        sync::start(Arc::downgrade(&inner), client, settings, &inner.namespace)
            .map_err(|e| thread("sync", e))?;
        Ok(SharedKeyStore { inner })
    }
}

impl SharedKeyStore {
    /// Starts configuring a replica of the key set at `redis_url`
    /// (`redis://host:port/db`, `rediss://...` not included,
    /// `redis+unix:///path/to/socket`).
    pub fn builder(redis_url: &str) -> SharedKeyStoreBuilder {
        SharedKeyStoreBuilder {
            url: redis_url.to_owned(),
            namespace: "default".to_owned(),
            max_staleness: Duration::from_secs(5),
            policy: OutagePolicy::FailClosed,
            resync_every: Duration::from_secs(600),
            require_checksum: false,
        }
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
            if self.inner.freshness.state() == State::Fresh {
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
    /// `version` (what [`RedisKeyAdmin`](super::RedisKeyAdmin) returns), at
    /// most `within`: read-your-writes for the replica that served an admin
    /// call. Whether it did.
    pub async fn wait_for_version(&self, version: u64, within: Duration) -> bool {
        let mut applied = self.inner.applied.subscribe();
        tokio::time::timeout(within, applied.wait_for(|&applied| applied >= version))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// Asks for a full resynchronization (the demo server does on
    /// SIGHUP); it happens within about a second.
    pub fn resync(&self) {
        self.inner.resync_requested.store(true, Ordering::Release);
    }

    /// The Redis client and the hash tag of this key set (`{tba:<ns>}`),
    /// for others that keep state next to it (the rate limiter).
    #[cfg(feature = "rate-limit")]
    pub(crate) fn redis_home(&self) -> (redis::Client, String) {
        (
            self.inner.client.clone(),
            format!("{{tba:{}}}", self.inner.namespace),
        )
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

    /// `loading`, `fresh`, `serving stale` or `unavailable`: what the
    /// replica does with a token now (one atomic load; cheap enough for a
    /// health check on every request).
    #[must_use]
    pub fn state(&self) -> &'static str {
        self.inner.freshness.state().as_str()
    }

    /// The version of the last write the replica applied.
    #[must_use]
    pub fn version(&self) -> u64 {
        *self.inner.applied.borrow()
    }

    /// The replica's state in detail, for health checks and metrics.
    #[must_use]
    pub fn status(&self) -> SyncStatus {
        SyncStatus {
            state: self.inner.freshness.state().as_str(),
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
            State::Fresh | State::ServingStale => self.inner.local.verify(token),
            state @ (State::Loading | State::Unavailable) => {
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
            .field("namespace", &self.inner.namespace)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// A replica's state, for health checks and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncStatus {
    /// `loading`, `fresh`, `serving stale` or `unavailable`.
    pub state: &'static str,
    /// The version of the last write applied.
    pub applied_version: u64,
    /// How long ago freshness was last proven, if ever.
    pub last_proof_age: Option<Duration>,
    /// The last problem the sync task met, until it is solved.
    pub last_error: Option<String>,
    /// The keys the replica holds.
    pub counts: KeyCounts,
}
