//! Following a source: full loads beside the copy in force, ordered
//! changes, proofs of freshness, and the rules that keep a replica from
//! going back (a gap, an unreadable entry or a new epoch means a full
//! load; a source behind the replica proves nothing and is not loaded).
//! Unit-tested against an in-memory feed (`follow/tests.rs`).

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Shared;
use super::apply::{Newer, staged};
use super::build::Build;
use super::feed::{Feed, Head, LoadStart, LogEntry, Round};
use super::report;
use super::store::SourceBehind;
use super::tombstones::{MAX_TOMBSTONES, Tombstones};

/// What the replica says while its source holds no key store.
pub(crate) const NOT_INITIALISED: &str = "the source holds no initialised key store (never written, or its data was lost): answering 503 until a write initialises it";

/// How the follower runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FollowSettings {
    /// How long a round waits when nothing changes: the heartbeat period.
    pub(crate) heartbeat: Duration,
    /// How often the whole key set is loaded again (with jitter), to catch
    /// writes that bypassed the change log.
    pub(crate) resync_every: Duration,
}

/// How far the set in force has followed the source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    epoch: String,
    version: u64,
    /// The log position of the last change applied.
    log: String,
}

/// How a full load ended.
enum Loaded {
    /// In force now.
    Done,
    /// The source holds no store yet.
    NotInitialised,
    /// The source is behind this replica: not loaded.
    Refused,
    /// The log moved past the load's start while it ran: load again.
    Again,
}

/// Follows one source for one replica, across reconnections: the task's
/// state (position, the highest version applied, the tombstones) outlives
/// a connection.
pub(crate) struct Follower {
    shared: Weak<Shared>,
    settings: FollowSettings,
    position: Option<Position>,
    /// The highest epoch and version applied: a source behind it proves
    /// nothing.
    high: Option<(String, u64)>,
    tombstones: Tombstones,
    /// A source behind `high` was seen: nothing is proven until a full load
    /// at or past `high`.
    behind: bool,
    next_load: Instant,
}

impl Follower {
    pub(crate) fn new(shared: Weak<Shared>, settings: FollowSettings) -> Self {
        Self {
            shared,
            settings,
            position: None,
            high: None,
            tombstones: Tombstones::new(MAX_TOMBSTONES),
            behind: false,
            next_load: Instant::now(),
        }
    }

    /// Follows `feed` until it fails (`Err`, with a sentence for the log:
    /// the caller reconnects) or the replica is dropped (`Ok`).
    pub(crate) async fn follow<F: Feed>(&mut self, feed: &mut F) -> Result<(), String> {
        // The first round after (re)connecting does not wait: it proves
        // freshness at once, instead of a heartbeat later.
        let mut wait = false;
        loop {
            let Some(shared) = self.shared.upgrade() else {
                return Ok(());
            };
            if shared.accept_source.swap(false, Ordering::AcqRel) {
                self.high = None;
                self.behind = false;
                self.tombstones.clear();
                self.position = None;
                set_behind(&shared, None);
            }
            let load_due = self.position.is_none()
                || shared.resync_requested.swap(false, Ordering::AcqRel)
                || Instant::now() >= self.next_load;
            feed.chores(&shared).await;
            drop(shared);
            if load_due {
                match self.load(feed).await? {
                    Loaded::Done => {
                        self.next_load = Instant::now() + jittered(self.settings.resync_every);
                    }
                    Loaded::Again => {}
                    Loaded::NotInitialised => {
                        if let Some(shared) = self.shared.upgrade() {
                            shared.set_error(Some(NOT_INITIALISED.to_owned()));
                        }
                        feed.wait_for_first_write().await?;
                    }
                    Loaded::Refused => {
                        // Nothing to load from a source behind us: look
                        // again a heartbeat later (it may move ahead).
                        self.next_load = Instant::now() + self.settings.heartbeat;
                        if self.position.is_none() {
                            tokio::time::sleep(self.settings.heartbeat).await;
                            continue;
                        }
                    }
                }
                if self.position.is_none() {
                    continue;
                }
            }
            let Some(position) = self.position.as_ref().map(|p| p.log.clone()) else {
                continue;
            };
            let sent = Instant::now();
            let round = feed.round(&position, wait).await?;
            wait = true;
            self.take(feed, round, sent).await?;
        }
    }

    /// Notes a failure of the source (the caller reconnects); `false` once
    /// the replica is dropped.
    pub(crate) fn failed(&self, problem: &str) -> bool {
        match self.shared.upgrade() {
            Some(shared) => {
                shared.set_error(Some(problem.to_owned()));
                true
            }
            None => false,
        }
    }

