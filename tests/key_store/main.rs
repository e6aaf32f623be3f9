//! The key store: lifecycle, uniqueness, expiry, the keys file, and
//! revocation under load.

#[path = "../support/mod.rs"]
mod support;

mod keys_file;
mod revocation_under_load;
mod store;
