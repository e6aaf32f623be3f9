//! A key set shared by many replicas through Postgres (feature `postgres`).
//!
//! This folder decides what speaks Postgres: every replica keeps the whole
//! set in memory ([`SharedKeyStore`], a validator that never touches the
//! network; the replica itself, its freshness, its full loads and its
//! refusal to go back to an older state are backend-neutral, shared with
//! the Redis store), Postgres holds the set as digests only, with a
//! version and a change log, and every write goes through
//! [`PostgresKeyWriter`], one transaction that changes the record, takes
//! the next version, logs the change and notifies the replicas
//! (`pg_notify`). A replica `LISTEN`s, and reads the changes and the head
//! in one statement at least every quarter of `max_staleness`: the head
//! is its proof of freshness. A replica that cannot prove its copy fresh
//! answers 503 rather than guess ([`OutagePolicy`]).
//!
//! # Schema
//!
//! `schema.sql` in the crate, applied by [`PostgresKeyWriter::init`] or
//! `keygen --postgres URL --init`: `tba_store` (namespace, epoch, version),
//! `tba_key` (namespace, digest, id, record; the digest and the id unique
//! per namespace), `tba_log` (namespace, version, digest, id, record; the
//! last 10,000 kept) and `tba_used` (last uses, to the minute). Records
//! are the crate's record format (see [`redis`](super) "Record format"
//! when that feature is on: the same text). Nothing there is a token.
//!
//! The writer's user needs `SELECT`, `INSERT`, `UPDATE`, `DELETE` on the
//! four tables (and `CREATE` for `init`); a replica's user needs `SELECT`
//! on `tba_store`, `tba_key` and `tba_log`, and `SELECT`, `INSERT`,
//! `UPDATE` on `tba_used`.
//!
//! # Connections
//!
//! A replica holds one connection (its `LISTEN` and its prepared
//! statements must stay on one session): connect directly or through a
//! pooler in session mode. `PgBouncer`'s transaction mode cannot carry
//! `LISTEN` and is not supported.
//!
//! # TLS
//!
//! With the `postgres-tls` feature, the URL's `sslmode` is read as libpq
//! reads it: `require` (encrypted, the server not verified, unless
//! `sslrootcert` is given), `verify-ca` (the chain), `verify-full` (the
//! chain and the name); `sslrootcert=FILE` names a CA of your own (PEM),
//! else the system's roots are used. `prefer` and `allow` are refused:
//! they may fall back to plaintext. Without the feature, any `sslmode` but
//! `disable` is refused.
//!
//! # Failover
//!
//! After a failover to an asynchronous standby that missed writes, a
//! replica sees the new primary behind it and proves nothing until
//! re-import or `accept_source()`. If the new primary takes other writes
//! at the same versions, the replica sees that the log row it applied last
//! is not there (each row has a random `entry` id) and loads in full;
//! revocations it applied stay in force. Synchronous replication for the
//! key store's database avoids losing writes in the first place.

mod builder;
mod connection;
mod feed;
#[cfg(feature = "admin")]
mod history;
mod import;
mod statements;
#[cfg(feature = "postgres-tls")]
mod tls;
mod writer;

pub use self::builder::PostgresStoreBuilder;
pub use self::writer::PostgresKeyWriter;
#[cfg(feature = "admin")]
#[doc(inline)]
pub use crate::key_store::replica::SharedKeyAdmin;
#[doc(inline)]
pub use crate::key_store::replica::{
    ImportReport, OutagePolicy, ReplicaState, SharedKeyStore, SourceBehind, SyncError, SyncStatus,
};
