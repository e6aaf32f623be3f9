//! A token in plaintext, held only long enough to show it once.

use std::fmt;

/// A freshly generated token. `Debug` prints `[redacted]`; the plaintext is
/// reachable only through [`expose`](Self::expose), and its bytes are
/// overwritten when it is dropped (best effort: copies made by the caller
/// are the caller's).
pub struct SecretToken(String);

impl SecretToken {
    pub(crate) fn new(token: String) -> Self {
        Self(token)
    }

    /// The plaintext token, to show once to its owner.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken([redacted])")
    }
}

impl Drop for SecretToken {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}
