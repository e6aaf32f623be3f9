//! Usage credits: a balance of calls a key may make, optionally set back
//! to an amount every so many seconds, spent by each admitted request.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The most seconds between refills: a year.
pub(crate) const MAX_REFILL_SECONDS: u32 = 366 * 86_400;

/// A key's usage credits: the calls it has left, and the optional refill
/// that sets the balance back to an amount every so many seconds.
///
/// ```
/// use tower_bearer_auth::key_policy::{Credits, Refill};
///
/// let monthly = Credits::new(10_000).with_refill(Refill::new(10_000, 30 * 86_400)?);
/// assert_eq!(monthly.remaining(), 10_000);
/// # Ok::<(), tower_bearer_auth::key_policy::InvalidRefill>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credits {
    remaining: u64,
    refill: Option<Refill>,
    /// The start of the current refill period (whole seconds since the
    /// epoch); `None` until the credits are first stored.
    refilled_at: Option<u64>,
}

impl Credits {
    /// `remaining` calls, no refill.
    #[must_use]
    pub const fn new(remaining: u64) -> Self {
        Self {
            remaining,
            refill: None,
            refilled_at: None,
        }
    }

    /// Sets the balance back to the refill's amount every period.
    #[must_use]
    pub const fn with_refill(mut self, refill: Refill) -> Self {
        self.refill = Some(refill);
        self
    }

    /// When the current refill period started (default: when the credits
    /// are stored). Kept to the second.
    #[must_use]
    pub fn with_refilled_at(mut self, at: SystemTime) -> Self {
        self.refilled_at = Some(seconds(at));
        self
    }

    /// Another balance.
    #[must_use]
    pub const fn with_remaining(mut self, remaining: u64) -> Self {
        self.remaining = remaining;
        self
    }

    /// The calls left (as of when this value was read).
    #[must_use]
    pub const fn remaining(&self) -> u64 {
        self.remaining
    }

    /// When the current refill period started, in whole seconds since the
    /// epoch, if the credits were stored.
    #[cfg(feature = "redis")]
    pub(crate) const fn refilled_at_seconds(&self) -> Option<u64> {
        self.refilled_at
    }

    /// The refill, if any.
    #[must_use]
    pub const fn refill(&self) -> Option<Refill> {
        self.refill
    }

    /// When the current refill period started, if the credits were stored.
    #[must_use]
    pub fn refilled_at(&self) -> Option<SystemTime> {
        self.refilled_at
            .map(|at| SystemTime::UNIX_EPOCH + Duration::from_secs(at))
    }
}

/// Every `every_seconds` seconds the balance is set back to `amount`
/// (not added to: unused calls do not carry over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refill {
    amount: u64,
    every_seconds: u32,
}

impl Refill {
    /// A refill to `amount` every `every_seconds` (1 second to a year).
    ///
    /// # Errors
    ///
    /// [`InvalidRefill`] if the period is 0 or over a year.
    pub const fn new(amount: u64, every_seconds: u32) -> Result<Self, InvalidRefill> {
        if every_seconds == 0 || every_seconds > MAX_REFILL_SECONDS {
            return Err(InvalidRefill);
        }
        Ok(Self {
            amount,
            every_seconds,
        })
    }

    /// The balance after a refill.
    #[must_use]
    pub const fn amount(&self) -> u64 {
        self.amount
    }

    /// The period, in seconds.
    #[must_use]
    pub const fn every_seconds(&self) -> u32 {
        self.every_seconds
    }
}

/// A refill period out of its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidRefill;

impl fmt::Display for InvalidRefill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a refill's every_seconds must be 1 to {MAX_REFILL_SECONDS} (a year)"
        )
    }
}

impl std::error::Error for InvalidRefill {}

/// The live balance of one key on this process: checked and spent under a
/// lock of its own (uncontended but for requests of the same key).
pub(crate) struct CreditAccount {
    /// The credits as the key's entry gave them.
    given: Credits,
    refill: Option<Refill>,
    balance: Mutex<Balance>,
}

#[derive(Debug, Clone, Copy)]
struct Balance {
    remaining: u64,
    refilled_at: u64,
}

/// A refused spend: the balance is short; when it refills, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exhausted {
    pub(crate) retry_after: Option<Duration>,
}

impl CreditAccount {
    /// The account of `credits`, its period starting now if not stored.
    #[cfg(any(feature = "key-store", test))]
    pub(crate) fn new(credits: Credits) -> Self {
        Self {
            given: credits,
            refill: credits.refill,
            balance: Mutex::new(Balance {
                remaining: credits.remaining,
                refilled_at: credits
                    .refilled_at
                    .unwrap_or_else(|| seconds(SystemTime::now())),
            }),
        }
    }

