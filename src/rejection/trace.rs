//! Log events, compiled away without the `tracing` feature. Tokens never
//! reach this module; only the path of the request is logged, never its
//! query string (which may carry `access_token`).

use std::error::Error;

use http::request::Parts;

use super::Rejection;

/// One event per rejection: `debug` for the client's errors, `warn` for the
/// validator's failures (with the source error). A 403 names the principal
/// (`subject`, e.g. the key id) and the scopes it lacks.
#[cfg(feature = "tracing")]
pub(super) fn rejected(
    rejection: &Rejection,
    request: &Parts,
    cause: Option<&(dyn Error + 'static)>,
    subject: Option<&str>,
) {
    let kind = rejection.kind();
    let path = request.uri.path();
    let method = request.method.as_str();
    if kind.is_server_error() {
        match cause.and_then(Error::source) {
            Some(source) => tracing::warn!(
                kind = kind.as_str(),
                method,
                path,
                error = %source,
                "request refused: token validator failed"
            ),
            None => tracing::warn!(
                kind = kind.as_str(),
                method,
                path,
                "request refused: token validator failed"
            ),
        }
    } else if let Some(required) = rejection.required_scopes() {
        tracing::debug!(
            kind = kind.as_str(),
            method,
            path,
            principal = subject.unwrap_or("-"),
            required_scopes = required.as_str(),
            "request refused"
        );
    } else {
        tracing::debug!(kind = kind.as_str(), method, path, "request refused");
    }
}

#[cfg(not(feature = "tracing"))]
pub(super) fn rejected(
    _rejection: &Rejection,
    _request: &Parts,
    _cause: Option<&(dyn Error + 'static)>,
    _subject: Option<&str>,
) {
}

/// A scope check ran without an authenticated principal: the route layer is
/// mounted outside (or without) the authentication layer.
#[cfg(feature = "tracing")]
pub(crate) fn missing_principal(type_name: &'static str) {
    tracing::error!(
        principal = type_name,
        "no authenticated principal in the request: is BearerAuthLayer applied outside this route?"
    );
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn missing_principal(_type_name: &'static str) {}
