//! Why a change to a key set was refused.

use std::fmt;

use crate::key_store::KeyStoreError;

/// Why a change to a key set was refused. A refused change changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminError {
    /// The key set's backend could not be reached or written (Redis down,
    /// the keys file not writable), or cannot prove its copy fresh.
    Unavailable {
        /// What went wrong (never a token; no backend holds one).
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
    /// A cursor of the audit log that is not one of its event ids.
    InvalidCursor {
        /// The cursor given.
        cursor: String,
    },
    /// A stored record could not be read (edited by hand?).
    Corrupt {
        /// The id or digest of the record, and the problem.
        problem: String,
    },
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable { problem } => write!(f, "the key set is unavailable: {problem}"),
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
            Self::InvalidCursor { cursor } => {
                write!(
                    f,
                    "`cursor` \"{cursor}\" is not an event id of this audit log"
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
