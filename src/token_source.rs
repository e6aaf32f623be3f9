//! Where a request may carry its bearer token: the `Authorization` header
//! (always), and optionally a custom header, a cookie, or the `access_token`
//! query parameter (RFC 6750 §2.3).

use std::borrow::Cow;

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE, Entry, HeaderName};
use http::request::Parts;

use crate::authorization_header::{self, AuthorizationValue};
use crate::b64token::{self, TokenError};

/// The query parameter name of RFC 6750 §2.3.
const ACCESS_TOKEN_PARAMETER: &[u8] = b"access_token";

/// One configured place to look for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenSource {
    /// `Authorization: Bearer <token>`.
    AuthorizationHeader,
    /// `<name>: <token>`, e.g. `X-API-Key`.
    Header(HeaderName),
    /// `Cookie: <name>=<token>`.
    Cookie(Box<str>),
    /// `?access_token=<token>` (form-urlencoded).
    QueryParameter,
}

/// What one source found in a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup<'a> {
    /// Nothing from this source.
    Absent,
    /// An `Authorization` header with another scheme: not bearer credentials,
    /// but the client did try to authenticate.
    OtherScheme,
    /// Exactly one token, or why the one candidate is malformed.
    Present(Result<Cow<'a, str>, TokenError>),
    /// The source appears more than once (two headers, two cookies...).
    Repeated,
}

impl TokenSource {
    /// Looks for this source's token in `parts`.
    pub(crate) fn lookup<'a>(&self, parts: &'a Parts, max_token_len: usize) -> Lookup<'a> {
        match self {
            Self::AuthorizationHeader => authorization(parts, max_token_len),
            Self::Header(name) => raw_header(parts, name, max_token_len),
            Self::Cookie(name) => cookie(parts, name.as_bytes(), max_token_len),
            Self::QueryParameter => query(parts, max_token_len),
        }
    }

    /// Marks the header values this source reads as sensitive, so that
    /// they are not printed by `Debug` or indexed by HPACK.
    pub(crate) fn mark_sensitive(&self, headers: &mut HeaderMap) {
        let name = match self {
            Self::AuthorizationHeader => &AUTHORIZATION,
            Self::Header(name) => name,
            Self::Cookie(_) => {
                // Cookies may come in several fields.
                if let Entry::Occupied(mut entry) = headers.entry(COOKIE) {
                    entry.iter_mut().for_each(|value| value.set_sensitive(true));
                }
                return;
            }
            Self::QueryParameter => return,
        };
        // Header sources hold at most one field once credentials are extracted.
        if let Some(value) = headers.get_mut(name) {
            value.set_sensitive(true);
        }
    }
}

fn single_header<'a>(parts: &'a Parts, name: &HeaderName) -> Result<Option<&'a [u8]>, ()> {
    let mut values = parts.headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => Ok(Some(value.as_bytes())),
        (Some(_), Some(_)) => Err(()),
    }
}

fn authorization(parts: &Parts, max_token_len: usize) -> Lookup<'_> {
    match single_header(parts, &AUTHORIZATION) {
        Ok(None) => Lookup::Absent,
        Err(()) => Lookup::Repeated,
        Ok(Some(value)) => match authorization_header::parse(value, max_token_len) {
            AuthorizationValue::NotBearer => Lookup::OtherScheme,
            AuthorizationValue::Bearer(token) => Lookup::Present(token.map(Cow::Borrowed)),
        },
    }
}

fn raw_header<'a>(parts: &'a Parts, name: &HeaderName, max_token_len: usize) -> Lookup<'a> {
    match single_header(parts, name) {
        Ok(None) => Lookup::Absent,
        Err(()) => Lookup::Repeated,
        Ok(Some(value)) => Lookup::Present(
            b64token::validate(b64token::trim_ows(value), max_token_len).map(Cow::Borrowed),
        ),
    }
}

fn cookie<'a>(parts: &'a Parts, name: &[u8], max_token_len: usize) -> Lookup<'a> {
    let mut found = None;
    let pairs = parts
        .headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b';'));
    for pair in pairs {
        let pair = b64token::trim_ows(pair);
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        if &pair[..eq] != name {
            continue;
        }
        if found.is_some() {
            return Lookup::Repeated;
        }
        found = Some(&pair[eq + 1..]);
    }
    match found {
        None => Lookup::Absent,
        Some(value) => {
            // RFC 6265: cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
            let value = match value {
                [b'"', inner @ .., b'"'] => inner,
                other => other,
            };
            Lookup::Present(b64token::validate(value, max_token_len).map(Cow::Borrowed))
        }
    }
}

