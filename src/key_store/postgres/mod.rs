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
//! A replica holds one connection (its `LISTEN` must stay on one
//! session): connect directly or through a pooler in session mode.
//! `PgBouncer`'s transaction mode cannot carry `LISTEN`; there a replica
//! still proves freshness by its heartbeat, but learns of a write only at
//! the next heartbeat, not within milliseconds.

mod builder;
mod connection;
mod feed;
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
