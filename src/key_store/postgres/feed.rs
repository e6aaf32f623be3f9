//! The Postgres side of a replica: the [`Feed`] it follows over one
//! connection of its own (LISTEN for writes, one statement per round that
//! reads the changes and the head in one snapshot), and the chore of
//! writing last uses back.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio_postgres::{Row, Statement};

use super::connection::{Connection, Target, plain};
use super::statements as sql;
use crate::key_store::replica::Shared;
use crate::key_store::replica::feed::{Change, Feed, Head, LoadStart, LogEntry, Round};
use crate::key_store::replica::report::source_problem;
use crate::key_store::replica::task::Connect;

/// Log entries read per round.
const BATCH: i64 = 4_096;
/// Key records read per full-load page.
const PAGE: i64 = 5_000;
/// How often a replica writes its keys' last uses to Postgres.
const FLUSH_EVERY: Duration = Duration::from_secs(60);
/// Beyond the heartbeat, how long a statement may take before the
/// connection is taken for dead (a half-open connection).
const RESPONSE_MARGIN: Duration = Duration::from_secs(1);

/// What a replica keeps across its connections to Postgres.
pub(super) struct PostgresConnect {
    pub(super) target: Target,
    pub(super) namespace: String,
    pub(super) heartbeat: Duration,
    /// The last use of each key as this replica last wrote it.
    pub(super) flushed: HashMap<String, u32>,
    pub(super) next_flush: Instant,
}

impl Connect for PostgresConnect {
    type Feed<'a> = PostgresFeed<'a>;

    async fn connect(&mut self) -> Result<PostgresFeed<'_>, String> {
        let limit = self.heartbeat + RESPONSE_MARGIN;
        let connection = within(limit, "connecting", self.target.connect(true)).await??;
        let prepared = async {
            Ok::<_, tokio_postgres::Error>(Prepared {
                head: connection.client.prepare(sql::HEAD).await?,
                page: connection.client.prepare(sql::PAGE).await?,
                round: connection.client.prepare(sql::ROUND).await?,
                has_after: connection.client.prepare(sql::HAS_AFTER).await?,
            })
        };
        let prepared = within(limit, "preparing statements", prepared)
            .await?
            .map_err(|e| schema_problem(&e))?;
        Ok(PostgresFeed {
            connection,
            prepared,
            owner: self,
            limit,
        })
    }
}

/// The feed's statements, prepared once per connection.
struct Prepared {
    head: Statement,
    page: Statement,
    round: Statement,
    has_after: Statement,
}

/// One connection to the Postgres a replica follows.
pub(super) struct PostgresFeed<'a> {
    connection: Connection,
    prepared: Prepared,
    owner: &'a mut PostgresConnect,
    /// How long one statement may take.
    limit: Duration,
}

/// `future`, or a failure after `limit`.
async fn within<T>(
    limit: Duration,
    what: &str,
    future: impl Future<Output = T>,
) -> Result<T, String> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| format!("Postgres did not answer {what} within {limit:?}"))
}

fn failed(what: &str) -> impl Fn(tokio_postgres::Error) -> String + '_ {
    move |e| format!("{what} failed: {}", plain(&e))
}

/// A missing table says more than "relation does not exist".
fn schema_problem(error: &tokio_postgres::Error) -> String {
    if error.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) {
        "the schema is not applied (run `keygen --postgres URL --init`, or `PostgresKeyWriter::init`)"
            .to_owned()
    } else {
        format!("preparing statements failed: {}", plain(error))
    }
}

/// A log position: the version, and the entry id of its log row (empty
/// when unknown: version 0, or a row trimmed before the load read it).
fn position_of(version: u64, entry: &str) -> String {
    format!("{version}:{entry}")
}

/// A position back to its version and entry id (positions are ours).
fn parse_position(position: &str) -> (i64, &str) {
    let (version, entry) = position.split_once(':').unwrap_or((position, ""));
    (version.parse().unwrap_or(0), entry)
}

