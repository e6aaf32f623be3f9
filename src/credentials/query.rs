//! The `access_token` query parameter (RFC 6750 §2.3): finding it in a
//! form-encoded query, and removing it from the URI before the request goes on.

use std::borrow::Cow;

use http::request::Parts;

use super::b64token::{self, TokenError};
use super::source::Lookup;

/// The query parameter name of RFC 6750 §2.3.
const ACCESS_TOKEN_PARAMETER: &[u8] = b"access_token";

/// Whether a raw (still form-encoded) parameter name is `access_token`.
fn is_access_token(name: &[u8]) -> bool {
    name == ACCESS_TOKEN_PARAMETER
        || form_decode(name).is_ok_and(|decoded| decoded == ACCESS_TOKEN_PARAMETER)
}

/// Looks for the one `access_token` parameter of the request's query.
pub(super) fn lookup(parts: &Parts, max_token_len: usize) -> Lookup<'_> {
    let Some(query) = parts.uri.query() else {
        return Lookup::Absent;
    };
    let mut found = None;
    for pair in query.as_bytes().split(|&b| b == b'&') {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        };
        if !is_access_token(name) {
            continue;
        }
        if found.is_some() {
            return Lookup::Repeated;
        }
        found = Some(value);
    }
    let Some(raw) = found else {
        return Lookup::Absent;
    };
    // An escaped byte takes at most three; refuse hopeless lengths before decoding.
    if raw.len() > max_token_len.saturating_mul(3) {
        return Lookup::Present(Err(TokenError::TooLong));
    }
    let token = match form_decode(raw) {
        Err(error) => Err(error),
        Ok(Cow::Borrowed(bytes)) => b64token::validate(bytes, max_token_len).map(Cow::Borrowed),
        Ok(Cow::Owned(bytes)) => {
            b64token::validate(&bytes, max_token_len).map(|token| Cow::Owned(token.to_owned()))
        }
    };
    Lookup::Present(token)
}

/// The URI without its `access_token` parameter(s), so that the token does
/// not reach the inner service's logs; `None` if there is none to remove.
pub(super) fn without_access_token(uri: &http::Uri) -> Option<http::Uri> {
    let query = uri.query()?;
    let mut kept = String::with_capacity(query.len());
    let mut removed = false;
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if is_access_token(name.as_bytes()) {
            removed = true;
            continue;
        }
        if !kept.is_empty() {
            kept.push('&');
        }
        kept.push_str(pair);
    }
    if !removed {
        return None;
    }
    let path_and_query = if kept.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{kept}", uri.path())
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    http::Uri::from_parts(parts).ok()
}

/// Decodes `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte.
/// Borrows when there is nothing to decode.
fn form_decode(raw: &[u8]) -> Result<Cow<'_, [u8]>, TokenError> {
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let high = raw.get(i + 1).and_then(|&b| hex_value(b));
                let low = raw.get(i + 2).and_then(|&b| hex_value(b));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(TokenError::BadEscape);
                };
                decoded.push(high << 4 | low);
                i += 2;
            }
            other => decoded.push(other),
        }
        i += 1;
    }
    Ok(Cow::Owned(decoded))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(build: http::request::Builder) -> Parts {
        build.body(()).expect("valid request").into_parts().0
    }

    fn present(token: &str) -> Lookup<'_> {
        Lookup::Present(Ok(Cow::Borrowed(token)))
    }

    #[test]
    fn query_parameter_is_form_decoded() {
        let p = parts(http::Request::builder().uri("/ws?x=1&access_token=abc"));
        assert_eq!(lookup(&p, 64), present("abc"));
        let p = parts(http::Request::builder().uri("/ws?access_token=a%2Bb%2F%3D"));
        assert_eq!(
            lookup(&p, 64),
            Lookup::Present(Ok(Cow::Owned("a+b/=".to_owned())))
        );
        // A literal `+` is a space in a form-encoded value: malformed.
        let p = parts(http::Request::builder().uri("/ws?access_token=a+b"));
        assert_eq!(
            lookup(&p, 64),
            Lookup::Present(Err(TokenError::InvalidByte))
        );
        let p = parts(http::Request::builder().uri("/ws?access_token=%zz"));
        assert_eq!(lookup(&p, 64), Lookup::Present(Err(TokenError::BadEscape)));
        let p = parts(http::Request::builder().uri("/ws?access%5Ftoken=abc"));
        assert_eq!(lookup(&p, 64), present("abc"));
    }

    #[test]
    fn the_access_token_is_removed_from_the_uri() {
        let strip = |uri: &str| {
            without_access_token(&uri.parse().expect("valid uri")).map(|uri| uri.to_string())
        };
        assert_eq!(strip("/ws?access_token=abc"), Some("/ws".to_owned()));
        assert_eq!(
            strip("/ws?a=1&access_token=abc&b=2"),
            Some("/ws?a=1&b=2".to_owned())
        );
        assert_eq!(strip("/ws?access%5Ftoken=abc&b"), Some("/ws?b".to_owned()));
        assert_eq!(
            strip("http://h:1/ws?access_token=abc"),
            Some("http://h:1/ws".to_owned())
        );
        assert_eq!(strip("/ws?a=1"), None);
        assert_eq!(strip("/ws"), None);
    }

    #[test]
    fn query_parameter_twice_is_ambiguous_and_length_is_bounded() {
        let p = parts(http::Request::builder().uri("/?access_token=a&access_token=b"));
        assert_eq!(lookup(&p, 64), Lookup::Repeated);
        let p = parts(http::Request::builder().uri("/?access_token=abcdefghijklm"));
        assert_eq!(lookup(&p, 4), Lookup::Present(Err(TokenError::TooLong)));
        let p = parts(http::Request::builder().uri("/?other=1"));
        assert_eq!(lookup(&p, 4), Lookup::Absent);
    }
}
