//! Credits shared by every replica of a key set in Redis: one Lua script
//! per request checks and spends, on Redis's clock, next to the key set
//! (`{tba:<ns>}:cr:<key id>`, one hash tag, so one Redis Cluster slot).
//! The balance starts from the credits the key's record gives and starts
//! again whenever a write gives other credits (the script compares a stamp
//! of them); an admin `add` or `set` changes the balance itself. A Redis
//! failure refuses the request (503): credits never fail open.

use std::time::Duration;

use redis::Script;

use super::Credits;
use super::credits::Exhausted;
use crate::key_store::redis::{KeptConnection, Source};

/// How long a connection attempt or a script may take.
const TIMEOUT: Duration = Duration::from_millis(500);

/// What the script does to a balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Check, and spend when the balance covers the amount.
    Spend,
    /// Give back what a refused request spent.
    Refund,
    /// Add to the balance (the admin API).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    Add,
    /// Set the balance (the admin API).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    Set,
    /// Read it (a due refill applied).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    Read,
}

impl Operation {
    const fn name(self) -> &'static str {
        match self {
            Self::Spend => "spend",
            Self::Refund => "refund",
            Self::Add => "add",
            Self::Set => "set",
            Self::Read => "read",
        }
    }
}

/// The balances of one key set's credits in Redis.
pub(crate) struct RedisCredits {
    prefix: String,
    script: Script,
    connection: KeptConnection,
}

impl RedisCredits {
    /// The credits next to the key set whose hash tag is `hash_tag`.
    pub(crate) fn new(source: Source, hash_tag: &str) -> Self {
        let prefix = format!("{hash_tag}:cr:");
        Self {
            connection: KeptConnection::new(source, prefix.clone(), TIMEOUT, TIMEOUT),
            prefix,
            script: Script::new(include_str!("scripts/credits.lua")),
        }
    }

    /// Runs `operation` of `amount` on the balance of key `id`, whose record
    /// gives `given`: the balance after, or (a spend refused) when it
    /// refills; `Err` when Redis did not answer.
    pub(crate) async fn run(
        &self,
        id: &str,
        given: &Credits,
        operation: Operation,
        amount: u64,
    ) -> Result<Result<u64, Exhausted>, String> {
        let mut connection = self.connection.get().await?;
        let mut call = self.script.key(format!("{}{id}", self.prefix));
        call.arg(stamp(given))
            .arg(given.remaining())
            .arg(given.refilled_at_seconds().map_or(-1, i128::from))
            .arg(given.refill().map_or(0, |refill| refill.amount()))
            .arg(given.refill().map_or(0, |refill| refill.every_seconds()))
            .arg(operation.name())
            .arg(amount);
        let answer = tokio::time::timeout(TIMEOUT, call.invoke_async::<(u8, i64)>(&mut connection))
            .await
            .map_err(|_| "the credits script timed out".to_owned())
            .and_then(|answer| answer.map_err(|e| e.to_string()));
        let (done, value) = match answer {
            Ok(answer) => answer,
            Err(problem) => {
                self.connection.forget().await;
                return Err(problem);
            }
        };
        Ok(if done == 1 {
            Ok(u64::try_from(value).unwrap_or_default())
        } else {
            Err(Exhausted {
                retry_after: u64::try_from(value).ok().map(Duration::from_secs),
            })
        })
    }
}

impl std::fmt::Debug for RedisCredits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCredits")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The credits a record gives, as one string: a write that gives other
/// credits starts the balance again.
fn stamp(given: &Credits) -> String {
    format!(
        "{}/{}/{}/{}",
        given.remaining(),
        given.refilled_at_seconds().map_or(-1, i128::from),
        given.refill().map_or(0, |refill| refill.amount()),
        given.refill().map_or(0, |refill| refill.every_seconds()),
    )
}
