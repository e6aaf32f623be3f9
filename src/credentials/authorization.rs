//! Parsing one `Authorization` field value (RFC 9110 §11.4, RFC 6750 §2.1).
//!
//! ```text
//! credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]   ; RFC 9110
//! credentials = "Bearer" 1*SP b64token                          ; RFC 6750
//! ```
//!
//! The scheme is matched case-insensitively. Only spaces may separate it from
//! the token. The value is read as bytes: obs-text and invalid UTF-8 are
//! refused, never unwrapped.

use super::b64token::{self, TokenError};

/// What an `Authorization` field value says about bearer credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthorizationValue<T> {
    /// The `Bearer` scheme, with a token or the reason it is malformed.
    Bearer(Result<T, TokenError>),
    /// Another scheme (`Basic ...`), or an empty value: no bearer credentials.
    NotBearer,
}

/// `"bearer "` as the first 7 bytes of a little-endian word.
const BEARER_SP: u64 = u64::from_le_bytes(*b"bearer \0");
/// The case bit of the 6 scheme letters (a letter OR-ed with it is the
/// lowercase letter; only `B` and `b` OR to `b`).
const CASE_BITS: u64 = u64::from_le_bytes([0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0, 0]);
/// The first 7 bytes.
const FIRST_SEVEN: u64 = 0x00FF_FFFF_FFFF_FFFF;

/// Parses one field value; `max_token_len` bounds the token, not the field.
pub(super) fn parse(value: &[u8], max_token_len: usize) -> AuthorizationValue<&str> {
    match parse_bytes(value, max_token_len) {
        AuthorizationValue::Bearer(token) => AuthorizationValue::Bearer(
            token.and_then(|token| std::str::from_utf8(token).map_err(|_| TokenError::InvalidByte)),
        ),
        AuthorizationValue::NotBearer => AuthorizationValue::NotBearer,
    }
}

/// [`parse`], with the token left as bytes (checked against the grammar,
/// so ASCII).
pub(super) fn parse_bytes(value: &[u8], max_token_len: usize) -> AuthorizationValue<&[u8]> {
    // The usual form, `Bearer <token>` (any case) with one space and no
    // surrounding whitespace, in one word compare: the general path below
    // gives the same answer for it, with more steps.
    if let Some(head) = value.first_chunk::<8>()
        && (u64::from_le_bytes(*head) | CASE_BITS) & FIRST_SEVEN == BEARER_SP
        && !matches!(head[7], b' ' | b'\t')
        && !matches!(value.last(), Some(b' ' | b'\t'))
    {
        return AuthorizationValue::Bearer(b64token::validate_bytes(&value[7..], max_token_len));
    }
    parse_general(value, max_token_len)
}

/// Any field value, step by step.
fn parse_general(value: &[u8], max_token_len: usize) -> AuthorizationValue<&[u8]> {
    let value = b64token::trim_ows(value);
    let scheme_end = value
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return AuthorizationValue::NotBearer;
    }
    let separator_len = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let (separator, token) = rest.split_at(separator_len);
    if separator.contains(&b'\t') {
        return AuthorizationValue::Bearer(Err(TokenError::BadSeparator));
    }
    AuthorizationValue::Bearer(b64token::validate_bytes(token, max_token_len))
}