    /// Applies one round to the set in force and proves freshness when it
    /// may.
    async fn take<F: Feed>(
        &mut self,
        feed: &mut F,
        round: Round,
        sent: Instant,
    ) -> Result<(), String> {
        let Some(shared) = self.shared.upgrade() else {
            return Ok(());
        };
        let Some(head) = round.head else {
            return Err(NOT_INITIALISED.to_owned());
        };
        let Some(mut position) = self.position.take() else {
            return Ok(());
        };
        if head.epoch != position.epoch {
            // A new store: load it (the tombstones still apply).
            return Ok(());
        }
        // Our last entry is not there: another history (a failover to a
        // node that missed writes and took others at the same versions).
        let mut gap = round.position_missing;
        let mut read_any = false;
        let mut batch = Vec::with_capacity(round.entries.len());
        for entry in round.entries {
            read_any = true;
            // An entry no writer of ours made, or one that is not the next
            // version (a version at or below ours after our position is
            // another history: a failover, a restore): load in full.
            match entry {
                Some(entry) if entry.version == position.version + 1 => {
                    batch.push(staged(&entry.change, &mut self.tombstones));
                    position.version = entry.version;
                    position.log = entry.position;
                }
                _ => {
                    gap = true;
                    break;
                }
            }
        }
        // The round's changes in one step (one pass over the key set).
        shared.local.apply_batch(batch);
        shared.applied.send_replace(position.version);
        shared
            .tombstones
            .store(self.tombstones.len(), Ordering::Relaxed);
        raise(&mut self.high, &position.epoch, position.version);
        if self.is_behind(&head) {
            self.note_behind(&shared, &head);
            self.position = Some(position);
            return Ok(());
        }
        if !gap && !read_any && head.version > position.version {
            // The version moved on but the round found nothing after our
            // last entry: either a write landed between the read and the
            // head (its entry is there now), or the entries we need were
            // trimmed away (none is there).
            gap = !feed.has_after(&position.log).await?;
        }
        if gap || self.behind {
            // Missed entries, or a source that was behind and may tell
            // another history now: start over from a full load.
            return Ok(());
        }
        if position.version >= head.version {
            // Every write committed before `sent` has a version at most
            // `head.version`, and all of those are applied.
            shared.freshness.proven(sent);
            shared.set_error(None);
        }
        self.position = Some(position);
        Ok(())
    }

    /// Whether `head` is behind what this replica applied (same epoch, a
    /// lower version).
    fn is_behind(&self, head: &Head) -> bool {
        self.high
            .as_ref()
            .is_some_and(|(epoch, version)| *epoch == head.epoch && head.version < *version)
    }

    fn note_behind(&mut self, shared: &Shared, head: &Head) {
        let applied = self.high.as_ref().map_or(0, |(_, version)| *version);
        if !self.behind {
            report::source_behind(applied, head.version);
        }
        self.behind = true;
        let problem = format!(
            "the source is at version {} but this replica applied version {applied}: it proves nothing until it is ahead again (re-import the keys, or accept it explicitly)",
            head.version
        );
        shared.set_error(Some(problem));
        set_behind(
            shared,
            Some(SourceBehind {
                applied_version: applied,
                source_version: head.version,
            }),
        );
    }

    /// One round of the copy in force during a load (not a waiting one: a
    /// read left blocking in the source would delay the reads after it).
    async fn keep_proving<F: Feed>(&mut self, feed: &mut F) -> Result<(), String> {
        if let Some(log) = self.position.as_ref().map(|p| p.log.clone()) {
            let sent = Instant::now();
            let round = feed.round(&log, false).await?;
            self.take(feed, round, sent).await?;
        }
        Ok(())
    }

