//! The write side of a key set kept in Postgres: every change is one
//! transaction that locks the store's row, changes the key, takes the next
//! versions, logs the change and notifies the replicas. Never on the
//! request path.

use std::collections::HashMap;

use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::error::SqlState;

use super::connection::{Connection, Target, plain};
use super::statements as sql;
use crate::key_store::admin::AdminError;
use crate::key_store::keys_file::KeysFile;
#[cfg(feature = "admin")]
use crate::key_store::replica::KeyWriter;
use crate::key_store::replica::{changed_entries, codec, is_valid_namespace};
use crate::key_store::{KeyEntry, KeyStoreError};

/// How many change-log rows the store keeps. A replica that falls further
/// behind than this loads the store in full.
pub(super) const LOG_LENGTH: i64 = 10_000;

/// How often a compare-and-set write is retried when the key changed
/// between its read and its write.
const CAS_ATTEMPTS: usize = 64;

/// How long one admin statement may take (never on the request path: be
/// patient, a write that timed out may still commit).
const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes to a key set kept in Postgres: insert, revoke, remove, get,
/// import and export. Each write is one transaction (the record, the
/// store's version, a change-log row and a notification) and returns the
/// store's new version; a [`SharedKeyStore`](super::SharedKeyStore) in the
/// same process can wait for it
/// ([`wait_for_version`](super::SharedKeyStore::wait_for_version)) to read
/// its own write. Postgres holds only the tokens' SHA-256 digests.
///
/// The schema is applied by [`init`](Self::init) (or `keygen --postgres
/// URL --init`); the first write to an empty namespace initialises it.
///
/// ```no_run
/// use tower_bearer_auth::{KeyEntry, KeyGenerator};
/// use tower_bearer_auth::key_store::postgres::PostgresKeyWriter;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let writer = PostgresKeyWriter::new("postgres://tba@db.internal/keys", "billing-api")?;
/// writer.init().await?;
/// let key = KeyGenerator::new().generate()?;
/// writer.insert(KeyEntry::new(key.id(), "Staging Server", key.digest())).await?;
/// println!("shown once: {}", key.token().expose());
/// writer.revoke(key.id()).await?;
/// # Ok(())
/// # }
/// ```
pub struct PostgresKeyWriter {
    target: Target,
    pub(super) namespace: String,
    connection: Mutex<Option<Connection>>,
}

/// One change to log: the key's digest, id and record after it (`None`:
/// deleted).
struct Logged {
    digest: String,
    id: String,
    record: Option<String>,
}

