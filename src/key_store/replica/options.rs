//! What every backend's replica builder sets the same way: the namespace,
//! the staleness bound and its policy, the full-load period, checksums.

use std::time::Duration;

use super::{FollowSettings, OutagePolicy, ReplicaSettings, SyncError};

/// The options a replica builder holds, whatever its backend.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaOptions {
    pub(crate) namespace: String,
    pub(crate) max_staleness: Duration,
    pub(crate) policy: OutagePolicy,
    pub(crate) resync_every: Duration,
    pub(crate) require_checksum: bool,
}

impl Default for ReplicaOptions {
    fn default() -> Self {
        Self {
            namespace: "default".to_owned(),
            max_staleness: Duration::from_secs(5),
            policy: OutagePolicy::FailClosed,
            resync_every: Duration::from_secs(600),
            require_checksum: false,
        }
    }
}

impl ReplicaOptions {
    /// Refuses an invalid namespace.
    pub(crate) fn check(&self) -> Result<(), SyncError> {
        if is_valid_namespace(&self.namespace) {
            Ok(())
        } else {
            Err(SyncError::InvalidNamespace {
                namespace: self.namespace.clone(),
            })
        }
    }

    /// The replica's settings (no Redis-shared rate limit).
    pub(crate) fn replica_settings(&self) -> ReplicaSettings {
        ReplicaSettings {
            name: self.namespace.clone(),
            max_staleness: self.max_staleness,
            policy: self.policy,
            require_checksum: self.require_checksum,
            #[cfg(feature = "redis")]
            redis_home: None,
        }
    }

    /// How the follower runs: a heartbeat of a quarter of the staleness
    /// bound (10 ms to 1 s).
    pub(crate) fn follow_settings(&self) -> FollowSettings {
        FollowSettings {
            heartbeat: (self.max_staleness / 4)
                .clamp(Duration::from_millis(10), Duration::from_secs(1)),
            resync_every: self.resync_every,
        }
    }
}

/// A namespace: 1 to 64 characters from `A-Z a-z 0-9 _ - .`.
pub(crate) fn is_valid_namespace(namespace: &str) -> bool {
    (1..=64).contains(&namespace.len())
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}
