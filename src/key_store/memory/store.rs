//! The key store: the default [`TokenValidator`] for API keys.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;
use http::request::Parts;
use subtle::ConstantTimeEq;

#[cfg(feature = "replica")]
use super::assembly::Assembly;
use super::catalog::Catalog;
use super::snapshot::Snapshot;
use crate::key_store::{ApiKey, KeyEntry, KeyStoreError, TokenDigest};
use crate::key_store::{checksum, clock};
use crate::validator::{TokenValidator, ValidationError};

/// A digest no token is expected to hash to, compared against on a miss so
/// that unknown tokens cost the same work as known ones.
const DECOY: TokenDigest = TokenDigest::from_bytes([0x5A; 32]);

/// An in-memory store of API keys, kept only as SHA-256 digests.
///
/// * **Lookup** hashes the token once, probes one shard of a hash index by
///   digest, and compares the full 32-byte digest in constant time. There is
///   no linear scan and no variable-length comparison; an unknown token does
///   the same work as a known one.
/// * **Updates** ([`insert`](Self::insert), [`revoke`](Self::revoke),
///   [`remove`](Self::remove), [`replace_all`](Self::replace_all)) may come
///   from any thread while requests are served. Readers take no lock: they
///   load an immutable snapshot that writers replace atomically. A revocation
///   applies to every request whose validation starts after `revoke` returns.
/// * A revoked key is refused exactly like an unknown one; an expired key is
///   refused as expired.
///
/// `KeyStore` is a handle: clones share the same keys.
///
/// ```
/// use tower_bearer_auth::{KeyEntry, KeyGenerator, KeyStore, ValidationFailure};
///
/// let store = KeyStore::new();
/// let key = KeyGenerator::new().generate()?;
/// store.insert(KeyEntry::new(key.id(), "Production Dialer", key.digest()))?;
///
/// let principal = store.verify(key.token().expose())?;
/// assert_eq!(principal.label(), "Production Dialer");
///
/// store.revoke(key.id())?;
/// let refused = store.verify(key.token().expose()).unwrap_err();
/// assert_eq!(refused.failure(), ValidationFailure::Invalid);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct KeyStore {
    shared: Arc<Shared>,
}

struct Shared {
    snapshot: ArcSwap<Snapshot>,
    catalog: Mutex<Catalog>,
    require_checksum: bool,
}

/// Configures a [`KeyStore`].
#[derive(Debug, Clone, Default)]
pub struct KeyStoreBuilder {
    require_checksum: bool,
}

impl KeyStoreBuilder {
    /// Refuse, as malformed and without a lookup, tokens that do not have
    /// the generated form `<prefix>_<random><checksum>` with a valid CRC32
    /// checksum (see [`KeyGenerator`](crate::KeyGenerator)). Off by default,
    /// so that keys imported from another system keep working.
    #[must_use]
    pub fn require_checksum(mut self, require: bool) -> Self {
        self.require_checksum = require;
        self
    }

    /// Builds an empty store.
    #[must_use]
    pub fn build(self) -> KeyStore {
        clock::start();
        KeyStore {
            shared: Arc::new(Shared {
                snapshot: ArcSwap::from_pointee(Snapshot::empty()),
                catalog: Mutex::new(Catalog::default()),
                require_checksum: self.require_checksum,
            }),
        }
    }
}

/// How many keys a store holds, after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCounts {
    /// Keys that are accepted (expired ones included).
    pub active: usize,
    /// Keys kept but refused.
    pub revoked: usize,
}

impl Default for KeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyStore {
    /// An empty store accepting any b64token whose digest it holds.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts configuring a store.
    #[must_use]
    pub fn builder() -> KeyStoreBuilder {
        KeyStoreBuilder::default()
    }

