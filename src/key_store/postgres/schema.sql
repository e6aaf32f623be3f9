-- The shared key store's schema (tower-bearer-auth, feature `postgres`).
-- Applied by `PostgresKeyWriter::init` and `keygen --postgres URL --init`;
-- every statement is idempotent. Nothing here is a token: keys are held as
-- their SHA-256 digests.

-- One row per namespace: the epoch (random, written when the store is
-- initialised) and the version of its last write. Every write bumps the
-- version in its own transaction, holding this row's lock until it
-- commits: versions are handed out in commit order.
CREATE TABLE IF NOT EXISTS tba_store (
    namespace text PRIMARY KEY,
    epoch text NOT NULL,
    version bigint NOT NULL
);

-- The key records (the crate's record format, version 2), one per key.
-- `seq` orders a full load's pages.
CREATE TABLE IF NOT EXISTS tba_key (
    namespace text NOT NULL,
    digest text NOT NULL,
    id text NOT NULL,
    record text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    CONSTRAINT tba_key_digest PRIMARY KEY (namespace, digest),
    CONSTRAINT tba_key_id UNIQUE (namespace, id)
);
CREATE INDEX IF NOT EXISTS tba_key_seq ON tba_key (namespace, seq);

-- The change log: one row per write, the record after it (NULL: the key
-- was deleted), and a random `entry` id: after a failover to a standby
-- that took other writes at the same versions, a replica finds that the
-- entry it applied last is not there, and loads in full. The last 10,000
-- are kept; a replica further behind loads the store in full.
CREATE TABLE IF NOT EXISTS tba_log (
    namespace text NOT NULL,
    version bigint NOT NULL,
    digest text NOT NULL,
    id text NOT NULL,
    record text,
    entry text NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text),
    PRIMARY KEY (namespace, version)
);

-- When each key was last used, to the minute (replicas write it once a
-- minute, keeping the later minute; not part of the change log).
CREATE TABLE IF NOT EXISTS tba_used (
    namespace text NOT NULL,
    id text NOT NULL,
    minute integer NOT NULL,
    PRIMARY KEY (namespace, id)
);

-- Usage per key per UTC day (days since 1970-01-01): every replica adds
-- the counts it drained, once a minute. Days older than 100 are deleted by
-- the flushes.
CREATE TABLE IF NOT EXISTS tba_usage (
    namespace text NOT NULL,
    id text NOT NULL,
    day integer NOT NULL,
    passed bigint NOT NULL DEFAULT 0,
    rate_limited bigint NOT NULL DEFAULT 0,
    usage_exceeded bigint NOT NULL DEFAULT 0,
    refused bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, id, day)
);
CREATE INDEX IF NOT EXISTS tba_usage_day ON tba_usage (namespace, day);

-- The audit log of admin changes: who did what to which key or owner, the
-- names of the fields set (never a token, digest or value).
CREATE TABLE IF NOT EXISTS tba_audit (
    namespace text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    at timestamptz NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    actor text NOT NULL,
    fields text[] NOT NULL,
    PRIMARY KEY (namespace, seq)
);
CREATE INDEX IF NOT EXISTS tba_audit_target ON tba_audit (namespace, target, seq);
