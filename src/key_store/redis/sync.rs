//! The sync task: follows the change log with a blocking read on a
//! connection of its own, applies each write to the local key set, proves
//! freshness with every answer, and resynchronizes in full when it cannot
//! follow (first load, a gap in the log, a version going back, a new epoch,
//! a periodic check, SIGHUP).

use std::collections::HashMap;
use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Client, Script};

use super::layout::{Change, Layout, LogEntry};
use super::report;
use super::store::Inner;
use crate::key_store::keys_file::parse_entry;
use crate::key_store::{KeyEntry, KeyStore, KeyStoreError, TokenDigest};

/// Log entries read per round.
const BATCH: usize = 512;
/// Reconnection backoff.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// Beyond the blocking read's own time, how long an answer may take before
/// the connection is taken for dead (a half-open connection).
const RESPONSE_MARGIN: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Hash fields read per `HSCAN` round.
const SCAN_PAGE: usize = 1_000;
/// How often a replica writes its keys' last uses to Redis.
const FLUSH_EVERY: Duration = Duration::from_secs(60);
/// Last uses written per script call.
const FLUSH_BATCH: usize = 500;

/// What the replica says while Redis holds no key store.
const NOT_INITIALISED: &str = "Redis holds no initialised key store (never written, or its data was lost): answering 503 until a write initialises it";

/// Why a resync did not load.
enum Resync {
    /// No epoch: nothing to load yet.
    NotInitialised,
    Failed(String),
}

/// How the task runs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    /// How long a read blocks when nothing changes: the heartbeat period.
    pub(super) block: Duration,
    pub(super) resync_every: Duration,
}

/// How far the local key set has followed the store.
#[derive(Debug, Clone)]
struct Position {
    epoch: String,
    version: u64,
    stream_id: String,
}

/// Starts the sync task on a thread of its own, with a single-threaded
/// runtime; it ends when the store is dropped.
pub(super) fn start(
    store: Weak<Inner>,
    client: Client,
    settings: Settings,
    name: &str,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("tba-sync-{name}"))
        .spawn(move || runtime.block_on(run(store, client, settings)))?;
    Ok(())
}

