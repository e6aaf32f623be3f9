//! Every statement the crate sends to Postgres, in one place (the schema
//! is `schema.sql`). `$1` is always the namespace.

/// The schema, idempotent.
pub(super) const SCHEMA: &str = include_str!("schema.sql");

/// The head: epoch and version, and the entry id of the head's log row
/// (NULL when there is none: version 0, or trimmed).
pub(super) const HEAD: &str = "SELECT s.epoch, s.version, l.entry FROM tba_store s \
     LEFT JOIN tba_log l ON l.namespace = s.namespace AND l.version = s.version \
     WHERE s.namespace = $1";

/// One page of key records after `seq` `$2`, `$3` at most.
pub(super) const PAGE: &str = "SELECT seq, digest, record FROM tba_key \
     WHERE namespace = $1 AND seq > $2 ORDER BY seq LIMIT $3";

/// One round, in one snapshot: whether the server is a standby, the head,
/// the entry id of the log row at version `$2` (the one the replica applied
/// last), and the log entries after it (`$3` at most). Always one row at
/// least; the entry columns are NULL when there is none.
pub(super) const ROUND: &str = "SELECT r.standby, s.epoch, s.version, r.at, \
     l.version, l.digest, l.id, l.record, l.entry \
     FROM (SELECT pg_is_in_recovery() AS standby, \
        (SELECT entry FROM tba_log WHERE namespace = $1 AND version = $2) AS at) r \
     LEFT JOIN tba_store s ON s.namespace = $1 \
     LEFT JOIN LATERAL (SELECT version, digest, id, record, entry FROM tba_log \
        WHERE namespace = $1 AND version > $2 ORDER BY version LIMIT $3) l \
        ON s.namespace IS NOT NULL \
     ORDER BY l.version";

/// Whether the log holds an entry after version `$2`.
pub(super) const HAS_AFTER: &str =
    "SELECT 1 FROM tba_log WHERE namespace = $1 AND version > $2 LIMIT 1";

/// Last uses (`$2` ids, `$3` minutes), keeping the later minute.
pub(super) const FLUSH_USED: &str = "INSERT INTO tba_used (namespace, id, minute) \
     SELECT $1, u.id, u.minute FROM UNNEST($2::text[], $3::int[]) AS u(id, minute) \
     ON CONFLICT (namespace, id) DO UPDATE SET minute = GREATEST(tba_used.minute, EXCLUDED.minute)";

/// Adds usage counts: ids `$2`, days `$3`, then the four counts.
pub(super) const FLUSH_USAGE: &str = "INSERT INTO tba_usage \
     (namespace, id, day, passed, rate_limited, usage_exceeded, refused) \
     SELECT $1, u.id, u.day, u.p, u.r, u.x, u.f \
     FROM UNNEST($2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[]) \
     AS u(id, day, p, r, x, f) \
     ON CONFLICT (namespace, id, day) DO UPDATE SET \
     passed = tba_usage.passed + EXCLUDED.passed, \
     rate_limited = tba_usage.rate_limited + EXCLUDED.rate_limited, \
     usage_exceeded = tba_usage.usage_exceeded + EXCLUDED.usage_exceeded, \
     refused = tba_usage.refused + EXCLUDED.refused";

/// Deletes usage of days before `$2`.
pub(super) const PRUNE_USAGE: &str = "DELETE FROM tba_usage WHERE namespace = $1 AND day < $2";

/// One key's (`$2`) usage on the days `$3` to `$4`.
#[cfg(feature = "admin")]
pub(super) const USAGE: &str = "SELECT day, passed, rate_limited, usage_exceeded, refused \
     FROM tba_usage WHERE namespace = $1 AND id = $2 AND day >= $3 AND day <= $4";

/// Appends an audit event; its sequence number.
#[cfg(feature = "admin")]
pub(super) const APPEND_AUDIT: &str = "INSERT INTO tba_audit \
     (namespace, at, action, target, actor, fields) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq";

