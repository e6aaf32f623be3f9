//! The in-memory store and its keys file: load at startup (strict), reload
//! while serving (entry by entry), save (feature `keys-file`).

use std::path::Path;

use super::KeyStore;
use crate::key_store::keys_file::{KeysFile, KeysFileError, Reload};

impl KeyStore {
    /// A store holding the keys of a keys file, which must be valid as a
    /// whole: at startup a broken file is an error, not a partial key set.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] as for [`KeysFile::load`].
    pub fn from_keys_file(path: impl AsRef<Path>) -> Result<Self, KeysFileError> {
        let store = Self::new();
        store.apply(KeysFile::load(path)?);
        Ok(store)
    }

    /// Replaces every key with those of a keys file, in one atomic swap, and
    /// fails safe entry by entry:
    ///
    /// - valid entries are in force as written;
    /// - every refused entry (a bad field, an id or hash used twice...) is
    ///   left out, so its key fails like a revoked one, and is returned in
    ///   [`Reload::refused`];
    /// - keys the file no longer lists are removed.
    ///
    /// A file that cannot be read as a keys file changes nothing.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] when the file cannot be read, is not JSON or is not
    /// `{"keys": [...]}`; the keys in force then stay in force.
    pub fn reload_keys_file(&self, path: impl AsRef<Path>) -> Result<Reload, KeysFileError> {
        let (file, refused) = KeysFile::load_each(path)?;
        Ok(Reload {
            counts: self.apply(file),
            refused,
        })
    }

    /// Puts a checked key set in force.
    pub(crate) fn apply(&self, file: KeysFile) -> super::KeyCounts {
        // `KeysFile` entries were checked against each other already, so the
        // store's own checks cannot refuse them; if they ever did, nothing
        // would change, which is the safe side.
        self.replace_all(file.into_entries())
            .unwrap_or_else(|_| self.counts())
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
