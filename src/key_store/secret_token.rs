//! A token in plaintext, held only long enough to show it once.

use std::fmt;

use zeroize::Zeroize;

/// A freshly generated token. `Debug` prints `[redacted]`; the plaintext is
/// reachable only through [`expose`](Self::expose), and its bytes are
/// wiped with `zeroize` when it is dropped (copies made by the caller are
/// the caller's).
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
        self.0.zeroize();
    }
}
