//! The JSON keys file: load, validate, save (feature `keys-file`).
//!
//! ```json
//! {"keys":[{"id":"key_3kTMd9Xq","label":"Staging Server",
//!           "hash":"sha256:<64 lowercase hex of SHA-256 of the token's bytes>",
//!           "scopes":["profile:read"],"created_at":"2026-11-27T10:00:00Z",
//!           "expires_at":"2027-01-01T00:00:00Z","revoked":false}]}
//! ```
//!
//! `expires_at`, `revoked` (default `false`), `scopes` (default none) and
//! `metadata` (an object of strings) are optional; unknown fields are
//! refused, so a typo (`"expires"`) cannot silently drop a restriction.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::entry::check_entries;
use super::{KeyEntry, KeyStoreError, TokenDigest, rfc3339};
use crate::scope::ScopeSet;

const HASH_PREFIX: &str = "sha256:";

/// The keys of a keys file, validated.
///
/// ```
/// use tower_bearer_auth::KeyStore;
/// use tower_bearer_auth::key_store::KeysFile;
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

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    id: String,
    label: String,
    hash: String,
    #[serde(default)]
    scopes: Vec<String>,
    created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(default)]
    revoked: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct FileRepr<'a> {
    keys: Vec<&'a FileEntry>,
}

impl KeysFile {
    /// Parses and validates a keys file's text.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] naming the entry (index and id) and the problem:
    /// invalid JSON, a missing or unknown field, a hash that is not
    /// `sha256:` and 64 lowercase hex digits, a bad timestamp or scope, an
    /// invalid id or label, or a repeated id or hash.
    pub fn parse(json: &str) -> Result<Self, KeysFileError> {
        let file = Self::parse_entries(json)?;
        // The store's own checks (ids, labels, uniqueness of ids and hashes),
        // so that a file is refused exactly when a store would refuse it.
        if let Some((index, problem)) = check_entries(&file.entries).into_iter().next() {
            return Err(KeysFileError::from_store(&file.entries, index, &problem));
        }
        Ok(file)
    }

    /// Parses the entries, checking each on its own (format, hash,
    /// timestamps, scopes) but not against each other.
    pub(super) fn parse_entries(json: &str) -> Result<Self, KeysFileError> {
        let document: serde_json::Value =
            serde_json::from_str(json).map_err(|e| KeysFileError::syntax(&e))?;
        let serde_json::Value::Object(mut top) = document else {
            return Err(KeysFileError::shape(
                "the file must be a JSON object {\"keys\": [...]}",
            ));
        };
        let Some(serde_json::Value::Array(keys)) = top.remove("keys") else {
            return Err(KeysFileError::shape("the file must have a \"keys\" array"));
        };
        if let Some(other) = top.keys().next() {
            return Err(KeysFileError::shape(format!(
                "unknown top-level field {other:?}"
            )));
        }
        let mut entries = Vec::with_capacity(keys.len());
        for (index, value) in keys.into_iter().enumerate() {
            let id = value
                .get("id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            let entry = serde_json::from_value::<FileEntry>(value)
                .map_err(|e| e.to_string())
                .and_then(to_key_entry)
                .map_err(|problem| KeysFileError::entry(index, id, problem))?;
            entries.push(entry);
        }
        Ok(Self { entries })
    }

    /// Reads and validates a keys file.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] if the file cannot be read, or as for [`KeysFile::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, KeysFileError> {
        let path = path.as_ref();
        Self::parse(&read(path)?).map_err(|e| e.in_file(path))
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
        let entries: Vec<FileEntry> = self.entries.iter().map(to_file_entry).collect();
        let repr = FileRepr {
            keys: entries.iter().collect(),
        };
        serde_json::to_string_pretty(&repr).unwrap_or_default()
    }

    /// Writes the file atomically (a temporary file in the same directory,
    /// then a rename), readable only by its owner on Unix.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), KeysFileError> {
        let path = path.as_ref();
        let temporary = path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temporary)?;
            file.write_all(self.to_json().as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&temporary, path)
        };
        write().map_err(|e| KeysFileError::io(path, &e))
    }
}

