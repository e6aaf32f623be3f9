//! The default rejection body: `{"error":{"code":...,"message":...}}`.

use bytes::Bytes;
use http::HeaderValue;

use crate::rejection::Rejection;
use crate::rejection_format::{RejectionFormat, push_json_string};

/// The default [`RejectionFormat`]: `application/json` with
/// `{"error":{"code":"unauthorized","message":"..."}}`, where `code` is
/// `unauthorized`, `forbidden`, `invalid_request` or `unavailable`.
///
/// ```
/// use tower_bearer_auth::{ApiErrorJson, Rejection, RejectionFormat, RejectionKind};
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