    fn balance(&self) -> std::sync::MutexGuard<'_, Balance> {
        // A panic cannot happen under the lock (integer arithmetic only),
        // so a poisoned balance is still a consistent one.
        self.balance
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Spends `cost` when the balance allows it: the balance after.
    /// `cost` 0 checks only: it passes while the balance is not 0.
    pub(crate) fn spend(&self, cost: u64, now: SystemTime) -> Result<u64, Exhausted> {
        let now = seconds(now);
        let mut balance = self.balance();
        self.refill_due(&mut balance, now);
        if balance.remaining == 0 || balance.remaining < cost {
            return Err(Exhausted {
                retry_after: self.refill.map(|refill| {
                    let next = balance.refilled_at + u64::from(refill.every_seconds);
                    Duration::from_secs(next.saturating_sub(now).max(1))
                }),
            });
        }
        balance.remaining -= cost;
        Ok(balance.remaining)
    }

    /// Gives back what a request spent that a later step refused.
    pub(crate) fn refund(&self, cost: u64) {
        let mut balance = self.balance();
        balance.remaining = balance.remaining.saturating_add(cost);
    }

    /// Adds `amount` to the balance; the balance after.
    #[cfg(feature = "admin")]
    pub(crate) fn add(&self, amount: u64) -> u64 {
        let mut balance = self.balance();
        self.refill_due(&mut balance, seconds(SystemTime::now()));
        balance.remaining = balance.remaining.saturating_add(amount);
        balance.remaining
    }

    /// Sets the balance.
    #[cfg(feature = "admin")]
    pub(crate) fn set(&self, remaining: u64) {
        let mut balance = self.balance();
        self.refill_due(&mut balance, seconds(SystemTime::now()));
        balance.remaining = remaining;
    }

    /// The credits as they stand now (a due refill applied).
    pub(crate) fn credits(&self) -> Credits {
        let mut balance = self.balance();
        self.refill_due(&mut balance, seconds(SystemTime::now()));
        Credits {
            remaining: balance.remaining,
            refill: self.refill,
            refilled_at: Some(balance.refilled_at),
        }
    }

    /// The credits as the key's entry gave them.
    pub(crate) const fn given(&self) -> Credits {
        self.given
    }

    /// Whether the account was made from exactly `credits`: a key changed
    /// in something else keeps its live balance then.
    pub(crate) fn was_given(&self, credits: &Credits) -> bool {
        self.given == *credits
    }

    fn refill_due(&self, balance: &mut Balance, now: u64) {
        let Some(refill) = self.refill else {
            return;
        };
        let period = u64::from(refill.every_seconds);
        if now >= balance.refilled_at + period {
            let periods = (now - balance.refilled_at) / period;
            balance.refilled_at += periods * period;
            balance.remaining = refill.amount;
        }
    }
}

impl fmt::Debug for CreditAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreditAccount")
            .field("refill", &self.refill)
            .field("balance", &*self.balance())
            .finish()
    }
}

/// Whole seconds since the epoch (0 before it).
fn seconds(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_balance_is_spent_to_zero_then_refused_and_zero_cost_only_checks() {
        let account = CreditAccount::new(Credits::new(3).with_refilled_at(at(1_000)));
        assert_eq!(account.spend(0, at(1_000)), Ok(3));
        assert_eq!(account.spend(2, at(1_000)), Ok(1));
        assert_eq!(
            account.spend(2, at(1_000)),
            Err(Exhausted { retry_after: None })
        );
        assert_eq!(account.spend(1, at(1_000)), Ok(0));
        assert_eq!(
            account.spend(0, at(1_000)),
            Err(Exhausted { retry_after: None })
        );
        account.refund(1);
        assert_eq!(account.credits().remaining(), 1);
    }

    #[test]
    fn a_refill_sets_the_balance_back_once_per_period_and_says_when() {
        let refill = Refill::new(5, 60).unwrap();
        let account = CreditAccount::new(
            Credits::new(1)
                .with_refill(refill)
                .with_refilled_at(at(1_000)),
        );
        assert_eq!(account.spend(1, at(1_010)), Ok(0));
        assert_eq!(
            account.spend(1, at(1_010)),
            Err(Exhausted {
                retry_after: Some(Duration::from_secs(50))
            })
        );
        // Three periods later: set back to 5 (not 15), period start aligned.
        assert_eq!(account.spend(1, at(1_000 + 3 * 60 + 7)), Ok(4));
        assert_eq!(account.spend(4, at(1_000 + 3 * 60 + 8)), Ok(0));
        assert_eq!(
            account.spend(1, at(1_000 + 3 * 60 + 9)),
            Err(Exhausted {
                retry_after: Some(Duration::from_secs(51))
            })
        );
    }

    #[test]
    fn refill_periods_out_of_range_are_refused() {
        assert_eq!(Refill::new(1, 0), Err(InvalidRefill));
        assert_eq!(Refill::new(1, MAX_REFILL_SECONDS + 1), Err(InvalidRefill));
        assert!(Refill::new(0, 1).is_ok());
    }

    #[test]
    fn concurrent_spends_never_overspend() {
        let account = std::sync::Arc::new(CreditAccount::new(Credits::new(1_000)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let account = account.clone();
                std::thread::spawn(move || {
                    (0..500)
                        .filter(|_| account.spend(1, SystemTime::now()).is_ok())
                        .count()
                })
            })
            .collect();
        let passed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(passed, 1_000);
        assert_eq!(account.credits().remaining(), 0);
    }
}
