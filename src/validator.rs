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
/// allocation and no boxing; an asynchronous one (a database, an
/// introspection endpoint) returns its own future. The layer keeps its
/// readiness promise either way: the inner service that was polled ready is
/// the one that is called.
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
    type Future: Future<Output = Result<Self::Principal, ValidationError>>;

    /// Validates `token`, which has already been checked against the
    /// b64token grammar and the maximum length.
    fn validate(&self, token: &str, request: &Parts) -> Self::Future;
}

impl<F, Fut, P> TokenValidator for F
where
    F: Fn(&str, &Parts) -> Fut,
    Fut: Future<Output = Result<P, ValidationError>>,
    P: Principal,
{
    type Principal = P;
    type Future = Fut;

    fn validate(&self, token: &str, request: &Parts) -> Self::Future {
        self(token, request)
    }
}
