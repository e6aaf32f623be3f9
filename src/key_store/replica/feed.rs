//! The seam between a replica and its source: what a backend implements
//! (a full load by pages, ordered changes, the head that proves freshness)
//! and the neutral forms they travel in. Crate-internal: a new backend is a
//! new folder beside `redis/`, implementing [`Feed`].

use std::future::Future;

/// One write, as a source's change log carries it; `record` is the key's
/// stored form ([`codec`](super::codec), the same for every backend).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// The key with this id is now this record.
    Put {
        digest: String,
        id: String,
        record: String,
    },
    /// The key with this id is gone.
    Delete { digest: String, id: String },
}

/// One change-log entry: where it is in the log (opaque to the replica,
/// given back to [`Feed::round`]), its version, and its change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogEntry {
    pub(crate) position: String,
    pub(crate) version: u64,
    pub(crate) change: Change,
}

/// Where a source stands: the epoch written when it was initialised (a
/// new epoch is a new store) and the version of its last write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) epoch: String,
    pub(crate) version: u64,
}

/// The start of a full load: the head, and the log position of its last
/// write, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadStart {
    pub(crate) head: Head,
    pub(crate) position: String,
}

/// One round of following: the entries after a position (`None` for an
/// entry no writer of ours made), then the head (`None`: not initialised),
/// read after them.
#[derive(Debug, Default)]
pub(crate) struct Round {
    pub(crate) entries: Vec<Option<LogEntry>>,
    pub(crate) head: Option<Head>,
    /// The source does not hold the entry at the position asked from
    /// (a node with another history after a failover, or a log trimmed
    /// past it): what follows it proves nothing, load in full. A backend
    /// that cannot tell leaves it `false`.
    pub(crate) position_missing: bool,
}

/// A source of a key set, as a replica follows it. Every method is one
/// exchange with the source; errors are a sentence for the logs (never a
/// secret: sources hold digests only).
pub(crate) trait Feed {
    /// The head and the position of the last logged write, read together;
    /// `None` when the source holds no initialised store.
    fn begin_load(&mut self) -> impl Future<Output = Result<Option<LoadStart>, String>>;

    /// One page of the key records, `(digest, record)`, from `cursor` (0
    /// first); the next cursor, 0 after the last page.
    fn load_page(
        &mut self,
        cursor: u64,
    ) -> impl Future<Output = Result<(u64, Vec<(String, String)>), String>>;

    /// The entries after `position` (a batch at most), waiting up to the
    /// heartbeat period for one when `wait`; then the head. Every write
    /// committed before the round was sent has a version at most the
    /// head's: the proof of freshness.
    fn round(&mut self, position: &str, wait: bool) -> impl Future<Output = Result<Round, String>>;

    /// Whether the log holds an entry after `position` (asked when the
    /// head moved on but a round found nothing: a write landed in between,
    /// or the entries were trimmed away).
    fn has_after(&mut self, position: &str) -> impl Future<Output = Result<bool, String>>;

    /// Waits, up to the heartbeat period, for a first write while the
    /// source holds no initialised store.
    fn wait_for_first_write(&mut self) -> impl Future<Output = Result<(), String>>;

    /// The backend's own work between rounds (Redis: writing last uses).
    fn chores(&mut self, replica: &super::Shared) -> impl Future<Output = ()>;
}
