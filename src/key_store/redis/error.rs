//! Errors of the shared store: starting it, waiting for it, writing to it.

use std::fmt;

use crate::key_store::KeyStoreError;

/// Why a shared store could not start or become ready.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncError {
    /// The Redis URL is not valid.
    InvalidUrl {
        /// What the client said about it (the URL's password is never part
        /// of it).
        problem: String,
    },
    /// A namespace must be 1 to 64 characters from `A-Z a-z 0-9 _ - .`.
    InvalidNamespace {
        /// The namespace given.
        namespace: String,
    },
    /// The replica's threads could not be started.
    Thread {
        /// What the operating system said.
        problem: String,
    },
    /// The first load did not finish in time (Redis unreachable, or not
    /// initialised yet).
    NotReady {
        /// The last problem the sync task met, if any.
        last_error: Option<String>,
    },
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { problem } => write!(f, "invalid Redis URL: {problem}"),
            Self::InvalidNamespace { namespace } => write!(
                f,
                "namespace {namespace:?} must be 1 to 64 characters from A-Z a-z 0-9 _ - ."
            ),
            Self::Thread { problem } => f.write_str(problem),
            Self::NotReady { last_error: None } => {
                f.write_str("the shared key store has not loaded its keys yet")
            }
            Self::NotReady {
                last_error: Some(error),
            } => write!(
                f,
                "the shared key store has not loaded its keys yet: {error}"
            ),
        }
    }
}

impl std::error::Error for SyncError {}

/// Why a write through [`RedisKeyAdmin`](super::RedisKeyAdmin) was refused.
/// A refused write changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminError {
    /// Redis could not be reached, or failed the command.
    Redis {
        /// What went wrong (never a token; Redis holds none).
        problem: String,
    },
    /// The entry itself is invalid (id, label).
    Invalid(KeyStoreError),
    /// A key with this id exists already.
    DuplicateId {
        /// The id.
        id: String,
    },
    /// Another key has this token's digest.
    DuplicateDigest {
        /// The id of the key being written.
        id: String,
    },
    /// No key with this id.
    UnknownId {
        /// The id asked for.
        id: String,
    },
    /// The key kept changing under concurrent writes; try again.
    Conflict {
        /// The id of the key.
        id: String,
    },
    /// A stored record could not be read (edited by hand?).
    Corrupt {
        /// The id or digest of the record, and the problem.
        problem: String,
    },
}

impl AdminError {
    pub(super) fn redis(error: &redis::RedisError) -> Self {
        Self::Redis {
            problem: error.to_string(),
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redis { problem } => write!(f, "Redis: {problem}"),
            Self::Invalid(error) => error.fmt(f),
            Self::DuplicateId { id } => write!(f, "a key with id \"{id}\" exists already"),
            Self::DuplicateDigest { id } => {
                write!(f, "key \"{id}\": another key has the same hash")
            }
            Self::UnknownId { id } => write!(f, "no key with id \"{id}\""),
            Self::Conflict { id } => {
                write!(
                    f,
                    "key \"{id}\" kept changing under concurrent writes; try again"
                )
            }
            Self::Corrupt { problem } => write!(f, "a stored key record is unreadable: {problem}"),
        }
    }
}

impl std::error::Error for AdminError {}

impl From<KeyStoreError> for AdminError {
    fn from(error: KeyStoreError) -> Self {
        Self::Invalid(error)
    }
}

/// The source of the 503 a replica answers while it cannot prove that its
/// key set is fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NotFresh(pub(super) &'static str);

impl fmt::Display for NotFresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the shared key store is not fresh ({})", self.0)
    }
}

impl std::error::Error for NotFresh {}