fn query(parts: &Parts, max_token_len: usize) -> Lookup<'_> {
    let Some(query) = parts.uri.query() else {
        return Lookup::Absent;
    };
    let mut found = None;
    for pair in query.as_bytes().split(|&b| b == b'&') {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        };
        let is_access_token = name == ACCESS_TOKEN_PARAMETER
            || form_decode(name).is_ok_and(|decoded| decoded == ACCESS_TOKEN_PARAMETER);
        if !is_access_token {
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
pub(crate) fn without_access_token(uri: &http::Uri) -> Option<http::Uri> {
    let query = uri.query()?;
    let mut kept = String::with_capacity(query.len());
    let mut removed = false;
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        let is_token = name.as_bytes() == ACCESS_TOKEN_PARAMETER
            || form_decode(name.as_bytes()).is_ok_and(|decoded| decoded == ACCESS_TOKEN_PARAMETER);
        if is_token {
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
    fn authorization_header_forms() {
        let source = TokenSource::AuthorizationHeader;
        let p = parts(http::Request::builder().header("authorization", "bearer abc"));
        assert_eq!(source.lookup(&p, 64), present("abc"));
        let p = parts(http::Request::builder().header("authorization", "Basic abc"));
        assert_eq!(source.lookup(&p, 64), Lookup::OtherScheme);
        let p = parts(http::Request::builder());
        assert_eq!(source.lookup(&p, 64), Lookup::Absent);
        let p = parts(
            http::Request::builder()
                .header("authorization", "Bearer a")
                .header("authorization", "Bearer a"),
        );
        assert_eq!(source.lookup(&p, 64), Lookup::Repeated);
    }

    #[test]
    fn custom_header_takes_the_raw_token() {
        let source = TokenSource::Header(HeaderName::from_static("x-api-key"));
        let p = parts(http::Request::builder().header("x-api-key", " key_1 "));
        assert_eq!(source.lookup(&p, 64), present("key_1"));
        let p = parts(http::Request::builder().header("x-api-key", "Bearer key_1"));
        assert_eq!(
            source.lookup(&p, 64),
            Lookup::Present(Err(TokenError::InvalidByte))
        );
        let p = parts(http::Request::builder().header("x-api-key", ""));
        assert_eq!(
            source.lookup(&p, 64),
            Lookup::Present(Err(TokenError::Empty))
        );
    }

    #[test]
    fn cookie_is_found_among_others_and_unquoted() {
        let source = TokenSource::Cookie("api_key".into());
        let p = parts(http::Request::builder().header("cookie", "a=1; api_key=tok.en; b=2"));
        assert_eq!(source.lookup(&p, 64), present("tok.en"));
        let p = parts(http::Request::builder().header("cookie", "api_key=\"tok\""));
        assert_eq!(source.lookup(&p, 64), present("tok"));
        let p = parts(http::Request::builder().header("cookie", "xapi_key=1"));
        assert_eq!(source.lookup(&p, 64), Lookup::Absent);
    }

    #[test]
    fn cookie_repeated_across_headers_is_ambiguous() {
        let source = TokenSource::Cookie("api_key".into());
        let p = parts(
            http::Request::builder()
                .header("cookie", "api_key=a")
                .header("cookie", "other=1; api_key=b"),
        );
        assert_eq!(source.lookup(&p, 64), Lookup::Repeated);
    }

    #[test]
    fn query_parameter_is_form_decoded() {
        let source = TokenSource::QueryParameter;
        let p = parts(http::Request::builder().uri("/ws?x=1&access_token=abc"));
        assert_eq!(source.lookup(&p, 64), present("abc"));
        let p = parts(http::Request::builder().uri("/ws?access_token=a%2Bb%2F%3D"));
        assert_eq!(
            source.lookup(&p, 64),
            Lookup::Present(Ok(Cow::Owned("a+b/=".to_owned())))
        );
        // A literal `+` is a space in a form-encoded value: malformed.
        let p = parts(http::Request::builder().uri("/ws?access_token=a+b"));
        assert_eq!(
            source.lookup(&p, 64),
            Lookup::Present(Err(TokenError::InvalidByte))
        );
        let p = parts(http::Request::builder().uri("/ws?access_token=%zz"));
        assert_eq!(
            source.lookup(&p, 64),
            Lookup::Present(Err(TokenError::BadEscape))
        );
        let p = parts(http::Request::builder().uri("/ws?access%5Ftoken=abc"));
        assert_eq!(source.lookup(&p, 64), present("abc"));
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
        let source = TokenSource::QueryParameter;
        let p = parts(http::Request::builder().uri("/?access_token=a&access_token=b"));
        assert_eq!(source.lookup(&p, 64), Lookup::Repeated);
        let p = parts(http::Request::builder().uri("/?access_token=abcdefghijklm"));
        assert_eq!(
            source.lookup(&p, 4),
            Lookup::Present(Err(TokenError::TooLong))
        );
        let p = parts(http::Request::builder().uri("/?other=1"));
        assert_eq!(source.lookup(&p, 4), Lookup::Absent);
    }
}
