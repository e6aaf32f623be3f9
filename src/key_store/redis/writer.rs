//! The write side of the shared store: every change goes through one of two
//! Lua scripts, which update the record, bump the version and append to the
//! change log in one atomic step. Never on the request path.

use std::collections::HashMap;

use redis::Script;
use redis::aio::MultiplexedConnection;

use super::KeptConnection;
use super::layout::{LOG_LENGTH, Layout};
use super::source::Source;
#[cfg(feature = "admin")]
use crate::key_policy::Credits;
#[cfg(feature = "admin")]
use crate::key_policy::redis::{Operation, RedisCredits};
use crate::key_store::admin::AdminError;
#[cfg(feature = "admin")]
use crate::key_store::admin::CreditChange;
use crate::key_store::keys_file::KeysFile;
#[cfg(feature = "admin")]
use crate::key_store::replica::KeyWriter;
use crate::key_store::replica::{changed_entries, codec, is_valid_namespace};
use crate::key_store::{KeyEntry, KeyStoreError};

/// How long an admin command may take: writes are never on the request
/// path, and a write that timed out may still have happened, so be patient.
const RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How often a compare-and-set write is retried when the key changed
/// between its read and its write, with a short random pause between
/// attempts so that contenders spread out.
const CAS_ATTEMPTS: usize = 64;

/// Writes to a key set kept in Redis: insert, revoke, remove, get, import
/// and export. Each write returns the store's new version; a
/// [`SharedKeyStore`](super::SharedKeyStore) in the same process can wait
/// for it ([`wait_for_version`](super::SharedKeyStore::wait_for_version))
/// to read its own write. Redis holds only the tokens' SHA-256 digests.
///
/// The first write to an empty store (a key or an import) initialises it.
///
/// ```no_run
/// use tower_bearer_auth::{KeyEntry, KeyGenerator};
/// use tower_bearer_auth::key_store::redis::RedisKeyWriter;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let admin = RedisKeyWriter::connect("redis://127.0.0.1/", "billing-api").await?;
/// let key = KeyGenerator::new().generate()?;
/// admin.insert(KeyEntry::new(key.id(), "Staging Server", key.digest())).await?;
/// println!("shown once: {}", key.token().expose());
/// admin.revoke(key.id()).await?;
/// # Ok(())
/// # }
/// ```
pub struct RedisKeyWriter {
    /// The credit balances every replica counts in (`shared_credits`).
    #[cfg(feature = "admin")]
    credits: Box<RedisCredits>,
    connection: KeptConnection,
    pub(super) layout: Layout,
    put: Script,
    put_many: Script,
    delete: Script,
}

impl RedisKeyWriter {
    /// Connects to the key set `namespace` at `redis_url`.
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if the URL is invalid or Redis unreachable.
    pub async fn connect(redis_url: &str, namespace: &str) -> Result<Self, AdminError> {
        let writer = Self::new(redis_url, namespace)?;
        writer.connection().await?;
        Ok(writer)
    }

    /// A writer of the key set `namespace` at `redis_url` that connects on
    /// its first write (and again after a failure): a server can start
    /// while Redis is down, answering 503 to writes until it is back.
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if the URL or the namespace is invalid
    /// (nothing is asked of Redis).
    pub fn new(redis_url: &str, namespace: &str) -> Result<Self, AdminError> {
        Self::with_source(Source::open(redis_url, None), namespace)
    }

    /// A writer as [`new`](Self::new) makes, over TLS as `tls` says
    /// (feature `redis-tls`; a `rediss://` URL).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    #[cfg(feature = "redis-tls")]
    pub fn with_tls(
        redis_url: &str,
        namespace: &str,
        tls: &super::RedisTls,
    ) -> Result<Self, AdminError> {
        Self::with_source(Source::open(redis_url, Some(tls)), namespace)
    }