pub(super) fn read(path: &Path) -> Result<String, KeysFileError> {
    std::fs::read_to_string(path).map_err(|e| KeysFileError::io(path, &e))
}

fn to_key_entry(file: FileEntry) -> Result<KeyEntry, String> {
    let digest = file
        .hash
        .strip_prefix(HASH_PREFIX)
        .and_then(TokenDigest::from_hex)
        .ok_or_else(|| {
            "hash must be \"sha256:\" followed by 64 lowercase hexadecimal digits".to_owned()
        })?;
    let scopes = ScopeSet::new(&file.scopes).map_err(|e| e.to_string())?;
    let created_at = rfc3339::parse(&file.created_at).map_err(|e| format!("created_at: {e}"))?;
    let mut entry = KeyEntry::new(file.id, file.label, digest)
        .with_scopes(scopes)
        .with_created_at(created_at)
        .with_revoked(file.revoked);
    if let Some(expires_at) = file.expires_at {
        entry =
            entry.with_expiry(rfc3339::parse(&expires_at).map_err(|e| format!("expires_at: {e}"))?);
    }
    for (key, value) in file.metadata {
        entry = entry.with_metadata(key, value);
    }
    Ok(entry)
}

fn to_file_entry(entry: &KeyEntry) -> FileEntry {
    FileEntry {
        id: entry.id().to_owned(),
        label: entry.label().to_owned(),
        hash: format!("{HASH_PREFIX}{}", entry.digest().to_hex()),
        scopes: entry.scopes().iter().map(str::to_owned).collect(),
        created_at: rfc3339::format(entry.created_at()),
        expires_at: entry.expires_at().map(rfc3339::format),
        revoked: entry.is_revoked(),
        metadata: entry.metadata().clone(),
    }
}

/// Why a keys file was refused. The message names the file, the entry
/// (index from 0, and id when there is one) and the problem; it never holds
/// a token (the file holds none) or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysFileError {
    path: Option<PathBuf>,
    entry: Option<(usize, Option<String>)>,
    problem: String,
}

impl KeysFileError {
    fn syntax(error: &serde_json::Error) -> Self {
        Self {
            path: None,
            entry: None,
            problem: format!("invalid JSON: {error}"),
        }
    }

    pub(super) fn shape(problem: impl Into<String>) -> Self {
        Self {
            path: None,
            entry: None,
            problem: problem.into(),
        }
    }

    fn entry(index: usize, id: Option<String>, problem: String) -> Self {
        Self {
            path: None,
            entry: Some((index, id)),
            problem,
        }
    }

    fn io(path: &Path, error: &std::io::Error) -> Self {
        Self {
            path: Some(path.to_owned()),
            entry: None,
            problem: error.to_string(),
        }
    }

    /// The store's refusal of entry `index`.
    pub(super) fn from_store(entries: &[KeyEntry], index: usize, error: &KeyStoreError) -> Self {
        Self {
            path: None,
            entry: Some((index, entries.get(index).map(|entry| entry.id().to_owned()))),
            problem: error.to_string(),
        }
    }

    pub(super) fn in_file(mut self, path: &Path) -> Self {
        self.path.get_or_insert_with(|| path.to_owned());
        self
    }

    /// The index (from 0) of the entry at fault, if one is.
    #[must_use]
    pub fn entry_index(&self) -> Option<usize> {
        self.entry.as_ref().map(|(index, _)| *index)
    }
}

impl fmt::Display for KeysFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("keys file")?;
        if let Some(path) = &self.path {
            write!(f, " {}", path.display())?;
        }
        match &self.entry {
            Some((index, Some(id))) => write!(f, ", entry {index} (id {id:?})")?,
            Some((index, None)) => write!(f, ", entry {index}")?,
            None => {}
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for KeysFileError {}

#[cfg(test)]
mod tests;
