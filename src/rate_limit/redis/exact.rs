//! The exact backend: one GCRA script per request, on Redis's clock
//! (`scripts/gcra.lua`). While Redis fails, the local table decides.

use std::sync::Arc;

use redis::Script;

use super::super::Quota;
use super::super::gcra::{self, Decision, Units};
use super::super::local::{LocalLimiter, fingerprint};
use super::link::RedisLink;
use crate::key_store::redis::LimiterHome;

pub(crate) struct ExactLimiter {
    link: RedisLink,
    script: Script,
}

impl ExactLimiter {
    pub(crate) fn new(home: LimiterHome, local: &Arc<LocalLimiter>) -> Self {
        Self {
            link: RedisLink::new(home, local),
            script: Script::new(include_str!("../scripts/gcra.lua")),
        }
    }

    /// Whether to ask Redis (not inside a fallback period).
    pub(crate) fn is_answering(&self) -> bool {
        self.link.is_answering()
    }

    /// The decision for a request of `key` (wait in nanoseconds): from
    /// Redis, or locally if Redis fails.
    pub(crate) async fn check(self: Arc<Self>, key: String, quota: Quota) -> Decision {
        let units = Units::micros(quota);
        let mut call = self.script.key(self.link.state_key(&key));
        call.arg(units.emission).arg(units.window);
        match self.link.run::<(u8, u64)>(&call).await {
            Ok((allowed, amount)) => {
                let decision = if allowed == 1 {
                    gcra::allowed_with_debt(amount, units)
                } else {
                    Decision {
                        allowed: false,
                        remaining: 0,
                        wait: amount,
                    }
                };
                Decision {
                    wait: decision.wait.saturating_mul(1_000),
                    ..decision
                }
            }
            Err(_) => self
                .link
                .local
                .check(fingerprint(&key), Units::nanos(quota)),
        }
    }
}
