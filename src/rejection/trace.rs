//! Log events, compiled away without the `tracing` feature. Tokens never
//! reach this module; only the path of the request is logged, never its
//! query string (which may carry `access_token`).

use std::error::Error;

use http::request::Parts;

use super::Rejection;

/// One event per rejection: `debug` for the client's errors, `warn` for the
/// validator's failures (with the source error), at most one line a second
/// with the count of failures since the last (a key set unavailable refuses
/// every request: one line each would flood the log). A 403 names the
/// principal (`subject`, e.g. the key id) and the scopes it lacks.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn rejected(
    rejection: &Rejection,
    request: &Parts,
    cause: Option<&(dyn Error + 'static)>,
    subject: Option<&str>,
    #[cfg(feature = "tracing")] failures: &FailureLog,
) {
    #[cfg(feature = "tracing")]
    {
        let kind = rejection.kind();
        let path = request.uri.path();
        let method = request.method.as_str();
        if kind.is_server_error() {
            let limit = if kind == super::RejectionKind::ValidatorTimeout {
                &failures.timeout
            } else {
                &failures.unavailable
            };
            let Some(count) = limit.count() else {
                return;
            };
            match cause.and_then(Error::source) {
                Some(source) => trace_event!(warn!(
                    kind = kind.as_str(),
                    method,
                    path,
                    count,
                    error = %source,
                    "requests refused: token validator failed (count: since the last such line, at most one a second)"
                )),
                None => trace_event!(warn!(
                    kind = kind.as_str(),
                    method,
                    path,
                    count,
                    "requests refused: token validator failed (count: since the last such line, at most one a second)"
                )),
            }
        } else if let Some(required) = rejection.required_scopes() {
            trace_event!(debug!(
                kind = kind.as_str(),
                method,
                path,
                principal = subject.unwrap_or("-"),
                required_scopes = required.as_str(),
                "request refused"
            ));
        } else {
            trace_event!(debug!(
                kind = kind.as_str(),
                method, path, "request refused"
            ));
        }
    }
}

/// One layer's log of the validator's failures: a line a second at most
/// per kind.
#[cfg(feature = "tracing")]
#[derive(Debug, Default)]
pub(super) struct FailureLog {
    unavailable: crate::log_limit::OncePerSecond,
    timeout: crate::log_limit::OncePerSecond,
}

/// A scope check ran without an authenticated principal: the route layer is
/// mounted outside (or without) the authentication layer.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn missing_principal(type_name: &'static str) {
    trace_event!(error!(
        principal = type_name,
        "no authenticated principal in the request: is BearerAuthLayer applied outside this route?"
    ));
}
