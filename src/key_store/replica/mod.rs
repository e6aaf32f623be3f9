//! A replica of a shared key set, whatever backend feeds it.
//!
//! This folder decides what a replica may answer and when: it holds the
//! whole key set in memory (a [`KeyStore`](crate::KeyStore), so a
//! validation never leaves the process), follows a source's ordered
//! changes, proves with every answer of the source that it holds every
//! write committed before that answer was asked for, and answers 503 when
//! it cannot ([`OutagePolicy`]). A backend (`key_store::redis` today)
//! implements the crate-internal [`Feed`](feed::Feed): a full load by
//! pages, ordered changes after a position, and the source's head (epoch
//! and version) read after them. Everything else is decided here, once:
//!
//! - **Following** (`follow.rs`): a gap in the changes, an entry the
//!   replica cannot read, or a new epoch means a full load; the head's
//!   version is the proof of freshness.
//! - **Never un-revoke** (`tombstones.rs`, `follow.rs`): the replica
//!   remembers the highest version it applied and the digests it saw
//!   revoked or deleted. A source that is behind it (a restored snapshot, a
//!   stale former primary, lost writes) is never proof of freshness and
//!   never loaded, and no load or change brings a remembered digest back.
//! - **Loads beside the copy in force**: a full load builds the new key set
//!   page by page while the copy in force keeps following the changes and
//!   proving freshness; the new set replaces it in one step.

// The `replica` feature alone (no backend) compiles this folder for the
// feature check; only `redis` and `postgres` use all of it.
#![cfg_attr(
    not(any(feature = "redis", feature = "postgres")),
    allow(unused, unreachable_pub)
)]

#[cfg(feature = "admin")]
mod admin;
mod apply;
mod build;
pub(crate) mod codec;
mod error;
pub(crate) mod feed;
mod follow;
mod freshness;
mod import;
mod options;
pub(crate) mod report;
mod store;
pub(crate) mod task;
mod tombstones;
mod usage;
#[cfg(feature = "admin")]
mod writer;

#[cfg(feature = "admin")]
pub use self::admin::SharedKeyAdmin;
pub use self::error::SyncError;
pub(crate) use self::follow::{FollowSettings, Follower};
pub use self::freshness::{OutagePolicy, ReplicaState};
pub use self::import::ImportReport;
pub(crate) use self::import::{ImportRow, changed_entries, import_row, read_batches};
pub(crate) use self::options::{ReplicaOptions, is_valid_namespace};
#[cfg(all(feature = "redis", feature = "rate-limit"))]
pub(crate) use self::store::LimiterHome;
pub(crate) use self::store::{ReplicaSettings, Shared};
pub use self::store::{SharedKeyStore, SourceBehind, SyncStatus};
pub(crate) use self::usage::{drain_usage, restore_usage};
#[cfg(feature = "admin")]
pub(crate) use self::writer::KeyWriter;
