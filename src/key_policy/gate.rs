//! The key policies in the layer's step after admission (`src/gate.rs`):
//! the address check before the scope check, then credits, then the
//! layer's rate limit (whose refusal gives the credits back).

use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderName;
use http::request::Parts;

use super::{CreditAccount, CreditCosts, KeyPolicies, TrustedProxies};
use crate::gate::{Decided, Fields, Gate, Gated, Refused};
use crate::principal::Principal;
use crate::rejection::{Rejection, RejectionKind};

/// `Credits-Remaining`: the balance after a passing request.
pub(crate) static CREDITS_REMAINING: HeaderName = HeaderName::from_static("credits-remaining");

/// The layer's configuration of the key policies.
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicyRules {
    pub(crate) proxies: TrustedProxies,
    pub(crate) costs: CreditCosts,
    /// Credits counted in Redis, for every replica (else on this one).
    #[cfg(feature = "redis")]
    pub(crate) shared: Option<Arc<super::redis::RedisCredits>>,
}

impl PolicyRules {
    /// Whether the key's allowlist admits the request's client; an unknown
    /// client is admitted only by an empty list.
    pub(crate) fn admits_address(&self, policies: &KeyPolicies, parts: &Parts) -> bool {
        policies.allowed_ips.is_empty()
            || self.proxies.client(parts).is_some_and(|client| {
                policies
                    .allowed_ips
                    .iter()
                    .any(|range| range.contains(client))
            })
    }

    /// The credits (the key's own, else its owner's), then `rate` (if
    /// any): credits are spent first and given back when the rate limit
    /// refuses; a credit refusal never reaches the rate limit.
    pub(crate) fn check<P: Principal>(
        &self,
        policies: &KeyPolicies,
        principal: &P,
        parts: &Parts,
        rate: Option<&Arc<dyn Gate<P>>>,
    ) -> Gated {
        let id = principal.subject().unwrap_or_default();
        let Some((account, ledger)) = policies.account(id) else {
            return rate.map_or(Gated::Now(Ok(Fields::default())), |rate| {
                rate.check(principal)
            });
        };
        let cost = u64::from(self.costs.cost(parts.uri.path()));
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.shared {
            return Gated::Later(Box::pin(shared_check(
                Arc::clone(shared),
                ledger.to_owned(),
                account.given(),
                cost,
                principal.clone(),
                rate.cloned(),
            )));
        }
        #[cfg(not(feature = "redis"))]
        let _ = ledger;
        let remaining = match account.spend(cost, SystemTime::now()) {
            Ok(remaining) => remaining,
            Err(exhausted) => {
                return Gated::Now(Err(Box::new(Refused {
                    rejection: Rejection::usage_exceeded(exhausted.retry_after),
                    fields: Vec::new(),
                })));
            }
        };
        let Some(rate) = rate else {
            return Gated::Now(Ok(Fields::credits(remaining)));
        };
        match rate.check(principal) {
            Gated::Now(decided) => Gated::Now(settle(decided, account, cost, remaining)),
            Gated::Later(pending) => {
                let account = Arc::clone(account);
                Gated::Later(Box::pin(async move {
                    settle(pending.await, &account, cost, remaining)
                }))
            }
        }
    }
}

/// The credits checked and spent in Redis, then the rate limit (whose
/// refusal gives them back); Redis failing refuses the request (503).
#[cfg(feature = "redis")]
async fn shared_check<P: Principal>(
    shared: Arc<super::redis::RedisCredits>,
    id: String,
    given: super::Credits,
    cost: u64,
    principal: P,
    rate: Option<Arc<dyn Gate<P>>>,
) -> Decided {
    use super::redis::Operation;
    let remaining = match shared.run(&id, &given, Operation::Spend, cost).await {
        Ok(Ok(remaining)) => remaining,
        Ok(Err(exhausted)) => {
            return Err(Box::new(Refused {
                rejection: Rejection::usage_exceeded(exhausted.retry_after),
                fields: Vec::new(),
            }));
        }
        Err(problem) => {
            report_unavailable(&problem);
            return Err(Box::new(Refused {
                rejection: Rejection::new(RejectionKind::ValidatorUnavailable),
                fields: Vec::new(),
            }));
        }
    };
    let Some(rate) = rate else {
        return Ok(Fields::credits(remaining));
    };
    let decided = match rate.check(&principal) {
        Gated::Now(decided) => decided,
        Gated::Later(pending) => pending.await,
    };
    match decided {
        Ok(fields) => Ok(fields.with_credits(remaining)),
        Err(refused) => {
            if let Err(problem) = shared.run(&id, &given, Operation::Refund, cost).await {
                report_unavailable(&problem);
            }
            Err(refused)
        }
    }
}

/// Redis did not answer for credits (the request is refused with 503).
#[cfg(feature = "redis")]
fn report_unavailable(problem: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(problem, "credits: Redis did not answer; refusing with 503");
    #[cfg(not(feature = "tracing"))]
    let _ = problem;
}

/// The rate limit's decision with the credits settled: refunded when it
/// refused, the balance added to its fields when it passed.
fn settle(decided: Decided, account: &CreditAccount, cost: u64, remaining: u64) -> Decided {
    match decided {
        Ok(fields) => Ok(fields.with_credits(remaining)),
        Err(refused) => {
            account.refund(cost);
            Err(refused)
        }
    }
}

/// The refusal of a client outside a key's allowlist.
pub(crate) fn address_refused() -> Rejection {
    Rejection::new(RejectionKind::AddressNotAllowed)
}
