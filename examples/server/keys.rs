//! The demo's keys: an in-memory demo key and admin key, a keys file loaded
//! strictly at startup, changed through the admin API and reloaded entry by
//! entry on SIGHUP (off the async runtime, within a time limit), or a key
//! set shared in Redis or Postgres; and `--check-keys`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_bearer_auth::key_store::{
    admin::EmbeddedKeyAdmin, keys_file::KeysFile, keys_file::KeysFileError,
    keys_file::ReloadOutcome, keys_file::ReloadStatus, postgres::PostgresKeyWriter,
    postgres::PostgresStoreBuilder, redis::RedisKeyWriter, redis::ReplicaState,
    redis::SharedKeyAdmin, redis::SharedKeyStore,
};

use crate::shared_admin::SharedAdmin;
use tower_bearer_auth::rate_limit::{Quota, RateLimiter, ShareSize};
use tower_bearer_auth::{KeyEntry, KeyGenerator, KeyStore, ScopeSet};

/// What `/health` reports about the key set: how the last reload of the
/// keys file went, or whether the shared store's replica is fresh.
#[derive(Clone)]
pub(crate) enum Health {
    /// The in-memory demo key, or a keys file and its last reload.
    File(watch::Receiver<ReloadStatus>),
    /// A replica of the key set in Redis or Postgres (named).
    Shared(SharedKeyStore, &'static str),
}

impl Health {
    /// Whether the key set in force may differ from its source, and what
    /// to say about it publicly (no key ids, no problems).
    pub(crate) fn report(&self) -> (bool, Value) {
        match self {
            Self::File(reloads) => {
                let status = *reloads.borrow();
                (status.is_degraded(), json!(status))
            }
            Self::Shared(store, backend) => {
                let status = store.status();
                (
                    status.state != ReplicaState::Fresh,
                    json!({
                        "source": backend,
                        "state": status.state.as_str(),
                        "version": status.applied_version,
                        "full_loads": status.full_loads,
                        "last_load_ms": status.last_load_took.map(|took| took.as_millis()),
                        "source_behind": status.source_behind.is_some(),
                        // Whether a shared rate limit counts per replica
                        // (Redis refused its script); the reason is in the log.
                        "rate_limit_per_replica": status.shared_rate_limit_problem.is_some(),
                    }),
                )
            }
        }
    }
}

/// Where the keys come from, as the command line says.
pub(crate) enum Source {
    /// The in-memory demo keys (then `demo` is set), or a keys file.
    Local {
        store: KeyStore,
        admin: EmbeddedKeyAdmin,
        demo: Option<DemoTokens>,
        file: Option<PathBuf>,
        status: watch::Sender<ReloadStatus>,
    },
    /// A replica of the key set in Redis or Postgres, and the admin that
    /// changes it.
    Shared(SharedKeyStore, SharedAdmin),
}

/// The tokens of the demo's two in-memory keys, printed once at startup.
pub(crate) struct DemoTokens {
    /// `profile:read calls:write`.
    api: String,
    /// `keys:admin`.
    admin: String,
}

/// How long startup waits for a shared key set's first load before
/// serving anyway (503 until it loads).
const FIRST_LOAD: Duration = Duration::from_secs(3);

/// Waits a little for a shared key set's first load; serves 503 until it
/// loads if it takes longer.
async fn first_load(store: &SharedKeyStore) {
    if let Err(not_ready) = store.ready(FIRST_LOAD).await {
        tracing::warn!("serving 503 until the key set loads: {not_ready}");
    }
}

impl Source {
    pub(crate) async fn open(args: &crate::args::Args) -> Result<Self, String> {
        if let Some(url) = &args.redis {
            let tls = args.redis_tls.read()?;
            let mut builder = SharedKeyStore::builder(url)
                .namespace(&args.namespace)
                .max_staleness(args.max_staleness)
                .resync_every(args.resync_every);
            if let Some(tls) = &tls {
                builder = builder.tls(tls.clone());
            }
            let store = builder.start().map_err(|e| format!("--redis: {e}"))?;
            first_load(&store).await;
            // Connects on its first write: the server starts while Redis is
            // down (503 until it is back).
            let writer = match &tls {
                Some(tls) => RedisKeyWriter::with_tls(url, &args.namespace, tls),
                None => RedisKeyWriter::new(url, &args.namespace),
            }
            .map_err(|e| format!("--redis: {e}"))?;
            let admin = SharedAdmin::Redis(SharedKeyAdmin::new(writer, store.clone()));
            return Ok(Self::Shared(store, admin));
        }
        if let Some(url) = &args.postgres {
            let store = PostgresStoreBuilder::new(url)
                .namespace(&args.namespace)
                .max_staleness(args.max_staleness)
                .resync_every(args.resync_every)
                .start()
                .map_err(|e| format!("--postgres: {e}"))?;
            first_load(&store).await;
            // Connects on its first write, as with Redis.
            let writer = PostgresKeyWriter::new(url, &args.namespace)
                .map_err(|e| format!("--postgres: {e}"))?;
            let admin = SharedAdmin::Postgres(SharedKeyAdmin::new(writer, store.clone()));
            return Ok(Self::Shared(store, admin));
        }
        let (store, demo) = match &args.keys {
            Some(path) => (load(path)?, None),
            None => {
                let (store, tokens) = demo_store()?;
                (store, Some(tokens))
            }
        };
        let admin = match &args.keys {
            Some(path) => {
                let admin = EmbeddedKeyAdmin::with_keys_file(store.clone(), path);
                // Credits spent and last uses reach the file this often (and
                // at shutdown): a crash gives back at most one period's spend.
                admin.save_every(args.save_every);
                admin
            }
            None => EmbeddedKeyAdmin::new(store.clone()),
        };
        Ok(Self::Local {
            store,
            admin,
            demo,
            file: args.keys.clone(),
            status: watch::Sender::new(ReloadStatus::startup()),
        })
    }

