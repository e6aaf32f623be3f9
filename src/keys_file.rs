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
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::key_store::{KeyCounts, KeyEntry, KeyStore, KeyStoreError, TokenDigest};
use crate::rfc3339;
use crate::scope::ScopeSet;

const HASH_PREFIX: &str = "sha256:";

/// The keys of a keys file, validated.
///
/// ```
/// use tower_bearer_auth::{KeyStore, KeysFile};
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
        KeyStore::new()
            .replace_all(file.entries.iter().cloned())
            .map_err(|error| KeysFileError::from_store(&file.entries, &error))?;
        Ok(file)
    }

    /// Parses the entries, checking each on its own (format, hash,
    /// timestamps, scopes) but not against each other.
    fn parse_entries(json: &str) -> Result<Self, KeysFileError> {
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

    /// One entry as compact JSON, as it appears in the file.
    #[must_use]
    pub fn entry_json(entry: &KeyEntry) -> String {
        serde_json::to_string(&to_file_entry(entry)).unwrap_or_default()
    }

    /// Parses an RFC 3339 timestamp as the file writes them
    /// (`2027-01-01T00:00:00Z`, offsets allowed).
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with `text`.
    pub fn parse_timestamp(text: &str) -> Result<SystemTime, String> {
        rfc3339::parse(text)
    }

    /// Formats a time as the file writes it: RFC 3339 in UTC.
    #[must_use]
    pub fn format_timestamp(time: SystemTime) -> String {
        rfc3339::format(time)
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

fn read(path: &Path) -> Result<String, KeysFileError> {
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

impl KeyStore {
    /// A store holding the keys of a keys file.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] as for [`KeysFile::load`].
    pub fn from_keys_file(path: impl AsRef<Path>) -> Result<Self, KeysFileError> {
        let store = Self::new();
        store.reload_keys_file(path)?;
        Ok(store)
    }

    /// Replaces every key with those of a keys file, atomically. If the file
    /// cannot be read or is invalid, the keys in force stay in force:
    /// nothing is lost and nothing is opened.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] as for [`KeysFile::load`].
    pub fn reload_keys_file(&self, path: impl AsRef<Path>) -> Result<KeyCounts, KeysFileError> {
        let path = path.as_ref();
        let file = KeysFile::parse_entries(&read(path)?).map_err(|e| e.in_file(path))?;
        // `replace_all` runs the cross-entry checks and swaps atomically.
        self.replace_all(file.entries.iter().cloned())
            .map_err(|error| KeysFileError::from_store(&file.entries, &error).in_file(path))
    }

    /// Saves every key, active and revoked, as a keys file.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] if the file cannot be written.
    pub fn save_keys_file(&self, path: impl AsRef<Path>) -> Result<(), KeysFileError> {
        KeysFile::from_entries(self.entries()).save(path)
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

    fn shape(problem: impl Into<String>) -> Self {
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

    fn from_store(entries: &[KeyEntry], error: &KeyStoreError) -> Self {
        let id = match error {
            KeyStoreError::InvalidId { id }
            | KeyStoreError::InvalidLabel { id }
            | KeyStoreError::DuplicateId { id }
            | KeyStoreError::DuplicateDigest { id, .. }
            | KeyStoreError::UnknownId { id } => id.as_str(),
        };
        // For a repeat, name the second occurrence.
        let occurrences: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.id() == id)
            .map(|(index, _)| index)
            .collect();
        let index = match error {
            KeyStoreError::DuplicateId { .. } => occurrences.get(1),
            _ => occurrences.first(),
        };
        Self {
            path: None,
            entry: index.map(|&index| (index, Some(id.to_owned()))),
            problem: error.to_string(),
        }
    }

    fn in_file(mut self, path: &Path) -> Self {
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
mod tests {
    use super::*;

    const HASH: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn one(entry: &str) -> String {
        format!(r#"{{"keys":[{entry}]}}"#)
    }

    fn valid(id: &str, hash: &str) -> String {
        format!(
            r#"{{"id":"{id}","label":"Staging Server","hash":"{hash}","scopes":["profile:read"],"created_at":"2026-11-27T10:00:00Z"}}"#
        )
    }

    fn error(json: &str) -> String {
        KeysFile::parse(json).expect_err("refused").to_string()
    }

    #[test]
    fn parses_the_documented_format() {
        let json = one(&format!(
            r#"{{"id":"key_a","label":"Staging Server","hash":"{HASH}","scopes":["profile:read","calls:write"],"created_at":"2026-11-27T10:00:00Z","expires_at":"2027-01-01T00:00:00Z","revoked":true,"metadata":{{"owner":"ops"}}}}"#
        ));
        let file = KeysFile::parse(&json).expect("valid");
        let entry = &file.entries()[0];
        assert_eq!(entry.id(), "key_a");
        assert_eq!(entry.scopes().as_str(), "calls:write profile:read");
        assert!(entry.is_revoked());
        assert_eq!(entry.metadata()["owner"], "ops");
        assert_eq!(entry.digest(), &TokenDigest::of("abc"));
        assert!(entry.expires_at().is_some());
    }

    #[test]
    fn round_trips_through_json() {
        let file = KeysFile::parse(&one(&valid("key_a", HASH))).expect("valid");
        let again = KeysFile::parse(&file.to_json()).expect("valid");
        assert_eq!(file, again);
    }

    #[test]
    fn errors_name_the_entry_and_the_problem() {
        let bad_hash = error(&one(&valid("key_a", "sha256:ABC")));
        assert_eq!(
            bad_hash,
            "keys file, entry 0 (id \"key_a\"): hash must be \"sha256:\" followed by 64 lowercase hexadecimal digits"
        );
        let upper = error(&one(&valid(
            "key_a",
            &HASH.to_uppercase().replace("SHA256", "sha256"),
        )));
        assert!(upper.contains("64 lowercase hexadecimal digits"), "{upper}");
        let typo = error(&one(
            r#"{"id":"key_a","label":"l","hash":"x","created_at":"2026-11-27T10:00:00Z","expires":"2027-01-01T00:00:00Z"}"#,
        ));
        assert!(
            typo.starts_with("keys file, entry 0 (id \"key_a\"): unknown field `expires`"),
            "{typo}"
        );
        let date = error(&one(
            &valid("key_a", HASH).replace("2026-11-27T10:00:00Z", "yesterday")
        ));
        assert!(
            date.contains("created_at: \"yesterday\" is not an RFC 3339 timestamp"),
            "{date}"
        );
        let scope = error(&one(
            &valid("key_a", HASH).replace("profile:read", "has space")
        ));
        assert!(scope.contains("invalid scope"), "{scope}");
        let missing = error(&one(
            r#"{"label":"l","hash":"x","created_at":"2026-11-27T10:00:00Z"}"#,
        ));
        assert!(
            missing.starts_with("keys file, entry 0: missing field `id`"),
            "{missing}"
        );
    }

    #[test]
    fn repeated_ids_and_hashes_are_refused() {
        let other = "sha256:".to_owned() + &"0".repeat(64);
        let twice = format!(
            r#"{{"keys":[{},{}]}}"#,
            valid("key_a", HASH),
            valid("key_a", &other)
        );
        assert_eq!(
            error(&twice),
            "keys file, entry 1 (id \"key_a\"): key id \"key_a\" is used twice"
        );
        let same_hash = format!(
            r#"{{"keys":[{},{}]}}"#,
            valid("key_a", HASH),
            valid("key_b", HASH)
        );
        assert!(
            error(&same_hash).contains("has the same hash as key"),
            "{}",
            error(&same_hash)
        );
    }

    #[test]
    fn malformed_documents_are_refused() {
        assert!(error("").starts_with("keys file: invalid JSON"));
        assert!(error("{\"keys\": [").starts_with("keys file: invalid JSON"));
        assert_eq!(
            error("[]"),
            "keys file: the file must be a JSON object {\"keys\": [...]}"
        );
        assert_eq!(
            error("{}"),
            "keys file: the file must have a \"keys\" array"
        );
        assert_eq!(
            error(r#"{"keys":[],"x":1}"#),
            "keys file: unknown top-level field \"x\""
        );
        assert!(
            KeysFile::parse(r#"{"keys":[]}"#)
                .expect("empty is valid")
                .entries()
                .is_empty()
        );
    }
}
