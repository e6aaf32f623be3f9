//! Generates an API key: prints the token once, and its keys-file entry or
//! (with `--redis` or `--postgres`) writes the key straight into the shared
//! key set.
//!
//! ```text
//! cargo run --example keygen -- --label "Staging Server" --scopes profile:read,calls:write \
//!     [--expires-at 2027-01-01T00:00:00Z] [--prefix ais] [--json] [--redis URL [--namespace NS]]
//!     [--owner cus_123] [--allowed-ip 203.0.113.0/24]... [--credits 1000 [--refill 1000/86400]]
//!     [--metadata plan=pro]...
//! cargo run --example keygen -- --redis URL [--namespace NS] --import keys.json [--replace]
//! cargo run --example keygen -- --redis URL [--namespace NS] --export keys.json
//! cargo run --example keygen -- --postgres URL --init
//! ```
//!
//! `--postgres URL` works wherever `--redis URL` does; `--init` applies the
//! Postgres schema (idempotent: safe to run at every deploy).
//!
//! With a `rediss://` URL: `--redis-ca FILE` trusts that CA (PEM) instead of
//! the system's roots, `--redis-cert FILE --redis-key FILE` present a client
//! certificate.
//!
//! Without `--redis` or `--postgres`, append the entry to the `keys` array
//! of your keys file. With either, every replica (`server --redis URL` or
//! `server --postgres URL`) accepts the key within milliseconds. Either way
//! the token is not stored anywhere and cannot be shown again. `--import`
//! loads a keys file into the shared store: entries are inserted or updated
//! by id; keys the file does not list are left alone unless `--replace` is
//! given. The first write initialises an empty store. `--export` writes
//! every key (digests, never tokens) to a keys file: a backup `--import`
//! restores.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use tower_bearer_auth::key_policy::{AddressRange, Credits, Refill};
use tower_bearer_auth::key_store::Metadata;
use tower_bearer_auth::key_store::admin::AdminError;
use tower_bearer_auth::key_store::keys_file::{CheckedKeysFile, KeysFile};
use tower_bearer_auth::key_store::postgres::{ImportReport, PostgresKeyWriter};
use tower_bearer_auth::key_store::redis::{RedisKeyWriter, RedisTls};
use tower_bearer_auth::{KeyEntry, KeyGenerator, ScopeSet};

