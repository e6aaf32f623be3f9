//! The `b64token` grammar of RFC 6750 §2.1, shared by every token source.
//!
//! ```text
//! b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```

/// Why a candidate token was refused. Every variant ends as a malformed-token
/// rejection; the variants exist so that tests and fuzzers can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenError {
    /// Nothing after the scheme (or an empty header / cookie / parameter).
    Empty,
    /// Longer than the configured maximum; refused before any other work.
    TooLong,
    /// A byte outside the b64token alphabet (spaces, tabs, quotes, obs-text...).
    InvalidByte,
    /// `=` before the end, or a token made only of `=`.
    MisplacedPadding,
    /// Separated from the scheme by something other than spaces.
    BadSeparator,
    /// A `%` escape in a query parameter that does not decode.
    BadEscape,
}

/// Whether `b` may appear in a b64token before its padding.
const fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// [`is_token_byte`] without branches (every comparison evaluated), so
/// that a fold over a token vectorizes. `-` `.` `/` and the digits are one
/// range (0x2D..=0x39), which leaves three single bytes: a window costs
/// two range checks and three equalities.
#[inline]
const fn is_token_byte_branchless(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let dash_to_nine = b.wrapping_sub(b'-') <= b'9' - b'-';
    letter | dash_to_nine | (b == b'_') | (b == b'~') | (b == b'+')
}

/// Whether every byte is a token byte: 16 at a time with no early exit
/// (vectorized); the last 16 bytes are checked as one more window (which
/// may overlap the one before), so no byte is checked alone unless the
/// token is shorter than 16.
fn all_token_bytes(bytes: &[u8]) -> bool {
    fn window(chunk: &[u8; 16]) -> bool {
        let mut all = true;
        for &b in chunk {
            all &= is_token_byte_branchless(b);
        }
        all
    }
    let Some(last) = bytes.last_chunk::<16>() else {
        return bytes.iter().all(|&b| TOKEN_BYTE[usize::from(b)]);
    };
    let (chunks, _) = bytes.as_chunks::<16>();
    chunks
        .iter()
        .fold(window(last), |all, chunk| all & window(chunk))
}

const fn token_byte_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = is_token_byte(byte as u8);
        byte += 1;
    }
    table
}

/// [`is_token_byte`] as a lookup table, for the hot loop.
static TOKEN_BYTE: [bool; 256] = token_byte_table();

/// Checks `bytes` against the b64token grammar and the length limit, and
/// returns it as a `&str` (the grammar is ASCII, so this cannot fail after
/// the check). Padding `=` stays part of the token. One forward pass.
pub(super) fn validate(bytes: &[u8], max_len: usize) -> Result<&str, TokenError> {
    validate_bytes(bytes, max_len)
        .and_then(|token| std::str::from_utf8(token).map_err(|_| TokenError::InvalidByte))
}

/// [`validate`] without the conversion to `&str` (for a caller that copies
/// the token first and converts the copy).
pub(super) fn validate_bytes(bytes: &[u8], max_len: usize) -> Result<&[u8], TokenError> {
    if bytes.is_empty() {
        return Err(TokenError::Empty);
    }
    if bytes.len() > max_len {
        return Err(TokenError::TooLong);
    }
    // The common case, a token without padding, in one pass with no early
    // exit, which the compiler turns into SIMD compares.
    if all_token_bytes(bytes) {
        return Ok(bytes);
    }
    let body_len = bytes
        .iter()
        .position(|&b| !TOKEN_BYTE[usize::from(b)])
        .unwrap_or(bytes.len());
    if body_len < bytes.len() {
        let (body, tail) = bytes.split_at(body_len);
        if body.is_empty() || tail.iter().any(|&b| b != b'=') {
            return Err(classify(bytes));
        }
    }
    Ok(bytes)
}

/// Why a token is refused, once we know it is.
#[cold]
fn classify(token: &[u8]) -> TokenError {
    if token.iter().any(|&b| !is_token_byte(b) && b != b'=') {
        TokenError::InvalidByte
    } else {
        TokenError::MisplacedPadding
    }
}

/// Removes leading and trailing optional whitespace (SP / HTAB, RFC 9110 §5.6.3).
pub(super) fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_class_is_exactly_the_rfc_alphabet() {
        for b in 0..=u8::MAX {
            let expected = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_token_byte(b), expected, "{b:#04x}");
            assert_eq!(is_token_byte_branchless(b), expected, "{b:#04x}");
        }
    }

    #[test]
    fn accepts_the_whole_alphabet_and_keeps_padding() {
        let token = "AZaz09-._~+/==";
        assert_eq!(validate(token.as_bytes(), 4096), Ok(token));
    }

    #[test]
    fn refuses_empty_and_padding_only() {
        assert_eq!(validate(b"", 10), Err(TokenError::Empty));
        assert_eq!(validate(b"===", 10), Err(TokenError::MisplacedPadding));
    }

    #[test]
    fn refuses_padding_in_the_middle() {
        assert_eq!(validate(b"ab=cd", 10), Err(TokenError::MisplacedPadding));
    }

    #[test]
    fn refuses_bytes_outside_the_alphabet() {
        for bad in [
            &b"ab cd"[..],
            b"ab\tcd",
            b"ab\"cd",
            b"ab,cd",
            b"ab\\cd",
            b"ab\x7fcd",
            b"\xff\xfe",
            b"caf\xc3\xa9",
        ] {
            assert_eq!(validate(bad, 64), Err(TokenError::InvalidByte), "{bad:?}");
        }
    }

    #[test]
    fn length_limit_is_inclusive_and_checked_first() {
        assert_eq!(validate(b"abcd", 4), Ok("abcd"));
        assert_eq!(validate(b"abcde", 4), Err(TokenError::TooLong));
        // Too long wins over a bad byte: the length is checked before anything else.
        assert_eq!(validate(b"ab cd", 4), Err(TokenError::TooLong));
    }

    #[test]
    fn trims_spaces_and_tabs_only() {
        assert_eq!(trim_ows(b" \t abc \t"), b"abc");
        assert_eq!(trim_ows(b"\r abc"), b"\r abc");
        assert_eq!(trim_ows(b"   "), b"");
    }
}
