//! What an owner carries for its keys: a rate limit and credits that every
//! key of the owner without its own shares (one bucket, one balance).

use super::Credits;
use crate::rate_limit::Quota;

/// An owner's limits, shared by its keys that have none of their own:
/// one rate-limit bucket and one credit balance for all of them. Each key
/// of the owner carries them (the admin API writes them to every key of
/// the owner in one atomic change), so they reach every replica with the
/// keys.
///
/// ```
/// use tower_bearer_auth::key_policy::{Credits, OwnerLimits};
/// use tower_bearer_auth::rate_limit::Quota;
///
/// let limits = OwnerLimits::new()
///     .with_rate_limit(Some(Quota::new(1_000, 60)?))
///     .with_credits(Some(Credits::new(100_000)));
/// assert!(!limits.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerLimits {
    rate_limit: Option<Quota>,
    credits: Option<Credits>,
}

impl OwnerLimits {
    /// No limits.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            rate_limit: None,
            credits: None,
        }
    }

    /// The owner's rate limit, shared by its keys without their own.
    #[must_use]
    pub const fn with_rate_limit(mut self, quota: Option<Quota>) -> Self {
        self.rate_limit = quota;
        self
    }

    /// The owner's credits, shared by its keys without their own.
    #[must_use]
    pub const fn with_credits(mut self, credits: Option<Credits>) -> Self {
        self.credits = credits;
        self
    }

    /// The rate limit.
    #[must_use]
    pub const fn rate_limit(&self) -> Option<Quota> {
        self.rate_limit
    }

    /// The credits (read from a store: the live balance).
    #[must_use]
    pub const fn credits(&self) -> Option<Credits> {
        self.credits
    }

    /// Whether it limits nothing.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.rate_limit.is_none() && self.credits.is_none()
    }
}
