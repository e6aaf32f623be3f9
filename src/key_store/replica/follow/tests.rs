//! The follower against an in-memory feed: loads, ordered changes, gaps,
//! epochs, a source behind the replica, tombstones, and loads beside the
//! copy in force. No Redis.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;
use crate::key_store::KeyEntry;
use crate::key_store::TokenDigest;
use crate::key_store::replica::codec::encode;
use crate::key_store::replica::feed::Change;
use crate::key_store::replica::{OutagePolicy, ReplicaSettings, SharedKeyStore};

/// A source's data: what a snapshot restores.
#[derive(Clone, Default)]
struct Data {
    epoch: Option<String>,
    version: u64,
    /// digest -> record
    records: BTreeMap<String, String>,
    /// id -> digest
    ids: BTreeMap<String, String>,
    /// (sequence, entry)
    log: Vec<(u64, LogEntry)>,
}

/// An in-memory source: positions are a sequence that never goes back
/// (as Redis stream ids follow the clock), whatever is restored.
struct MemoryFeed {
    data: Data,
    seq: u64,
    /// Rounds left before the feed fails (ends `follow`).
    budget: usize,
    rounds: usize,
    page_size: usize,
    /// A write made when this page is read: (cursor, entry).
    during_load: Option<(u64, KeyEntry)>,
    /// The data restored when this page is read: (cursor, data).
    restore_during_load: Option<(u64, Data)>,
}

impl MemoryFeed {
    fn new() -> Self {
        let mut feed = Self {
            data: Data::default(),
            seq: 0,
            budget: 0,
            rounds: 0,
            page_size: 2,
            during_load: None,
            restore_during_load: None,
        };
        feed.data.epoch = Some("e1".to_owned());
        feed
    }

    fn log(&mut self, change: Change) {
        self.data.version += 1;
        self.seq += 1;
        let entry = LogEntry {
            position: self.seq.to_string(),
            version: self.data.version,
            change,
        };
        self.data.log.push((self.seq, entry));
    }

    fn put(&mut self, entry: &KeyEntry) {
        let digest = entry.digest().to_hex();
        if let Some(old) = self.data.ids.insert(entry.id().to_owned(), digest.clone()) {
            self.data.records.remove(&old);
        }
        let record = encode(entry);
        self.data.records.insert(digest.clone(), record.clone());
        self.log(Change::Put {
            digest,
            id: entry.id().to_owned(),
            record,
        });
    }

    fn delete(&mut self, id: &str) {
        let digest = self.data.ids.remove(id).expect("a key");
        self.data.records.remove(&digest);
        self.log(Change::Delete {
            digest,
            id: id.to_owned(),
        });
    }

    fn head(&self) -> Option<Head> {
        self.data.epoch.clone().map(|epoch| Head {
            epoch,
            version: self.data.version,
        })
    }

    fn after(&self, position: &str) -> impl Iterator<Item = &LogEntry> {
        let from: u64 = position.parse().unwrap_or(0);
        self.data
            .log
            .iter()
            .filter(move |(seq, _)| *seq > from)
            .map(|(_, entry)| entry)
    }
}

impl Feed for MemoryFeed {
    async fn begin_load(&mut self) -> Result<Option<LoadStart>, String> {
        let position = self
            .data
            .log
            .last()
            .map_or_else(|| "0".to_owned(), |(seq, _)| seq.to_string());
        Ok(self.head().map(|head| LoadStart { head, position }))
    }

    async fn load_page(&mut self, cursor: u64) -> Result<(u64, Vec<(String, String)>), String> {
        if let Some((at, entry)) = self.during_load.take() {
            if at == cursor {
                self.put(&entry);
            } else {
                self.during_load = Some((at, entry));
            }
        }
        if let Some((at, data)) = self.restore_during_load.take() {
            if at == cursor {
                self.data = data;
            } else {
                self.restore_during_load = Some((at, data));
            }
        }
        let start = usize::try_from(cursor).expect("small");
        let page: Vec<(String, String)> = self
            .data
            .records
            .iter()
            .skip(start)
            .take(self.page_size)
            .map(|(d, r)| (d.clone(), r.clone()))
            .collect();
        let next = start + self.page_size;
        let next = if next >= self.data.records.len() {
            0
        } else {
            next
        };
        Ok((u64::try_from(next).expect("small"), page))
    }

