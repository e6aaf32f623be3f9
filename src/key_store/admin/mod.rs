//! Changing a key set at runtime, whatever holds it: one async interface
//! ([`KeyAdmin`]) with two implementations, the embedded store persisted to
//! its keys file ([`EmbeddedKeyAdmin`]) and the key set shared through Redis
//! (`SharedKeyAdmin`, feature `redis`). The admin API and the portal are
//! written once, against the interface.
//!
//! A change applies to every request that starts after the change returns
//! (on the replica that made it, for the shared store; on the others within
//! the propagation bound). A refused change changes nothing.

#[cfg(feature = "admin")]
mod embedded;
mod error;

#[cfg(feature = "admin")]
use std::future::Future;

#[cfg(feature = "admin")]
pub use self::embedded::{ChangesHeld, EmbeddedKeyAdmin};
pub use self::error::AdminError;
#[cfg(feature = "admin")]
use super::KeyEntry;

/// The write side of a key set, as an admin API needs it. Reads return
/// keys with their last use; no method ever sees a token, only digests.
///
/// Implemented by [`EmbeddedKeyAdmin`] and, with the `redis` feature, by
/// `SharedKeyAdmin`.
#[cfg(feature = "admin")]
pub trait KeyAdmin: Send + Sync + 'static {
    /// Every key, active and revoked.
    fn entries(&self) -> impl Future<Output = Result<Vec<KeyEntry>, AdminError>> + Send;

    /// The key with this id, active or revoked.
    fn entry(&self, id: &str) -> impl Future<Output = Result<Option<KeyEntry>, AdminError>> + Send;

    /// Adds a key.
    fn insert(&self, entry: KeyEntry) -> impl Future<Output = Result<(), AdminError>> + Send;

    /// Changes the key with this id with `change`, which may run more than
    /// once (compare-and-set); returns the key as changed.
    fn update<F>(
        &self,
        id: &str,
        change: F,
    ) -> impl Future<Output = Result<KeyEntry, AdminError>> + Send
    where
        F: FnMut(KeyEntry) -> Result<KeyEntry, AdminError> + Send;

    /// Forgets a key entirely: it fails like a revoked one.
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), AdminError>> + Send;
}
