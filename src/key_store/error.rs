//! Errors of key store updates.

use std::fmt;

use super::entry::{HINT_RULE, ID_RULE, LABEL_RULE, METADATA_RULE};
use crate::key_policy::MAX_ALLOWED_IPS;

/// Why a key store update was refused. A refused update changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// An id must be 1 to 128 characters from `A-Z a-z 0-9 _ - . :`, and
    /// not `.` or `..` (also for the ids of a key's rotation lineage).
    InvalidId {
        /// The offending id, escaped.
        id: String,
    },
    /// A label must be 1 to 128 characters, not only spaces, without
    /// control characters.
    InvalidLabel {
        /// The id of the key with the bad label.
        id: String,
    },
    /// A hint must be 1 to 32 characters from `A-Z a-z 0-9 _`.
    InvalidHint {
        /// The id of the key with the bad hint.
        id: String,
    },
    /// An owner must follow the id rule (1 to 128 characters from
    /// `A-Z a-z 0-9 _ - . :`); owner limits need an owner.
    InvalidOwner {
        /// The id of the key with the bad owner.
        id: String,
    },
    /// A key's allowlist holds at most 64 address ranges.
    TooManyAllowedIps {
        /// The id of the key with the long list.
        id: String,
    },
    /// A key's metadata holds at most 16 entries, 1024 bytes in all.
    MetadataTooLarge {
        /// The id of the key with the large metadata.
        id: String,
    },
    /// Two keys with the same id.
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// Two keys with the same token digest.
    DuplicateDigest {
        /// The key being added.
        id: String,
        /// The key that already has this digest.
        existing: String,
    },
    /// No key with this id.
    UnknownId {
        /// The id asked for.
        id: String,
    },
}

impl fmt::Display for KeyStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidId { id } => write!(f, "invalid key id \"{id}\": use {ID_RULE}"),
            Self::InvalidLabel { id } => write!(f, "key \"{id}\": label must be {LABEL_RULE}"),
            Self::InvalidHint { id } => write!(f, "key \"{id}\": hint must be {HINT_RULE}"),
            Self::InvalidOwner { id } => write!(
                f,
                "key \"{id}\": owner must be {ID_RULE} (and owner limits need an owner)"
            ),
            Self::TooManyAllowedIps { id } => write!(
                f,
                "key \"{id}\": allowed_ips holds at most {MAX_ALLOWED_IPS} address ranges"
            ),
            Self::MetadataTooLarge { id } => {
                write!(f, "key \"{id}\": metadata must be {METADATA_RULE}")
            }
            Self::DuplicateId { id } => write!(f, "key id \"{id}\" is used twice"),
            Self::DuplicateDigest { id, existing } => {
                write!(f, "key \"{id}\" has the same hash as key \"{existing}\"")
            }
            Self::UnknownId { id } => write!(f, "no key with id \"{id}\""),
        }
    }
}

impl std::error::Error for KeyStoreError {}
