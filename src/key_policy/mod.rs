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
//! A key of an owner with [`OwnerLimits`] and no rate limit or credits of
//! its own shares the owner's: one rate-limit bucket (`@<owner>`) and one
//! balance for all such keys of the owner.
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
mod owner;
#[cfg(feature = "redis")]
pub(crate) mod redis;

use std::sync::Arc;

pub use self::address::{AddressRange, InvalidAddressRange};
pub use self::client::{PeerAddress, TrustedProxies};
pub use self::costs::CreditCosts;
pub(crate) use self::credits::CreditAccount;
pub use self::credits::{Credits, InvalidRefill, Refill};
pub use self::owner::OwnerLimits;

/// The most address ranges a key's allowlist holds.
pub const MAX_ALLOWED_IPS: usize = 64;

/// What a key carries beyond its identity and scopes that the layer
/// enforces: its address allowlist, its live credit balance, and what it
/// shares with the other keys of its owner. Read through
/// [`Principal::key_policies`](crate::Principal::key_policies); built by
/// the key store.
pub struct KeyPolicies {
    allowed_ips: Box<[AddressRange]>,
    credits: Option<Arc<CreditAccount>>,
    owner: Option<OwnerShare>,
}

/// What a key shares with the other keys of its owner: the owner's rate
/// limit (one bucket) and credits (one balance).
pub(crate) struct OwnerShare {
    /// `@<owner>`: the bucket and the shared ledger's name (no key id
    /// holds `@`, so it never meets a key's own).
    pub(crate) name: Box<str>,
    pub(crate) limits: OwnerLimits,
    pub(crate) credits: Option<Arc<CreditAccount>>,
}

impl KeyPolicies {
    /// The policies of a key with these fields; `None` when it has none.
    #[cfg(feature = "key-store")]
    pub(crate) fn of(
        allowed_ips: &[AddressRange],
        credits: Option<Arc<CreditAccount>>,
        owner: Option<OwnerShare>,
    ) -> Option<Self> {
        (!allowed_ips.is_empty() || credits.is_some() || owner.is_some()).then(|| Self {
            allowed_ips: allowed_ips.into(),
            credits,
            owner,
        })
    }

    /// The address ranges the key may be used from (empty: anywhere).
    #[must_use]
    pub fn allowed_ips(&self) -> &[AddressRange] {
        &self.allowed_ips
    }

    /// The key's own credits as they stand now, if it has any.
    #[must_use]
    pub fn credits(&self) -> Option<Credits> {
        self.credits.as_deref().map(CreditAccount::credits)
    }

    /// The owner's limits this key carries, as written.
    #[must_use]
    pub fn owner_limits(&self) -> OwnerLimits {
        self.owner
            .as_ref()
            .map_or_else(OwnerLimits::new, |owner| owner.limits)
    }

    /// The owner's credits as they stand now on this process, if the key
    /// carries its owner's credits.
    #[cfg(feature = "admin")]
    pub(crate) fn owner_credits_now(&self) -> Option<Credits> {
        self.owner
            .as_ref()?
            .credits
            .as_deref()
            .map(CreditAccount::credits)
    }

    /// The key's own credit account.
    #[cfg(any(feature = "admin", feature = "replica"))]
    pub(crate) fn own_account(&self) -> Option<&Arc<CreditAccount>> {
        self.credits.as_ref()
    }

    /// The account a request spends from: the key's own, else its
    /// owner's; with the ledger's name (the key's id, or `@<owner>`).
    pub(crate) fn account<'a>(&'a self, id: &'a str) -> Option<(&'a Arc<CreditAccount>, &'a str)> {
        if let Some(own) = &self.credits {
            return Some((own, id));
        }
        let owner = self.owner.as_ref()?;
        Some((owner.credits.as_ref()?, &owner.name))
    }

    /// The owner's share, if the key carries its owner's limits.
    #[cfg(any(
        feature = "replica",
        all(feature = "rate-limit", feature = "key-store")
    ))]
    pub(crate) fn owner(&self) -> Option<&OwnerShare> {
        self.owner.as_ref()
    }
}

/// Equal allowlists, credit accounts made from the same credits, and the
/// same owner limits.
impl PartialEq for KeyPolicies {
    fn eq(&self, other: &Self) -> bool {
        self.allowed_ips == other.allowed_ips
            && same_account(self.credits.as_ref(), other.credits.as_ref())
            && match (&self.owner, &other.owner) {
                (None, None) => true,
                (Some(a), Some(b)) => {
                    a.name == b.name
                        && a.limits == b.limits
                        && same_account(a.credits.as_ref(), b.credits.as_ref())
                }
                _ => false,
            }
    }
}

fn same_account(a: Option<&Arc<CreditAccount>>, b: Option<&Arc<CreditAccount>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || b.was_given(&a.given()),
        _ => false,
    }
}

impl std::fmt::Debug for KeyPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPolicies")
            .field("allowed_ips", &self.allowed_ips)
            .field("credits", &self.credits)
            .field("owner", &self.owner.as_ref().map(|owner| &owner.name))
            .finish()
    }
}
