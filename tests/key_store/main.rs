//! The key store: lifecycle, uniqueness, expiry, the keys file,
//! revocation under load, and the key set shared through a real Redis.

#[path = "../support/mod.rs"]
mod support;

mod keys_file;
mod last_used;
mod revocation_under_load;
mod shared_credits;
mod shared_rate_limit;
mod shared_rate_limit_shares;
mod shared_store;
mod shared_store_cluster;
mod shared_store_faults;
mod shared_store_postgres;
#[cfg(feature = "postgres-tls")]
mod shared_store_postgres_tls;
mod shared_store_scale;
mod shared_store_sentinel;
#[cfg(feature = "redis-tls")]
mod shared_store_tls;
mod store;
