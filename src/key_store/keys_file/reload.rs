//! What reloading a keys file into a running store did, in detail for the
//! operator's log and in summary for a public health check.

use std::time::SystemTime;

use serde::{Serialize, Serializer};

use super::KeysFileError;
use crate::key_store::{KeyCounts, rfc3339};

/// What [`KeyStore::reload_keys_file`](crate::KeyStore::reload_keys_file)
/// put in force: the keys it holds now, and the entries it refused (each
/// one's key now fails like a revoked one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reload {
    /// How many keys the store holds after the reload.
    pub counts: KeyCounts,
    /// One error per refused entry, naming its index, id and field.
    pub refused: Vec<KeysFileError>,
}

impl Reload {
    /// `Ok` when every entry is in force, `Partial` when some were refused.
    #[must_use]
    pub fn outcome(&self) -> ReloadOutcome {
        if self.refused.is_empty() {
            ReloadOutcome::Ok
        } else {
            ReloadOutcome::Partial
        }
    }
}

/// How a reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// Every entry is in force.
    Ok,
    /// The file was read; some entries were refused, and their keys fail.
    Partial,
    /// The file could not be read as a keys file (missing, unreadable, not
    /// JSON, not `{"keys": [...]}`, too slow): nothing changed.
    Failed,
}

/// The state of a store's last reload, safe to publish on a public health
/// check: a time and an outcome, never a key id, a path or a problem.
/// Serializes as `{"reloaded_at": "<RFC 3339>" | null, "outcome": "ok" |
/// "partial" | "failed"}`.
///
/// ```
/// use std::time::SystemTime;
/// use tower_bearer_auth::key_store::{keys_file::ReloadOutcome, keys_file::ReloadStatus};
///
/// let status = ReloadStatus::startup();
/// assert_eq!(serde_json::to_string(&status)?, r#"{"reloaded_at":null,"outcome":"ok"}"#);
/// let failed = ReloadStatus::reloaded(SystemTime::UNIX_EPOCH, ReloadOutcome::Failed);
/// assert!(failed.is_degraded());
/// assert_eq!(
///     serde_json::to_string(&failed)?,
///     r#"{"reloaded_at":"1970-01-01T00:00:00Z","outcome":"failed"}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReloadStatus {
    #[serde(serialize_with = "as_rfc3339")]
    reloaded_at: Option<SystemTime>,
    outcome: ReloadOutcome,
}

impl ReloadStatus {
    /// The keys loaded at startup (strictly, so in full), no reload since.
    #[must_use]
    pub const fn startup() -> Self {
        Self {
            reloaded_at: None,
            outcome: ReloadOutcome::Ok,
        }
    }

    /// A reload that ended `at` with `outcome`.
    #[must_use]
    pub const fn reloaded(at: SystemTime, outcome: ReloadOutcome) -> Self {
        Self {
            reloaded_at: Some(at),
            outcome,
        }
    }

    /// When the last reload ended, if there was one.
    #[must_use]
    pub const fn reloaded_at(&self) -> Option<SystemTime> {
        self.reloaded_at
    }

    /// How the last reload ended (`Ok` before any).
    #[must_use]
    pub const fn outcome(&self) -> ReloadOutcome {
        self.outcome
    }

    /// Whether the keys in force differ from what the file says: the last
    /// reload refused entries or failed.
    #[must_use]
    pub const fn is_degraded(&self) -> bool {
        !matches!(self.outcome, ReloadOutcome::Ok)
    }
}

fn as_rfc3339<S: Serializer>(time: &Option<SystemTime>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.serialize_str(&rfc3339::format(*time)),
        None => serializer.serialize_none(),
    }
}
