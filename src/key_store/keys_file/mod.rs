//! The JSON keys file: load, validate, save (feature `keys-file`).
//!
//! ```json
//! {"keys":[{"id":"key_3kTMd9Xq","label":"Staging Server",
//!           "hash":"sha256:<64 lowercase hex of SHA-256 of the token's bytes>",
//!           "scopes":["profile:read"],"created_at":"2026-11-27T10:00:00Z",
//!           "expires_at":"2027-01-01T00:00:00Z","revoked":false}]}
//! ```
//!
//! `expires_at`, `revoked` (default `false`), `scopes` (default none),
//! `metadata` (an object of strings), `hint` (the token's prefix and first
//! characters, for lists), `last_used_at`, `rate_limit`
//! (`{"requests": 100, "per_seconds": 60}`), and `rotated_from` /
//! `rotated_to` (the ids of a rotation's old and new key) are optional; unknown fields are
//! refused, so a typo (`"expires"`) cannot silently drop a restriction.
//!
//! A file is read strictly ([`KeysFile::parse`], [`KeysFile::load`]: any
//! problem refuses the whole file, as at startup) or entry by entry
//! ([`KeysFile::parse_each`], [`KeysFile::load_each`]: the valid entries,
//! and one error per refused entry, as a reload needs).

#[cfg(feature = "replica")]
mod checked;
mod error;
mod policies;
mod read;

#[cfg(feature = "admin")]
pub(crate) use self::read::quota as parse_quota;
#[cfg(feature = "admin")]
pub(crate) use self::read::shown_field_name;
#[cfg(feature = "admin")]
pub(crate) use self::read::whole_number;
mod reload;

#[cfg(any(feature = "admin", feature = "replica"))]
pub(crate) use self::policies::credits_json;
#[cfg(feature = "replica")]
pub(crate) use self::policies::owner_limits_json as stored_owner_limits_json;
#[cfg(feature = "admin")]
pub(crate) use self::policies::{
    allowed_ips, allowed_ips_json, credits, owner_limits, owner_limits_json,
};

/// The stored `owner_limits` object of a key (the keys file's form).
#[cfg(feature = "replica")]
pub(crate) fn parse_owner_limits(
    value: &serde_json::Value,
) -> Result<crate::key_policy::OwnerLimits, &'static str> {
    policies::owner_limits(value, true)
}

/// The stored `credits` object of a key (the keys file's form).
#[cfg(feature = "replica")]
pub(crate) fn parse_credits(
    value: &serde_json::Value,
) -> Result<crate::key_policy::Credits, &'static str> {
    policies::credits(value, true)
}

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

#[cfg(feature = "replica")]
pub use self::checked::CheckedKeysFile;
pub use self::error::KeysFileError;
pub use self::reload::{Reload, ReloadOutcome, ReloadStatus};
use super::{KeyEntry, rfc3339};

/// The keys of a keys file, validated.
///
/// ```
/// use tower_bearer_auth::KeyStore;
/// use tower_bearer_auth::key_store::keys_file::KeysFile;
///
/// let file = KeysFile::parse(r#"{"keys":[{
///     "id": "key_staging", "label": "Staging Server",
///     "hash": "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
///     "scopes": ["profile:read"], "created_at": "2026-11-27T10:00:00Z"}]}"#)?;
/// let store = KeyStore::new();
/// store.replace_all(file.into_entries())?;
/// assert_eq!(store.verify("abc")?.label(), "Staging Server");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysFile {
    entries: Vec<KeyEntry>,
}

/// One entry as the file writes it.
#[derive(Serialize)]
struct FileEntry<'a> {
    id: &'a str,
    label: &'a str,
    hash: String,
    scopes: Vec<&'a str>,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    revoked: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit: Option<FileQuota>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotated_from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotated_to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_ips: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credits: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_limits: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct FileQuota {
    requests: u32,
    per_seconds: u32,
}

#[derive(Serialize)]
struct FileRepr<'a> {
    keys: Vec<FileEntry<'a>>,
}