const USAGE: &str = "usage: keygen --label LABEL [--scopes SCOPE,SCOPE...] [--expires-at RFC3339] [--prefix PREFIX] [--json]
                     [--owner ID] [--allowed-ip CIDR]... [--credits N [--refill AMOUNT/SECONDS]]
                     [--metadata NAME=VALUE]... [--redis URL | --postgres URL] [--namespace NS]
       keygen (--redis URL | --postgres URL) [--namespace NS] --import FILE [--replace]
       keygen (--redis URL | --postgres URL) [--namespace NS] --export FILE
       keygen --postgres URL --init
       (rediss:// URLs: [--redis-ca FILE] [--redis-cert FILE --redis-key FILE])";

struct Args {
    label: Option<String>,
    scopes: ScopeSet,
    expires_at: Option<SystemTime>,
    generator: KeyGenerator,
    json: bool,
    redis: Option<String>,
    postgres: Option<String>,
    /// `--redis-ca`, `--redis-cert`, `--redis-key`.
    redis_tls: [Option<PathBuf>; 3],
    namespace: String,
    import: Option<PathBuf>,
    export: Option<PathBuf>,
    replace: bool,
    init: bool,
    owner: Option<String>,
    allowed_ips: Vec<AddressRange>,
    credits: Option<Credits>,
    refill: Option<Refill>,
    metadata: Metadata,
}

impl Args {
    fn shared(&self) -> bool {
        self.redis.is_some() || self.postgres.is_some()
    }

    /// The shared store's name, for messages.
    fn backend(&self) -> &'static str {
        if self.postgres.is_some() {
            "Postgres"
        } else {
            "Redis"
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        label: None,
        scopes: ScopeSet::empty(),
        expires_at: None,
        generator: KeyGenerator::new(),
        json: false,
        redis: None,
        postgres: None,
        redis_tls: [None, None, None],
        namespace: "default".to_owned(),
        import: None,
        export: None,
        replace: false,
        init: false,
        owner: None,
        allowed_ips: Vec::new(),
        credits: None,
        refill: None,
        metadata: Metadata::new(),
    };
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--label" => parsed.label = Some(value("--label")?),
            "--scopes" => {
                let list = value("--scopes")?;
                parsed.scopes = ScopeSet::new(list.split(',').filter(|s| !s.is_empty()))
                    .map_err(|e| format!("--scopes: {e}"))?;
            }
            "--expires-at" => {
                let time = parse_time(&value("--expires-at")?)
                    .map_err(|e| format!("--expires-at: {e}"))?;
                if time <= SystemTime::now() {
                    return Err("--expires-at is in the past".to_owned());
                }
                parsed.expires_at = Some(time);
            }
            "--prefix" => {
                parsed.generator = KeyGenerator::with_prefix(&value("--prefix")?)
                    .map_err(|e| format!("--prefix: {e}"))?;
            }
            "--json" => parsed.json = true,
            "--redis" => parsed.redis = Some(value("--redis")?),
            "--postgres" => parsed.postgres = Some(value("--postgres")?),
            "--init" => parsed.init = true,
            "--export" => parsed.export = Some(PathBuf::from(value("--export")?)),
            "--redis-ca" => parsed.redis_tls[0] = Some(PathBuf::from(value("--redis-ca")?)),
            "--redis-cert" => parsed.redis_tls[1] = Some(PathBuf::from(value("--redis-cert")?)),
            "--redis-key" => parsed.redis_tls[2] = Some(PathBuf::from(value("--redis-key")?)),
            "--namespace" => parsed.namespace = value("--namespace")?,
            "--import" => parsed.import = Some(PathBuf::from(value("--import")?)),
            "--replace" => parsed.replace = true,
            "--owner" => parsed.owner = Some(value("--owner")?),
            "--allowed-ip" => {
                let text = value("--allowed-ip")?;
                parsed.allowed_ips.push(
                    text.parse()
                        .map_err(|e| format!("--allowed-ip {text:?}: {e}"))?,
                );
            }
            "--credits" => {
                let text = value("--credits")?;
                let remaining = text
                    .parse()
                    .map_err(|_| format!("--credits {text:?}: a whole number 0 or more"))?;
                parsed.credits = Some(Credits::new(remaining));
            }
            "--refill" => {
                let text = value("--refill")?;
                let bad = || format!("--refill {text:?}: AMOUNT/SECONDS, e.g. 1000/86400");
                let (amount, every) = text.split_once('/').ok_or_else(bad)?;
                let refill = Refill::new(
                    amount.parse().map_err(|_| bad())?,
                    every.parse().map_err(|_| bad())?,
                )
                .map_err(|e| format!("--refill {text:?}: {e}"))?;
                parsed.refill = Some(refill);
            }
            "--metadata" => {
                let text = value("--metadata")?;
                let (name, value) = text
                    .split_once('=')
                    .ok_or_else(|| "--metadata: NAME=VALUE".to_owned())?;
                parsed.metadata.insert(name.to_owned(), value.to_owned());
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let [ca, cert, key] = &parsed.redis_tls;
    if (ca.is_some() || cert.is_some() || key.is_some())
        && !parsed
            .redis
            .as_deref()
            .is_some_and(|url| url.starts_with("rediss"))
    {
        return Err(
            "--redis-ca, --redis-cert and --redis-key go with a rediss:// --redis URL".to_owned(),
        );
    }
    if cert.is_some() != key.is_some() {
        return Err("--redis-cert and --redis-key go together".to_owned());
    }
    if parsed.redis.is_some() && parsed.postgres.is_some() {
        return Err("--redis and --postgres are two stores: choose one".to_owned());
    }
    if parsed.init {
        if parsed.postgres.is_none() {
            return Err("--init needs --postgres".to_owned());
        }
        if parsed.label.is_some() || parsed.import.is_some() || parsed.export.is_some() {
            return Err("--init applies the schema and nothing else".to_owned());
        }
        return Ok(parsed);
    }
    if parsed.export.is_some() {
        if !parsed.shared() {
            return Err("--export needs --redis or --postgres".to_owned());
        }
        if parsed.label.is_some() || parsed.import.is_some() {
            return Err("--export writes a file and nothing else".to_owned());
        }
        return Ok(parsed);
    }
    if parsed.import.is_some() {
        if !parsed.shared() {
            return Err("--import needs --redis or --postgres".to_owned());
        }
        if parsed.label.is_some() {
            return Err("--import loads a file; --label generates a key: choose one".to_owned());
        }
        return Ok(parsed);
    }
    if parsed.replace {
        return Err("--replace goes with --import".to_owned());
    }
    if parsed.refill.is_some() && parsed.credits.is_none() {
        return Err("--refill goes with --credits".to_owned());
    }
    match &parsed.label {
        None => Err("--label is required".to_owned()),
        Some(label) if label.trim().is_empty() => Err("--label must not be empty".to_owned()),
        Some(_) => Ok(parsed),
    }
}

/// Reads an RFC 3339 time with the keys file's own parser (through a probe
/// entry), so that the flag accepts exactly what the file does.
fn parse_time(text: &str) -> Result<SystemTime, String> {
    let probe = serde_json::json!({"keys": [{
        "id": "probe",
        "label": "probe",
        "hash": format!("sha256:{}", "0".repeat(64)),
        "created_at": text,
    }]});
    let file = KeysFile::parse(&probe.to_string()).map_err(|_| {
        format!("{text:?} is not an RFC 3339 timestamp (e.g. 2027-01-01T00:00:00Z)")
    })?;
    Ok(file.entries()[0].created_at())
}

/// The entry as one line of JSON, exactly as the keys file writes it.
fn entry_json(entry: KeyEntry) -> String {
    let file: serde_json::Value =
        serde_json::from_str(&KeysFile::from_entries(vec![entry]).to_json()).unwrap_or_default();
    file["keys"][0].to_string()
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("keygen: {problem}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("keygen: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    if args.init {
        with_writer(args, async |writer| writer.init().await)?;
        println!(
            "schema applied (namespace {} starts empty until its first write)",
            args.namespace
        );
        return Ok(());
    }
    if let Some(path) = &args.export {
        let file = with_writer(args, async |writer| writer.export().await)?;
        file.save(path).map_err(|e| format!("--export: {e}"))?;
        println!(
            "exported {} keys from {} to {}",
            file.entries().len(),
            args.backend(),
            path.display()
        );
        return Ok(());
    }
    if let Some(path) = &args.import {
        // Checked whole first (nothing is written from a bad file), then
        // read again entry by entry as it is written.
        let file = CheckedKeysFile::load(path).map_err(|e| e.to_string())?;
        let report = with_writer(args, async |writer| {
            writer.import_checked(&file, args.replace).await
        })?;
        println!(
            "imported into {}: {} inserted, {} updated, {} unchanged, {} removed (version {})",
            args.backend(),
            report.inserted,
            report.updated,
            report.unchanged,
            report.removed,
            report.version
        );
        return Ok(());
    }
    let key = args.generator.generate().map_err(|e| e.to_string())?;
    let label = args.label.clone().unwrap_or_default();
    let mut entry = KeyEntry::new(key.id(), label, key.digest())
        .with_scopes(args.scopes.clone())
        .with_hint(key.hint());
    if let Some(expires_at) = args.expires_at {
        entry = entry.with_expiry(expires_at);
    }
    let credits = args.credits.map(|credits| {
        let credits = credits.with_refilled_at(SystemTime::now());
        match args.refill {
            Some(refill) => credits.with_refill(refill),
            None => credits,
        }
    });
    entry = entry
        .with_owner(args.owner.clone())
        .with_allowed_ips(args.allowed_ips.iter().copied())
        .with_credits(credits)
        .with_metadata_map(args.metadata.clone());
    // The keys file's own checks (owner, metadata limits...), before the
    // token is shown or the key written.
    KeysFile::parse(&KeysFile::from_entries(vec![entry.clone()]).to_json())
        .map_err(|e| e.to_string())?;
    if args.shared() {
        let inserted = entry.clone();
        with_writer(args, async |writer| writer.insert(inserted).await)?;
    }
    let entry_json = entry_json(entry);
    if args.json {
        let token = serde_json::to_string(key.token().expose()).unwrap_or_default();
        println!("{{\"token\":{token},\"key\":{entry_json}}}");
    } else if args.shared() {
        println!(
            "API key (shown once; {} keeps only its hash):",
            args.backend()
        );
        println!();
        println!("    {}", key.token().expose());
        println!();
        println!(
            "Stored in {} (namespace {}):",
            args.backend(),
            args.namespace
        );
        println!();
        println!("{entry_json}");
    } else {
        println!("API key (shown once; it is not stored anywhere):");
        println!();
        println!("    {}", key.token().expose());
        println!();
        println!("Keys-file entry (add it to the \"keys\" array):");
        println!();
        println!("{entry_json}");
    }
    Ok(())
}

/// The shared store's writer.
enum Writer {
    Redis(RedisKeyWriter),
    Postgres(PostgresKeyWriter),
}

impl Writer {
    async fn init(&self) -> Result<(), AdminError> {
        match self {
            Self::Postgres(writer) => writer.init().await,
            Self::Redis(_) => Ok(()),
        }
    }

    async fn insert(&self, entry: KeyEntry) -> Result<u64, AdminError> {
        match self {
            Self::Redis(writer) => writer.insert(entry).await,
            Self::Postgres(writer) => writer.insert(entry).await,
        }
    }

    async fn import_checked(
        &self,
        file: &CheckedKeysFile,
        replace: bool,
    ) -> Result<ImportReport, AdminError> {
        match self {
            Self::Redis(writer) => writer.import_checked(file, replace).await,
            Self::Postgres(writer) => writer.import_checked(file, replace).await,
        }
    }

    async fn export(&self) -> Result<KeysFile, AdminError> {
        match self {
            Self::Redis(writer) => writer.export().await,
            Self::Postgres(writer) => writer.export().await,
        }
    }
}

/// Runs one call of the `--redis` or `--postgres` writer on a small
/// runtime.
fn with_writer<T>(
    args: &Args,
    call: impl AsyncFnOnce(Writer) -> Result<T, AdminError>,
) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let [ca, cert, key] = &args.redis_tls;
    let tls = (ca.is_some() || cert.is_some())
        .then(|| RedisTls::from_files(ca.as_deref(), cert.as_deref().zip(key.as_deref())))
        .transpose()?;
    runtime.block_on(async {
        let writer = if let Some(url) = &args.postgres {
            // Connects on its first statement.
            Writer::Postgres(
                PostgresKeyWriter::new(url, &args.namespace)
                    .map_err(|e| format!("--postgres: {e}"))?,
            )
        } else {
            let url = args.redis.as_deref().unwrap_or_default();
            Writer::Redis(
                match &tls {
                    // Connects on its first write.
                    Some(tls) => RedisKeyWriter::with_tls(url, &args.namespace, tls),
                    None => RedisKeyWriter::connect(url, &args.namespace).await,
                }
                .map_err(|e| format!("--redis: {e}"))?,
            )
        };
        call(writer).await.map_err(|e| e.to_string())
    })
}