    fn with_source(source: Result<Source, String>, namespace: &str) -> Result<Self, AdminError> {
        if !is_valid_namespace(namespace) {
            return Err(AdminError::Unavailable {
                problem: format!(
                    "namespace {namespace:?} must be 1 to 64 characters from A-Z a-z 0-9 _ - ."
                ),
            });
        }
        let source = source.map_err(|problem| AdminError::Unavailable { problem })?;
        Ok(Self {
            #[cfg(feature = "admin")]
            credits: Box::new(RedisCredits::new(
                source.clone(),
                &format!("{{tba:{namespace}}}"),
            )),
            connection: KeptConnection::new(
                source,
                Layout::new(namespace).keys,
                std::time::Duration::from_secs(2),
                RESPONSE_TIMEOUT,
            ),
            layout: Layout::new(namespace),
            put: Script::new(PUT_SCRIPT),
            put_many: Script::new(include_str!("scripts/put_many.lua")),
            delete: Script::new(include_str!("scripts/del.lua")),
        })
    }

    /// A connection, reconnecting if the last one failed.
    pub(super) async fn connection(&self) -> Result<MultiplexedConnection, AdminError> {
        self.connection
            .get()
            .await
            .map_err(|problem| AdminError::Unavailable { problem })
    }

    /// Forgets a connection that failed (any error but a server's answer),
    /// so that the next call reconnects.
    pub(super) async fn failed(&self, error: &redis::RedisError) -> AdminError {
        if must_reconnect(error) {
            self.connection.forget().await;
        }
        unavailable(error)
    }

    /// Runs a read, once more on a fresh connection if the connection
    /// failed (after a Redis restart, the first use of the old one does).
    pub(super) async fn read<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, AdminError> {
        let mut con = self.connection().await?;
        match command.query_async(&mut con).await {
            Ok(value) => Ok(value),
            Err(error) if must_reconnect(&error) => {
                self.connection.forget().await;
                let mut con = self.connection().await?;
                command
                    .query_async(&mut con)
                    .await
                    .map_err(|e| unavailable(&e))
            }
            Err(error) => Err(unavailable(&error)),
        }
    }