/// Runs until the store is dropped.
async fn run(store: Weak<Inner>, client: Client, settings: Settings) {
    let mut position = None;
    let mut flushed = HashMap::new();
    let mut backoff = MIN_BACKOFF;
    loop {
        let started = Instant::now();
        match follow(&store, &client, settings, &mut position, &mut flushed).await {
            Ok(()) => return,
            Err(problem) => {
                let Some(inner) = store.upgrade() else {
                    return;
                };
                report::problem(&problem);
                inner.set_error(Some(problem));
            }
        }
        // A connection that worked for a while starts the backoff afresh.
        if started.elapsed() > MAX_BACKOFF * 4 {
            backoff = MIN_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Connects and follows the log until an error; `Ok` when the store is
/// dropped.
async fn follow(
    store: &Weak<Inner>,
    client: &Client,
    settings: Settings,
    position: &mut Option<Position>,
    flushed: &mut HashMap<String, u32>,
) -> Result<(), String> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(settings.block + RESPONSE_MARGIN));
    let mut con = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| format!("cannot connect to Redis: {e}"))?;
    let Some(layout) = store.upgrade().map(|inner| inner.layout.clone()) else {
        return Ok(());
    };
    let block_ms = u64::try_from(settings.block.as_millis())
        .unwrap_or(1_000)
        .max(1);
    // The first read after (re)connecting does not block: it proves
    // freshness at once, instead of a heartbeat period later.
    let mut blocking = false;
    let mut next_resync = Instant::now() + jittered(settings.resync_every);
    let mut next_flush = Instant::now() + jittered(FLUSH_EVERY);
    let record_uses = Script::new(include_str!("scripts/used.lua"));
    loop {
        // Where do we stand? A missing position (first load, a gap, a new
        // epoch) means a full resync.
        let needs_resync = match position.as_ref() {
            None => true,
            Some(_) => {
                let Some(inner) = store.upgrade() else {
                    return Ok(());
                };
                inner.resync_requested.swap(false, Ordering::AcqRel)
                    || Instant::now() >= next_resync
            }
        };
        if needs_resync {
            match resync(store, &mut con, &layout).await {
                Ok(loaded) => *position = Some(loaded),
                Err(Resync::NotInitialised) => {
                    // Wait on the log itself: the first write wakes this
                    // read at once, so the first key is not a backoff away.
                    if let Some(inner) = store.upgrade() {
                        inner.set_error(Some(NOT_INITIALISED.to_owned()));
                    }
                    let woken: Option<StreamReadReply> = redis::cmd("XREAD")
                        .arg("BLOCK")
                        .arg(block_ms)
                        .arg("STREAMS")
                        .arg(&layout.log)
                        .arg("0-0")
                        .query_async(&mut con)
                        .await
                        .map_err(|e| format!("waiting for the first write failed: {e}"))?;
                    if woken.is_some() {
                        // A log without an epoch (a hand edit) would wake
                        // this read at once, every time: do not spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    continue;
                }
                Err(Resync::Failed(problem)) => return Err(problem),
            }
            next_resync = Instant::now() + jittered(settings.resync_every);
            if let Some(inner) = store.upgrade() {
                inner.set_error(None);
            }
        }
        let Some(current) = position.as_mut() else {
            continue;
        };
        {
            let Some(inner) = store.upgrade() else {
                return Ok(());
            };
            let asked = inner.flush_requested.swap(false, Ordering::AcqRel);
            if asked || Instant::now() >= next_flush {
                next_flush = Instant::now() + jittered(FLUSH_EVERY);
                if flush_last_uses(&inner, &mut con, &record_uses, flushed).await {
                    inner.flushes.send_modify(|done| *done += 1);
                }
            }
        }
        // One round: the blocking read, then the epoch and the version,
        // which Redis answers only after the read returns.
        let sent = Instant::now();
        let mut xread = redis::cmd("XREAD");
        xread.arg("COUNT").arg(BATCH);
        if blocking {
            xread.arg("BLOCK").arg(block_ms);
        }
        blocking = true;
        let (read, epoch, version): (Option<StreamReadReply>, Option<String>, Option<u64>) =
            redis::pipe()
                .add_command(xread)
                .arg("STREAMS")
                .arg(&layout.log)
                .arg(&current.stream_id)
                .cmd("GET")
                .arg(&layout.epoch)
                .cmd("GET")
                .arg(&layout.ver)
                .query_async(&mut con)
                .await
                .map_err(|e| format!("reading the change log failed: {e}"))?;
        let Some(inner) = store.upgrade() else {
            return Ok(());
        };
        match epoch {
            None => return Err(NOT_INITIALISED.to_owned()),
            Some(epoch) if epoch != current.epoch => {
                *position = None;
                continue;
            }
            Some(_) => {}
        }
        let entries = read
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .map(|id| LogEntry::from_stream(id.id, &id.map));
        let mut gap = false;
        let mut read_any = false;
        for entry in entries {
            read_any = true;
            let Some(entry) = entry else {
                // An entry no script of ours wrote: a hand edit.
                gap = true;
                break;
            };
            if entry.version <= current.version {
                continue;
            }
            if entry.version != current.version + 1 {
                gap = true;
                break;
            }
            apply(&inner.local, &entry.change);
            current.version = entry.version;
            current.stream_id = entry.stream_id;
        }
        inner.applied.send_replace(current.version);
        let version = version.unwrap_or(0);
        if !gap && !read_any && version > current.version {
            // The version moved on but the read found nothing after our
            // last entry: either a write landed between the read and the
            // GET (its entry is there now), or the entries we need were
            // trimmed away (none is there).
            let next: StreamRangeReply = redis::cmd("XRANGE")
                .arg(&layout.log)
                .arg(format!("({}", current.stream_id))
                .arg("+")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut con)
                .await
                .map_err(|e| format!("reading the change log failed: {e}"))?;
            gap = next.ids.is_empty();
        }
        if gap || version < current.version {
            // Missed entries (trimmed, lost) or a version that went back
            // (a failover lost writes): start over from the store itself.
            *position = None;
            continue;
        }
        if current.version >= version {
            // Every write committed before `sent` has a version at most
            // `version`, and all of those are applied.
            inner.freshness.proven(sent);
            inner.set_error(None);
        }
    }
}

/// Loads the whole key set: the hash scanned, then the log replayed on top
/// of it from the moment the scan began, then one atomic swap. Needs no
/// snapshot isolation from Redis: every record carries its full state, so
/// replaying converges on the newest.
async fn resync(
    store: &Weak<Inner>,
    con: &mut MultiplexedConnection,
    layout: &Layout,
) -> Result<Position, Resync> {
    let fail =
        |what: &str, e: redis::RedisError| Resync::Failed(format!("resync: {what} failed: {e}"));
    loop {
        let sent = Instant::now();
        let (epoch, version, last): (Option<String>, Option<u64>, StreamRangeReply) = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(&layout.epoch)
            .cmd("GET")
            .arg(&layout.ver)
            .cmd("XREVRANGE")
            .arg(&layout.log)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(con)
            .await
            .map_err(|e| fail("reading the head", e))?;
        let Some(epoch) = epoch else {
            return Err(Resync::NotInitialised);
        };
        let base_version = version.unwrap_or(0);
        let base_id = last
            .ids
            .first()
            .map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone());

        let mut records: Vec<(String, String)> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, page): (u64, Vec<(String, String)>) = redis::cmd("HSCAN")
                .arg(&layout.keys)
                .arg(cursor)
                .arg("COUNT")
                .arg(SCAN_PAGE)
                .query_async(con)
                .await
                .map_err(|e| fail("scanning the keys", e))?;
            records.extend(page);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let replay: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&layout.log)
            .arg(format!("({base_id}"))
            .arg("+")
            .query_async(con)
            .await
            .map_err(|e| fail("reading the change log", e))?;

        let mut keys = KeySet::default();
        for (digest, record) in records {
            keys.put(&digest, &record);
        }
        let mut version = base_version;
        let mut stream_id = base_id;
        let mut contiguous = true;
        for entry in replay.ids {
            let Some(entry) = LogEntry::from_stream(entry.id, &entry.map) else {
                contiguous = false;
                break;
            };
            if entry.version <= version {
                continue;
            }
            if entry.version != version + 1 {
                contiguous = false;
                break;
            }
            match &entry.change {
                Change::Put { digest, record, .. } => keys.put(digest, record),
                Change::Delete { id, .. } => keys.delete(id),
            }
            version = entry.version;
            stream_id = entry.stream_id;
        }
        if !contiguous {
            // The log moved past our starting point during the scan (more
            // than its length of writes): scan again.
            continue;
        }
        let Some(inner) = store.upgrade() else {
            return Err(Resync::Failed("the store was dropped".to_owned()));
        };
        let entries = keys.into_entries();
        let loaded = entries.len();
        inner
            .local
            .replace_all(entries)
            .map_err(|e| Resync::Failed(format!("resync: the key set was refused: {e}")))?;
        inner.applied.send_replace(version);
        inner.freshness.proven(sent);
        report::resync(loaded, version, sent.elapsed());
        return Ok(Position {
            epoch,
            version,
            stream_id,
        });
    }
}