impl PostgresFeed<'_> {
    /// Adds the usage counts this replica drained from its keys (one
    /// statement), and deletes days no longer kept; counts a failed write
    /// did not add go back into the keys' counters.
    async fn flush_usage(&mut self, replica: &Shared) -> bool {
        let drained = crate::key_store::replica::drain_usage(&replica.local);
        if drained.is_empty() {
            return true;
        }
        let ids: Vec<&str> = drained.iter().map(|(id, _, _)| id.as_str()).collect();
        let days: Vec<i32> = drained
            .iter()
            .map(|(_, day, _)| i32::try_from(*day).unwrap_or(i32::MAX))
            .collect();
        let count = |at: usize| -> Vec<i64> {
            drained
                .iter()
                .map(|(_, _, counts)| i64::try_from(counts.0[at]).unwrap_or(i64::MAX))
                .collect()
        };
        let (passed, limited, exceeded, refused) = (count(0), count(1), count(2), count(3));
        let oldest = i32::try_from(
            crate::key_store::usage::today()
                .saturating_sub(crate::key_store::usage::USAGE_DAYS_KEPT),
        )
        .unwrap_or(0);
        let namespace = self.owner.namespace.clone();
        let client = &self.connection.client;
        let written = within(self.limit, "writing usage counts", async {
            client
                .execute(
                    sql::FLUSH_USAGE,
                    &[
                        &namespace, &ids, &days, &passed, &limited, &exceeded, &refused,
                    ],
                )
                .await?;
            client
                .execute(sql::PRUNE_USAGE, &[&namespace, &oldest])
                .await
        })
        .await;
        let problem = match written {
            Ok(Ok(_)) => return true,
            Ok(Err(error)) => format!("writing usage counts to Postgres failed: {}", plain(&error)),
            Err(problem) => problem,
        };
        source_problem(&problem);
        crate::key_store::replica::restore_usage(&replica.local, &drained);
        false
    }

    async fn query(
        &self,
        what: &str,
        statement: &Statement,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, String> {
        within(
            self.limit,
            what,
            self.connection.client.query(statement, params),
        )
        .await?
        .map_err(failed(what))
    }

    /// Waits up to the heartbeat for a write to this namespace (one that
    /// came since the last statement counts at once).
    async fn wait_for_write(&mut self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.owner.heartbeat;
        loop {
            match tokio::time::timeout_at(deadline, self.connection.notified.recv()).await {
                Err(_) => return Ok(()),
                Ok(None) => return Err("the Postgres connection closed".to_owned()),
                Ok(Some(namespace)) if namespace == self.owner.namespace => {
                    // Several writes, one round.
                    while self.connection.notified.try_recv().is_ok() {}
                    return Ok(());
                }
                Ok(Some(_)) => {}
            }
        }
    }
}

