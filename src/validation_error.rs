//! How a validator says no.

use std::error::Error;
use std::fmt;

/// The error type that validator backends may return.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Why a [`TokenValidator`](crate::TokenValidator) did not accept a token.
///
/// Each failure maps onto one rejection: [`invalid`](Self::invalid) and
/// [`malformed`](Self::malformed) onto 401 `invalid_token`,
/// [`expired`](Self::expired) onto 401 `invalid_token` saying it expired, and
/// [`unavailable`](Self::unavailable) onto 503: a backend failure never lets
/// a request through. The source error of an unavailable backend is logged
/// (with the `tracing` feature), never sent to the client.
///
/// ```
/// use tower_bearer_auth::{ValidationError, ValidationFailure};
///
/// let error = ValidationError::unavailable(std::io::Error::other("db down"));
/// assert_eq!(error.failure(), ValidationFailure::Unavailable);
/// ```
pub struct ValidationError {
    failure: ValidationFailure,
    source: Option<BoxError>,
}

/// The kind of a [`ValidationError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValidationFailure {
    /// The token is not (or no longer) valid: unknown or revoked.
    Invalid,
    /// The token is well-formed for HTTP but not for this validator (a bad
    /// checksum, a wrong prefix), detected without a lookup.
    Malformed,
    /// The token was valid and has expired.
    Expired,
    /// The validator could not decide: its backend failed.
    Unavailable,
    /// The validator did not decide in time.
    TimedOut,
}

impl ValidationError {
    /// The token is unknown or revoked. Use this for both, so that callers
    /// cannot tell a revoked key from one that never existed.
    #[must_use]
    pub const fn invalid() -> Self {
        Self::of(ValidationFailure::Invalid)
    }

    /// The token fails a format check of the validator's own.
    #[must_use]
    pub const fn malformed() -> Self {
        Self::of(ValidationFailure::Malformed)
    }

    /// The token has expired.
    #[must_use]
    pub const fn expired() -> Self {
        Self::of(ValidationFailure::Expired)
    }

    /// The validator's backend failed; the request is refused with 503.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self {
            failure: ValidationFailure::Unavailable,
            source: Some(source.into()),
        }
    }

    /// The validator did not answer in time; the request is refused with 503.
    #[must_use]
    pub const fn timed_out() -> Self {
        Self::of(ValidationFailure::TimedOut)
    }

    const fn of(failure: ValidationFailure) -> Self {
        Self {
            failure,
            source: None,
        }
    }

    /// What kind of failure this is.
    #[must_use]
    pub const fn failure(&self) -> ValidationFailure {
        self.failure
    }
}

impl fmt::Debug for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidationError")
            .field("failure", &self.failure)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.failure {
            ValidationFailure::Invalid => "token is invalid or revoked",
            ValidationFailure::Malformed => "token is malformed",
            ValidationFailure::Expired => "token has expired",
            ValidationFailure::Unavailable => "token validator is unavailable",
            ValidationFailure::TimedOut => "token validator timed out",
        })
    }
}

impl Error for ValidationError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}
