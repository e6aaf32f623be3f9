//! Errors of the shared store: starting it, and waiting for it.

use std::fmt;

/// Why a shared store could not start or become ready.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncError {
    /// The source's URL is not valid.
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
            Self::InvalidUrl { problem } => write!(f, "invalid URL of the source: {problem}"),
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