    /// Checks a token: the principal of its key, or why it is refused.
    ///
    /// # Errors
    ///
    /// [`ValidationError::invalid`] for an unknown or revoked token,
    /// [`ValidationError::expired`] for an expired key, and
    /// [`ValidationError::malformed`] for a bad checksum when the store
    /// requires one.
    pub fn verify(&self, token: &str) -> Result<ApiKey, ValidationError> {
        if self.shared.require_checksum && !checksum::is_valid(token) {
            return Err(ValidationError::malformed());
        }
        let digest = TokenDigest::of(token);
        let snapshot = self.shared.snapshot.load();
        let Some(record) = snapshot.get(&digest) else {
            std::hint::black_box(digest.ct_eq(&DECOY));
            return Err(ValidationError::invalid());
        };
        if record.is_expired() {
            return Err(ValidationError::expired());
        }
        record.touch(clock::minute());
        Ok(ApiKey(Arc::clone(record)))
    }

    /// Adds a key.
    ///
    /// # Errors
    ///
    /// [`KeyStoreError`] if the id or label is invalid, or the id or digest
    /// is already in the store (active or revoked). The store is unchanged.
    pub fn insert(&self, entry: KeyEntry) -> Result<KeyCounts, KeyStoreError> {
        let mut catalog = self.lock();
        let revoked = entry.revoked;
        let snapshot = self.shared.snapshot.load();
        let record = catalog.insert(entry, |digest| snapshot.get(digest).map(|r| &**r))?;
        if !revoked {
            self.shared.snapshot.store(Arc::new(snapshot.with(record)));
        }
        Ok(counts(&catalog))
    }

    /// Puts a key in force as given: adds it, or replaces the key with the
    /// same id (its label, scopes, expiry, revocation, even its digest),
    /// in one atomic step. Every validation that starts after this returns
    /// sees the new key.
    ///
    /// ```
    /// use tower_bearer_auth::{KeyEntry, KeyStore, ScopeSet};
    /// use tower_bearer_auth::key_store::TokenDigest;
    ///
    /// let store = KeyStore::new();
    /// let entry = KeyEntry::new("key_a", "Staging Server", TokenDigest::of("sk_a"));
    /// store.upsert(entry.clone())?;
    /// store.upsert(entry.with_scopes(ScopeSet::parse("profile:read")?))?;
    /// assert!(store.verify("sk_a")?.scopes().contains("profile:read"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeyStoreError`] if the id or label is invalid, or another key (by
    /// id) has this digest. The store is unchanged.
    pub fn upsert(&self, entry: KeyEntry) -> Result<KeyCounts, KeyStoreError> {
        let mut catalog = self.lock();
        let snapshot = self.shared.snapshot.load();
        let (record, replaced) =
            catalog.upsert(entry, |digest| snapshot.get(digest).map(|r| &**r))?;
        let active = !catalog.is_revoked(record.id());
        let next = match replaced {
            Some((old, true)) if active => snapshot.without(&old.digest).with(record),
            Some((old, true)) => snapshot.without(&old.digest),
            _ if active => snapshot.with(record),
            // A revoked key replacing a revoked or no key: the index of
            // active keys does not change.
            _ => return Ok(counts(&catalog)),
        };
        self.shared.snapshot.store(Arc::new(next));
        Ok(counts(&catalog))
    }

    /// Whether any key, active or revoked, holds `digest`.
    #[cfg(feature = "admin")]
    pub(crate) fn holds_digest(&self, digest: &TokenDigest) -> bool {
        self.shared.snapshot.load().get(digest).is_some()
            || self.lock().revoked_holder(digest).is_some()
    }

    /// Calls `visit` with the id and last-use minute of every active key
    /// used at least once, without a lock (for flushing last uses).
    #[cfg(any(feature = "redis", feature = "postgres"))]
    pub(crate) fn for_each_last_use(&self, mut visit: impl FnMut(&str, u32)) {
        self.shared.snapshot.load().for_each(|record| {
            let minute = record.last_used_minute();
            if minute > 0 {
                visit(record.id(), minute);
            }
        });
    }

    /// Calls `visit` with the id and usage counters of every key, active
    /// and revoked (for draining usage; holds the catalog's lock, never
    /// taken on the request path).
    #[cfg(any(feature = "admin", feature = "replica"))]
    pub(crate) fn for_each_usage(
        &self,
        mut visit: impl FnMut(&str, &super::super::usage::KeyUsage),
    ) {
        let catalog = self.lock();
        catalog.for_each_record(|record| visit(record.id(), &record.usage));
    }

