//! A key set shared by many replicas through Redis (feature `redis`).
//!
//! This folder decides what speaks Redis: every replica keeps the whole set
//! in memory ([`SharedKeyStore`], a validator that never touches the
//! network; the replica itself, its freshness, its full loads and its
//! refusal to go back to an older state are backend-neutral, in the crate's
//! `key_store/replica/`), Redis holds the set as digests only, with a
//! version and a change log (a Redis Stream), and every write goes through
//! [`RedisKeyWriter`], whose Lua scripts change the record, the version and
//! the log in one atomic step. Here: the builder
//! ([`SharedKeyStoreBuilder`]), the feed a replica follows (a connection of
//! its own, `XREAD` as the heartbeat, `HSCAN` pages for a full load), the
//! writer and its scripts. A replica that cannot prove its copy fresh
//! answers 503 rather than guess ([`OutagePolicy`]); its state is a
//! [`ReplicaState`].
//!
//! In Redis, under the hash tag `{tba:<namespace>}`: `keys` (hash: digest
//! -> the key's record), `ids` (hash: id -> digest), `ver` (the version),
//! `epoch` (written when the store is initialised) and `log` (the stream,
//! about 10,000 entries). Nothing there is a token.
//!
//! # Record format
//!
//! A record is versioned. Version 2, written today, is one line of text:
//! `tba2`, then 12 fields each after a tab: id, label, scopes
//! (space-separated), created at (RFC 3339), expires at, revoked (`r` or
//! empty), hint, last used at, rate limit (`REQUESTS/SECONDS`), rotated
//! from, rotated to, metadata (a JSON object of strings); an empty field
//! is an absent value. The digest is the record's field, not repeated.
//! Version 1 (a keys-file entry as JSON, `hash` included) is still read,
//! never written. A record that is neither, or breaks a field's rule, is
//! unreadable: every replica leaves that key out.

mod builder;
mod connection;
mod feed;
#[cfg(feature = "admin")]
mod history;
mod import;
mod layout;
mod report;
mod source;
mod sync;
#[cfg(feature = "redis-tls")]
mod tls;
mod writer;

pub use self::builder::SharedKeyStoreBuilder;
pub(crate) use self::connection::KeptConnection;
pub(crate) use self::source::Source;
#[cfg(feature = "redis-tls")]
pub use self::tls::RedisTls;
pub use self::writer::RedisKeyWriter;
#[cfg(feature = "rate-limit")]
pub(crate) use crate::key_store::replica::LimiterHome;
#[cfg(feature = "admin")]
#[doc(inline)]
pub use crate::key_store::replica::SharedKeyAdmin;
#[doc(inline)]
pub use crate::key_store::replica::{
    ImportReport, OutagePolicy, ReplicaState, SharedKeyStore, SourceBehind, SyncError, SyncStatus,
};