    async fn round(&mut self, position: &str, _wait: bool) -> Result<Round, String> {
        if self.budget == 0 {
            return Err("out of rounds".to_owned());
        }
        self.budget -= 1;
        self.rounds += 1;
        let from: u64 = position.parse().unwrap_or(0);
        Ok(Round {
            entries: self.after(position).take(512).cloned().map(Some).collect(),
            head: self.head(),
            position_missing: from > 0 && !self.data.log.iter().any(|(seq, _)| *seq == from),
        })
    }

    async fn has_after(&mut self, position: &str) -> Result<bool, String> {
        Ok(self.after(position).next().is_some())
    }

    async fn wait_for_first_write(&mut self) -> Result<(), String> {
        Err("not initialised".to_owned())
    }

    async fn chores(&mut self, _replica: &Shared) {}
}

fn replica() -> SharedKeyStore {
    SharedKeyStore::new(ReplicaSettings {
        name: "test".to_owned(),
        max_staleness: Duration::from_secs(5),
        policy: OutagePolicy::FailClosed,
        require_checksum: false,
        #[cfg(feature = "redis")]
        redis_home: None,
    })
    .expect("a replica")
}

fn follower(store: &SharedKeyStore, heartbeat: Duration) -> Follower {
    Follower::new(
        store.shared(),
        FollowSettings {
            heartbeat,
            resync_every: Duration::from_secs(3_600),
        },
    )
}

/// Follows for `rounds` rounds of the feed.
fn run(follower: &mut Follower, feed: &mut MemoryFeed, rounds: usize) {
    feed.budget = rounds;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = runtime.block_on(follower.follow(feed));
    assert_eq!(outcome, Err("out of rounds".to_owned()));
}

fn key(id: &str) -> KeyEntry {
    KeyEntry::new(id, format!("Key {id}"), TokenDigest::of(id))
}

fn proven_since(store: &SharedKeyStore, since: Instant) -> bool {
    store
        .status()
        .last_proof_age
        .is_some_and(|age| age <= since.elapsed())
}

fn revoked(store: &SharedKeyStore, id: &str) -> Option<bool> {
    store.entry(id).map(|entry| entry.is_revoked())
}

#[test]
fn loads_then_follows_each_change_and_proves_freshness() {
    let store = replica();
    let mut feed = MemoryFeed::new();
    feed.put(&key("a"));
    feed.put(&key("b"));
    let mut follower = follower(&store, Duration::from_millis(10));
    let before = Instant::now();
    run(&mut follower, &mut feed, 3);
    assert_eq!((store.version(), store.entries().len()), (2, 2));
    assert!(proven_since(&store, before));
    feed.put(&key("c"));
    feed.put(&key("a").with_revoked(true));
    feed.delete("b");
    run(&mut follower, &mut feed, 2);
    assert_eq!(store.version(), 5);
    assert_eq!(revoked(&store, "a"), Some(true));
    assert_eq!(revoked(&store, "b"), None);
    assert_eq!(revoked(&store, "c"), Some(false));
    assert_eq!(store.status().tombstones, 2, "a revoked, b deleted");
}

#[test]
fn a_gap_or_an_unreadable_entry_means_a_full_load() {
    let store = replica();
    let mut feed = MemoryFeed::new();
    feed.put(&key("a"));
    let mut follower = follower(&store, Duration::from_millis(10));
    run(&mut follower, &mut feed, 2);
    // Two writes, the first trimmed from the log: the second is not the
    // next version.
    feed.put(&key("b"));
    feed.put(&key("c"));
    feed.data.log.retain(|(_, entry)| entry.version != 2);
    let rounds = feed.rounds;
    run(&mut follower, &mut feed, 3);
    assert!(feed.rounds > rounds);
    assert_eq!((store.version(), store.entries().len()), (3, 3));
    // An entry no writer of ours made: load in full too.
    feed.put(&key("d"));
    feed.data.log.last_mut().expect("entry").1.change = Change::Delete {
        digest: "not hex".to_owned(),
        id: "d".to_owned(),
    };
    feed.data.log.last_mut().expect("entry").1.version = 99;
    run(&mut follower, &mut feed, 3);
    assert_eq!(revoked(&store, "d"), Some(false), "the load has d");
}