    /// The usage counters of the key `id`, active or revoked.
    #[cfg(feature = "replica")]
    pub(crate) fn usage_of(&self, id: &str, visit: impl FnOnce(&super::super::usage::KeyUsage)) {
        if let Some(record) = self.lock().record_of(id) {
            visit(&record.usage);
        }
    }

    /// Forgets whatever key holds `digest` (active or revoked), if any; for
    /// a replica removing a record it could not read.
    #[cfg(feature = "replica")]
    pub(crate) fn remove_digest(&self, digest: &TokenDigest) {
        let holder = {
            let snapshot = self.shared.snapshot.load();
            snapshot
                .get(digest)
                .map(|record| record.id().to_owned())
                .or_else(|| self.lock().revoked_holder(digest))
        };
        if let Some(id) = holder {
            let _ = self.remove(&id);
        }
    }

    /// Revokes a key: every validation that starts after this returns
    /// refuses it, exactly as if it had never existed. Revoking a revoked
    /// key does nothing.
    ///
    /// # Errors
    ///
    /// [`KeyStoreError::UnknownId`] if no key has this id.
    pub fn revoke(&self, id: &str) -> Result<KeyCounts, KeyStoreError> {
        let mut catalog = self.lock();
        if let Some(record) = catalog.revoke(id) {
            let snapshot = self.shared.snapshot.load().without(&record.digest);
            self.shared.snapshot.store(Arc::new(snapshot));
        } else if !catalog.is_revoked(id) {
            return Err(KeyStoreError::UnknownId { id: id.to_owned() });
        }
        Ok(counts(&catalog))
    }

    /// Forgets a key entirely (active or revoked).
    ///
    /// # Errors
    ///
    /// [`KeyStoreError::UnknownId`] if no key has this id.
    pub fn remove(&self, id: &str) -> Result<KeyCounts, KeyStoreError> {
        let mut catalog = self.lock();
        let Some((record, was_active)) = catalog.remove(id) else {
            return Err(KeyStoreError::UnknownId { id: id.to_owned() });
        };
        if was_active {
            let snapshot = self.shared.snapshot.load().without(&record.digest);
            self.shared.snapshot.store(Arc::new(snapshot));
        }
        Ok(counts(&catalog))
    }

    /// Replaces every key at once. Either all entries are valid and the new
    /// set is swapped in atomically, or nothing changes: a bad entry never
    /// leaves the store half-updated.
    ///
    /// # Errors
    ///
    /// [`KeyStoreError`] naming the first invalid or repeated entry.
    pub fn replace_all(
        &self,
        entries: impl IntoIterator<Item = KeyEntry>,
    ) -> Result<KeyCounts, KeyStoreError> {
        let (fresh, snapshot) = Catalog::build(entries)?;
        let mut catalog = self.lock();
        fresh.keep_last_uses(&catalog);
        self.shared.snapshot.store(Arc::new(snapshot));
        *catalog = fresh;
        Ok(counts(&catalog))
    }

