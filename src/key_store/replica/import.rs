//! What an import into a shared store reports, whatever the backend.

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Keys that were not in the store.
    pub inserted: usize,
    /// Keys whose record changed.
    pub updated: usize,
    /// Keys already as the file has them.
    pub unchanged: usize,
    /// Keys removed because the file does not list them (with `replace`).
    pub removed: usize,
    /// The store's version after the import.
    pub version: u64,
}
