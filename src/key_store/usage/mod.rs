//! How much each key is used: counts per key, per UTC day, per outcome.
//!
//! The layer counts every request a key decided (passed, refused for its
//! rate limit, for its credits, or for its scope or address) in the key's
//! record ([`KeyUsage`]: atomics, no lock, no network); a background task
//! drains the counts into where usage is kept: the keys file's usage file
//! beside it (`EmbeddedKeyAdmin::save_every`), or Redis and Postgres, where
//! every replica adds its counts (with each flush of last uses, once a
//! minute). The admin API answers `GET /admin/v1/keys/{id}/usage?days=N`
//! from there, with this replica's counts not flushed yet added.

#[cfg(feature = "admin")]
mod book;
mod counter;

use std::time::SystemTime;

#[cfg(feature = "admin")]
pub(crate) use self::book::UsageBook;
pub use self::counter::KeyUsage;
use crate::rejection::RejectionKind;

/// How many days of usage the stores keep (more than the 30 the API
/// shows by default).
pub const USAGE_DAYS_KEPT: u32 = 100;

/// What became of a request a key made, as usage counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UsageOutcome {
    /// Admitted: the application answered it.
    Passed,
    /// Refused with 429 by the key's (or its owner's) rate limit.
    RateLimited,
    /// Refused with 429 because the key's credits ran out.
    UsageExceeded,
    /// Refused with 403: a scope the key lacks, or an address outside
    /// its allowlist.
    Refused,
}

impl UsageOutcome {
    /// The four outcomes, in the order of [`DayCounts`].
    pub const ALL: [Self; 4] = [
        Self::Passed,
        Self::RateLimited,
        Self::UsageExceeded,
        Self::Refused,
    ];

    /// The name the API and the stores use: `passed`, `rate_limited`,
    /// `usage_exceeded`, `refused`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::RateLimited => "rate_limited",
            Self::UsageExceeded => "usage_exceeded",
            Self::Refused => "refused",
        }
    }

    /// The outcome a rejection of a known key counts as, if any (a 503 is
    /// the server's failure, not the key's use).
    pub(crate) const fn of_rejection(kind: RejectionKind) -> Option<Self> {
        match kind {
            RejectionKind::RateLimited => Some(Self::RateLimited),
            RejectionKind::UsageExceeded => Some(Self::UsageExceeded),
            RejectionKind::InsufficientScope | RejectionKind::AddressNotAllowed => {
                Some(Self::Refused)
            }
            _ => None,
        }
    }
}

/// One day's counts, by outcome in the order of [`UsageOutcome::ALL`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts(pub [u64; 4]);

impl DayCounts {
    /// The count of `outcome`.
    #[must_use]
    pub const fn get(&self, outcome: UsageOutcome) -> u64 {
        self.0[outcome as usize]
    }

    /// Whether every count is zero.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&count| count == 0)
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: Self) {
        for (count, more) in self.0.iter_mut().zip(other.0) {
            *count = count.saturating_add(more);
        }
    }
}

/// A key's usage on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayUsage {
    /// Days since 1970-01-01 (UTC).
    pub day: u32,
    /// The day's counts.
    pub counts: DayCounts,
}

/// Today, in days since 1970-01-01 (UTC).
#[must_use]
pub fn today() -> u32 {
    day_of(SystemTime::now())
}

/// The UTC day of `time`, in days since 1970-01-01.
#[must_use]
pub fn day_of(time: SystemTime) -> u32 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u32::try_from(since.as_secs() / 86_400).unwrap_or(u32::MAX)
        })
}

/// The `days` days ending today (oldest first), each with the counts
/// `known` has for it (zero for a day without any).
#[must_use]
pub fn last_days(days: u32, today: u32, known: &[(u32, DayCounts)]) -> Vec<DayUsage> {
    let first = today.saturating_sub(days.saturating_sub(1));
    (first..=today)
        .map(|day| {
            let mut counts = DayCounts::default();
            for (at, more) in known {
                if *at == day {
                    counts.add(*more);
                }
            }
            DayUsage { day, counts }
        })
        .collect()
}