/// Audit events older than `$2` (`NULL`: all), of target `$3` (`NULL`:
/// any), newest first, at most `$4`.
#[cfg(feature = "admin")]
pub(super) const AUDIT: &str = "SELECT seq, at, action, target, actor, fields FROM tba_audit \
     WHERE namespace = $1 AND ($2::bigint IS NULL OR seq < $2) \
     AND ($3::text IS NULL OR target = $3) ORDER BY seq DESC LIMIT $4";

/// Every last use of the namespace.
pub(super) const LAST_USES: &str = "SELECT id, minute FROM tba_used WHERE namespace = $1";

/// Creates the store's row (epoch `$2`, version 0) when it is missing.
pub(super) const INITIALISE: &str = "INSERT INTO tba_store (namespace, epoch, version) \
     VALUES ($1, $2, 0) ON CONFLICT (namespace) DO NOTHING";

/// The store's version, locking its row until the transaction ends.
pub(super) const LOCK_STORE: &str = "SELECT version FROM tba_store WHERE namespace = $1 FOR UPDATE";

/// Sets the store's version to `$2`.
pub(super) const SET_VERSION: &str = "UPDATE tba_store SET version = $2 WHERE namespace = $1";

/// Logs changes: versions `$2`, digests `$3`, ids `$4`, records `$5`
/// (NULL: deleted), and tells the listeners.
pub(super) const LOG: &str = "WITH logged AS (\
     INSERT INTO tba_log (namespace, version, digest, id, record) \
     SELECT $1, l.version, l.digest, l.id, l.record \
     FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[]) AS l(version, digest, id, record)) \
     SELECT pg_notify('tba_changes', $1)";

/// Forgets log entries at or below version `$2`.
pub(super) const TRIM_LOG: &str = "DELETE FROM tba_log WHERE namespace = $1 AND version <= $2";

/// A key by id: its digest and record.
pub(super) const KEY_BY_ID: &str =
    "SELECT digest, record FROM tba_key WHERE namespace = $1 AND id = $2";

/// Inserts a key (`$2` digest, `$3` id, `$4` record).
pub(super) const INSERT_KEY: &str =
    "INSERT INTO tba_key (namespace, digest, id, record) VALUES ($1, $2, $3, $4)";

/// Replaces the record of key `$2` if it is still `$4` (compare-and-set).
pub(super) const SWAP_KEY: &str =
    "UPDATE tba_key SET record = $3 WHERE namespace = $1 AND id = $2 AND record = $4";

/// Deletes key `$2` if its record is still `$3` (compare-and-set); its
/// digest.
pub(super) const DELETE_KEY: &str =
    "DELETE FROM tba_key WHERE namespace = $1 AND id = $2 AND record = $3 RETURNING digest";

/// The keys of ids `$2`: id, digest, record. One unique-index lookup per
/// id (`LATERAL`): during a large import the table's statistics lag far
/// behind ("2,450 rows" at 450,000), and `id = ANY($2)` was planned as a
/// scan of the whole namespace, which made a million keys take 72 s.
pub(super) const KEYS_BY_IDS: &str = "SELECT k.id, k.digest, k.record \
     FROM UNNEST($2::text[]) AS u(id) \
     CROSS JOIN LATERAL (SELECT id, digest, record FROM tba_key \
        WHERE namespace = $1 AND id = u.id) k";

/// Inserts keys: digests `$2`, ids `$3`, records `$4`.
pub(super) const INSERT_KEYS: &str = "INSERT INTO tba_key (namespace, digest, id, record) \
     SELECT $1, k.digest, k.id, k.record FROM UNNEST($2::text[], $3::text[], $4::text[]) \
     AS k(digest, id, record)";

/// Replaces keys by id: ids `$2`, digests `$3`, records `$4`.
pub(super) const UPDATE_KEYS: &str = "UPDATE tba_key SET digest = k.digest, record = k.record \
     FROM UNNEST($2::text[], $3::text[], $4::text[]) AS k(id, digest, record) \
     WHERE tba_key.namespace = $1 AND tba_key.id = k.id";

/// Every key id of the namespace.
pub(super) const IDS: &str = "SELECT id FROM tba_key WHERE namespace = $1";

/// Every key record of the namespace.
pub(super) const RECORDS: &str = "SELECT digest, record FROM tba_key WHERE namespace = $1";