/// A write, planned before its transaction.
enum Plan<'a> {
    /// A new key.
    Insert(&'a KeyEntry),
    /// Key `id`'s record, if it is still `expected`, becomes `entry`'s.
    Swap {
        entry: &'a KeyEntry,
        expected: &'a str,
    },
    /// Key `id` goes, if its record is still `expected`.
    Delete { id: &'a str, expected: &'a str },
    /// A batch of an import: `[digest, id, record]` each.
    Import(&'a [[String; 3]]),
    /// Several keys' records, each if it is still the one read (all of
    /// them, or none).
    SwapMany(&'a [(KeyEntry, String)]),
}

/// What a transaction made: the store's version after it, and, for an
/// import batch, how many keys were inserted, updated and left alone.
#[derive(Default)]
pub(super) struct Made {
    pub(super) version: u64,
    pub(super) counts: [usize; 3],
}

impl PostgresKeyWriter {
    /// A writer for `namespace` of the key set at `postgres_url`
    /// (`postgres://user:pass@host:port/db`, or a key-value string). It
    /// connects at its first use and again after a failure, so a process
    /// can start while Postgres is down.
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if the URL or the namespace is invalid
    /// (nothing is asked of Postgres).
    pub fn new(postgres_url: &str, namespace: &str) -> Result<Self, AdminError> {
        if !is_valid_namespace(namespace) {
            return Err(AdminError::Unavailable {
                problem: format!(
                    "namespace {namespace:?} must be 1 to 64 characters from A-Z a-z 0-9 _ - ."
                ),
            });
        }
        let target =
            Target::parse(postgres_url).map_err(|problem| AdminError::Unavailable { problem })?;
        Ok(Self {
            target,
            namespace: namespace.to_owned(),
            connection: Mutex::new(None),
        })
    }

    /// Applies the schema (`schema.sql` in the crate: four tables and an
    /// index, each created only if missing). Safe to run again.
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if Postgres fails (for example, a user
    /// without the right to create tables).
    pub async fn init(&self) -> Result<(), AdminError> {
        self.with_client(None, async |client| {
            Ok(client.batch_execute(sql::SCHEMA).await?)
        })
        .await
    }

    /// The connection, made if there is none.
    async fn connection(&self) -> Result<MutexGuard<'_, Option<Connection>>, AdminError> {
        let mut slot = self.connection.lock().await;
        if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
            let connection = self
                .target
                .connect(false)
                .await
                .map_err(|problem| AdminError::Unavailable { problem })?;
            *slot = Some(connection);
        }
        Ok(slot)
    }

    /// Runs `work` on the connection (reconnecting once, as every read
    /// does), for what is kept beside the key set (`history.rs`).
    #[cfg(feature = "admin")]
    pub(super) async fn with_plain_client<T>(
        &self,
        work: impl AsyncFnOnce(&mut tokio_postgres::Client) -> Result<T, Failure>,
    ) -> Result<T, AdminError> {
        self.with_client(None, work).await
    }

    /// Runs `work` on the connection, within the statement timeout. A
    /// connection that broke or timed out is dropped, so that the next call
    /// connects again; a unique-constraint refusal of `plan` is a duplicate.
    async fn with_client<T>(
        &self,
        plan: Option<&Plan<'_>>,
        work: impl AsyncFnOnce(&mut tokio_postgres::Client) -> Result<T, Failure>,
    ) -> Result<T, AdminError> {
        let mut slot = self.connection().await?;
        let Some(connection) = slot.as_mut() else {
            return Err(gone());
        };
        match tokio::time::timeout(STATEMENT_TIMEOUT, work(&mut connection.client)).await {
            Err(_) => {
                *slot = None;
                Err(AdminError::Unavailable {
                    problem: format!("Postgres did not answer within {STATEMENT_TIMEOUT:?}"),
                })
            }
            Ok(Ok(value)) => Ok(value),
            Ok(Err(Failure::Refused(error))) => Err(error),
            Ok(Err(Failure::Postgres(error))) => {
                if let Some(refused) = plan.and_then(|plan| refusal(&error, plan)) {
                    return Err(refused);
                }
                if error.as_db_error().is_none() {
                    *slot = None;
                }
                Err(unavailable(&error))
            }
        }
    }

    /// The store's current version (0 for an empty store).
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if Postgres fails.
    pub async fn version(&self) -> Result<u64, AdminError> {
        let row = self
            .with_client(None, async |client| {
                Ok(client.query_opt(sql::HEAD, &[&self.namespace]).await?)
            })
            .await?;
        Ok(row
            .and_then(|row| row.try_get::<_, i64>(1).ok())
            .and_then(|version| u64::try_from(version).ok())
            .unwrap_or(0))
    }

    /// Adds a key (initialising an empty store). Returns the store's new
    /// version.
    ///
    /// # Errors
    ///
    /// [`AdminError::DuplicateId`] or [`AdminError::DuplicateDigest`] if a
    /// key has this id or this token already (revoked keys included),
    /// [`AdminError::Invalid`] for an invalid id or label.
    pub async fn insert(&self, entry: KeyEntry) -> Result<u64, AdminError> {
        entry.validate()?;
        Ok(self.commit(&Plan::Insert(&entry)).await?.version)
    }

    /// The key with this id, active or revoked.
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if Postgres fails, [`AdminError::Corrupt`]
    /// if its record cannot be read.
    pub async fn get(&self, id: &str) -> Result<Option<KeyEntry>, AdminError> {
        Ok(self.current(id).await?.map(|(_, entry)| entry))
    }

    /// The record of `id` as stored, and as an entry.
    async fn current(&self, id: &str) -> Result<Option<(String, KeyEntry)>, AdminError> {
        let row = self
            .with_client(None, async |client| {
                Ok(client
                    .query_opt(sql::KEY_BY_ID, &[&self.namespace, &id])
                    .await?)
            })
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (digest, record): (String, String) = (row.get(0), row.get(1));
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
            let plan = Plan::Swap {
                entry: &changed,
                expected: &record,
            };
            match self.commit(&plan).await {
                Err(AdminError::Conflict { .. }) => {}
                other => return other.map(|made| made.version),
            }
        }
        Err(AdminError::Conflict { id: id.to_owned() })
    }

    /// Changes every key of `ids` that `change` changes (`None`: leave
    /// it), in one transaction: all of them, compare-and-set, or none
    /// (read again and retried when one changed meanwhile). How many
    /// changed, and the store's version after. Ids no longer in the store
    /// are skipped.
    ///
    /// # Errors
    ///
    /// The error a changed entry breaks a rule with,
    /// [`AdminError::Conflict`] after repeated concurrent changes,
    /// [`AdminError::Unavailable`] if Postgres fails.
    pub async fn update_many(
        &self,
        ids: &[String],
        mut change: impl FnMut(&KeyEntry) -> Option<KeyEntry>,
    ) -> Result<(usize, u64), AdminError> {
        for _ in 0..CAS_ATTEMPTS {
            let mut current = Vec::with_capacity(ids.len());
            for id in ids {
                current.extend(self.current(id).await?);
            }
            let writes = changed_entries(current, &mut change)?;
            if writes.is_empty() {
                return Ok((0, self.version().await?));
            }
            match self.commit(&Plan::SwapMany(&writes)).await {
                Err(AdminError::Conflict { .. }) => {}
                other => return other.map(|made| (writes.len(), made.version)),
            }
        }
        Err(AdminError::Conflict {
            id: "(several keys)".to_owned(),
        })
    }

    /// Revokes the key with this id. Returns the store's new version.
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
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
            let Some((record, _)) = self.current(id).await? else {
                return Err(AdminError::UnknownId { id: id.to_owned() });
            };
            match self
                .commit(&Plan::Delete {
                    id,
                    expected: &record,
                })
                .await
            {
                Err(AdminError::Conflict { .. }) => {}
                other => return other.map(|made| made.version),
            }
        }
        Err(AdminError::Conflict { id: id.to_owned() })
    }

    /// When each key was last used, to the minute, as the replicas wrote
    /// it (at most a minute late).
    ///
    /// # Errors
    ///
    /// [`AdminError::Unavailable`] if Postgres fails.
    pub async fn last_uses(&self) -> Result<HashMap<String, u32>, AdminError> {
        let rows = self
            .with_client(None, async |client| {
                Ok(client.query(sql::LAST_USES, &[&self.namespace]).await?)
            })
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let id: String = row.try_get(0).ok()?;
                let minute: i32 = row.try_get(1).ok()?;
                Some((id, u32::try_from(minute).ok()?))
            })
            .collect())
    }

    /// Every key, active and revoked, as a keys file: a backup that
    /// [`import`](Self::import) restores.
    ///
    /// # Errors
    ///
    /// [`AdminError`] if Postgres fails or a record cannot be read.
    pub async fn export(&self) -> Result<KeysFile, AdminError> {
        let rows = self
            .with_client(None, async |client| {
                Ok(client.query(sql::RECORDS, &[&self.namespace]).await?)
            })
            .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let (digest, record): (String, String) = (row.get(0), row.get(1));
            entries.push(
                codec::decode(&digest, &record).map_err(|e| AdminError::Corrupt {
                    problem: format!("record {}: {e}", digest.get(..8).unwrap_or("")),
                })?,
            );
        }
        entries.sort_by(|a, b| (a.created_at(), a.id()).cmp(&(b.created_at(), b.id())));
        Ok(KeysFile::from_entries(entries))
    }

    /// Every key id of the namespace.
    pub(super) async fn ids(&self) -> Result<Vec<String>, AdminError> {
        let rows = self
            .with_client(None, async |client| {
                Ok(client.query(sql::IDS, &[&self.namespace]).await?)
            })
            .await?;
        Ok(rows.iter().filter_map(|row| row.try_get(0).ok()).collect())
    }

    /// Writes one batch of an import (`[digest, id, record]` each) in one
    /// transaction.
    pub(super) async fn import_batch(&self, batch: &[[String; 3]]) -> Result<Made, AdminError> {
        self.commit(&Plan::Import(batch)).await
    }

    /// Runs `plan` in one transaction.
    async fn commit(&self, plan: &Plan<'_>) -> Result<Made, AdminError> {
        self.with_client(Some(plan), async |client| {
            transact(client, &self.namespace, plan).await
        })
        .await
    }
}

