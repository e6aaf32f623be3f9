//! The Redis side of a replica: the [`Feed`] it follows, one connection of
//! the replica's own, and the chore of writing last uses back.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Script};

use super::layout::{Layout, from_stream};
use super::source::{Source, role};
use crate::key_store::replica::Shared;
use crate::key_store::replica::feed::{Feed, Head, LoadStart, Round};

/// Log entries read per round.
const BATCH: usize = 4_096;
/// Hash fields read per `HSCAN` page.
const SCAN_PAGE: usize = 1_000;
/// How often a replica writes its keys' last uses to Redis.
const FLUSH_EVERY: Duration = Duration::from_secs(60);
/// Last uses (or usage counts) written per script call.
const FLUSH_BATCH: usize = 500;
/// How long Redis keeps a day's usage hash: the days usage is kept.
const USAGE_TTL_SECONDS: u64 = crate::key_store::usage::USAGE_DAYS_KEPT as u64 * 86_400;

/// One connection to the Redis a replica follows.
pub(super) struct RedisFeed<'a> {
    pub(super) con: MultiplexedConnection,
    pub(super) layout: &'a Layout,
    /// How long a waiting round blocks, in milliseconds.
    pub(super) block_ms: u64,
    pub(super) last_uses: &'a mut LastUses,
    /// Whether each round also asks the node's role (through Sentinel: a
    /// node demoted meanwhile proves nothing).
    pub(super) checks_role: bool,
    /// Where the key set is (a cluster's reads follow `ASK`).
    pub(super) source: &'a Source,
    /// How connections are made (to a node an `ASK` names).
    pub(super) config: &'a AsyncConnectionConfig,
}

/// What the replica wrote of its last uses so far, across connections.
pub(super) struct LastUses {
    pub(super) flushed: HashMap<String, u32>,
    pub(super) next: Instant,
    pub(super) script: Script,
    /// Adds usage counts to a day's hash (`scripts/usage.lua`).
    pub(super) usage: Script,
}

impl LastUses {
    pub(super) fn new() -> Self {
        Self {
            flushed: HashMap::new(),
            next: Instant::now() + FLUSH_EVERY,
            script: Script::new(include_str!("scripts/used.lua")),
            usage: Script::new(include_str!("scripts/usage.lua")),
        }
    }
}

fn failed(what: &str) -> impl Fn(redis::RedisError) -> String + '_ {
    move |e| format!("{what} failed: {e}")
}

impl Feed for RedisFeed<'_> {
    async fn begin_load(&mut self) -> Result<Option<LoadStart>, String> {
        let (epoch, version, last): (Option<String>, Option<u64>, StreamRangeReply) = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(&self.layout.epoch)
            .cmd("GET")
            .arg(&self.layout.ver)
            .cmd("XREVRANGE")
            .arg(&self.layout.log)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.con)
            .await
            .map_err(failed("reading the head"))?;
        Ok(epoch.map(|epoch| LoadStart {
            head: Head {
                epoch,
                version: version.unwrap_or(0),
            },
            position: last
                .ids
                .first()
                .map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone()),
        }))
    }

    async fn load_page(&mut self, cursor: u64) -> Result<(u64, Vec<(String, String)>), String> {
        let mut hscan = redis::cmd("HSCAN");
        hscan
            .arg(&self.layout.keys)
            .arg(cursor)
            .arg("COUNT")
            .arg(SCAN_PAGE);
        let mut replies = self
            .source
            .query_following_ask(&mut self.con, &[hscan], self.config)
            .await
            .map_err(failed("scanning the keys"))?;
        redis::FromRedisValue::from_redis_value(replies.pop().unwrap_or(redis::Value::Nil))
            .map_err(|e| format!("scanning the keys failed: {e}"))
    }

    async fn round(&mut self, position: &str, wait: bool) -> Result<Round, String> {
        let mut xread = redis::cmd("XREAD");
        xread.arg("COUNT").arg(BATCH);
        if wait {
            xread.arg("BLOCK").arg(self.block_ms);
        }
        xread.arg("STREAMS").arg(&self.layout.log).arg(position);
        // The epoch and the version are answered after the read returns
        // (and the role after them, when asked).
        let mut get_epoch = redis::cmd("GET");
        get_epoch.arg(&self.layout.epoch);
        let mut get_version = redis::cmd("GET");
        get_version.arg(&self.layout.ver);
        let mut commands = vec![xread, get_epoch, get_version];
        if self.checks_role {
            commands.push(redis::cmd("HELLO"));
        }
        // Whether our last entry is there at all (after a failover, a node
        // may hold other entries at the same versions).
        let asks_position = position != "0-0";
        if asks_position {
            let mut at = redis::cmd("XRANGE");
            at.arg(&self.layout.log).arg(position).arg(position);
            commands.push(at);
        }
        let mut replies = self
            .source
            .query_following_ask(&mut self.con, &commands, self.config)
            .await
            .map_err(failed("reading the change log"))?;
        let position_missing = if asks_position {
            let at: StreamRangeReply =
                redis::FromRedisValue::from_redis_value(replies.pop().unwrap_or(redis::Value::Nil))
                    .map_err(|e| format!("reading the change log failed: {e}"))?;
            at.ids.is_empty()
        } else {
            false
        };
        if self.checks_role {
            let hello = replies.pop().unwrap_or(redis::Value::Nil);
            if role(&hello).as_deref() != Some("master") {
                return Err(
                    "the node is no longer the primary (a failover): it proves nothing".to_owned(),
                );
            }
        }
        let (read, epoch, version): (Option<StreamReadReply>, Option<String>, Option<u64>) =
            redis::FromRedisValue::from_redis_value(redis::Value::Array(replies))
                .map_err(|e| format!("reading the change log failed: {e}"))?;
        Ok(Round {
            entries: read
                .into_iter()
                .flat_map(|reply| reply.keys)
                .flat_map(|key| key.ids)
                .map(|id| from_stream(id.id, &id.map))
                .collect(),
            head: epoch.map(|epoch| Head {
                epoch,
                version: version.unwrap_or(0),
            }),
            position_missing,
        })
    }

    async fn has_after(&mut self, position: &str) -> Result<bool, String> {
        let mut xrange = redis::cmd("XRANGE");
        xrange
            .arg(&self.layout.log)
            .arg(format!("({position}"))
            .arg("+")
            .arg("COUNT")
            .arg(1);
        let mut replies = self
            .source
            .query_following_ask(&mut self.con, &[xrange], self.config)
            .await
            .map_err(failed("reading the change log"))?;
        let next: StreamRangeReply =
            redis::FromRedisValue::from_redis_value(replies.pop().unwrap_or(redis::Value::Nil))
                .map_err(|e| format!("reading the change log failed: {e}"))?;
        Ok(!next.ids.is_empty())
    }

    async fn wait_for_first_write(&mut self) -> Result<(), String> {
        // Wait on the log itself: the first write wakes this read at once,
        // so the first key is not a backoff away.
        let woken: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(self.block_ms)
            .arg("STREAMS")
            .arg(&self.layout.log)
            .arg("0-0")
            .query_async(&mut self.con)
            .await
            .map_err(failed("waiting for the first write"))?;
        if woken.is_some() {
            // A log without an epoch (a hand edit) would wake this read at
            // once, every time: do not spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    async fn chores(&mut self, replica: &Shared) {
        let asked = replica.flush_requested.swap(false, Ordering::AcqRel);
        if asked || Instant::now() >= self.last_uses.next {
            self.last_uses.next = Instant::now() + FLUSH_EVERY;
            // Usage counts a write could not add stay in the keys'
            // counters (and in this replica's admin answers) until a
            // later flush; the flush reports last uses.
            self.flush_usage(replica).await;
            if self.flush_last_uses(replica).await {
                replica.flushes.send_modify(|done| *done += 1);
            }
        }
    }
}