/// Writes the last uses this replica saw since its last flush to Redis,
/// keeping the later minute (a script, so that replicas never move a time
/// back). A failure is logged and retried at the next flush.
async fn flush_last_uses(
    inner: &Inner,
    con: &mut MultiplexedConnection,
    script: &Script,
    flushed: &mut HashMap<String, u32>,
) -> bool {
    let mut pending: Vec<(String, u32)> = Vec::new();
    inner.local.for_each_last_use(|id, minute| {
        if flushed.get(id).is_none_or(|&done| done < minute) {
            pending.push((id.to_owned(), minute));
        }
    });
    for batch in pending.chunks(FLUSH_BATCH) {
        let mut call = script.key(&inner.layout.used);
        for (id, minute) in batch {
            call.arg(id).arg(minute);
        }
        match call.invoke_async::<u64>(con).await {
            Ok(_) => flushed.extend(batch.iter().cloned()),
            Err(error) => {
                report::problem(&format!("writing last uses to Redis failed: {error}"));
                return false;
            }
        }
    }
    true
}

/// A key set being assembled by a resync: by id, with every unreadable or
/// conflicting record left out (its key then fails, the safe side).
#[derive(Default)]
struct KeySet {
    by_id: HashMap<String, KeyEntry>,
    /// Which id holds each digest.
    holders: HashMap<TokenDigest, String>,
}

impl KeySet {
    fn put(&mut self, digest: &str, record: &str) {
        let entry = match parse_entry(record) {
            Ok(entry) if entry.digest().to_hex() == digest => entry,
            Ok(_) => return report::unreadable(digest, "the record's hash is not its field"),
            Err(error) => return report::unreadable(digest, &error.to_string()),
        };
        self.delete(entry.id());
        if let Some(other) = self.holders.get(entry.digest()).cloned() {
            // A digest held by another id (a hand edit): neither wins.
            report::unreadable(digest, "two ids share this hash");
            self.delete(&other);
            return;
        }
        self.holders.insert(*entry.digest(), entry.id().to_owned());
        self.by_id.insert(entry.id().to_owned(), entry);
    }

    fn delete(&mut self, id: &str) {
        if let Some(entry) = self.by_id.remove(id) {
            self.holders.remove(entry.digest());
        }
    }

    fn into_entries(self) -> Vec<KeyEntry> {
        self.by_id.into_values().collect()
    }
}

/// Applies one logged write to the local key set. A record that cannot be
/// read removes whatever key it names: it fails, the safe side.
fn apply(local: &KeyStore, change: &Change) {
    match change {
        Change::Put { digest, id, record } => match parse_entry(record) {
            Ok(entry) if entry.id() == id && entry.digest().to_hex() == *digest => {
                if let Err(KeyStoreError::DuplicateDigest { .. }) = local.upsert(entry.clone()) {
                    // Another id holds this digest locally (a write this
                    // replica missed is being replayed): the newer wins.
                    local.remove_digest(entry.digest());
                    let _ = local.upsert(entry);
                }
            }
            other => {
                let problem = other.err().map_or_else(
                    || "the record's id or hash does not match the log".to_owned(),
                    |e| e.to_string(),
                );
                report::unreadable(digest, &problem);
                forget(local, id, digest);
            }
        },
        Change::Delete { digest, id } => forget(local, id, digest),
    }
}

fn forget(local: &KeyStore, id: &str, digest: &str) {
    let _ = local.remove(id);
    if let Some(digest) = TokenDigest::from_hex(digest) {
        local.remove_digest(&digest);
    }
}

/// A random factor in 0.9..1.1, so that replicas started together do not
/// resync together.
fn jittered(every: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    every.mul_f64(0.9 + f64::from(byte[0]) / 255.0 * 0.2)
}
