//! The pluggable shape of a rejection's body.

use std::fmt;

use bytes::Bytes;
use http::HeaderValue;

use crate::rejection::Rejection;

/// Renders the body of an HTTP rejection.
///
/// The layer owns everything the RFCs fix (status, `WWW-Authenticate`, the
/// gRPC form, no body for `HEAD`); a format decides only the content type and
/// the bytes. Built in: [`ApiErrorJson`](crate::ApiErrorJson) (the default)
/// and [`ProblemDetails`](crate::ProblemDetails) (RFC 9457).
///
/// ```
/// use bytes::Bytes;
/// use http::HeaderValue;
/// use tower_bearer_auth::{BearerAuthLayer, KeyStore, Rejection, RejectionFormat};
///
/// #[derive(Debug)]
/// struct PlainText;
///
/// impl RejectionFormat for PlainText {
///     fn content_type(&self) -> HeaderValue {
///         HeaderValue::from_static("text/plain; charset=utf-8")
///     }
///     fn body(&self, rejection: &Rejection) -> Bytes {
///         Bytes::from(rejection.message().into_owned())
///     }
/// }
///
/// let layer = BearerAuthLayer::builder(KeyStore::new())
///     .rejection_format(PlainText)
///     .build()?;
/// # Ok::<(), tower_bearer_auth::ConfigError>(())
/// ```
pub trait RejectionFormat: fmt::Debug + Send + Sync + 'static {
    /// The `Content-Type` of the body.
    fn content_type(&self) -> HeaderValue;

    /// The body bytes. Never include the token: a rejection does not carry it.
    ///
    /// The layer calls this once per [`RejectionKind`](crate::RejectionKind)
    /// when it is built, and reuses the bytes for every rejection that names
    /// no scopes; it is called per request only for insufficient-scope
    /// rejections. So the body must depend on the rejection alone.
    fn body(&self, rejection: &Rejection) -> Bytes;
}

/// Appends `value` to `out` as a JSON string literal.
pub(crate) fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_json_string;

    #[test]
    fn escapes_json_strings() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(out, r#""a\"b\\c\n\u0001é""#);
    }
}