impl KeysFile {
    /// Parses and validates a keys file's text, strictly: any problem
    /// refuses the whole file.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] for the first problem: invalid JSON, not
    /// `{"keys": [...]}`, or an entry with a missing, unknown or mistyped
    /// field, a hash that is not `sha256:` and 64 lowercase hex digits, a bad
    /// timestamp or scope, an invalid id or label, or an id or hash that
    /// another entry uses too.
    pub fn parse(json: &str) -> Result<Self, KeysFileError> {
        let (file, refused) = Self::parse_each(json)?;
        match refused.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(file),
        }
    }

    /// Parses a keys file's text entry by entry: the valid entries, and
    /// one error per refused entry (every entry that shares its id or hash
    /// with another is refused, since which one was meant cannot be known).
    ///
    /// ```
    /// use tower_bearer_auth::key_store::keys_file::KeysFile;
    ///
    /// let hash = format!("sha256:{}", "0".repeat(64));
    /// let (file, refused) = KeysFile::parse_each(&format!(r#"{{"keys":[
    ///     {{"id":"key_a","label":"A","hash":"{hash}","created_at":"2026-11-27T10:00:00Z"}},
    ///     {{"id":"key_b","label":"B","hash":"sha256:x","created_at":"2026-11-27T10:00:00Z","revoked":"true"}}
    /// ]}}"#))?;
    /// assert_eq!(file.entries().len(), 1);
    /// assert_eq!(refused[0].entry_id(), Some("key_b"));
    /// assert_eq!(refused[0].field(), Some("hash"));
    /// # Ok::<(), tower_bearer_auth::key_store::keys_file::KeysFileError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] when the text is not a keys file at all: not JSON,
    /// or not an object with a `"keys"` array and nothing else.
    pub fn parse_each(json: &str) -> Result<(Self, Vec<KeysFileError>), KeysFileError> {
        let mut entries = Vec::new();
        let mut refused = Vec::new();
        for result in read::entries(json)? {
            match result {
                Ok(entry) => entries.push(entry),
                Err(error) => refused.push(error),
            }
        }
        Ok((Self { entries }, refused))
    }

    /// Reads and validates a keys file, strictly.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] if the file cannot be read, or as for [`KeysFile::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, KeysFileError> {
        let path = path.as_ref();
        Self::parse(&read(path)?).map_err(|e| e.in_file(path))
    }

    /// Reads a keys file entry by entry, as [`KeysFile::parse_each`].
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] if the file cannot be read, or is not a keys file
    /// at all.
    pub fn load_each(path: impl AsRef<Path>) -> Result<(Self, Vec<KeysFileError>), KeysFileError> {
        let path = path.as_ref();
        let (file, refused) = Self::parse_each(&read(path)?).map_err(|e| e.in_file(path))?;
        Ok((file, refused.into_iter().map(|e| e.in_file(path)).collect()))
    }

    /// A keys file holding `entries`.
    #[must_use]
    pub fn from_entries(entries: Vec<KeyEntry>) -> Self {
        Self { entries }
    }

    /// The keys.
    #[must_use]
    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    /// The keys, by value.
    #[must_use]
    pub fn into_entries(self) -> Vec<KeyEntry> {
        self.entries
    }

    /// The file as pretty-printed JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        let repr = FileRepr {
            keys: self.entries.iter().map(to_file_entry).collect(),
        };
        serde_json::to_string_pretty(&repr).unwrap_or_default()
    }

    /// Writes the file atomically and privately: a temporary file with a
    /// random name in the same directory, created exclusively with mode
    /// `0600` (nothing planted in advance, file or link, is ever opened),
    /// written, flushed to disk, renamed over `path` (replacing a link at
    /// `path`, never writing through it), and the directory flushed so that
    /// the rename survives a crash.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] if the file cannot be written. `path` then still
    /// holds the old file, unless only the last step (flushing the
    /// directory) failed.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), KeysFileError> {
        let path = path.as_ref();
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let temporary = directory.join(temporary_name()?);
        let write = || -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            // `create_new`: O_CREAT | O_EXCL, which fails on anything already
            // there, a symbolic link included.
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temporary)?;
            file.write_all(self.to_json().as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&temporary, path)?;
            sync_directory(directory)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            KeysFileError::io(path, &e)
        })
    }
}

/// `.keys-<16 random hex digits>.tmp`: a name nobody can plant in advance.
fn temporary_name() -> Result<String, KeysFileError> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random)
        .map_err(|e| KeysFileError::whole(format!("no random source: {e}")))?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(".keys-{hex}.tmp"))
}

/// Flushes a directory's entries (the rename) to disk, where the platform
/// allows opening a directory.
fn sync_directory(directory: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(directory)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = directory;
    Ok(())
}

/// One entry as compact JSON, exactly as the file writes it (the shared
/// store's version 1 record).
#[cfg(all(test, feature = "replica"))]
pub(crate) fn entry_json(entry: &KeyEntry) -> String {
    serde_json::to_string(&to_file_entry(entry)).unwrap_or_default()
}

/// One entry from its compact JSON, with the file's checks.
#[cfg(feature = "replica")]
pub(crate) fn parse_entry(json: &str) -> Result<KeyEntry, KeysFileError> {
    read::single(json)
}

fn read(path: &Path) -> Result<String, KeysFileError> {
    std::fs::read_to_string(path).map_err(|e| KeysFileError::io(path, &e))
}

fn to_file_entry(entry: &KeyEntry) -> FileEntry<'_> {
    FileEntry {
        id: entry.id(),
        label: entry.label(),
        hash: format!("sha256:{}", entry.digest().to_hex()),
        scopes: entry.scopes().iter().collect(),
        created_at: rfc3339::format(entry.created_at()),
        expires_at: entry.expires_at().map(rfc3339::format),
        revoked: entry.is_revoked(),
        metadata: entry.metadata(),
        hint: entry.hint(),
        last_used_at: entry.last_used_at().map(rfc3339::format),
        rate_limit: entry.rate_limit().map(|quota| FileQuota {
            requests: quota.requests(),
            per_seconds: quota.per_seconds(),
        }),
        rotated_from: entry.rotated_from(),
        rotated_to: entry.rotated_to(),
        owner: entry.owner(),
        allowed_ips: (!entry.allowed_ips().is_empty())
            .then(|| policies::allowed_ips_json(entry.allowed_ips())),
        credits: entry.credits().as_ref().map(policies::credits_json),
        owner_limits: (!entry.owner_limits().is_empty())
            .then(|| policies::owner_limits_json(&entry.owner_limits())),
    }
}

#[cfg(test)]
mod tests;
