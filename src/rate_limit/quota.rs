//! A rate-limit quota: up to `requests` at once, refilled at
//! `requests / per_seconds` per second.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

/// The longest window a quota may have: one day.
const MAX_PER_SECONDS: u32 = 86_400;

/// How many requests a key may make: up to `requests` at once (the burst),
/// refilled at `requests` per `per_seconds` (GCRA with a burst of
/// `requests`). A key's own quota comes from its record
/// (`"rate_limit": {"requests": 100, "per_seconds": 60}` in the keys file);
/// keys without one get the layer's default, if any.
///
/// ```
/// use tower_bearer_auth::rate_limit::Quota;
///
/// let quota = Quota::new(100, 60)?;
/// assert_eq!(quota.to_string(), "100/60s");
/// assert_eq!("100/60s".parse::<Quota>()?, quota);
/// assert_eq!(quota.emission_interval().as_millis(), 600);
/// # Ok::<(), tower_bearer_auth::rate_limit::QuotaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    // Non-zero: `Option<Quota>` takes no more room than a `Quota`.
    requests: NonZeroU32,
    per_seconds: u32,
}

/// Why a quota is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuotaError {
    /// `requests` must be at least 1.
    NoRequests,
    /// `per_seconds` must be 1 to 86,400.
    Window,
    /// Not of the form `N/Ss` (`100/60s`).
    Syntax,
}

impl fmt::Display for QuotaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoRequests => "a rate limit needs at least 1 request",
            Self::Window => "a rate limit's window (per_seconds) must be 1 to 86400 seconds",
            Self::Syntax => "a rate limit reads N/Ss, for example 100/60s",
        })
    }
}

impl std::error::Error for QuotaError {}

impl Quota {
    /// `requests` per `per_seconds`, with a burst of `requests`.
    ///
    /// # Errors
    ///
    /// [`QuotaError`] if `requests` is 0 or `per_seconds` is not 1 to
    /// 86,400.
    pub const fn new(requests: u32, per_seconds: u32) -> Result<Self, QuotaError> {
        let Some(requests) = NonZeroU32::new(requests) else {
            return Err(QuotaError::NoRequests);
        };
        if per_seconds == 0 || per_seconds > MAX_PER_SECONDS {
            return Err(QuotaError::Window);
        }
        Ok(Self {
            requests,
            per_seconds,
        })
    }

    /// The burst, and the number of requests per window.
    #[must_use]
    pub const fn requests(self) -> u32 {
        self.requests.get()
    }

    /// The window, in seconds.
    #[must_use]
    pub const fn per_seconds(self) -> u32 {
        self.per_seconds
    }

    /// The time one request's share of the quota takes to come back:
    /// `per_seconds / requests`.
    #[must_use]
    pub const fn emission_interval(self) -> Duration {
        Duration::from_nanos(self.emission_nanos())
    }

    /// The emission interval in nanoseconds (at least 1).
    pub(crate) const fn emission_nanos(self) -> u64 {
        let nanos = self.per_seconds as u64 * 1_000_000_000 / self.requests.get() as u64;
        if nanos == 0 { 1 } else { nanos }
    }

    /// The whole window in nanoseconds: `requests` emission intervals.
    #[cfg(feature = "rate-limit")]
    pub(crate) const fn window_nanos(self) -> u64 {
        self.emission_nanos() * self.requests.get() as u64
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.requests, self.per_seconds)
    }
}

impl std::str::FromStr for Quota {
    type Err = QuotaError;

    /// `N/Ss`, as `--rate-limit 100/60s`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (requests, window) = text.split_once('/').ok_or(QuotaError::Syntax)?;
        let seconds = window.strip_suffix('s').ok_or(QuotaError::Syntax)?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(requests) || !digits(seconds) {
            return Err(QuotaError::Syntax);
        }
        let requests = requests.parse().map_err(|_| QuotaError::NoRequests)?;
        let seconds = seconds.parse().map_err(|_| QuotaError::Window)?;
        Self::new(requests, seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_are_checked_and_parsed() {
        assert_eq!(Quota::new(0, 60), Err(QuotaError::NoRequests));
        assert_eq!(Quota::new(1, 0), Err(QuotaError::Window));
        assert_eq!(Quota::new(1, 86_401), Err(QuotaError::Window));
        assert!(Quota::new(u32::MAX, 1).is_ok());
        for bad in [
            "", "100", "100/60", "/60s", "100/s", "-1/60s", "1.5/60s", "100/60m", " 100/60s",
        ] {
            assert!(bad.parse::<Quota>().is_err(), "{bad:?}");
        }
        assert_eq!("0/60s".parse::<Quota>(), Err(QuotaError::NoRequests));
        assert_eq!(
            "99999999999/60s".parse::<Quota>(),
            Err(QuotaError::NoRequests)
        );
        let quota: Quota = "3/1s".parse().expect("valid");
        assert_eq!((quota.requests(), quota.per_seconds()), (3, 1));
        assert_eq!(quota.emission_nanos(), 333_333_333);
        assert_eq!(quota.window_nanos(), 999_999_999);
    }
}