    /// The store's epoch, initialising an empty store when `initialise`.
    pub(super) async fn epoch(&self, initialise: bool) -> Result<Option<String>, AdminError> {
        let epoch: Option<String> = self.read(redis::cmd("GET").arg(&self.layout.epoch)).await?;
        if epoch.is_some() || !initialise {
            return Ok(epoch);
        }
        let mut con = self.connection().await?;
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| AdminError::Unavailable {
            problem: format!("no random source for the epoch: {e}"),
        })?;
        let fresh: String = random.iter().map(|b| format!("{b:02x}")).collect();
        // NX: if two admins initialise at once, both read the winner's.
        let (_, epoch): (Option<String>, Option<String>) = match redis::pipe()
            .cmd("SET")
            .arg(&self.layout.epoch)
            .arg(&fresh)
            .arg("NX")
            .cmd("GET")
            .arg(&self.layout.epoch)
            .query_async(&mut con)
            .await
        {
            Ok(reply) => reply,
            Err(e) => return Err(self.failed(&e).await),
        };
        Ok(epoch)
    }

    /// The store's current version (0 for an empty store).
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if Redis fails.
    pub async fn version(&self) -> Result<u64, AdminError> {
        let version: Option<u64> = self.read(redis::cmd("GET").arg(&self.layout.ver)).await?;
        Ok(version.unwrap_or(0))
    }

    /// Adds a key; returns the store's new version. Initialises an empty
    /// store.
    ///
    /// # Errors
    ///
    /// [`AdminError::DuplicateId`] or [`AdminError::DuplicateDigest`] if a
    /// key has this id or this token already (revoked keys included),
    /// [`AdminError::Invalid`] for an invalid id or label.
    pub async fn insert(&self, entry: KeyEntry) -> Result<u64, AdminError> {
        entry.validate()?;
        let epoch = self.epoch(true).await?.unwrap_or_default();
        self.put(&epoch, &entry, "").await
    }

    /// The key with this id, active or revoked.
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if Redis fails, [`AdminError::Corrupt`] if its
    /// record cannot be read.
    pub async fn get(&self, id: &str) -> Result<Option<KeyEntry>, AdminError> {
        Ok(self.current(id).await?.map(|(_, entry)| entry))
    }

    /// The record of `id` as stored, and as an entry.
    async fn current(&self, id: &str) -> Result<Option<(String, KeyEntry)>, AdminError> {
        let digest: Option<String> = self
            .read(redis::cmd("HGET").arg(&self.layout.ids).arg(id))
            .await?;
        let Some(digest) = digest else {
            return Ok(None);
        };
        let record: Option<String> = self
            .read(redis::cmd("HGET").arg(&self.layout.keys).arg(&digest))
            .await?;
        let Some(record) = record else {
            return Ok(None);
        };
        let entry = codec::decode(&digest, &record).map_err(|e| AdminError::Corrupt {
            problem: format!("key \"{id}\": {e}"),
        })?;
        Ok(Some((record, entry)))
    }

    /// Changes the key with this id with `change`, compare-and-set: if the
    /// key changed between the read and the write, it is read again and
    /// `change` applied again. Returns the store's new version (its current
    /// one if `change` changed nothing).
    ///
    /// # Errors
    ///
    /// [`AdminError::UnknownId`] if no key has this id, the error `change`
    /// returns, [`AdminError::Conflict`] after repeated concurrent changes.
    pub async fn update(
        &self,
        id: &str,
        mut change: impl FnMut(KeyEntry) -> Result<KeyEntry, AdminError>,
    ) -> Result<u64, AdminError> {
        for _ in 0..CAS_ATTEMPTS {
            let epoch = self.epoch(false).await?.unwrap_or_default();
            let Some((record, entry)) = self.current(id).await? else {
                return Err(AdminError::UnknownId { id: id.to_owned() });
            };
            let changed = change(entry.clone())?;
            if changed.id() != id {
                return Err(AdminError::Invalid(KeyStoreError::InvalidId {
                    id: changed.id().to_owned(),
                }));
            }
            if changed == entry {
                return self.version().await;
            }
            changed.validate()?;
            match self.put(&epoch, &changed, &record).await {
                Err(AdminError::Conflict { .. }) => contention_pause().await,
                other => return other,
            }
        }
        Err(AdminError::Conflict { id: id.to_owned() })
    }

    /// Revokes a key: every replica refuses it within the propagation
    /// bound. Revoking a revoked key changes nothing. Returns the store's
    /// version.
    ///
    /// # Errors
    ///
    /// [`AdminError::UnknownId`] if no key has this id.
    pub async fn revoke(&self, id: &str) -> Result<u64, AdminError> {
        self.update(id, |entry| Ok(entry.with_revoked(true))).await
    }

    /// Forgets a key entirely. Returns the store's new version.
    ///
    /// # Errors
    ///
    /// [`AdminError::UnknownId`] if no key has this id.
    pub async fn remove(&self, id: &str) -> Result<u64, AdminError> {
        for _ in 0..CAS_ATTEMPTS {
            let epoch = self.epoch(false).await?.unwrap_or_default();
            let Some((record, _)) = self.current(id).await? else {
                return Err(AdminError::UnknownId { id: id.to_owned() });
            };
            let mut con = self.connection().await?;
            let outcome = self
                .delete
                .key(&self.layout.script_keys()[..])
                .key(&self.layout.used)
                .key(self.layout.credits(id))
                .arg(&epoch)
                .arg(id)
                .arg(&record)
                .arg(LOG_LENGTH)
                .invoke_async::<u64>(&mut con)
                .await;
            match outcome {
                Ok(version) => return Ok(version),
                Err(e) => match self.script_error(&e, id).await {
                    AdminError::Conflict { .. } => contention_pause().await,
                    other => return Err(other),
                },
            }
        }
        Err(AdminError::Conflict { id: id.to_owned() })
    }

    /// When each key was last used, to the minute, as the replicas flushed
    /// it (at most a minute late). A value that is not a minute (the
    /// replica user may write this hash) is left out, and logged once per
    /// process: a last use is a hint, and garbage in it must not make the
    /// admin API unavailable.
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if Redis fails.
    pub async fn last_uses(&self) -> Result<HashMap<String, u32>, AdminError> {
        let raw: HashMap<Vec<u8>, Vec<u8>> = self
            .read(redis::cmd("HGETALL").arg(&self.layout.used))
            .await?;
        let mut uses = HashMap::with_capacity(raw.len());
        let mut unreadable = 0_usize;
        for (id, minute) in raw {
            let id = String::from_utf8(id).ok();
            let minute = std::str::from_utf8(&minute)
                .ok()
                .and_then(|text| text.parse::<u32>().ok());
            match (id, minute) {
                (Some(id), Some(minute)) => {
                    uses.insert(id, minute);
                }
                _ => unreadable += 1,
            }
        }
        if unreadable > 0 {
            super::report::unreadable_last_uses(unreadable);
        }
        Ok(uses)
    }

    /// Every key, active and revoked, as a keys file: a backup that
    /// [`import`](Self::import) restores.
    ///
    /// # Errors
    ///
    /// [`AdminError`] if Redis fails or a record cannot be read.
    pub async fn export(&self) -> Result<KeysFile, AdminError> {
        let mut entries: Vec<KeyEntry> = self
            .records()
            .await?
            .into_iter()
            .map(|(_, entry)| entry)
            .collect();
        entries.sort_by(|a, b| (a.created_at(), a.id()).cmp(&(b.created_at(), b.id())));
        Ok(KeysFile::from_entries(entries))
    }

    /// Every stored record, as stored and as an entry.
    async fn records(&self) -> Result<Vec<(String, KeyEntry)>, AdminError> {
        let mut records = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, page): (u64, Vec<(String, String)>) = self
                .read(
                    redis::cmd("HSCAN")
                        .arg(&self.layout.keys)
                        .arg(cursor)
                        .arg("COUNT")
                        .arg(1_000),
                )
                .await?;
            for (digest, record) in page {
                let entry = codec::decode(&digest, &record).map_err(|e| AdminError::Corrupt {
                    problem: format!("record {}: {e}", digest.get(..8).unwrap_or("")),
                })?;
                records.push((record, entry));
            }
            cursor = next;
            if cursor == 0 {
                return Ok(records);
            }
        }
    }

    /// Runs the put script: insert when `expected` is empty, else
    /// compare-and-set against the record read.
    async fn put(&self, epoch: &str, entry: &KeyEntry, expected: &str) -> Result<u64, AdminError> {
        let mut con = self.connection().await?;
        let outcome = self
            .put
            .key(&self.layout.script_keys()[..])
            .arg(epoch)
            .arg(entry.digest().to_hex())
            .arg(entry.id())
            .arg(codec::encode(entry))
            .arg(expected)
            .arg(LOG_LENGTH)
            .invoke_async::<u64>(&mut con)
            .await;
        match outcome {
            Ok(version) => Ok(version),
            Err(e) => Err(self.script_error(&e, entry.id()).await),
        }
    }

    /// Changes every key of `ids` that `change` changes (`None`: leave
    /// it), in one script: all of them, compare-and-set, or none (read
    /// again and retried when one changed meanwhile). How many changed,
    /// and the store's version after. Ids no longer in the store are
    /// skipped.
    ///
    /// # Errors
    ///
    /// The error a changed entry breaks a rule with,
    /// [`AdminError::Conflict`] after repeated concurrent changes,
    /// [`AdminError::Unavailable`] if Redis fails.
    pub async fn update_many(
        &self,
        ids: &[String],
        mut change: impl FnMut(&KeyEntry) -> Option<KeyEntry>,
    ) -> Result<(usize, u64), AdminError> {
        for _ in 0..CAS_ATTEMPTS {
            let epoch = self.epoch(false).await?.unwrap_or_default();
            let mut current = Vec::with_capacity(ids.len());
            for id in ids {
                current.extend(self.current(id).await?);
            }
            let writes = changed_entries(current, &mut change)?;
            if writes.is_empty() {
                return Ok((0, self.version().await?));
            }
            let mut call = self.put_many.key(&self.layout.script_keys()[..]);
            call.arg(&epoch).arg(LOG_LENGTH);
            for (entry, expected) in &writes {
                call.arg(entry.digest().to_hex())
                    .arg(entry.id())
                    .arg(codec::encode(entry))
                    .arg(expected);
            }
            let mut con = self.connection().await?;
            match call.invoke_async::<u64>(&mut con).await {
                Ok(version) => return Ok((writes.len(), version)),
                Err(error) => match self.script_error(&error, writes[0].0.id()).await {
                    AdminError::Conflict { .. } => contention_pause().await,
                    other => return Err(other),
                },
            }
        }
        Err(AdminError::Conflict {
            id: "(several keys)".to_owned(),
        })
    }

    /// What a script's refusal means.
    async fn script_error(&self, error: &redis::RedisError, id: &str) -> AdminError {
        let id = id.to_owned();
        match error.code() {
            Some("TBA_DUP_ID") => AdminError::DuplicateId { id },
            Some("TBA_DUP_DIGEST") => AdminError::DuplicateDigest { id },
            Some("TBA_UNKNOWN") => AdminError::UnknownId { id },
            // A reset store, or a concurrent change: read again and retry.
            Some("TBA_CHANGED" | "TBA_EPOCH") => AdminError::Conflict { id },
            _ => self.failed(error).await,
        }
    }
}

