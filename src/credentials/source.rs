//! Where a request may carry its bearer token: the `Authorization` header
//! (always), and optionally a custom header, a cookie, or the `access_token`
//! query parameter (RFC 6750 §2.3, read in [`query`](super::query)).

use std::borrow::Cow;
use std::fmt;

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE, Entry, HeaderName};
use http::request::Parts;

use super::authorization::{self, AuthorizationValue};
use super::b64token::{self, TokenError};
use super::query;

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

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthorizationHeader => f.write_str("the Authorization header"),
            Self::Header(name) => write!(f, "header {name}"),
            Self::Cookie(name) => write!(f, "cookie {name}"),
            Self::QueryParameter => f.write_str("the access_token query parameter"),
        }
    }
}

/// What one source found in a request.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Lookup<'a> {
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
    pub(super) fn lookup<'a>(&self, parts: &'a Parts, max_token_len: usize) -> Lookup<'a> {
        match self {
            Self::AuthorizationHeader => authorization(parts, max_token_len),
            Self::Header(name) => raw_header(parts, name, max_token_len),
            Self::Cookie(name) => cookie(parts, name.as_bytes(), max_token_len),
            Self::QueryParameter => query::lookup(parts, max_token_len),
        }
    }

    /// Marks the header values this source reads as sensitive, so that
    /// they are not printed by `Debug` or indexed by HPACK.
    pub(super) fn mark_sensitive(&self, headers: &mut HeaderMap) {
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

pub(super) fn authorization(parts: &Parts, max_token_len: usize) -> Lookup<'_> {
    match single_header(parts, &AUTHORIZATION) {
        Ok(None) => Lookup::Absent,
        Err(()) => Lookup::Repeated,
        Ok(Some(value)) => match authorization::parse(value, max_token_len) {
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
}
