//! API keys: a hashed, constant-time, revocable store, and key generation.

mod api_key;
mod catalog;
pub(crate) mod checksum;
mod key_entry;
mod key_generator;
mod key_store_error;
mod secret_token;
mod snapshot;
mod store;
mod token_digest;

pub use api_key::{ApiKey, Metadata};
pub use key_entry::KeyEntry;
pub use key_generator::{GeneratedKey, KeyGenError, KeyGenerator, new_key_id};
pub use key_store_error::KeyStoreError;
pub use secret_token::SecretToken;
pub use store::{KeyCounts, KeyStore, KeyStoreBuilder};
pub use token_digest::TokenDigest;
