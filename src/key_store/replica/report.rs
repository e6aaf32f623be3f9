//! A replica's log events, compiled away without `tracing`. Records are
//! named by their digest's first 8 hex digits at most, never by content.

use std::time::Duration;

/// A problem with the source (unreachable, a failed read): at most one
/// line a second, with the count of problems since the last.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn source_problem(problem: &str) {
    #[cfg(feature = "tracing")]
    {
        static PROBLEMS: crate::log_limit::OncePerSecond = crate::log_limit::OncePerSecond::new();
        if let Some(count) = PROBLEMS.count() {
            trace_event!(warn!(count, "shared key store: {problem}"));
        }
    }
}

/// A full load finished and replaced the copy in force: how long it took
/// in all, reading the source (`scan`), and building the index (`build`).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn loaded(keys: usize, version: u64, took: Duration, scan: Duration, build: Duration) {
    trace_event!(info!(
        keys,
        version,
        took_ms = took.as_millis(),
        scan_ms = scan.as_millis(),
        build_ms = build.as_millis(),
        "shared key store: key set loaded in full"
    ));
}

/// A record the replica could not read; its key is left out. Names the
/// record by its digest's first 8 hex digits (not enough to matter, enough
/// to find it in the source), never the record's content.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn unreadable(digest: &str, problem: &str) {
    trace_event!(error!(
        record = digest.get(..8).unwrap_or(""),
        "shared key store: a key record is unreadable, its key is refused: {problem}"
    ));
}

/// The source holds active keys this replica saw revoked or deleted.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn kept_revoked(count: usize) {
    trace_event!(error!(
        count,
        "shared key store: the source holds keys as active that this replica saw revoked or deleted; they stay revoked here"
    ));
}

/// The source is behind what this replica applied.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn source_behind(applied: u64, source: u64) {
    trace_event!(error!(
        applied_version = applied,
        source_version = source,
        "shared key store: the source is behind this replica (a restored snapshot, a stale former primary, lost writes); it proves nothing and is not loaded; re-import the keys, or accept the older state explicitly"
    ));
}

/// A full load left these keys out: their records share an id or a hash
/// with another, or break a rule. Names the first ids (not secrets).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(super) fn left_out(ids: &[String]) {
    let named = ids
        .iter()
        .take(5)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    trace_event!(error!(
        count = ids.len(),
        "shared key store: records conflict (an id or a hash held twice) or break a rule; their keys are refused: {named}"
    ));
}