#[test]
fn a_source_behind_the_replica_proves_nothing_and_brings_no_key_back() {
    let store = replica();
    let mut feed = MemoryFeed::new();
    feed.put(&key("a"));
    feed.put(&key("b"));
    let mut follower = follower(&store, Duration::from_millis(10));
    run(&mut follower, &mut feed, 3);
    let snapshot = feed.data.clone();
    feed.put(&key("a").with_revoked(true));
    run(&mut follower, &mut feed, 2);
    assert_eq!((store.version(), revoked(&store, "a")), (3, Some(true)));

    // Restored from the older snapshot: same epoch, version 2, a active.
    feed.data = snapshot;
    let restored = Instant::now();
    run(&mut follower, &mut feed, 4);
    assert!(
        !proven_since(&store, restored),
        "a source behind proves nothing"
    );
    let behind = store.status().source_behind.expect("shown in the status");
    assert_eq!((behind.applied_version, behind.source_version), (3, 2));
    assert!(
        store
            .status()
            .last_error
            .expect("said")
            .contains("version 2")
    );
    assert_eq!(revoked(&store, "a"), Some(true), "never un-revoked");

    // The restored source moves on with writes of its own, past the
    // replica: loaded in full, and `a` stays revoked.
    feed.put(&key("c"));
    feed.put(&key("d"));
    let ahead = Instant::now();
    run(&mut follower, &mut feed, 4);
    assert!(proven_since(&store, ahead));
    assert_eq!(store.status().source_behind, None);
    assert_eq!(store.version(), 4);
    assert_eq!(
        revoked(&store, "a"),
        Some(true),
        "kept revoked by its tombstone"
    );
    assert_eq!(revoked(&store, "c"), Some(false));
    assert_eq!(revoked(&store, "d"), Some(false));
}

#[test]
fn another_history_at_the_same_version_is_loaded_in_full() {
    let store = replica();
    let mut feed = MemoryFeed::new();
    feed.put(&key("a"));
    let mut follower = follower(&store, Duration::from_millis(10));
    run(&mut follower, &mut feed, 3);
    let fork = feed.data.clone();
    feed.put(&key("b"));
    run(&mut follower, &mut feed, 2);
    assert_eq!((store.version(), revoked(&store, "b")), (2, Some(false)));

    // A failover to a node that missed `b` and took `c` at version 2, its
    // entry placed before ours in the log's order: no entry after our
    // position, the same version: only our missing entry tells.
    let mine = feed.data.log.last().expect("b's entry").0;
    feed.data = fork;
    feed.put(&key("c"));
    feed.data.log.last_mut().expect("c's entry").0 = mine - 1;
    let after = Instant::now();
    run(&mut follower, &mut feed, 4);
    assert_eq!(revoked(&store, "c"), Some(false), "c is loaded");
    assert_eq!(
        revoked(&store, "b"),
        None,
        "the source's history, b never revoked"
    );
    assert!(proven_since(&store, after));
}

#[test]
fn a_new_epoch_is_loaded_but_what_was_revoked_stays_revoked() {
    let store = replica();
    let mut feed = MemoryFeed::new();
    feed.put(&key("a"));
    feed.put(&key("gone"));
    let mut follower = follower(&store, Duration::from_millis(10));
    run(&mut follower, &mut feed, 3);
    feed.put(&key("a").with_revoked(true));
    feed.delete("gone");
    run(&mut follower, &mut feed, 2);
    // The store lost everything and an old backup was imported.
    feed.data = Data {
        epoch: Some("e2".to_owned()),
        ..Data::default()
    };
    feed.put(&key("a"));
    feed.put(&key("gone"));
    feed.put(&key("new"));
    run(&mut follower, &mut feed, 4);
    assert_eq!(store.version(), 3);
    assert_eq!(revoked(&store, "a"), Some(true));
    assert_eq!(
        revoked(&store, "gone"),
        Some(true),
        "deleted, then back: refused"
    );
    assert_eq!(revoked(&store, "new"), Some(false));
}