    /// The replica whose Redis counts credits for every replica: a key
    /// set in Redis (in Postgres or a file, each replica counts).
    pub(crate) fn credits_in(&self) -> Option<SharedKeyStore> {
        match self {
            Self::Shared(store, SharedAdmin::Redis(_)) => Some(store.clone()),
            _ => None,
        }
    }

    /// The key set, for the metrics page's gauges.
    pub(crate) fn key_set(&self) -> crate::metrics::KeySet {
        match self {
            Self::Local { store, .. } => crate::metrics::KeySet::Local(store.clone()),
            Self::Shared(store, _) => crate::metrics::KeySet::Shared(store.clone()),
        }
    }

    pub(crate) fn health(&self) -> Health {
        match self {
            Self::Local { status, .. } => Health::File(status.subscribe()),
            Self::Shared(store, admin) => Health::Shared(store.clone(), admin.backend()),
        }
    }

    /// Prints what a user needs to start (the demo key, once) and logs the
    /// key counts.
    pub(crate) fn announce(&self, address: SocketAddr) {
        match self {
            Self::Local { store, demo, .. } => {
                if let Some(tokens) = demo {
                    tokens.announce(address);
                }
                let counts = store.counts();
                tracing::info!(
                    active = counts.active,
                    revoked = counts.revoked,
                    "keys loaded"
                );
            }
            Self::Shared(store, admin) => {
                let status = store.status();
                let backend = admin.backend();
                tracing::info!(
                    state = status.state.as_str(),
                    active = status.counts.active,
                    revoked = status.counts.revoked,
                    version = status.applied_version,
                    backend,
                    "keys shared through {backend}"
                );
                println!("Keys come from {backend}. Bootstrap an admin key (then use the portal):");
                println!(
                    "    cargo run --example keygen -- --{backend} <URL> --label \"Admin\" --scopes keys:admin"
                );
                println!();
                println!("Portal: http://{address}/portal");
                println!();
            }
        }
    }

    /// The rate limiter: local, or shared through the key set's Redis
    /// (exactly, or in shares of 1/`shares` of a quota).
    pub(crate) fn rate_limiter(&self, default: Option<Quota>, shares: Option<u32>) -> RateLimiter {
        let mut builder = RateLimiter::builder();
        if let Some(quota) = default {
            builder = builder.default_quota(quota);
        }
        let mut shared = "no";
        if let Self::Shared(store, SharedAdmin::Redis(_)) = self {
            (builder, shared) = match shares {
                Some(parts) => (
                    builder.redis_shares(store, ShareSize::fraction(parts)),
                    "shares",
                ),
                None => (builder.redis(store), "exact"),
            };
        }
        let limiter = builder.build();
        tracing::info!(default = ?limiter.default_quota().map(|q| q.to_string()), shared, "rate limits");
        limiter
    }

    /// What a graceful shutdown does.
    pub(crate) fn on_shutdown(&self) -> OnShutdown {
        match self {
            Self::Local {
                admin,
                file: Some(_),
                ..
            } => OnShutdown::Save(admin.clone()),
            Self::Local { file: None, .. } => OnShutdown::Nothing,
            Self::Shared(store, _) => OnShutdown::Flush(store.clone()),
        }
    }

