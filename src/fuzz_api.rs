//! Entry points for the fuzz targets in `fuzz/`. Compiled only under
//! `cfg(fuzzing)` (set by cargo-fuzz); not part of the public API.

use crate::authorization_header::{self, AuthorizationValue};

/// What the `Authorization` parser made of a field value.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A bearer token.
    Token(&'a str),
    /// The `Bearer` scheme with a malformed token.
    Malformed,
    /// Another scheme, or no scheme.
    NotBearer,
}

/// Parses one `Authorization` field value.
#[must_use]
pub fn parse_authorization(value: &[u8], max_token_len: usize) -> Parsed<'_> {
    match authorization_header::parse(value, max_token_len) {
        AuthorizationValue::Bearer(Ok(token)) => Parsed::Token(token),
        AuthorizationValue::Bearer(Err(_)) => Parsed::Malformed,
        AuthorizationValue::NotBearer => Parsed::NotBearer,
    }
}