/// How a transaction failed: refused by our rules, or by Postgres.
pub(super) enum Failure {
    Refused(AdminError),
    Postgres(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Postgres(error)
    }
}

/// The transaction of `plan` (dropped, so rolled back, on any failure).
async fn transact(
    client: &mut tokio_postgres::Client,
    namespace: &str,
    plan: &Plan<'_>,
) -> Result<Made, Failure> {
    let tx = client.transaction().await?;
    if matches!(plan, Plan::Insert(_) | Plan::Import(_)) {
        tx.execute(sql::INITIALISE, &[&namespace, &new_epoch()?])
            .await?;
    }
    // Lock the store's row first: writers queue here, so versions follow
    // commit order and no two writers deadlock on keys.
    let Some(head) = tx.query_opt(sql::LOCK_STORE, &[&namespace]).await? else {
        let id = match plan {
            Plan::Swap { entry, .. } => entry.id(),
            Plan::Delete { id, .. } => id,
            Plan::Insert(_) | Plan::Import(_) | Plan::SwapMany(_) => "",
        };
        return Err(Failure::Refused(AdminError::UnknownId {
            id: id.to_owned(),
        }));
    };
    let base: i64 = head.get(0);
    let mut made = Made::default();
    let mut logged: Vec<Logged> = Vec::new();
    match plan {
        Plan::Insert(entry) => {
            // The id first, as the Redis store answers (writers are queued
            // on the store's row: nothing changes between check and write).
            if tx
                .query_opt(sql::KEY_BY_ID, &[&namespace, &entry.id()])
                .await?
                .is_some()
            {
                return Err(Failure::Refused(AdminError::DuplicateId {
                    id: entry.id().to_owned(),
                }));
            }
            let (digest, record) = (entry.digest().to_hex(), codec::encode(entry));
            tx.execute(
                sql::INSERT_KEY,
                &[&namespace, &digest, &entry.id(), &record],
            )
            .await?;
            logged.push(Logged {
                digest,
                id: entry.id().to_owned(),
                record: Some(record),
            });
        }
        Plan::Swap { entry, expected } => {
            logged.push(swap_key(&tx, namespace, entry, expected).await?);
        }
        Plan::Delete { id, expected } => {
            let gone = tx
                .query_opt(sql::DELETE_KEY, &[&namespace, id, expected])
                .await?;
            let Some(row) = gone else {
                return Err(Failure::Refused(AdminError::Conflict {
                    id: (*id).to_owned(),
                }));
            };
            logged.push(Logged {
                digest: row.get(0),
                id: (*id).to_owned(),
                record: None,
            });
        }
        Plan::Import(batch) => {
            made.counts = import_rows(&tx, namespace, batch, &mut logged).await?;
        }
        Plan::SwapMany(writes) => {
            for (entry, expected) in *writes {
                logged.push(swap_key(&tx, namespace, entry, expected).await?);
            }
        }
    }
    if logged.is_empty() {
        made.version = u64::try_from(base).unwrap_or(0);
        return Ok(made);
    }
    let count = i64::try_from(logged.len()).unwrap_or(i64::MAX);
    let last = base + count;
    tx.execute(sql::SET_VERSION, &[&namespace, &last]).await?;
    let versions: Vec<i64> = (base + 1..=last).collect();
    let mut digests = Vec::with_capacity(logged.len());
    let mut ids = Vec::with_capacity(logged.len());
    let mut records = Vec::with_capacity(logged.len());
    for change in logged {
        digests.push(change.digest);
        ids.push(change.id);
        records.push(change.record);
    }
    tx.execute(sql::LOG, &[&namespace, &versions, &digests, &ids, &records])
        .await?;
    if last > LOG_LENGTH {
        tx.execute(sql::TRIM_LOG, &[&namespace, &(last - LOG_LENGTH)])
            .await?;
    }
    tx.commit().await?;
    made.version = u64::try_from(last).unwrap_or(0);
    Ok(made)
}

