//! Where a key set lives in Redis: five keys under one hash tag, so that a
//! script touches one slot (Redis Cluster), and the change log's entries.

use std::fmt;

use crate::key_store::replica::feed::{Change, LogEntry};

/// How many change-log entries Redis keeps (approximately, `MAXLEN ~`). A
/// replica that falls further behind than this resynchronizes in full.
pub(super) const LOG_LENGTH: usize = 10_000;

/// The Redis key names of one namespace.
#[derive(Clone)]
pub(super) struct Layout {
    /// HASH: lowercase hex SHA-256 digest -> the key's record (`replica::codec`).
    pub(super) keys: String,
    /// HASH: key id -> digest.
    pub(super) ids: String,
    /// STRING: the version, incremented by every write.
    pub(super) ver: String,
    /// STREAM: one entry per write (`v`, `op`, `d`, `i`, `r`).
    pub(super) log: String,
    /// STRING: a random value written when the store is initialised; its
    /// absence means the store was never initialised or lost its data.
    pub(super) epoch: String,
    /// HASH: key id -> the minute it was last used (replicas flush their
    /// last uses there once a minute; not part of the change log).
    pub(super) used: String,
    /// `{tba:<ns>}`: the hash tag every name starts with.
    tag: String,
}

impl Layout {
    pub(super) fn new(namespace: &str) -> Self {
        let tag = format!("{{tba:{namespace}}}");
        Self {
            keys: format!("{tag}:keys"),
            ids: format!("{tag}:ids"),
            ver: format!("{tag}:ver"),
            log: format!("{tag}:log"),
            epoch: format!("{tag}:epoch"),
            used: format!("{tag}:used"),
            tag,
        }
    }

    /// HASH: the credit balance of key `id` when replicas count credits
    /// in Redis (`key_policy/redis.rs` names it the same way).
    pub(super) fn credits(&self, id: &str) -> String {
        format!("{}:cr:{id}", self.tag)
    }

    /// HASH: the usage counts of one UTC day (days since 1970-01-01),
    /// `<id>:p|r|u|f` -> count; expires after the days usage is kept.
    pub(super) fn usage(&self, day: u32) -> String {
        format!("{}:us:{day}", self.tag)
    }

    /// STREAM: the audit log of admin changes (`t`, `a`, `g`, `b`, `f`).
    #[cfg(feature = "admin")]
    pub(super) fn audit(&self) -> String {
        format!("{}:audit", self.tag)
    }

    /// The keys a write script takes, in its `KEYS` order.
    pub(super) fn script_keys(&self) -> [&str; 5] {
        [&self.keys, &self.ids, &self.ver, &self.log, &self.epoch]
    }
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.keys)
    }
}

/// Reads one stream entry of the change log (`v`, `op`, `d`, `i`, `r`);
/// `None` for an entry no script of ours wrote.
pub(super) fn from_stream(
    stream_id: String,
    fields: &std::collections::HashMap<String, redis::Value>,
) -> Option<LogEntry> {
    let text = |name: &str| match fields.get(name)? {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        redis::Value::SimpleString(text) => Some(text.clone()),
        redis::Value::Int(n) => Some(n.to_string()),
        _ => None,
    };
    let version = text("v")?.parse().ok()?;
    let digest = text("d")?;
    let id = text("i")?;
    let change = match text("op")?.as_str() {
        "put" => Change::Put {
            digest,
            id,
            record: text("r")?,
        },
        "del" => Change::Delete { digest, id },
        _ => return None,
    };
    Some(LogEntry {
        position: stream_id,
        version,
        change,
    })
}