/// The put script's source.
const PUT_SCRIPT: &str = include_str!("scripts/put.lua");

/// Whether a failure means the connection must be made again: it broke
/// (no code), or the node no longer holds the key set (a cluster's
/// `MOVED`/`ASK`, a slot in migration, a node demoted to replica): the next
/// connect finds the node that does.
fn must_reconnect(error: &redis::RedisError) -> bool {
    matches!(
        error.code(),
        None | Some("MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN" | "READONLY")
    )
}

/// A Redis failure, as the admin reports it.
fn unavailable(error: &redis::RedisError) -> AdminError {
    AdminError::Unavailable {
        problem: format!("Redis: {error}"),
    }
}

/// 0 to 2 ms, at random.
async fn contention_pause() {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    tokio::time::sleep(std::time::Duration::from_micros(u64::from(byte[0]) * 8)).await;
}

impl std::fmt::Debug for RedisKeyWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKeyWriter")
            .field("keys", &self.layout)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "admin")]
impl KeyWriter for RedisKeyWriter {
    async fn append_audit(
        &self,
        event: crate::key_store::admin::audit::AuditEvent,
    ) -> Result<(), AdminError> {
        Self::append_audit(self, &event).await
    }

    async fn audit(
        &self,
        query: crate::key_store::admin::audit::AuditQuery,
    ) -> Result<crate::key_store::admin::audit::AuditPage, AdminError> {
        self.audit_page(&query).await
    }

