//! The in-memory store and its keys file: load at startup, reload while
//! serving, save (feature `keys-file`).

use std::path::Path;

use super::{KeyCounts, KeyStore};
use crate::key_store::keys_file::{self, KeysFile, KeysFileError};

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
        let file = KeysFile::parse(&keys_file::read(path)?).map_err(|e| e.in_file(path))?;
        self.replace_all(file.into_entries())
            .map_err(|error| KeysFileError::shape(error.to_string()).in_file(path))
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