    /// The snapshot in force.
    #[cfg(feature = "replica")]
    pub(super) fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }

    /// Puts `snapshot` in force (under the catalog's lock).
    #[cfg(feature = "replica")]
    pub(super) fn store_snapshot(&self, snapshot: Snapshot) {
        self.shared.snapshot.store(Arc::new(snapshot));
    }

    /// An empty assembly of a new key set that shares, with this store,
    /// every record it holds active and gets again unchanged.
    #[cfg(feature = "replica")]
    pub(crate) fn assembly(&self) -> Assembly {
        Assembly::new(
            self.shared.snapshot.load_full(),
            self.shared.require_checksum,
        )
    }

    /// A store holding `catalog` and its `snapshot`.
    #[cfg(feature = "replica")]
    pub(super) fn from_parts(catalog: Catalog, snapshot: Snapshot, require_checksum: bool) -> Self {
        clock::start();
        Self {
            shared: Arc::new(Shared {
                snapshot: ArcSwap::from_pointee(snapshot),
                catalog: Mutex::new(catalog),
                require_checksum,
            }),
        }
    }

    /// Revokes every active key holding one of `digests`; how many there
    /// were. For a replica keeping revoked what a full load found active.
    #[cfg(feature = "replica")]
    pub(crate) fn revoke_digests<'a>(
        &self,
        digests: impl IntoIterator<Item = &'a TokenDigest>,
    ) -> usize {
        let held: Vec<String> = {
            let snapshot = self.shared.snapshot.load();
            digests
                .into_iter()
                .filter_map(|digest| snapshot.get(digest).map(|record| record.id().to_owned()))
                .collect()
        };
        for id in &held {
            let _ = self.revoke(id);
        }
        held.len()
    }

    /// Calls `visit` with the digest of every revoked key.
    #[cfg(feature = "replica")]
    pub(crate) fn for_each_revoked_digest(&self, visit: impl FnMut(&TokenDigest)) {
        self.lock().for_each_revoked_digest(visit);
    }

    /// Puts the keys of `built` (a store filled elsewhere, as a replica's
    /// full load does off its sync thread) in force in one step, as
    /// [`replace_all`](Self::replace_all) would, without building anything
    /// under this store's lock; last uses noted here meanwhile are kept.
    #[cfg(feature = "replica")]
    pub(crate) fn replace_with(&self, built: &Self) -> KeyCounts {
        let fresh = std::mem::take(&mut *built.lock());
        let snapshot = built.shared.snapshot.load_full();
        let mut catalog = self.lock();
        fresh.keep_last_uses(&catalog);
        self.shared.snapshot.store(snapshot);
        let previous = std::mem::replace(&mut *catalog, fresh);
        let counts = counts(&catalog);
        drop(catalog);
        drop(previous);
        counts
    }

    /// The active key with this id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<ApiKey> {
        self.lock()
            .active(id)
            .map(|record| ApiKey(Arc::clone(record)))
    }

    /// The live credit account of the key with this id, if it has credits.
    #[cfg(feature = "admin")]
    pub(crate) fn credit_account(&self, id: &str) -> Option<Arc<crate::key_policy::CreditAccount>> {
        self.lock()
            .record_of(id)?
            .key_policies()?
            .own_account()
            .cloned()
    }

    /// The key whose token has `digest`, active or revoked, as an entry.
    #[cfg(feature = "admin")]
    pub(crate) fn entry_by_digest(&self, digest: &TokenDigest) -> Option<KeyEntry> {
        if let Some(record) = self.shared.snapshot.load().get(digest) {
            return Some(KeyEntry::from_record(record, false));
        }
        let catalog = self.lock();
        let id = catalog.revoked_holder(digest)?;
        catalog.entry(&id)
    }

    /// The key with this id, active or revoked, as an entry (its label,
    /// scopes, times, digest; never a token).
    #[must_use]
    pub fn entry(&self, id: &str) -> Option<KeyEntry> {
        self.lock().entry(id)
    }

    /// Whether the key with this id is revoked.
    #[must_use]
    pub fn is_revoked(&self, id: &str) -> bool {
        self.lock().is_revoked(id)
    }

    /// Every key, active and revoked, sorted by creation time (for saving).
    #[must_use]
    pub fn entries(&self) -> Vec<KeyEntry> {
        self.lock().entries()
    }

    /// How many keys are active and revoked.
    #[must_use]
    pub fn counts(&self) -> KeyCounts {
        counts(&self.lock())
    }

    /// How many keys are accepted.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.snapshot.load().len()
    }

    /// Whether no key is accepted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Catalog> {
        // Catalog updates do not panic midway; a poisoned lock still holds a
        // consistent catalog.
        self.shared
            .catalog
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn counts(catalog: &Catalog) -> KeyCounts {
    let (active, revoked) = catalog.counts();
    KeyCounts { active, revoked }
}

impl TokenValidator for KeyStore {
    type Principal = ApiKey;
    type Future = Ready<Result<ApiKey, ValidationError>>;

    fn validate(&self, token: &str, _request: &Parts) -> Self::Future {
        ready(self.verify(token))
    }
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = self.counts();
        f.debug_struct("KeyStore")
            .field("active", &counts.active)
            .field("revoked", &counts.revoked)
            .field("require_checksum", &self.shared.require_checksum)
            .finish()
    }
}
