//! Generates an API key: prints the token once and its keys-file entry.
//!
//! ```text
//! cargo run --example keygen -- --label "Staging Server" --scopes profile:read,calls:write \
//!     [--expires-at 2027-01-01T00:00:00Z] [--prefix ais] [--json]
//! ```
//!
//! Append the entry to the `keys` array of your keys file; the token is not
//! stored anywhere and cannot be shown again.

use std::process::ExitCode;
use std::time::SystemTime;

use tower_bearer_auth::key_store::KeysFile;
use tower_bearer_auth::{KeyEntry, KeyGenerator, ScopeSet};

const USAGE: &str = "usage: keygen --label LABEL [--scopes SCOPE,SCOPE...] [--expires-at RFC3339] [--prefix PREFIX] [--json]";

struct Args {
    label: String,
    scopes: ScopeSet,
    expires_at: Option<SystemTime>,
    generator: KeyGenerator,
    json: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut label = None;
    let mut scopes = ScopeSet::empty();
    let mut expires_at = None;
    let mut generator = KeyGenerator::new();
    let mut json = false;
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--label" => label = Some(value("--label")?),
            "--scopes" => {
                let list = value("--scopes")?;
                scopes = ScopeSet::new(list.split(',').filter(|s| !s.is_empty()))
                    .map_err(|e| format!("--scopes: {e}"))?;
            }
            "--expires-at" => {
                let time = parse_time(&value("--expires-at")?)
                    .map_err(|e| format!("--expires-at: {e}"))?;
                if time <= SystemTime::now() {
                    return Err("--expires-at is in the past".to_owned());
                }
                expires_at = Some(time);
            }
            "--prefix" => {
                generator = KeyGenerator::with_prefix(&value("--prefix")?)
                    .map_err(|e| format!("--prefix: {e}"))?;
            }
            "--json" => json = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let label = label.ok_or("--label is required")?;
    if label.trim().is_empty() {
        return Err("--label must not be empty".to_owned());
    }
    Ok(Args {
        label,
        scopes,
        expires_at,
        generator,
        json,
    })
}

/// Reads an RFC 3339 time with the keys file's own parser (through a probe
/// entry), so that the flag accepts exactly what the file does.
fn parse_time(text: &str) -> Result<SystemTime, String> {
    let probe = serde_json::json!({"keys": [{
        "id": "probe",
        "label": "",
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
    let key = match args.generator.generate() {
        Ok(key) => key,
        Err(error) => {
            eprintln!("keygen: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut entry = KeyEntry::new(key.id(), args.label, key.digest()).with_scopes(args.scopes);
    if let Some(expires_at) = args.expires_at {
        entry = entry.with_expiry(expires_at);
    }
    let entry_json = entry_json(entry);
    if args.json {
        let token = serde_json::to_string(key.token().expose()).unwrap_or_default();
        println!("{{\"token\":{token},\"key\":{entry_json}}}");
    } else {
        println!("API key (shown once; it is not stored anywhere):");
        println!();
        println!("    {}", key.token().expose());
        println!();
        println!("Keys-file entry (add it to the \"keys\" array):");
        println!();
        println!("{entry_json}");
    }
    ExitCode::SUCCESS
}
