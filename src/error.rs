//! Errors in the layer's configuration.

use std::fmt;

use http::Method;

use crate::scope::InvalidScope;

/// A configuration that cannot work. Returned when the configuration is
/// built, never at request time; each variant carries the offending value.
///
/// ```
/// use tower_bearer_auth::{BearerAuthLayer, ConfigError, KeyStore};
///
/// let error = BearerAuthLayer::builder(KeyStore::new())
///     .accept_cookie("no spaces allowed")
///     .build()
///     .unwrap_err();
/// assert!(matches!(error, ConfigError::InvalidCookieName { ref name } if name == "no spaces allowed"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The realm is not printable ASCII.
    InvalidRealm {
        /// The realm given.
        realm: String,
    },
    /// `max_token_len` was 0.
    ZeroMaxTokenLen,
    /// Not a valid HTTP header name.
    InvalidHeaderName {
        /// The name given.
        name: String,
    },
    /// `Authorization` and `Cookie` are read by their own sources and cannot
    /// be custom token headers.
    ReservedHeaderName {
        /// The name given.
        name: String,
    },
    /// Not a valid cookie name (RFC 6265: an RFC 9110 token).
    InvalidCookieName {
        /// The name given.
        name: String,
    },
    /// The same token source was configured twice.
    DuplicateTokenSource {
        /// The source, e.g. `header x-api-key`.
        source: String,
    },
    /// A scope that RFC 6749 §3.3 does not allow.
    InvalidScope(InvalidScope),
    /// `ScopeRequirement::any` of no scopes: nobody could ever pass.
    EmptyAnyRequirement,
    /// A scope table path that does not start with `/`, or a `*` that is not
    /// after a final `/`.
    InvalidPath {
        /// The path or pattern given.
        path: String,
    },
    /// A scope table entry listed twice.
    DuplicateRoute {
        /// The path or pattern.
        path: String,
        /// The method, or `None` for the any-method entry.
        method: Option<Method>,
    },
    /// A gRPC service or method name that is empty or contains `/`.
    InvalidGrpcMethod {
        /// The service name given.
        service: String,
        /// The method name given.
        method: String,
    },
    /// A key prefix that is not 1 to 16 ASCII letters or digits.
    InvalidKeyPrefix {
        /// The prefix given.
        prefix: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRealm { realm } => {
                write!(f, "realm {realm:?} must be printable ASCII")
            }
            Self::ZeroMaxTokenLen => f.write_str("max_token_len must be at least 1"),
            Self::InvalidHeaderName { name } => write!(f, "invalid header name {name:?}"),
            Self::ReservedHeaderName { name } => {
                write!(f, "{name} cannot be a custom token header")
            }
            Self::InvalidCookieName { name } => write!(f, "invalid cookie name {name:?}"),
            Self::DuplicateTokenSource { source } => {
                write!(f, "token source {source} is configured twice")
            }
            Self::InvalidScope(error) => error.fmt(f),
            Self::EmptyAnyRequirement => {
                f.write_str("ScopeRequirement::any needs at least one scope")
            }
            Self::InvalidPath { path } => write!(
                f,
                "scope table path {path:?} must start with '/', and '*' may only follow a final '/'"
            ),
            Self::DuplicateRoute { path, method } => match method {
                Some(method) => write!(f, "scope table lists {method} {path:?} twice"),
                None => write!(f, "scope table lists {path:?} twice"),
            },
            Self::InvalidGrpcMethod { service, method } => {
                write!(f, "invalid gRPC method name {service:?}/{method:?}")
            }
            Self::InvalidKeyPrefix { prefix } => write!(
                f,
                "key prefix {prefix:?} must be 1 to 16 ASCII letters or digits"
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidScope(error) => Some(error),
            _ => None,
        }
    }
}

impl From<InvalidScope> for ConfigError {
    fn from(error: InvalidScope) -> Self {
        Self::InvalidScope(error)
    }
}
