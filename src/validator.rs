//! The hook that decides whether a token is valid, and how it says no.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use http::request::Parts;

use crate::principal::Principal;

/// Decides whether a bearer token is valid, and who it belongs to.
///
/// The layer calls [`validate`](Self::validate) once per request that
/// carries exactly one well-formed token, with read access to the request
/// parts (method, URI, headers, extensions). The returned future must not
/// borrow the token or the parts: copy what it needs.
///
/// A synchronous validator returns [`std::future::Ready`]; an asynchronous
/// one (a database, an introspection endpoint) returns a boxed future. Why
/// the future must be `Unpin`, and what the layer does with it, is told at
/// [`TokenValidator::Future`].
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use http::request::Parts;
/// use tower_bearer_auth::{ScopeSet, TokenValidator, ValidationError};
///
/// /// Asks another service whether a token is valid.
/// #[derive(Clone)]
/// struct Introspection;
///
/// impl TokenValidator for Introspection {
///     type Principal = ScopeSet;
///     type Future = Pin<Box<dyn Future<Output = Result<ScopeSet, ValidationError>> + Send>>;
///
///     fn validate(&self, token: &str, _request: &Parts) -> Self::Future {
///         let token = token.to_owned(); // the future may not borrow the token
///         Box::pin(async move {
///             // e.g. an HTTP call; a failure of the backend fails closed:
///             // Err(ValidationError::unavailable(error))
///             if token.starts_with("sk_") {
///                 Ok(ScopeSet::parse("profile:read").expect("valid scope"))
///             } else {
///                 Err(ValidationError::invalid())
///             }
///         })
///     }
/// }
/// ```
///
/// Closures `Fn(&str, &Parts) -> impl Future<Output = Result<P, ValidationError>>`
/// are validators too:
///
/// ```
/// use std::future::{Ready, ready};
/// use http::request::Parts;
/// use tower_bearer_auth::{BearerAuthLayer, ScopeSet, ValidationError};
///
/// let admin_token = "s3cr3t-token";
/// let layer = BearerAuthLayer::new(move |token: &str, _parts: &Parts| {
///     // For real secrets, compare in constant time, as `KeyStore` does.
///     ready(if token == admin_token {
///         Ok(ScopeSet::parse("admin").expect("valid scope"))
///     } else {
///         Err(ValidationError::invalid())
///     })
/// });
/// ```
pub trait TokenValidator {
    /// The authenticated caller, inserted into the request's extensions.
    type Principal: Principal;

    /// The answer, possibly later.
    ///
    /// The layer polls this future once inside `call`. When it is ready at
    /// once (`std::future::Ready`, as the key store returns), the request is
    /// decided on the spot and the inner service that was polled ready is
    /// called directly: no clone of the inner service, no state kept, no
    /// allocation. Otherwise the ready inner service moves into the
    /// response future, which finishes the validation; the readiness
    /// promise holds either way.
    ///
    /// Polling in `call` needs the future to be `Unpin`. `Ready` is; an
    /// `async` block becomes `Unpin` with `Box::pin`, one allocation next to
    /// the I/O it waits for.
    type Future: Future<Output = Result<Self::Principal, ValidationError>> + Unpin;

    /// Validates `token`, which has already been checked against the
    /// b64token grammar and the maximum length.
    fn validate(&self, token: &str, request: &Parts) -> Self::Future;
}

impl<F, Fut, P> TokenValidator for F
where
    F: Fn(&str, &Parts) -> Fut,
    Fut: Future<Output = Result<P, ValidationError>> + Unpin,
    P: Principal,
{
    type Principal = P;
    type Future = Fut;

    fn validate(&self, token: &str, request: &Parts) -> Self::Future {
        self(token, request)
    }
}

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
    retry_after: Option<Duration>,
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
    /// The validator's backend limits this token's rate and said no.
    RateLimited,
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
            retry_after: None,
        }
    }

    /// The validator's backend (a remote key service) refuses this token
    /// for now: 429 with `Retry-After` (whole seconds, rounded up), gRPC 8
    /// `RESOURCE_EXHAUSTED`, as the rate-limit layer answers.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_bearer_auth::{ValidationError, ValidationFailure};
    ///
    /// let error = ValidationError::rate_limited(Duration::from_millis(1_500));
    /// assert_eq!(error.failure(), ValidationFailure::RateLimited);
    /// assert_eq!(error.retry_after(), Some(Duration::from_millis(1_500)));
    /// ```
    #[must_use]
    pub const fn rate_limited(retry_after: Duration) -> Self {
        Self {
            failure: ValidationFailure::RateLimited,
            source: None,
            retry_after: Some(retry_after),
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
            retry_after: None,
        }
    }

    /// What kind of failure this is.
    #[must_use]
    pub const fn failure(&self) -> ValidationFailure {
        self.failure
    }

    /// When a rate-limited token may retry.
    #[must_use]
    pub const fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Debug for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidationError")
            .field("failure", &self.failure)
            .field("source", &self.source)
            .field("retry_after", &self.retry_after)
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
            ValidationFailure::RateLimited => "token is rate limited",
        })
    }
}

impl Error for ValidationError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}
