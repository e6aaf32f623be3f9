//! One answer of the admin API, as the admin tests read it (in process and
//! over HTTP): status, headers, body, and the error shape.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

/// One answer: what was asked, status, headers, body.
pub struct Answer {
    pub asked: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (`null` when empty).
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                self.asked,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts an error answer: status, `code`, and that the message
    /// contains `names` (the field it is about). Returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str, names: &str) -> String {
        let body = self.json();
        assert_eq!(self.status, status, "{}: {body}", self.asked);
        assert_eq!(body["error"]["code"], code, "{}: {body}", self.asked);
        let message = body["error"]["message"]
            .as_str()
            .expect("message")
            .to_owned();
        assert!(
            message.contains(names),
            "{}: {message:?} should name {names:?}",
            self.asked
        );
        assert_eq!(
            self.headers["content-type"], "application/json",
            "{}",
            self.asked
        );
        message
    }
}
