//! Configuring and starting a replica of a key set kept in Redis.

use std::time::Duration;

use super::sync;
use crate::key_store::replica::{OutagePolicy, ReplicaOptions, SharedKeyStore, SyncError};

/// Configures and starts a [`SharedKeyStore`] that follows a key set kept
/// in Redis.
#[derive(Debug, Clone)]
#[must_use]
pub struct SharedKeyStoreBuilder {
    url: String,
    options: ReplicaOptions,
    #[cfg(feature = "redis-tls")]
    tls: Option<super::RedisTls>,
}

impl SharedKeyStore {
    /// Starts configuring a replica of the key set at `redis_url`
    /// (`redis://host:port/db`, `redis+unix:///path/to/socket`;
    /// `rediss://` not included).
    pub fn builder(redis_url: &str) -> SharedKeyStoreBuilder {
        SharedKeyStoreBuilder {
            url: redis_url.to_owned(),
            options: ReplicaOptions::default(),
            #[cfg(feature = "redis-tls")]
            tls: None,
        }
    }
}

impl SharedKeyStoreBuilder {
    /// The namespace of the key set in Redis (default `default`): replicas
    /// and admins of one service share it; other services use their own.
    pub fn namespace(mut self, namespace: &str) -> Self {
        namespace.clone_into(&mut self.options.namespace);
        self
    }

    /// How long a replica may go without proving that its key set is fresh
    /// before the outage policy applies (default 5 s). Also the hard bound
    /// on accepting a key revoked while this replica was cut off.
    pub fn max_staleness(mut self, max_staleness: Duration) -> Self {
        self.options.max_staleness = max_staleness;
        self
    }

    /// What to do past `max_staleness` (default: [`OutagePolicy::FailClosed`]).
    pub fn outage_policy(mut self, policy: OutagePolicy) -> Self {
        self.options.policy = policy;
        self
    }

    /// How often the replica loads the whole key set again, to catch
    /// writes that bypassed the change log (default 10 minutes, with
    /// jitter). The copy in force keeps answering, fresh, meanwhile.
    pub fn resync_every(mut self, every: Duration) -> Self {
        self.options.resync_every = every;
        self
    }

    /// Refuse tokens without a valid checksum before any lookup, as
    /// [`KeyStoreBuilder::require_checksum`](crate::key_store::KeyStoreBuilder::require_checksum).
    pub fn require_checksum(mut self, require: bool) -> Self {
        self.options.require_checksum = require;
        self
    }

    /// TLS for a `rediss://` URL: a CA of its own, a client certificate
    /// (feature `redis-tls`). Without it, `rediss://` trusts the system's
    /// roots.
    #[cfg(feature = "redis-tls")]
    pub fn tls(mut self, tls: super::RedisTls) -> Self {
        self.tls = Some(tls);
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
        self.options.check()?;
        #[cfg(feature = "redis-tls")]
        let source = super::source::Source::open(&self.url, self.tls.as_ref());
        #[cfg(not(feature = "redis-tls"))]
        let source = super::source::Source::open(&self.url, None);
        let source = source.map_err(|problem| SyncError::InvalidUrl { problem })?;
        let namespace = &self.options.namespace;
        let mut settings = self.options.replica_settings();
        // Where shared rate limits and credits keep their state.
        settings.redis_home = Some((source.clone(), format!("{{tba:{namespace}}}")));
        let store = SharedKeyStore::new(settings)?;
        sync::start(&store, source, self.options.follow_settings(), namespace).map_err(|e| {
            SyncError::Thread {
                problem: format!("cannot start the sync thread: {e}"),
            }
        })?;
        Ok(store)
    }
}