    /// What SIGHUP does.
    pub(crate) fn on_hangup(self, reload_timeout: Duration) -> OnHangup {
        match self {
            Self::Local {
                admin,
                file: Some(path),
                status,
                ..
            } => OnHangup::Reload(Reloader::new(admin, path, reload_timeout, status)),
            Self::Local { file: None, .. } => OnHangup::Nothing,
            Self::Shared(store, _) => OnHangup::Resync(store),
        }
    }
}

/// What a graceful shutdown does: keep the keys' last uses.
pub(crate) enum OnShutdown {
    /// Save them to the keys file.
    Save(EmbeddedKeyAdmin),
    /// Flush them to the shared store.
    Flush(SharedKeyStore),
    /// In memory only: nothing to keep.
    Nothing,
}

impl OnShutdown {
    pub(crate) async fn run(self) {
        match self {
            Self::Save(admin) => match admin.save_last_uses().await {
                Ok(()) => tracing::info!("shutdown: last uses saved to the keys file"),
                Err(problem) => tracing::warn!("shutdown: last uses not saved: {problem}"),
            },
            Self::Flush(store) => {
                if store.flush_last_uses(Duration::from_secs(2)).await {
                    tracing::info!("shutdown: last uses flushed to the shared store");
                } else {
                    tracing::warn!(
                        "shutdown: last uses not flushed to the shared store within 2 s"
                    );
                }
            }
            Self::Nothing => {}
        }
    }
}

/// What SIGHUP does.
pub(crate) enum OnHangup {
    Reload(Reloader),
    Resync(SharedKeyStore),
    Nothing,
}

impl OnHangup {
    pub(crate) async fn run(&mut self) {
        match self {
            Self::Reload(reloader) => reloader.reload().await,
            Self::Resync(store) => {
                tracing::info!("SIGHUP: resynchronizing the shared key set in full");
                store.resync();
            }
            Self::Nothing => tracing::warn!("SIGHUP: no --keys file to reload"),
        }
    }
}

impl DemoTokens {
    /// Prints both keys, once, each with a ready-to-paste `curl` line, and
    /// the portal's address.
    fn announce(&self, address: SocketAddr) {
        let Self { api, admin } = self;
        println!(
            "Demo API key (shown once, kept only in memory; scopes: profile:read calls:write):"
        );
        println!();
        println!("    Bearer {api}");
        println!();
        println!("    curl -i -H 'Authorization: Bearer {api}' http://{address}/v1/profile");
        println!();
        println!("Admin key (shown once, kept only in memory; scope: keys:admin):");
        println!();
        println!("    Bearer {admin}");
        println!();
        println!("    curl -i -H 'Authorization: Bearer {admin}' http://{address}/admin/v1/keys");
        println!();
        println!("Portal (paste the admin key): http://{address}/portal");
        println!();
    }
}

/// The demo's two keys, in memory only, and their tokens.
fn demo_store() -> Result<(KeyStore, DemoTokens), String> {
    let store = KeyStore::new();
    let add = |label: &str, scopes: &str| -> Result<String, String> {
        let key = KeyGenerator::new().generate().map_err(|e| e.to_string())?;
        let scopes = ScopeSet::parse(scopes).map_err(|e| e.to_string())?;
        store
            .insert(
                KeyEntry::new(key.id(), label, key.digest())
                    .with_scopes(scopes)
                    .with_hint(key.hint()),
            )
            .map_err(|e| e.to_string())?;
        Ok(key.token().expose().to_owned())
    };
    let api = add("Demo Key", "profile:read calls:write")?;
    let admin = add("Demo Admin Key", "keys:admin")?;
    Ok((store, DemoTokens { api, admin }))
}

/// The store of a keys file, loaded strictly: a broken file stops startup.
fn load(path: &Path) -> Result<KeyStore, String> {
    warn_if_writable_by_others(path);
    KeyStore::from_keys_file(path).map_err(|e| e.to_string())
}

/// Anyone who can write the keys file can add a key: say so at startup.
fn warn_if_writable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path) {
        let mode = metadata.permissions().mode();
        if mode & 0o022 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "the keys file is writable by its group or by everyone: whoever can write it can add keys; chmod 600 it"
            );
        }
    }
}

/// `--check-keys FILE`: every problem a reload would find, and the exit
/// status (0: the file would be put in force whole).
pub(crate) fn check(path: &Path) -> std::process::ExitCode {
    warn_if_writable_by_others(path);
    match KeysFile::load_each(path) {
        Err(error) => {
            eprintln!("{error}");
            eprintln!("not a keys file: a reload would change nothing");
            std::process::ExitCode::FAILURE
        }
        Ok((file, refused)) if refused.is_empty() => {
            let revoked = file.entries().iter().filter(|e| e.is_revoked()).count();
            println!(
                "{}: OK, {} keys ({} active, {revoked} revoked)",
                path.display(),
                file.entries().len(),
                file.entries().len() - revoked
            );
            std::process::ExitCode::SUCCESS
        }
        Ok((file, refused)) => {
            for error in &refused {
                eprintln!("{error}");
            }
            eprintln!(
                "{} entries refused, {} valid: a reload would put only the valid ones in force",
                refused.len(),
                file.entries().len()
            );
            std::process::ExitCode::FAILURE
        }
    }
}

