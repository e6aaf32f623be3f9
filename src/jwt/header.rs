//! The two header fields the validator needs before it picks a key (`alg`
//! and `kid`), read without the library's full `Header` (a dozen optional
//! fields, several allocations); the library reads the whole header again
//! when it verifies, so nothing is trusted from this read but the choice.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

/// Headers up to this many bytes are decoded on the stack (a typical
/// `{"alg":"RS256","kid":"…","typ":"JWT"}` is under 100; a larger buffer
/// costs its zeroing on every token).
const STACK_HEADER: usize = 144;

/// `alg` and `kid` of a JWS header, and whether it has `crit`.
#[derive(Deserialize)]
pub(super) struct Peeked<'a> {
    pub(super) alg: Algorithm,
    #[serde(borrow, default)]
    pub(super) kid: Option<Cow<'a, str>>,
    /// Whether the header names critical extensions (RFC 7515 §4.1.11),
    /// whatever the value: the validator implements none.
    #[serde(default, deserialize_with = "present")]
    pub(super) crit: bool,
}

/// `true` for a member that is there, whatever its value.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// The header segment: the part before the first dot (short, so found at
/// once). The library looks for it from the right; with more than two dots
/// the two differ, and the library refuses the token (its header would
/// hold a dot), so nothing passes that the library would not pass.
fn header_segment(token: &str) -> Option<&str> {
    // A byte loop: quicker than `split_once` for the few bytes it scans.
    let end = token.bytes().position(|b| b == b'.')?;
    Some(&token[..end])
}

/// Reads `alg` and `kid` and hands them to `then` (the `kid` may borrow
/// the decoded bytes); `None` if the token is not a JWS with a JSON header
/// naming a known algorithm.
pub(super) fn with_header<R>(token: &str, then: impl FnOnce(&Peeked<'_>) -> R) -> Option<R> {
    let segment = header_segment(token)?.as_bytes();
    let mut stack = [0u8; STACK_HEADER];
    let heap;
    let bytes: &[u8] = if segment.len() / 4 * 3 + 3 <= STACK_HEADER {
        let n = URL_SAFE_NO_PAD.decode_slice(segment, &mut stack).ok()?;
        &stack[..n]
    } else {
        heap = URL_SAFE_NO_PAD.decode(segment).ok()?;
        &heap
    };
    let peeked: Peeked<'_> = serde_json::from_slice(bytes).ok()?;
    Some(then(&peeked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peek(token: &str) -> Option<(Algorithm, Option<String>)> {
        with_header(token, |h| (h.alg, h.kid.as_deref().map(str::to_owned)))
    }

    fn segment(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn reads_alg_and_kid_and_ignores_the_rest() {
        let header = segment(r#"{"typ":"JWT","alg":"ES256","kid":"k\"1","x5t":"abc"}"#);
        assert_eq!(
            peek(&format!("{header}.e30.c2ln")),
            Some((Algorithm::ES256, Some("k\"1".to_owned())))
        );
        let header = segment(r#"{"alg":"HS256"}"#);
        assert_eq!(
            peek(&format!("{header}.e30.")),
            Some((Algorithm::HS256, None))
        );
    }

    #[test]
    fn crit_is_seen_whatever_its_value() {
        for crit in [r#"["b64"]"#, r#"["exp"]"#, "[]", "null", r#""b64""#] {
            let header = segment(&format!(r#"{{"alg":"HS256","crit":{crit}}}"#));
            let seen = with_header(&format!("{header}.e30.c2ln"), |h| h.crit);
            assert_eq!(seen, Some(true), "{crit}");
        }
        let header = segment(r#"{"alg":"HS256"}"#);
        assert_eq!(
            with_header(&format!("{header}.e30.c2ln"), |h| h.crit),
            Some(false)
        );
    }

    #[test]
    fn long_headers_are_read_from_the_heap() {
        let kid = "k".repeat(1_000);
        let header = segment(&format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#));
        assert_eq!(
            peek(&format!("{header}.e30.c2ln")),
            Some((Algorithm::RS256, Some(kid)))
        );
    }

    #[test]
    fn anything_else_is_none() {
        for token in [
            String::new(),
            "abc".to_owned(),
            ".e30.c2ln".to_owned(),
            format!("{}.e30.c2ln", segment(r#"{"alg":"none"}"#)),
            format!("{}.e30.c2ln", segment(r#"{"kid":"x"}"#)),
            format!("{}.e30.c2ln", segment(r#"{"alg":"HS256","alg":"HS256"}"#)),
            format!("{}.e30.c2ln", segment("not json")),
            "!!!.e30.c2ln".to_owned(),
            format!("{}=.e30.c2ln", segment(r#"{"alg":"HS256"}"#)),
        ] {
            assert_eq!(peek(&token), None, "{token}");
        }
    }
}
