//! The generic cell rate algorithm (GCRA), as one pure function: the state
//! of a key is one number, its theoretical arrival time (TAT), and a
//! decision reads and advances it. The local limiter and the Redis script
//! (`scripts/gcra.lua`, in microseconds) compute exactly this.
//!
//! With emission interval `T = per_seconds / requests` and window
//! `L = requests * T`, a request at `now` is allowed when
//! `max(tat, now) + T - now <= L`, and then the TAT becomes
//! `max(tat, now) + T`. A TAT in the past is the same as no TAT at all:
//! a key idle for a whole window can be forgotten without changing any
//! answer, which is what makes eviction exact.

use super::Quota;

/// What one request gets, in the units the caller's clock uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Whether the request may go on.
    pub(crate) allowed: bool,
    /// Requests left right now, after this one.
    pub(crate) remaining: u32,
    /// Time until one more request's worth of quota is available (for a
    /// refused request: until a retry passes).
    pub(crate) wait: u64,
}

/// The time units of a clock, for [`decide`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Units {
    /// The emission interval `T`.
    pub(crate) emission: u64,
    /// The window `L = requests * T`.
    pub(crate) window: u64,
}

impl Units {
    /// `quota` in nanoseconds.
    pub(crate) const fn nanos(quota: Quota) -> Self {
        Self {
            emission: quota.emission_nanos(),
            window: quota.window_nanos(),
        }
    }

    /// `quota` in microseconds (as the Redis script counts), at least 1.
    #[cfg(feature = "redis")]
    pub(crate) const fn micros(quota: Quota) -> Self {
        let emission = quota.emission_nanos() / 1_000;
        let emission = if emission == 0 { 1 } else { emission };
        Self {
            emission,
            window: emission * quota.requests() as u64,
        }
    }
}

/// Decides a request at `now` for a key whose TAT is `tat` (0: none), and
/// returns the decision and the TAT to store (unchanged when refused).
pub(crate) fn decide(tat: u64, now: u64, units: Units) -> (Decision, u64) {
    let start = tat.max(now);
    let next = start.saturating_add(units.emission);
    let debt = next - now;
    if debt > units.window {
        let decision = Decision {
            allowed: false,
            remaining: 0,
            wait: debt - units.window,
        };
        return (decision, tat);
    }
    (allowed_with_debt(debt, units), next)
}

/// The decision for an allowed request that left the key `debt` behind
/// (`next TAT - now`, at most the window): requests left, and the time
/// until one more is available.
pub(crate) fn allowed_with_debt(debt: u64, units: Units) -> Decision {
    let spare = units.window - debt.min(units.window);
    let remaining = spare / units.emission;
    // One more is available when the debt has fallen to
    // `window - (remaining + 1) * emission`.
    let wait = (remaining + 1) * units.emission - spare;
    Decision {
        allowed: true,
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(requests: u32, per_seconds: u32) -> Units {
        Units::nanos(Quota::new(requests, per_seconds).expect("valid"))
    }

    #[test]
    fn a_burst_of_n_then_one_per_interval() {
        let u = units(100, 60); // T = 0.6 s
        let now = 1_000_000_000_000;
        let mut tat = 0;
        for expected_remaining in (0..100).rev() {
            let (decision, next) = decide(tat, now, u);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
            assert_eq!(decision.wait, u.emission, "one more comes back in T");
            tat = next;
        }
        let (refused, same) = decide(tat, now, u);
        assert!(!refused.allowed);
        assert_eq!(same, tat, "a refusal does not advance the TAT");
        assert_eq!(refused.wait, u.emission, "retry after T");
        // Just before T: still refused; at T: allowed, with none left.
        assert!(!decide(tat, now + u.emission - 1, u).0.allowed);
        let (later, _) = decide(tat, now + u.emission, u);
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
    }

    #[test]
    fn an_idle_key_is_as_good_as_new() {
        let u = units(10, 1);
        let now = 5_000_000_000;
        let (_, tat) = decide(0, now, u);
        let fresh = decide(0, now + u.window, u);
        let remembered = decide(tat, now + u.window, u);
        assert_eq!(fresh.0, remembered.0);
        assert_eq!(fresh.1, remembered.1);
    }

    #[test]
    fn the_wait_is_exact_in_every_state() {
        let u = units(3, 1);
        let mut now = 10_000_000_000;
        let mut tat = 0;
        for step in 0..50 {
            let (decision, next) = decide(tat, now, u);
            if !decision.allowed {
                // At exactly `wait` later, it passes; a nanosecond before, not.
                assert!(!decide(tat, now + decision.wait - 1, u).0.allowed, "{step}");
                assert!(decide(tat, now + decision.wait, u).0.allowed, "{step}");
            }
            tat = next;
            now += 137_000_000; // faster than 3 per second
        }
    }
}
