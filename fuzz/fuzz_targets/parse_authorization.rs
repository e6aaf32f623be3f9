//! The `Authorization` parser on arbitrary bytes: it never panics, and
//! whatever it accepts is a b64token within the length limit, found in the
//! input after a case-insensitive `Bearer` and spaces. The checks live next
//! to the parser (`check_parse` in `src/credentials/authorization.rs`), so
//! that the corpus replay and the proptests run the same ones.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tower_bearer_auth::fuzz_check_authorization(data);
});
