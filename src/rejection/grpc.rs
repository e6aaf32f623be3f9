//! The gRPC form of a rejection: a trailers-only response.
//!
//! gRPC clients read the outcome from `grpc-status`, not from the HTTP
//! status; a plain HTTP 401 reaches them as `UNKNOWN` (or `UNAVAILABLE`).
//! So a gRPC request is refused with HTTP 200, `content-type:
//! application/grpc`, `grpc-status` and a percent-encoded `grpc-message`, and
//! no body (see the gRPC "Protocol HTTP/2" spec, *Responses*).

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, Method, Response};

use super::RejectionKind;

/// `grpc-status` header name.
const GRPC_STATUS: &str = "grpc-status";
/// `grpc-message` header name.
const GRPC_MESSAGE: &str = "grpc-message";

/// The trailers-only response refusing a gRPC request: HTTP 200, the
/// request's content type, `grpc-status` and a percent-encoded
/// `grpc-message`, no body.
pub(super) fn trailers_only(
    content_type: HeaderValue,
    kind: RejectionKind,
    message: &str,
) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(GRPC_STATUS, HeaderValue::from(u16::from(kind.grpc_code())));
    headers.insert(GRPC_MESSAGE, encode_message(message));
    response
}

/// The content type to answer a gRPC request with, if the request can be
/// gRPC: method `POST` (every gRPC call is one) and a content type of
/// `application/grpc` or `application/grpc+<codec>`, which is echoed. Any
/// other request, `GET` or `HEAD` with a gRPC content type included, gets
/// the HTTP form. gRPC-Web (`application/grpc-web...`) is not served in gRPC
/// form: it needs its own trailer framing.
pub(super) fn response_content_type(request: &Parts) -> Option<HeaderValue> {
    if request.method != Method::POST {
        return None;
    }
    request
        .headers
        .get(CONTENT_TYPE)
        .filter(|value| {
            let value = value.as_bytes();
            match value.strip_prefix(b"application/grpc") {
                Some(rest) => rest.is_empty() || rest[0] == b'+' || rest[0] == b';',
                None => false,
            }
        })
        .cloned()
}

/// Percent-encodes a `grpc-message`: every byte outside `0x20..=0x7E`, and
/// `%` itself.
fn encode_message(message: &str) -> HeaderValue {
    let mut encoded = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7E).contains(&byte) && byte != b'%' {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
    HeaderValue::try_from(encoded).unwrap_or_else(|_| HeaderValue::from_static(""))
}

const HEX: [u8; 16] = *b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, content_type: Option<&str>) -> Parts {
        let mut builder = http::Request::builder().method(method);
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(()).expect("valid request").into_parts().0
    }

    #[test]
    fn only_post_with_a_grpc_content_type_is_grpc() {
        let post = |content_type| response_content_type(&request(Method::POST, content_type));
        assert!(post(None).is_none());
        assert!(post(Some("application/json")).is_none());
        assert!(post(Some("application/grpcx")).is_none());
        for grpc in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc;charset=utf-8",
        ] {
            assert_eq!(
                post(Some(grpc)).as_ref().map(HeaderValue::as_bytes),
                Some(grpc.as_bytes())
            );
        }
        // gRPC-Web needs its own framing; it gets the HTTP form.
        assert!(post(Some("application/grpc-web")).is_none());
        assert!(post(Some("application/grpc-web+proto")).is_none());
        for method in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE] {
            assert!(
                response_content_type(&request(method.clone(), Some("application/grpc"))).is_none(),
                "{method}"
            );
        }
    }

    #[test]
    fn percent_encodes_per_the_grpc_spec() {
        assert_eq!(encode_message("plain text: ok"), "plain text: ok");
        assert_eq!(encode_message("100% sure"), "100%25 sure");
        assert_eq!(encode_message("caf\u{e9}\n"), "caf%C3%A9%0A");
    }
}
