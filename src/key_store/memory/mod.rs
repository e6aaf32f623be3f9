//! The in-memory index of a key set: the default [`TokenValidator`](crate::TokenValidator)
//! for API keys.
//!
//! Two halves, one lock. The read side ([`snapshot`]) is an immutable,
//! sharded digest index that requests load without any lock; the write side
//! ([`catalog`]) holds every key by id, active and revoked, and is touched
//! only by writers under the store's mutex. A writer builds a new snapshot
//! that shares every untouched shard with the old one and swaps it in.
//!
//! One invariant spans both halves: no two keys share a digest. Active
//! digests live in the snapshot and revoked digests in the catalog, so an
//! insert asks both (`Catalog::insert` takes a lookup into the current
//! snapshot), and `Catalog::build` checks a whole set as it streams it in.
//! Keeping revoked digests
//! out of the snapshot keeps the request path's index small; keeping them at
//! all is what lets a revoked key never be re-added under another id.

#[cfg(feature = "replica")]
mod assembly;
#[cfg(feature = "replica")]
mod batch;
mod catalog;
#[cfg(feature = "keys-file")]
mod persist;
mod snapshot;
mod store;

#[cfg(feature = "replica")]
pub(crate) use self::assembly::Assembly;
#[cfg(feature = "replica")]
pub(crate) use self::batch::Change as BatchChange;
pub use self::store::{KeyCounts, KeyStore, KeyStoreBuilder};
