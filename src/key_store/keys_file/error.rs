//! Why a keys file, or one of its entries, was refused.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a keys file, or one of its entries, was refused.
///
/// The message names the file, the entry (index from 0, and its id when the
/// id is valid), the field and the problem. It never repeats a value from
/// the file: a token pasted into the wrong field does not reach a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysFileError {
    path: Option<PathBuf>,
    entry: Option<(usize, Option<String>)>,
    field: Option<&'static str>,
    problem: String,
}

impl KeysFileError {
    /// The file is not JSON; `serde_json`'s message names a line and column,
    /// never the text.
    pub(super) fn syntax(error: &serde_json::Error) -> Self {
        Self::whole(format!(
            "invalid JSON at line {} column {} ({})",
            error.line(),
            error.column(),
            match error.classify() {
                serde_json::error::Category::Eof => "the file ends early",
                serde_json::error::Category::Syntax => "a syntax error",
                serde_json::error::Category::Data | serde_json::error::Category::Io => {
                    "unreadable data"
                }
            }
        ))
    }

    /// A problem with the file as a whole.
    pub(super) fn whole(problem: impl Into<String>) -> Self {
        Self {
            path: None,
            entry: None,
            field: None,
            problem: problem.into(),
        }
    }

    /// A problem with one entry, and the field at fault if there is one.
    pub(super) fn entry(
        index: usize,
        id: Option<&str>,
        field: Option<&'static str>,
        problem: impl Into<String>,
    ) -> Self {
        Self {
            path: None,
            entry: Some((index, id.map(str::to_owned))),
            field,
            problem: problem.into(),
        }
    }

    pub(super) fn io(path: &Path, error: &std::io::Error) -> Self {
        Self {
            path: Some(path.to_owned()),
            entry: None,
            field: None,
            problem: error.to_string(),
        }
    }

    pub(crate) fn in_file(mut self, path: &Path) -> Self {
        self.path.get_or_insert_with(|| path.to_owned());
        self
    }

    /// The index (from 0) of the entry at fault, if one is.
    #[must_use]
    pub fn entry_index(&self) -> Option<usize> {
        self.entry.as_ref().map(|(index, _)| *index)
    }

    /// The id of the entry at fault, when it has a valid one.
    #[must_use]
    pub fn entry_id(&self) -> Option<&str> {
        self.entry.as_ref().and_then(|(_, id)| id.as_deref())
    }

    /// The field at fault (`hash`, `revoked`...), if the problem is one
    /// field's.
    #[must_use]
    pub const fn field(&self) -> Option<&'static str> {
        self.field
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
        match self.field {
            Some(field) => write!(f, ": `{field}` {}", self.problem),
            None => write!(f, ": {}", self.problem),
        }
    }
}

impl std::error::Error for KeysFileError {}
