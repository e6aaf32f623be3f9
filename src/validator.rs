//! The hook that decides whether a token is valid.

use std::future::Future;

use http::request::Parts;

use crate::principal::Principal;
use crate::validation_error::ValidationError;

/// Decides whether a bearer token is valid, and who it belongs to.
///
/// The layer calls [`validate`](Self::validate) once per request that
/// carries exactly one well-formed token, with read access to the request
/// parts (method, URI, headers, extensions). The returned future must not
/// borrow the token or the parts: copy what it needs.
///
/// A synchronous validator returns [`std::future::Ready`], which costs no
/// allocation and no boxing. The layer polls the future once inside `call`:
/// when it is ready, the request is decided on the spot and the inner
/// service called directly, with no clone of it and no state kept (in an
/// axum server this saves about a microsecond per request, measured in
/// BENCHMARKS.md). The future must therefore be `Unpin`: an asynchronous
/// validator (a database, an introspection endpoint) returns
/// `Pin<Box<dyn Future<...> + Send>>`, one allocation next to its I/O. The
/// layer keeps its readiness promise either way: the inner service that was
/// polled ready is the one that is called.
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

    /// The answer, possibly later. `Unpin`, so that the layer can poll it
    /// once in `call` and decide synchronous validations on the spot:
    /// `std::future::Ready` is, and an `async` block becomes one with
    /// `Box::pin` (one allocation, next to the I/O it waits for).
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