/// What reading a keys file entry by entry gives.
type ReadResult = Result<(KeysFile, Vec<KeysFileError>), KeysFileError>;

/// Reloads a keys file into the store on request, one reload at a time,
/// and publishes how the last one went.
pub(crate) struct Reloader {
    store: KeyStore,
    /// Admin changes are held back during a reload.
    admin: EmbeddedKeyAdmin,
    path: PathBuf,
    timeout: Duration,
    status: watch::Sender<ReloadStatus>,
    /// A read that outlived its time limit (a FIFO, a hung file system):
    /// no new read starts until it returns.
    stuck: Option<JoinHandle<ReadResult>>,
}

impl Reloader {
    pub(crate) fn new(
        admin: EmbeddedKeyAdmin,
        path: PathBuf,
        timeout: Duration,
        status: watch::Sender<ReloadStatus>,
    ) -> Self {
        Self {
            store: admin.store().clone(),
            admin,
            path,
            timeout,
            status,
            stuck: None,
        }
    }

    /// Reads and parses the file on a blocking thread, within the time
    /// limit, then swaps the valid entries in (also off the async workers:
    /// a large key set takes a moment to index). Requests keep being
    /// served throughout.
    pub(crate) async fn reload(&mut self) {
        self.read_and_apply().await;
    }

    /// Publishes `outcome` (what `/health` says), then writes its log line:
    /// whoever sees the line sees the outcome.
    fn finish(&self, outcome: ReloadOutcome, log: impl FnOnce()) -> ReloadOutcome {
        self.status
            .send_replace(ReloadStatus::reloaded(SystemTime::now(), outcome));
        log();
        outcome
    }

    async fn read_and_apply(&mut self) -> ReloadOutcome {
        // No admin change between reading the file and applying it: the
        // reload would undo it in memory.
        let _changes_held = self.admin.hold_changes().await;
        if self.stuck.as_ref().is_some_and(|read| !read.is_finished()) {
            return self.finish(ReloadOutcome::Failed, || {
                tracing::error!(
                    path = %self.path.display(),
                    "SIGHUP: keys file reload failed, the keys in force stay in force: the previous read has not returned yet"
                );
            });
        }
        self.stuck = None;
        let path = self.path.clone();
        let mut read = tokio::task::spawn_blocking(move || KeysFile::load_each(&path));
        let read = match tokio::time::timeout(self.timeout, &mut read).await {
            Err(_elapsed) => {
                self.stuck = Some(read);
                return self.finish(ReloadOutcome::Failed, || {
                    tracing::error!(
                        path = %self.path.display(),
                        timeout = ?self.timeout,
                        "SIGHUP: keys file reload failed, the keys in force stay in force: reading the file took too long"
                    );
                });
            }
            Ok(Err(panicked)) => Err(panicked.to_string()),
            Ok(Ok(read)) => read.map_err(|error| error.to_string()),
        };
        let (file, refused) = match read {
            Ok(read) => read,
            Err(problem) => {
                return self.finish(ReloadOutcome::Failed, || {
                    tracing::error!(
                        active = self.store.len(),
                        "SIGHUP: keys file reload failed, the keys in force stay in force: {problem}"
                    );
                });
            }
        };
        for error in &refused {
            tracing::error!(
                "SIGHUP: keys file entry refused; its key fails until the entry is fixed: {error}"
            );
        }
        let store = self.store.clone();
        let applied =
            tokio::task::spawn_blocking(move || store.replace_all(file.into_entries())).await;
        match applied {
            Ok(Ok(counts)) if refused.is_empty() => self.finish(ReloadOutcome::Ok, || {
                tracing::info!(
                    active = counts.active,
                    revoked = counts.revoked,
                    "SIGHUP: keys file reloaded"
                );
            }),
            Ok(Ok(counts)) => self.finish(ReloadOutcome::Partial, || {
                tracing::warn!(
                    active = counts.active,
                    revoked = counts.revoked,
                    refused = refused.len(),
                    "SIGHUP: keys file reloaded in part: the refused entries' keys fail"
                );
            }),
            Ok(Err(problem)) => self.finish(ReloadOutcome::Failed, || {
                tracing::error!(
                    "SIGHUP: keys file reload failed, the keys in force stay in force: {problem}"
                );
            }),
            Err(panicked) => self.finish(ReloadOutcome::Failed, || {
                tracing::error!("SIGHUP: keys file reload failed: {panicked}");
            }),
        }
    }
}
