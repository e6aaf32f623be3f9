//! A keys file checked whole but never held as entries: for importing a
//! million keys into a shared store, where the entries of a file take
//! several times its size.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use super::{KeysFileError, read};
use crate::key_store::digest::BuildDigestHasher;
use crate::key_store::{KeyEntry, TokenDigest};

/// A keys file read and checked as strictly as [`KeysFile::load`](super::KeysFile::load)
/// (every entry valid, no id or hash twice), holding its text and its ids
/// only: its entries are read again, one at a time, as an import uses
/// them. Peak memory is about the file's size plus its ids.
///
/// ```no_run
/// use tower_bearer_auth::key_store::keys_file::CheckedKeysFile;
///
/// let file = CheckedKeysFile::load("keys.json")?;
/// println!("{} keys", file.len());
/// # Ok::<(), tower_bearer_auth::key_store::keys_file::KeysFileError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CheckedKeysFile {
    /// The file's text (an `Arc<String>`: made from the `String` read,
    /// without a copy of it).
    text: Arc<String>,
    ids: Arc<HashSet<Box<str>>>,
}

impl CheckedKeysFile {
    /// Reads and checks a keys file.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] if the file cannot be read, or for its first
    /// problem, as [`KeysFile::load`](super::KeysFile::load).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, KeysFileError> {
        let path = path.as_ref();
        Self::parse(super::read(path)?).map_err(|e| e.in_file(path))
    }

    /// Checks a keys file's text.
    ///
    /// # Errors
    ///
    /// [`KeysFileError`] for its first problem, as [`KeysFile::parse`](super::KeysFile::parse).
    pub fn parse(text: impl Into<String>) -> Result<Self, KeysFileError> {
        let text = Arc::new(text.into());
        // Sized once for the most entries the text can hold, so that no
        // table grows (a growing table is held twice meanwhile).
        let most = text.len() / SHORTEST_ENTRY + 1;
        let mut ids: HashSet<Box<str>> = HashSet::with_capacity(most);
        let mut digests: HashSet<TokenDigest, BuildDigestHasher> =
            HashSet::with_capacity_and_hasher(most, BuildDigestHasher);
        let mut first: Option<KeysFileError> = None;
        let mut repeated = Repeated::default();
        read::for_each(&text, &mut |result| match result {
            Ok(entry) => {
                if !digests.insert(entry.digest) {
                    repeated.digests.insert(entry.digest);
                }
                let id = entry.id.into_boxed_str();
                if ids.contains(&id) {
                    repeated.ids.insert(id);
                } else {
                    ids.insert(id);
                }
            }
            Err(error) => keep_first(&mut first, error),
        })?;
        drop(digests);
        if let Some(error) = repeated.first_error(&text) {
            keep_first(&mut first, error);
        }
        if let Some(error) = first {
            return Err(error);
        }
        Ok(Self {
            text,
            ids: Arc::new(ids),
        })
    }

    /// How many keys the file holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the file holds no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether the file holds a key with this id.
    #[must_use]
    pub fn contains_id(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Calls `visit` with each entry, in file order, one at a time.
    pub fn for_each_entry(&self, mut visit: impl FnMut(KeyEntry)) {
        // Checked when loaded: every entry reads.
        let _ = read::for_each(&self.text, &mut |result| {
            if let Ok(entry) = result {
                visit(entry);
            }
        });
    }
}

/// The fewest bytes a valid entry takes (`{"id":"a","label":"b",` a
/// 71-character hash, a 20-character time, and the names).
const SHORTEST_ENTRY: usize = 120;

/// The ids and hashes found more than once (rare: then the file is read
/// again to name the entries, as `KeysFile::parse` does).
#[derive(Default)]
struct Repeated {
    ids: HashSet<Box<str>>,
    digests: HashSet<TokenDigest>,
}

impl Repeated {
    /// The error of the earliest entry whose id or hash another entry
    /// uses, naming that other entry; an id before a hash.
    fn first_error(&self, text: &str) -> Option<KeysFileError> {
        if self.ids.is_empty() && self.digests.is_empty() {
            return None;
        }
        // Where each repeated id and hash is used, in file order.
        let mut users: HashMap<(&'static str, String), Vec<(usize, String)>> = HashMap::new();
        let mut index = 0;
        let _ = read::for_each(text, &mut |result| {
            if let Ok(entry) = result {
                if self.ids.contains(entry.id.as_str()) {
                    let key = ("id", entry.id.clone());
                    users
                        .entry(key)
                        .or_default()
                        .push((index, entry.id.clone()));
                }
                if self.digests.contains(&entry.digest) {
                    let key = ("hash", entry.digest.to_hex());
                    users
                        .entry(key)
                        .or_default()
                        .push((index, entry.id.clone()));
                }
            }
            index += 1;
        });
        users
            .into_iter()
            .filter(|(_, at)| at.len() > 1)
            .map(|((field, _), at)| (at[0].0, field != "id", field, at[0].1.clone(), at[1].0))
            .min()
            .map(|(earliest, _, field, id, other)| {
                KeysFileError::entry(
                    earliest,
                    Some(&id),
                    Some(field),
                    format!("is also used by entry {other}"),
                )
            })
    }
}

/// Keeps the error of the earliest entry.
fn keep_first(first: &mut Option<KeysFileError>, error: KeysFileError) {
    let earlier = |a: &KeysFileError, b: &KeysFileError| a.entry_index() < b.entry_index();
    if first.as_ref().is_none_or(|held| earlier(&error, held)) {
        *first = Some(error);
    }
}