/// Key `entry.id()`'s record becomes `entry`'s, if it is still
/// `expected` (else the plan is refused as a conflict); the log row.
async fn swap_key(
    tx: &tokio_postgres::Transaction<'_>,
    namespace: &str,
    entry: &KeyEntry,
    expected: &str,
) -> Result<Logged, Failure> {
    let record = codec::encode(entry);
    let changed = tx
        .execute(
            sql::SWAP_KEY,
            &[&namespace, &entry.id(), &record, &expected],
        )
        .await?;
    if changed == 0 {
        return Err(Failure::Refused(AdminError::Conflict {
            id: entry.id().to_owned(),
        }));
    }
    Ok(Logged {
        digest: entry.digest().to_hex(),
        id: entry.id().to_owned(),
        record: Some(record),
    })
}

/// Writes an import batch's keys: each is inserted, or replaces the record
/// of its id when that differs; an identical record is left alone. An id
/// or a digest given twice in the batch, or a digest another key holds,
/// refuses the whole batch. Returns `[inserted, updated, unchanged]`.
async fn import_rows(
    tx: &tokio_postgres::Transaction<'_>,
    namespace: &str,
    batch: &[[String; 3]],
    logged: &mut Vec<Logged>,
) -> Result<[usize; 3], Failure> {
    let mut seen_ids = std::collections::HashSet::new();
    let mut seen_digests = std::collections::HashSet::new();
    for [digest, id, _] in batch {
        if !seen_ids.insert(id.as_str()) {
            return Err(Failure::Refused(AdminError::DuplicateId { id: id.clone() }));
        }
        if !seen_digests.insert(digest.as_str()) {
            return Err(Failure::Refused(AdminError::DuplicateDigest {
                id: id.clone(),
            }));
        }
    }
    let ids: Vec<&str> = batch.iter().map(|[_, id, _]| id.as_str()).collect();
    let held: HashMap<String, (String, String)> = tx
        .query(sql::KEYS_BY_IDS, &[&namespace, &ids])
        .await?
        .into_iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect();
    let mut counts = [0_usize; 3];
    let (mut new_digests, mut new_ids, mut new_records) = (Vec::new(), Vec::new(), Vec::new());
    let (mut set_ids, mut set_digests, mut set_records) = (Vec::new(), Vec::new(), Vec::new());
    for [digest, id, record] in batch {
        match held.get(id) {
            Some((digest_held, record_held)) if digest_held == digest && record_held == record => {
                counts[2] += 1;
                continue;
            }
            Some(_) => {
                counts[1] += 1;
                set_ids.push(id.as_str());
                set_digests.push(digest.as_str());
                set_records.push(record.as_str());
            }
            None => {
                counts[0] += 1;
                new_digests.push(digest.as_str());
                new_ids.push(id.as_str());
                new_records.push(record.as_str());
            }
        }
        logged.push(Logged {
            digest: digest.clone(),
            id: id.clone(),
            record: Some(record.clone()),
        });
    }
    if !set_ids.is_empty() {
        tx.execute(
            sql::UPDATE_KEYS,
            &[&namespace, &set_ids, &set_digests, &set_records],
        )
        .await?;
    }
    if !new_ids.is_empty() {
        tx.execute(
            sql::INSERT_KEYS,
            &[&namespace, &new_digests, &new_ids, &new_records],
        )
        .await?;
    }
    Ok(counts)
}