impl Feed for PostgresFeed<'_> {
    async fn begin_load(&mut self) -> Result<Option<LoadStart>, String> {
        let namespace = self.owner.namespace.clone();
        let rows = self
            .query("reading the head", &self.prepared.head, &[&namespace])
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let head = head_of(row, 0, 1)?;
        let entry: Option<String> = row.try_get(2).map_err(failed("reading the head"))?;
        Ok(Some(LoadStart {
            position: position_of(head.version, entry.as_deref().unwrap_or("")),
            head,
        }))
    }

    async fn load_page(&mut self, cursor: u64) -> Result<(u64, Vec<(String, String)>), String> {
        let namespace = self.owner.namespace.clone();
        let after = i64::try_from(cursor).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "reading the keys",
                &self.prepared.page,
                &[&namespace, &after, &PAGE],
            )
            .await?;
        let mut last = 0_i64;
        let mut page = Vec::with_capacity(rows.len());
        for row in &rows {
            let (seq, digest, record): (i64, String, String) = (
                row.try_get(0).map_err(failed("reading a key row"))?,
                row.try_get(1).map_err(failed("reading a key row"))?,
                row.try_get(2).map_err(failed("reading a key row"))?,
            );
            last = seq;
            page.push((digest, record));
        }
        let next = if rows.len() < usize::try_from(PAGE).unwrap_or(usize::MAX) {
            0
        } else {
            u64::try_from(last).unwrap_or(0)
        };
        Ok((next, page))
    }

    async fn round(&mut self, position: &str, wait: bool) -> Result<Round, String> {
        if wait {
            self.wait_for_write().await?;
        } else {
            while self.connection.notified.try_recv().is_ok() {}
        }
        let namespace = self.owner.namespace.clone();
        let (after, applied_entry) = parse_position(position);
        let rows = self
            .query(
                "reading the change log",
                &self.prepared.round,
                &[&namespace, &after, &BATCH],
            )
            .await?;
        // Row 0 always exists: whether the server is a standby, the head
        // (NULL: no store), then one entry per row (NULL: none).
        let Some(first) = rows.first() else {
            return Err("reading the change log answered no row".to_owned());
        };
        let standby: bool = first.try_get(0).map_err(failed("reading the head"))?;
        if standby {
            return Err("the server is a standby (in recovery): it proves nothing".to_owned());
        }
        let epoch: Option<String> = first.try_get(1).map_err(failed("reading the head"))?;
        let head = match epoch {
            Some(_) => Some(head_of(first, 1, 2)?),
            None => None,
        };
        // The log row we applied last must be the one there (another
        // history after a failover has other entry ids at our versions).
        let at: Option<String> = first.try_get(3).map_err(failed("reading the head"))?;
        let position_missing = !applied_entry.is_empty() && at.as_deref() != Some(applied_entry);
        let entries = rows
            .iter()
            .filter(|row| matches!(row.try_get::<_, Option<i64>>(4), Ok(Some(_)) | Err(_)))
            .map(entry_of)
            .collect();
        Ok(Round {
            entries,
            head,
            position_missing,
        })
    }

    async fn has_after(&mut self, position: &str) -> Result<bool, String> {
        let namespace = self.owner.namespace.clone();
        let (after, _) = parse_position(position);
        let rows = self
            .query(
                "reading the change log",
                &self.prepared.has_after,
                &[&namespace, &after],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn wait_for_first_write(&mut self) -> Result<(), String> {
        self.wait_for_write().await
    }

    async fn chores(&mut self, replica: &Shared) {
        let asked = replica.flush_requested.swap(false, Ordering::AcqRel);
        if asked || Instant::now() >= self.owner.next_flush {
            self.owner.next_flush = Instant::now() + FLUSH_EVERY;
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

impl PostgresFeed<'_> {
    /// Writes the last uses this replica saw since its last flush, keeping
    /// the later minute (replicas never move a time back). A failure is
    /// logged and retried at the next flush.
    async fn flush_last_uses(&mut self, replica: &Shared) -> bool {
        let mut ids: Vec<String> = Vec::new();
        let mut minutes: Vec<i32> = Vec::new();
        let flushed = &self.owner.flushed;
        replica.local.for_each_last_use(|id, minute| {
            if flushed.get(id).is_none_or(|&done| done < minute) {
                ids.push(id.to_owned());
                minutes.push(i32::try_from(minute).unwrap_or(i32::MAX));
            }
        });
        if ids.is_empty() {
            return true;
        }
        let namespace = self.owner.namespace.clone();
        let written = within(
            self.limit,
            "writing last uses",
            self.connection
                .client
                .execute(sql::FLUSH_USED, &[&namespace, &ids, &minutes]),
        )
        .await;
        match written {
            Ok(Ok(_)) => {
                for (id, minute) in ids.into_iter().zip(minutes) {
                    self.owner
                        .flushed
                        .insert(id, u32::try_from(minute).unwrap_or(0));
                }
                true
            }
            Ok(Err(error)) => {
                source_problem(&format!(
                    "writing last uses to Postgres failed: {}",
                    plain(&error)
                ));
                false
            }
            Err(problem) => {
                source_problem(&problem);
                false
            }
        }
    }
}

/// The head in columns `epoch` and `version` of `row`.
fn head_of(row: &Row, epoch: usize, version: usize) -> Result<Head, String> {
    let epoch: String = row.try_get(epoch).map_err(failed("reading the head"))?;
    let version: i64 = row.try_get(version).map_err(failed("reading the head"))?;
    Ok(Head {
        epoch,
        version: u64::try_from(version)
            .map_err(|_| "the store's version is negative".to_owned())?,
    })
}

/// One log row of a round (columns 4 to 8); `None` for a row that breaks
/// the schema's rules (a hand edit): the replica then loads in full.
fn entry_of(row: &Row) -> Option<LogEntry> {
    let version: i64 = row.try_get(4).ok()?;
    let digest: String = row.try_get(5).ok()?;
    let id: String = row.try_get(6).ok()?;
    let record: Option<String> = row.try_get(7).ok()?;
    let entry: String = row.try_get(8).ok()?;
    let version = u64::try_from(version).ok()?;
    Some(LogEntry {
        position: position_of(version, &entry),
        version,
        change: match record {
            Some(record) => Change::Put { digest, id, record },
            None => Change::Delete { digest, id },
        },
    })
}
