//! RFC 9457 problem details as the rejection body.

use bytes::Bytes;
use http::HeaderValue;

use crate::rejection::Rejection;
use crate::rejection_format::{RejectionFormat, push_json_string};

/// A [`RejectionFormat`] producing RFC 9457 `application/problem+json`:
/// `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"...","code":"unauthorized"}`.
///
/// `type` is `about:blank`, so `title` is the HTTP reason phrase (RFC 9457
/// §4.2.1); `code` is an extension member carrying the same code as the
/// default JSON body.
///
/// ```
/// use tower_bearer_auth::{ProblemDetails, Rejection, RejectionFormat, RejectionKind};
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