/// What a refusal by Postgres means for `plan`: a unique constraint is a
/// duplicate id or digest; anything else is not a refusal.
fn refusal(error: &tokio_postgres::Error, plan: &Plan<'_>) -> Option<AdminError> {
    let db = error.as_db_error()?;
    if db.code() != &SqlState::UNIQUE_VIOLATION {
        return None;
    }
    let id = match plan {
        Plan::Insert(entry) | Plan::Swap { entry, .. } => entry.id().to_owned(),
        Plan::Delete { id, .. } => (*id).to_owned(),
        Plan::Import(_) => "(a key of the import batch)".to_owned(),
        Plan::SwapMany(_) => "(one of the keys changed together)".to_owned(),
    };
    match db.constraint() {
        Some("tba_key_id") => Some(AdminError::DuplicateId { id }),
        Some("tba_key_digest") => Some(AdminError::DuplicateDigest { id }),
        _ => None,
    }
}

/// A fresh epoch: 16 random bytes as hex.
fn new_epoch() -> Result<String, Failure> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|e| {
        Failure::Refused(AdminError::Unavailable {
            problem: format!("no random source for the epoch: {e}"),
        })
    })?;
    Ok(random.iter().map(|b| format!("{b:02x}")).collect())
}

/// A connection that vanished between two lines (never expected).
fn gone() -> AdminError {
    AdminError::Unavailable {
        problem: "no connection to Postgres".to_owned(),
    }
}

/// A Postgres failure, as the admin reports it.
fn unavailable(error: &tokio_postgres::Error) -> AdminError {
    AdminError::Unavailable {
        problem: format!("Postgres: {}", plain(error)),
    }
}

impl std::fmt::Debug for PostgresKeyWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresKeyWriter")
            .field("target", &self.target)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "admin")]
impl KeyWriter for PostgresKeyWriter {
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
}