    /// Loads the whole key set beside the copy in force (which keeps
    /// following the source and proving freshness between pages), replays
    /// the log from the load's start on top, and swaps it in.
    async fn load<F: Feed>(&mut self, feed: &mut F) -> Result<Loaded, String> {
        let started = Instant::now();
        let Some(LoadStart { head, position }) = feed.begin_load().await? else {
            return Ok(Loaded::NotInitialised);
        };
        if self.is_behind(&head) {
            if let Some(shared) = self.shared.upgrade() {
                self.note_behind(&shared, &head);
            }
            return Ok(Loaded::Refused);
        }
        let Some(current) = self.shared.upgrade().map(|shared| shared.local.clone()) else {
            return Ok(Loaded::Done);
        };
        let build = Build::start(&current);
        drop(current);
        let mut cursor = 0;
        let mut last_round = Instant::now();
        loop {
            let (next, page) = feed.load_page(cursor).await?;
            build.page(page).await?;
            cursor = next;
            if cursor == 0 {
                break;
            }
            // The copy in force keeps answering, proven fresh, meanwhile.
            if last_round.elapsed() >= self.settings.heartbeat / 2 {
                self.keep_proving(feed).await?;
                last_round = Instant::now();
            }
        }
        let scanned = started.elapsed();
        // The writes made since the load began: they win over the scan.
        let mut at = (head.version, position);
        let mut newer = Newer::default();
        let tombstones = &mut self.tombstones;
        let caught_up = catch_up(feed, &head.epoch, &mut at, |change| {
            newer.apply(change, tombstones);
        })
        .await?;
        if let Err(again) = caught_up {
            return Ok(again);
        }
        // The builder indexes the set on its thread, while the copy in
        // force keeps following and proving.
        let mut done = build.finish(newer.by_id);
        let built = loop {
            self.keep_proving(feed).await?;
            tokio::select! {
                built = &mut done => break built,
                () = tokio::time::sleep(self.settings.heartbeat / 2) => {}
            }
        };
        let build_took = started.elapsed() - scanned;
        let (built, left_out) = built
            .map_err(|e| format!("building the key set failed: {e}"))?
            .ok_or("building the key set failed: the builder stopped")?;
        if !left_out.is_empty() {
            report::left_out(&left_out);
        }
        // Never un-revoke: what the source holds active that this replica
        // saw revoked or deleted stays revoked; what it holds revoked is
        // remembered.
        let kept_revoked = built.revoke_digests(self.tombstones.iter());
        if kept_revoked > 0 {
            report::kept_revoked(kept_revoked);
        }
        built.for_each_revoked_digest(|digest| self.tombstones.note(*digest));
        let counts = built.counts();
        let keys = counts.active + counts.revoked;
        // The writes made while it was built, on top of it.
        let tombstones = &mut self.tombstones;
        let mut batch = Vec::new();
        let proof = match catch_up(feed, &head.epoch, &mut at, |change| {
            batch.push(staged(change, tombstones));
        })
        .await?
        {
            Ok(proof) => proof,
            Err(again) => return Ok(again),
        };
        built.apply_batch(batch);
        let (version, log) = at;
        let Some(shared) = self.shared.upgrade() else {
            return Ok(Loaded::Done);
        };
        shared.local.replace_with(&built);
        shared.applied.send_replace(version);
        shared
            .tombstones
            .store(self.tombstones.len(), Ordering::Relaxed);
        self.position = Some(Position {
            epoch: head.epoch.clone(),
            version,
            log,
        });
        if self.behind
            || self
                .high
                .as_ref()
                .is_some_and(|(epoch, _)| *epoch != head.epoch)
        {
            // Ahead again, or a new store: what it holds now is the
            // baseline.
            self.high = None;
        }
        raise(&mut self.high, &head.epoch, version);
        self.behind = false;
        set_behind(&shared, None);
        shared.freshness.proven(proof);
        shared.set_error(None);
        {
            let mut loads = shared
                .loads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *loads = (loads.0 + 1, Some(started.elapsed()));
        }
        report::loaded(keys, version, started.elapsed(), scanned, build_took);
        Ok(Loaded::Done)
    }
}

/// Applies, with `put`, the logged writes after `at` (a version and its log
/// position, moved along) until the source's head: `Ok` with the time of
/// the round that proved it caught up, or `Err` with how the load ends
/// instead (the log moved past `at` while the load ran, by more than its
/// length of writes, or holds what no writer of ours wrote; a new epoch; no
/// store).
async fn catch_up<F: Feed>(
    feed: &mut F,
    epoch: &str,
    at: &mut (u64, String),
    mut put: impl FnMut(&super::feed::Change),
) -> Result<Result<Instant, Loaded>, String> {
    loop {
        let sent = Instant::now();
        let round = feed.round(&at.1, false).await?;
        let Some(now) = round.head else {
            return Ok(Err(Loaded::NotInitialised));
        };
        // Another store, or one that went back while the load ran (a
        // restore, a failover): nothing here proves the load fresh.
        if now.epoch != epoch || now.version < at.0 {
            return Ok(Err(Loaded::Again));
        }
        let empty = round.entries.is_empty();
        for entry in round.entries {
            match entry {
                Some(LogEntry { version, .. }) if version <= at.0 => {}
                Some(entry) if entry.version == at.0 + 1 => {
                    put(&entry.change);
                    *at = (entry.version, entry.position);
                }
                _ => return Ok(Err(Loaded::Again)),
            }
        }
        if empty && now.version <= at.0 {
            return Ok(Ok(sent));
        }
        if empty && !feed.has_after(&at.1).await? {
            return Ok(Err(Loaded::Again));
        }
    }
}

/// `high` raised to `version` of `epoch` (a new epoch starts afresh).
fn raise(high: &mut Option<(String, u64)>, epoch: &str, version: u64) {
    match high {
        Some((at, top)) if at == epoch => *top = (*top).max(version),
        _ => *high = Some((epoch.to_owned(), version)),
    }
}

fn set_behind(shared: &Shared, behind: Option<SourceBehind>) {
    *shared
        .behind
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = behind;
}

/// A random factor in 0.9..1.1, so that replicas started together do not
/// load together.
fn jittered(every: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    every.mul_f64(0.9 + f64::from(byte[0]) / 255.0 * 0.2)
}

#[cfg(test)]
mod tests;