    async fn usage(
        &self,
        id: &str,
        first: u32,
        last: u32,
    ) -> Result<Vec<(u32, crate::key_store::usage::DayCounts)>, AdminError> {
        let _ = last;
        self.usage_days(id, first, last).await
    }

    async fn insert(&self, entry: KeyEntry) -> Result<u64, AdminError> {
        Self::insert(self, entry).await
    }

    async fn update<F>(&self, id: &str, change: F) -> Result<u64, AdminError>
    where
        F: FnMut(KeyEntry) -> Result<KeyEntry, AdminError> + Send,
    {
        Self::update(self, id, change).await
    }

    async fn update_many<F>(&self, ids: &[String], change: F) -> Result<(usize, u64), AdminError>
    where
        F: FnMut(&KeyEntry) -> Option<KeyEntry> + Send,
    {
        Self::update_many(self, ids, change).await
    }

    async fn remove(&self, id: &str) -> Result<u64, AdminError> {
        Self::remove(self, id).await
    }

    async fn last_uses(&self) -> Result<HashMap<String, u32>, AdminError> {
        Self::last_uses(self).await
    }

    async fn credit_balance(
        &self,
        id: &str,
        given: Credits,
        change: Option<CreditChange>,
    ) -> Result<Option<u64>, AdminError> {
        let (operation, amount) = match change {
            None => (Operation::Read, 0),
            Some(CreditChange::Add(amount)) => (Operation::Add, amount),
            Some(CreditChange::Set(remaining)) => (Operation::Set, remaining),
        };
        match self.credits.run(id, &given, operation, amount).await {
            Ok(Ok(remaining)) => Ok(Some(remaining)),
            Ok(Err(_)) => Err(AdminError::Unavailable {
                problem: "the credits script refused a change it never refuses".to_owned(),
            }),
            Err(problem) => Err(AdminError::Unavailable {
                problem: format!("Redis did not answer for credits: {problem}"),
            }),
        }
    }
}
