//! Per-key policies, checked after a key is admitted: the addresses a key
//! may be used from, and the usage credits its requests spend.
//!
//! This folder decides who the client is (the connection's peer, or the
//! address trusted proxies forwarded: [`TrustedProxies`]), whether a key's
//! allowlist admits it (403 `forbidden`, gRPC 7, checked before the scope
//! check, rate limits or credits), what a request costs ([`CreditCosts`])
//! and whether the key's balance covers it (429 `usage_exceeded`, gRPC 8,
//! distinct from `rate_limited`). A key with neither pays one branch.
//!
//! ```
//! use tower_bearer_auth::{BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore};
//! use tower_bearer_auth::key_policy::{CreditCosts, Credits, TrustedProxies};
//!
//! let store = KeyStore::new();
//! let key = KeyGenerator::new().generate()?;
//! store.insert(
//!     KeyEntry::new(key.id(), "Production Dialer", key.digest())
//!         .with_allowed_ips(["203.0.113.0/24".parse()?])
//!         .with_credits(Some(Credits::new(10_000))),
//! )?;
//! let layer = BearerAuthLayer::builder(store)
//!     .trusted_proxies(TrustedProxies::new(["10.0.0.0/8".parse()?]))
//!     .credit_costs(CreditCosts::new().route("/v1/calls", 5))
//!     .build()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Passing answers of a key with credits carry `Credits-Remaining`, the
//! balance after the request. A refusal by the rate limit gives the
//! request's credits back, and a refusal for credits spends nothing of the
//! rate limit.
//!
//! Each process counts a key's credits itself, unless the layer is given
//! `shared_credits` (feature `redis`): then one script in the Redis of the
//! shared key set checks and spends, exactly across replicas, and a Redis
//! failure answers 503.

mod address;
mod client;
mod costs;
mod credits;
pub(crate) mod gate;
#[cfg(feature = "redis")]
pub(crate) mod redis;

use std::sync::Arc;

pub use self::address::{AddressRange, InvalidAddressRange};
pub use self::client::{PeerAddress, TrustedProxies};
pub use self::costs::CreditCosts;
pub(crate) use self::credits::CreditAccount;
pub use self::credits::{Credits, InvalidRefill, Refill};

/// The most address ranges a key's allowlist holds.
pub const MAX_ALLOWED_IPS: usize = 64;

/// What a key carries beyond its identity and scopes that the layer
/// enforces: its address allowlist and its live credit balance. Read
/// through [`Principal::key_policies`](crate::Principal::key_policies);
/// built by the key store.
pub struct KeyPolicies {
    allowed_ips: Box<[AddressRange]>,
    credits: Option<Arc<CreditAccount>>,
}

impl KeyPolicies {
    /// The policies of a key with these fields; `None` when it has none.
    #[cfg(feature = "key-store")]
    pub(crate) fn of(
        allowed_ips: &[AddressRange],
        credits: Option<Arc<CreditAccount>>,
    ) -> Option<Self> {
        (!allowed_ips.is_empty() || credits.is_some()).then(|| Self {
            allowed_ips: allowed_ips.into(),
            credits,
        })
    }

    /// The address ranges the key may be used from (empty: anywhere).
    #[must_use]
    pub fn allowed_ips(&self) -> &[AddressRange] {
        &self.allowed_ips
    }

    /// The key's credits as they stand now, if it has any.
    #[must_use]
    pub fn credits(&self) -> Option<Credits> {
        self.credits.as_deref().map(CreditAccount::credits)
    }

    pub(crate) fn account(&self) -> Option<&Arc<CreditAccount>> {
        self.credits.as_ref()
    }
}

/// Equal allowlists, and credit accounts made from the same credits.
impl PartialEq for KeyPolicies {
    fn eq(&self, other: &Self) -> bool {
        self.allowed_ips == other.allowed_ips
            && match (&self.credits, &other.credits) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b) || b.was_given(&a.given()),
                _ => false,
            }
    }
}

impl std::fmt::Debug for KeyPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPolicies")
            .field("allowed_ips", &self.allowed_ips)
            .field("credits", &self.credits)
            .finish()
    }
}
