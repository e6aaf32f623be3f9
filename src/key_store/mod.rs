//! API keys: what a key is, how it is generated and written down, and the
//! in-memory store that validates tokens against a key set.
//!
//! This folder decides everything about keys and nothing about requests. It
//! has three parts, and the first never depends on the others:
//!
//! - **The key model**, at this level: a key as given to a store
//!   ([`KeyEntry`]), its stored form (one compact record per key, never the
//!   token: only its SHA-256 [`TokenDigest`]), the principal handlers see
//!   ([`ApiKey`]), key generation ([`KeyGenerator`]: a CSPRNG token with a
//!   CRC32 checksum, shown once as a [`SecretToken`]), what makes a key set
//!   valid (ids, labels, no id or digest twice), and the JSON keys file
//!   ([`keys_file::KeysFile`], with its own RFC 3339 timestamps). Any store
//!   reuses it.
//! - **The in-memory index** ([`KeyStore`], in `memory/`): a sharded digest
//!   index that requests read without a lock, compared in constant time,
//!   with a decoy compare on a miss so that unknown tokens cost the same.
//! - **The shared store** (feature `redis`, the public module `redis`): a
//!   key set kept in Redis that many replicas follow, each holding it in a
//!   [`KeyStore`] (`redis::SharedKeyStore`, `redis::RedisKeyWriter`). It
//!   reuses the model: its records are the keys file's entries.
//!
//! Changing keys at runtime, whatever holds them, is the public module
//! `admin` (`admin::KeyAdmin` and its implementations).
//!
//! ```
//! use tower_bearer_auth::{KeyEntry, KeyGenerator, KeyStore, ScopeSet};
//!
//! let store = KeyStore::new();
//! let key = KeyGenerator::with_prefix("ais")?.generate()?;
//! store.insert(
//!     KeyEntry::new(key.id(), "Staging Server", key.digest())
//!         .with_scopes(ScopeSet::parse("profile:read")?),
//! )?;
//! println!("shown once: {}", key.token().expose());
//! assert_eq!(store.verify(key.token().expose())?.label(), "Staging Server");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(any(feature = "admin", feature = "replica"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "admin", feature = "replica"))))]
pub mod admin;
mod api_key;
mod checksum;
mod clock;
mod digest;
mod entry;
mod error;
mod generator;
#[cfg(feature = "keys-file")]
#[cfg_attr(docsrs, doc(cfg(feature = "keys-file")))]
pub mod keys_file;
mod memory;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
mod record;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
#[cfg(feature = "replica")]
pub(crate) mod replica;
#[cfg(feature = "keys-file")]
pub(crate) mod rfc3339;
mod secret_token;
pub mod usage;

/// Whether `token` ends with the checksum of a generated key (a cheap
/// test before any lookup).
#[cfg(feature = "secret-scanning")]
pub(crate) fn has_valid_checksum(token: &str) -> bool {
    checksum::is_valid(token)
}

pub use self::api_key::ApiKey;
pub use self::digest::TokenDigest;
pub use self::entry::KeyEntry;
#[cfg(feature = "admin")]
pub(crate) use self::entry::{ID_RULE, METADATA_RULE, is_valid_id, is_valid_metadata};
#[cfg(feature = "admin")]
pub(crate) use self::entry::{LABEL_RULE, is_valid_label};
pub use self::error::KeyStoreError;
pub use self::generator::{GeneratedKey, KeyGenError, KeyGenerator};
#[cfg(feature = "admin")]
pub(crate) use self::keys_file::{parse_quota, shown_field_name};
pub use self::memory::{KeyCounts, KeyStore, KeyStoreBuilder};
pub use self::record::Metadata;
pub use self::secret_token::SecretToken;
