//! The body of an HTTP rejection: the [`RejectionFormat`] trait, the two
//! built-in formats, and the JSON string escaping they share.

use std::fmt;

use bytes::Bytes;
use http::HeaderValue;

use super::Rejection;

/// Renders the body of an HTTP rejection.
///
/// The layer owns everything the RFCs fix (status, `WWW-Authenticate`, the
/// gRPC form, no body for `HEAD`); a format decides only the content type and
/// the bytes. Built in: [`ApiErrorJson`] (the default) and
/// [`ProblemDetails`] (RFC 9457).
///
/// ```
/// use bytes::Bytes;
/// use http::HeaderValue;
/// use tower_bearer_auth::{BearerAuthLayer, KeyStore};
/// use tower_bearer_auth::rejection::{Rejection, RejectionFormat};
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
    /// The layer calls this once per [`RejectionKind`](super::RejectionKind)
    /// when it is built, and reuses the bytes for every rejection that names
    /// no scopes; it is called per request only for insufficient-scope
    /// rejections. So the body must depend on the rejection alone.
    fn body(&self, rejection: &Rejection) -> Bytes;
}

/// The default [`RejectionFormat`]: `application/json` with
/// `{"error":{"code":"unauthorized","message":"..."}}`, where `code` is
/// `unauthorized`, `forbidden`, `invalid_request` or `unavailable`.
///
/// ```
/// use tower_bearer_auth::rejection::{ApiErrorJson, Rejection, RejectionFormat, RejectionKind};
///
/// let body = ApiErrorJson.body(&Rejection::new(RejectionKind::InvalidToken));
/// assert_eq!(
///     body,
///     r#"{"error":{"code":"unauthorized","message":"The bearer token is invalid or has been revoked"}}"#
/// );
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiErrorJson;

impl RejectionFormat for ApiErrorJson {
    fn content_type(&self) -> HeaderValue {
        HeaderValue::from_static("application/json")
    }

    fn body(&self, rejection: &Rejection) -> Bytes {
        let mut json = String::with_capacity(128);
        json.push_str(r#"{"error":{"code":"#);
        push_json_string(&mut json, rejection.kind().code());
        json.push_str(r#","message":"#);
        push_json_string(&mut json, &rejection.message());
        json.push_str("}}");
        Bytes::from(json)
    }
}

/// A [`RejectionFormat`] producing RFC 9457 `application/problem+json`:
/// `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"...","code":"unauthorized"}`.
///
/// `type` is `about:blank`, so `title` is the HTTP reason phrase (RFC 9457
/// §4.2.1); `code` is an extension member carrying the same code as the
/// default JSON body.
///
/// ```
/// use tower_bearer_auth::rejection::{ProblemDetails, Rejection, RejectionFormat, RejectionKind};
///
/// let body = ProblemDetails.body(&Rejection::new(RejectionKind::MissingCredentials));
/// assert_eq!(
///     body,
///     r#"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"A bearer token is required","code":"unauthorized"}"#
/// );
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemDetails;

impl RejectionFormat for ProblemDetails {
    fn content_type(&self) -> HeaderValue {
        HeaderValue::from_static("application/problem+json")
    }

    fn body(&self, rejection: &Rejection) -> Bytes {
        let status = rejection.kind().status();
        let mut json = String::with_capacity(160);
        json.push_str(r#"{"type":"about:blank","title":"#);
        push_json_string(&mut json, status.canonical_reason().unwrap_or_default());
        json.push_str(r#","status":"#);
        json.push_str(status.as_str());
        json.push_str(r#","detail":"#);
        push_json_string(&mut json, &rejection.message());
        json.push_str(r#","code":"#);
        push_json_string(&mut json, rejection.kind().code());
        json.push('}');
        Bytes::from(json)
    }
}

/// Appends `value` to `out` as a JSON string literal.
fn push_json_string(out: &mut String, value: &str) {
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
