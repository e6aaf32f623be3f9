//! The `Authorization` header parser on arbitrary bytes: it never panics,
//! and whatever it accepts is a b64token within the length limit, found in
//! the input after a case-insensitive `Bearer` and spaces.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_bearer_auth::fuzz_api::{Parsed, parse_authorization};

fuzz_target!(|data: &[u8]| {
    let (max, value) = match data.split_first() {
        Some((&max, value)) => (usize::from(max).max(1), value),
        None => (1, data),
    };
    match parse_authorization(value, max) {
        Parsed::NotBearer | Parsed::Malformed => {}
        Parsed::Token(token) => {
            assert!(token.len() <= max);
            let body = token.trim_end_matches('=');
            assert!(!body.is_empty());
            assert!(body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)));
            // Round trip: "<scheme> <token>" with the token at the end of the
            // trimmed value, and the scheme "bearer" in some case.
            let trimmed = value.trim_ascii();
            assert!(trimmed.ends_with(token.as_bytes()));
            assert!(trimmed[..6].eq_ignore_ascii_case(b"bearer"));
            assert!(trimmed[6..trimmed.len() - token.len()].iter().all(|&b| b == b' '));
        }
    }
});