#[test]
fn accepting_the_source_loads_the_older_state() {
    let store = replica();
    let mut feed = MemoryFeed::new();
    feed.put(&key("a"));
    let mut follower = follower(&store, Duration::from_millis(10));
    run(&mut follower, &mut feed, 2);
    let snapshot = feed.data.clone();
    feed.put(&key("a").with_revoked(true));
    run(&mut follower, &mut feed, 2);
    feed.data = snapshot;
    run(&mut follower, &mut feed, 3);
    assert!(store.status().source_behind.is_some());
    store.accept_source();
    let accepted = Instant::now();
    run(&mut follower, &mut feed, 3);
    assert!(proven_since(&store, accepted));
    assert_eq!(store.status().source_behind, None);
    assert_eq!((store.version(), revoked(&store, "a")), (1, Some(false)));
    assert_eq!(store.status().tombstones, 0);
}

#[test]
fn a_full_load_keeps_the_copy_in_force_following_and_fresh() {
    let store = replica();
    let mut feed = MemoryFeed::new();
    for n in 0..40 {
        feed.put(&key(&format!("k{n:02}")));
    }
    // Every page is a heartbeat's half: the copy in force follows between
    // pages.
    let mut follower = follower(&store, Duration::ZERO);
    run(&mut follower, &mut feed, 3);
    assert_eq!(store.entries().len(), 40);
    store.resync();
    // A write lands while the load reads its fifth page.
    feed.during_load = Some((8, key("late")));
    let rounds = feed.rounds;
    let before = Instant::now();
    run(&mut follower, &mut feed, 40);
    println!(
        "rounds during and after a 20-page load: {}",
        feed.rounds - rounds
    );
    assert!(feed.rounds - rounds >= 19, "a round between pages");
    assert!(proven_since(&store, before));
    assert_eq!(
        store.entries().len(),
        41,
        "the late write is in the new set"
    );
    assert_eq!(store.version(), 41);
}

#[test]
fn a_newer_write_may_bring_a_key_back_on_purpose() {
    let store = replica();
    let mut feed = MemoryFeed::new();
    feed.put(&key("a"));
    let mut follower = follower(&store, Duration::from_millis(10));
    run(&mut follower, &mut feed, 2);
    feed.delete("a");
    run(&mut follower, &mut feed, 2);
    assert_eq!((revoked(&store, "a"), store.status().tombstones), (None, 1));
    // Re-imported through the writer: the next version, applied as written.
    feed.put(&key("a"));
    run(&mut follower, &mut feed, 2);
    assert_eq!(
        (revoked(&store, "a"), store.status().tombstones),
        (Some(false), 0)
    );
    // And a full load after it agrees.
    store.resync();
    run(&mut follower, &mut feed, 3);
    assert_eq!(revoked(&store, "a"), Some(false));
}

#[test]
fn a_source_that_goes_back_during_a_full_load_proves_nothing() {
    let store = replica();
    let mut feed = MemoryFeed::new();
    for n in 0..10 {
        feed.put(&key(&format!("k{n}")));
    }
    let mut follower = follower(&store, Duration::from_millis(10));
    run(&mut follower, &mut feed, 3);
    let snapshot = feed.data.clone();
    feed.put(&key("k0").with_revoked(true));
    run(&mut follower, &mut feed, 2);
    assert_eq!((store.version(), revoked(&store, "k0")), (11, Some(true)));
    // A resync, during which the source is restored to the older state.
    store.resync();
    feed.restore_during_load = Some((4, snapshot));
    let restored = Instant::now();
    run(&mut follower, &mut feed, 8);
    assert!(
        !proven_since(&store, restored),
        "a source gone back proves nothing"
    );
    let behind = store.status().source_behind.expect("shown");
    assert_eq!((behind.applied_version, behind.source_version), (11, 10));
    assert_eq!(revoked(&store, "k0"), Some(true));
}