/// Parses fuzzer bytes (the first byte is the length limit, the rest the
/// field value) and checks what the parser accepted: a b64token within the
/// limit, found at the end of the trimmed value after a case-insensitive
/// `Bearer` and spaces. Panics on a violation. Shared by the
/// `parse_authorization` fuzz target, the corpus replay and the proptests.
#[cfg(any(test, fuzzing))]
#[cfg_attr(test, allow(unreachable_pub))]
pub fn check_parse(data: &[u8]) {
    let (max, value) = match data.split_first() {
        Some((&max, value)) => (usize::from(max).max(1), value),
        None => (1, data),
    };
    if let AuthorizationValue::Bearer(Ok(token)) = parse(value, max) {
        assert!(token.len() <= max, "longer than the limit");
        let body = token.trim_end_matches('=');
        assert!(!body.is_empty(), "padding only");
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)),
            "outside the b64token alphabet"
        );
        let trimmed = value.trim_ascii();
        assert!(trimmed.ends_with(token.as_bytes()), "not at the end");
        assert!(
            trimmed[..6].eq_ignore_ascii_case(b"bearer"),
            "not after Bearer"
        );
        assert!(
            trimmed[6..trimmed.len() - token.len()]
                .iter()
                .all(|&b| b == b' '),
            "not separated by spaces"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::AuthorizationValue::{Bearer, NotBearer};
    use super::*;

    fn p(value: &[u8]) -> AuthorizationValue<&str> {
        parse(value, 4096)
    }

    #[test]
    fn the_word_compare_takes_only_the_usual_form() {
        for value in [
            &b"Bearer abc"[..],
            b"bEARER abc==",
            b"Bearer  abc",
            b"Bearer\tabc",
            b"Bearer abc ",
            b"Bearer abc\t",
            b" Bearer abc",
            b"Bearer  ",
            b"Bearer a b",
            b"Bearer@abc",
            b"Bearer\0abc",
            b"Bearerx abc",
            b"Bearer \tabc",
            b"Bearer",
            b"Bearer ",
            b"Bearer a",
        ] {
            assert_eq!(
                parse_bytes(value, 4096),
                parse_general(value, 4096),
                "{value:?}"
            );
            assert_eq!(parse_bytes(value, 2), parse_general(value, 2), "{value:?}");
        }
    }

    #[test]
    fn accepts_bearer_in_any_case() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let value = format!("{scheme} abc123");
            assert_eq!(p(value.as_bytes()), Bearer(Ok("abc123")), "{scheme}");
        }
    }

    #[test]
    fn accepts_several_spaces_before_the_token() {
        assert_eq!(p(b"Bearer    abc"), Bearer(Ok("abc")));
    }

    #[test]
    fn ignores_surrounding_whitespace_of_the_field() {
        assert_eq!(p(b"  Bearer abc \t"), Bearer(Ok("abc")));
    }

    #[test]
    fn keeps_padding_as_part_of_the_token() {
        assert_eq!(p(b"Bearer dGVzdA=="), Bearer(Ok("dGVzdA==")));
    }

    #[test]
    fn refuses_tabs_as_separator() {
        assert_eq!(p(b"Bearer\tabc"), Bearer(Err(TokenError::BadSeparator)));
        assert_eq!(p(b"Bearer \tabc"), Bearer(Err(TokenError::BadSeparator)));
    }

    #[test]
    fn bearer_without_a_token_is_malformed() {
        assert_eq!(p(b"Bearer"), Bearer(Err(TokenError::Empty)));
        assert_eq!(p(b"Bearer   "), Bearer(Err(TokenError::Empty)));
    }

    #[test]
    fn a_second_word_is_malformed() {
        assert_eq!(p(b"Bearer abc def"), Bearer(Err(TokenError::InvalidByte)));
        // auth-param syntax is not a b64token.
        assert_eq!(
            p(b"Bearer realm=\"x\""),
            Bearer(Err(TokenError::InvalidByte))
        );
        assert_eq!(
            p(b"Bearer realm=x"),
            Bearer(Err(TokenError::MisplacedPadding))
        );
    }

    #[test]
    fn other_schemes_and_glued_schemes_are_not_bearer() {
        assert_eq!(p(b"Basic dXNlcjpwYXNz"), NotBearer);
        assert_eq!(p(b"Bearerabc"), NotBearer);
        assert_eq!(p(b"Token abc"), NotBearer);
        assert_eq!(p(b""), NotBearer);
        assert_eq!(p(b"   "), NotBearer);
    }

    #[test]
    fn non_ascii_bytes_are_refused_without_panicking() {
        assert_eq!(
            p(b"Bearer \xff\xfe\xfd"),
            Bearer(Err(TokenError::InvalidByte))
        );
        assert_eq!(p(b"B\xc3\xa9arer abc"), NotBearer);
    }

    #[test]
    fn the_length_limit_applies_to_the_token() {
        assert_eq!(parse(b"Bearer abcd", 4), Bearer(Ok("abcd")));
        assert_eq!(parse(b"Bearer abcde", 4), Bearer(Err(TokenError::TooLong)));
    }

    /// Replays the inputs kept from fuzzing (`tests/fuzz_corpus/`) with the
    /// fuzz target's checks.
    #[test]
    fn the_fuzz_corpus_still_parses_soundly() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz_corpus/parse_authorization");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("corpus directory") {
            let path = entry.expect("corpus entry").path();
            let data = std::fs::read(&path).expect("corpus file");
            let outcome = std::panic::catch_unwind(|| check_parse(&data));
            assert!(outcome.is_ok(), "corpus input {}", path.display());
            checked += 1;
        }
        assert!(checked >= 10, "the corpus is there ({checked} inputs)");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn no_input_panics_and_what_is_accepted_is_sound(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
                check_parse(&bytes);
            }

            #[test]
            fn accepted_tokens_round_trip(
                token in "[A-Za-z0-9._~+/-]{1,80}={0,3}",
                scheme in "[bB][eE][aA][rR][eE][rR]",
                spaces in 1usize..6,
                outer in "[ \t]{0,3}",
            ) {
                let value = format!("{outer}{scheme}{}{token}{outer}", " ".repeat(spaces));
                prop_assert_eq!(
                    parse(value.as_bytes(), 4096),
                    AuthorizationValue::Bearer(Ok(token.as_str()))
                );
            }

            #[test]
            fn the_word_compare_agrees_with_the_general_path(
                head in "[bB][eE][aA][rR][eE][rR@`\x02bB][ \t]{0,2}",
                bytes in proptest::collection::vec(any::<u8>(), 0..80),
                max in 1usize..100,
            ) {
                let mut value = head.into_bytes();
                value.extend_from_slice(&bytes);
                prop_assert_eq!(parse_bytes(&value, max), parse_general(&value, max));
            }

            #[test]
            fn anything_accepted_after_bearer_is_sound(
                bytes in proptest::collection::vec(any::<u8>(), 0..200),
                max in 1u8..100,
            ) {
                let mut data = vec![max];
                data.extend_from_slice(b"Bearer ");
                data.extend_from_slice(&bytes);
                check_parse(&data);
            }
        }
    }
}
