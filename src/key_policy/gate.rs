//! The key policies in the layer's step after admission (`src/gate.rs`):
//! the address check before the scope check, then credits, then the
//! layer's rate limit (whose refusal gives the credits back).

use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderName;
use http::request::Parts;

use super::{CreditAccount, CreditCosts, KeyPolicies, TrustedProxies};
use crate::gate::{Decided, Fields, Gate, Gated, Refused};
use crate::rejection::{Rejection, RejectionKind};

/// `Credits-Remaining`: the balance after a passing request.
pub(crate) static CREDITS_REMAINING: HeaderName = HeaderName::from_static("credits-remaining");

/// The layer's configuration of the key policies.
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicyRules {
    pub(crate) proxies: TrustedProxies,
    pub(crate) costs: CreditCosts,
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

    /// The credits, then `rate` (if any): credits are spent first and
    /// given back when the rate limit refuses; a credit refusal never
    /// reaches the rate limit.
    pub(crate) fn check<P: 'static>(
        &self,
        policies: &KeyPolicies,
        principal: &P,
        parts: &Parts,
        rate: Option<&dyn Gate<P>>,
    ) -> Gated {
        let Some(account) = policies.account() else {
            return rate.map_or(Gated::Now(Ok(Fields::default())), |rate| {
                rate.check(principal, parts)
            });
        };
        let cost = u64::from(self.costs.cost(parts.uri.path()));
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
        match rate.check(principal, parts) {
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
