//! Errors in the layer's configuration.

use std::fmt;

use crate::scope::InvalidScope;

/// A configuration that cannot work: an invalid realm, header or cookie
/// name, scope, or route pattern. Returned when the configuration is built,
/// never at request time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl From<InvalidScope> for ConfigError {
    fn from(error: InvalidScope) -> Self {
        Self::new(error.to_string())
    }
}
