//! Configuring and starting a replica of a key set kept in Postgres.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::connection::Target;
use super::feed::PostgresConnect;
use crate::key_store::replica::task;
use crate::key_store::replica::{OutagePolicy, ReplicaOptions, SharedKeyStore, SyncError};

/// Configures and starts a [`SharedKeyStore`] that follows a key set kept
/// in Postgres.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_bearer_auth::key_store::postgres::PostgresStoreBuilder;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStoreBuilder::new("postgres://tba@db.internal/keys")
///     .namespace("billing-api")
///     .max_staleness(Duration::from_secs(5))
///     .start()?;
/// store.ready(Duration::from_secs(10)).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct PostgresStoreBuilder {
    target: Result<Target, String>,
    options: ReplicaOptions,
}

impl PostgresStoreBuilder {
    /// Starts configuring a replica of the key set at `postgres_url`
    /// (`postgres://user:pass@host:port/db`, a key-value string, or a unix
    /// socket's directory as the host: `postgres://user@%2Frun%2Fpostgresql/db`).
    pub fn new(postgres_url: &str) -> Self {
        Self {
            target: Target::parse(postgres_url),
            options: ReplicaOptions::default(),
        }
    }

    /// The namespace of the key set (default `default`): replicas and
    /// writers of one service share it; other services use their own.
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

    /// Starts the replica: it answers 503 until its first load, which
    /// happens in the background (see [`SharedKeyStore::ready`]). The sync
    /// task runs on a thread of its own with a connection of its own
    /// (`LISTEN` for writes; a heartbeat statement at least every quarter
    /// of `max_staleness`), and a watchdog on another.
    ///
    /// # Errors
    ///
    /// [`SyncError`] for an invalid URL or namespace, or if the threads
    /// cannot be started.
    pub fn start(self) -> Result<SharedKeyStore, SyncError> {
        self.options.check()?;
        let target = self
            .target
            .map_err(|problem| SyncError::InvalidUrl { problem })?;
        let store = SharedKeyStore::new(self.options.replica_settings())?;
        let settings = self.options.follow_settings();
        let connector = PostgresConnect {
            target,
            namespace: self.options.namespace.clone(),
            heartbeat: settings.heartbeat,
            flushed: HashMap::new(),
            next_flush: Instant::now() + Duration::from_secs(60),
        };
        task::start(&store, connector, settings, &self.options.namespace).map_err(|e| {
            SyncError::Thread {
                problem: format!("cannot start the sync thread: {e}"),
            }
        })?;
        Ok(store)
    }
}