impl RedisFeed<'_> {
    /// Adds the usage counts this replica drained from its keys to each
    /// day's hash in Redis; counts a failed call did not add go back into
    /// the keys' counters (tried again at the next flush).
    async fn flush_usage(&mut self, replica: &Shared) -> bool {
        let drained = crate::key_store::replica::drain_usage(&replica.local);
        let mut unsent = drained.as_slice();
        let mut flushed = true;
        while let Some(((_, day, _), _)) = unsent.split_first() {
            let day = *day;
            let batch_len = unsent
                .iter()
                .take(FLUSH_BATCH)
                .take_while(|(_, at, _)| *at == day)
                .count();
            let (batch, rest) = unsent.split_at(batch_len);
            let mut call = self.last_uses.usage.key(self.layout.usage(day));
            call.arg(USAGE_TTL_SECONDS);
            for (id, _, counts) in batch {
                call.arg(id);
                for count in counts.0 {
                    call.arg(count);
                }
            }
            if let Err(error) = call.invoke_async::<u64>(&mut self.con).await {
                crate::key_store::replica::report::source_problem(&format!(
                    "writing usage counts to Redis failed: {error}"
                ));
                crate::key_store::replica::restore_usage(&replica.local, unsent);
                flushed = false;
                break;
            }
            unsent = rest;
        }
        flushed
    }

    /// Writes the last uses this replica saw since its last flush to Redis,
    /// keeping the later minute (a script, so that replicas never move a
    /// time back). A failure is logged and retried at the next flush.
    async fn flush_last_uses(&mut self, replica: &Shared) -> bool {
        let mut pending: Vec<(String, u32)> = Vec::new();
        let flushed = &self.last_uses.flushed;
        replica.local.for_each_last_use(|id, minute| {
            if flushed.get(id).is_none_or(|&done| done < minute) {
                pending.push((id.to_owned(), minute));
            }
        });
        for batch in pending.chunks(FLUSH_BATCH) {
            let mut call = self.last_uses.script.key(&self.layout.used);
            for (id, minute) in batch {
                call.arg(id).arg(minute);
            }
            match call.invoke_async::<u64>(&mut self.con).await {
                Ok(_) => self.last_uses.flushed.extend(batch.iter().cloned()),
                Err(error) => {
                    crate::key_store::replica::report::source_problem(&format!(
                        "writing last uses to Redis failed: {error}"
                    ));
                    return false;
                }
            }
        }
        true
    }
}
