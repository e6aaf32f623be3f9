//! The embedded key set's audit log: a JSON-lines file beside the keys
//! file, one event per line, each appended and fsynced before the change
//! is answered; in memory (the last 10,000) without a keys file.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{AuditEvent, AuditPage, AuditQuery, from_json, to_json};
use crate::key_store::admin::AdminError;

/// Events an in-memory log keeps.
const IN_MEMORY: usize = 10_000;

/// The file is read in chunks of this many bytes.
const CHUNK: u64 = 64 * 1024;

/// Where the embedded key set keeps its audit events.
#[derive(Clone)]
pub(crate) enum EmbeddedAudit {
    /// The JSON-lines file, and the id of its next event (`None` until
    /// the file was counted).
    File(Arc<Mutex<(PathBuf, Option<u64>)>>),
    /// In memory: the last events, and the next id.
    Memory(Arc<Mutex<(VecDeque<AuditEvent>, u64)>>),
}

impl EmbeddedAudit {
    /// A log in the file `path`.
    pub(crate) fn file(path: PathBuf) -> Self {
        Self::File(Arc::new(Mutex::new((path, None))))
    }

    /// A log in memory.
    pub(crate) fn memory() -> Self {
        Self::Memory(Arc::new(Mutex::new((VecDeque::new(), 1))))
    }

    /// Writes `event` (durably, for a file), giving it the next id.
    pub(crate) async fn record(&self, mut event: AuditEvent) -> Result<(), AdminError> {
        match self {
            Self::Memory(log) => {
                let mut log = lock(log);
                event.id = log.1.to_string();
                log.1 += 1;
                if log.0.len() == IN_MEMORY {
                    log.0.pop_front();
                }
                log.0.push_back(event);
                Ok(())
            }
            Self::File(file) => {
                let file = Arc::clone(file);
                blocking(move || {
                    let mut state = lock(&file);
                    let (next, torn) = match state.1 {
                        Some(next) => (next, false),
                        None => {
                            let (lines, torn) = count_lines(&state.0)?;
                            (lines + 1, torn)
                        }
                    };
                    event.id = next.to_string();
                    append(&state.0, &event, torn)?;
                    state.1 = Some(next + 1);
                    Ok(())
                })
                .await
            }
        }
    }

    /// One page of events, newest first.
    pub(crate) async fn list(&self, query: AuditQuery) -> Result<AuditPage, AdminError> {
        let before = query
            .cursor
            .as_deref()
            .map(super::sequence_of)
            .transpose()?;
        let limit = query.limit;
        let wanted = move |event: &AuditEvent| {
            query.matches(event)
                && before.is_none_or(|before| event.id.parse::<u64>().is_ok_and(|id| id < before))
        };
        match self {
            Self::Memory(log) => {
                let log = lock(log);
                let page: Vec<AuditEvent> = log
                    .0
                    .iter()
                    .rev()
                    .filter(|event| wanted(event))
                    .take(limit + 1)
                    .cloned()
                    .collect();
                Ok(AuditPage::of(page, limit))
            }
            Self::File(file) => {
                let file = Arc::clone(file);
                blocking(move || {
                    let path = lock(&file).0.clone();
                    // The newest `limit + 1` wanted events, read from the
                    // end of the file: a page costs what it shows (and the
                    // events after its cursor), not the whole log.
                    let mut page = Vec::with_capacity(limit + 1);
                    read_events_newest_first(&path, |event| {
                        if wanted(&event) {
                            page.push(event);
                        }
                        page.len() <= limit
                    })?;
                    Ok(AuditPage::of(page, limit))
                })
                .await
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs file work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AdminError> + Send + 'static,
) -> Result<T, AdminError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| unavailable(&format!("the audit log's task failed: {e}")))?
}

fn unavailable(problem: &str) -> AdminError {
    AdminError::Unavailable {
        problem: format!("audit log: {problem}"),
    }
}

/// How many lines the file has (0 if it does not exist), and whether its
/// last line is torn (no newline: a crash in the middle of a write).
fn count_lines(path: &PathBuf) -> Result<(u64, bool), AdminError> {
    use std::io::Read;
    let failed = |e: std::io::Error| unavailable(&format!("{}: {e}", path.display()));
    let mut file = match File::open(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok((0, false)),
        other => other.map_err(failed)?,
    };
    // In chunks: a long log is not read into memory at once.
    let mut chunk = vec![0_u8; usize::try_from(CHUNK).unwrap_or(65_536)];
    let (mut newlines, mut last) = (0_u64, None);
    loop {
        let read = file.read(&mut chunk).map_err(failed)?;
        let Some(bytes) = chunk.get(..read).filter(|bytes| !bytes.is_empty()) else {
            break;
        };
        newlines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        last = bytes.last().copied();
    }
    let torn = last.is_some_and(|b| b != b'\n');
    Ok((newlines + u64::from(torn), torn))
}

/// Appends one line (after a newline ending a torn last line) and fsyncs
/// it (and the directory, when the file is new).
fn append(path: &PathBuf, event: &AuditEvent, torn: bool) -> Result<(), AdminError> {
    let failed = |e: std::io::Error| unavailable(&format!("{}: {e}", path.display()));
    let new = !path.exists();
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(failed)?;
    let mut line = if torn { "\n".to_owned() } else { String::new() };
    line.push_str(&to_json(event).to_string());
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(failed)?;
    file.sync_data().map_err(failed)?;
    if new && let Some(directory) = path.parent() {
        let directory = if directory.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            directory
        };
        File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(failed)?;
    }
    Ok(())
}

/// Visits the events of the file newest first, until `visit` answers
/// `false`, reading it from the end in 64 KiB chunks (lines that are not
/// events, a torn line after a crash, are skipped).
fn read_events_newest_first(
    path: &PathBuf,
    mut visit: impl FnMut(AuditEvent) -> bool,
) -> Result<(), AdminError> {
    use std::io::{Read, Seek, SeekFrom};
    let failed = |e: std::io::Error| unavailable(&format!("{}: {e}", path.display()));
    let mut file = match File::open(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other.map_err(failed)?,
    };
    let mut end = file.metadata().map_err(failed)?.len();
    // The start of a line whose beginning is in the chunk before.
    let mut carried = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let mut chunk = vec![0_u8; usize::try_from(end - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start)).map_err(failed)?;
        file.read_exact(&mut chunk).map_err(failed)?;
        chunk.append(&mut carried);
        end = start;
        // Unless this is the file's start, the first line may go on in
        // the chunk before: carry it.
        let lines = if start == 0 {
            &chunk[..]
        } else if let Some(first) = chunk.iter().position(|&b| b == b'\n') {
            carried = chunk[..first].to_vec();
            &chunk[first + 1..]
        } else {
            carried = chunk;
            continue;
        };
        for line in lines.rsplit(|&b| b == b'\n') {
            let event = serde_json::from_slice(line)
                .ok()
                .as_ref()
                .and_then(from_json);
            if let Some(event) = event
                && !visit(event)
            {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_torn_last_line_is_ended_and_ids_go_on() {
        let dir = std::env::temp_dir().join(format!("tba-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("keys.audit.jsonl");
        std::fs::write(&path, "{\"id\":\"1\",\"torn").expect("write");
        let log = EmbeddedAudit::file(path.clone());
        log.record(AuditEvent::new("create", "key_a", "key_admin", ["label"]))
            .await
            .expect("append");
        let page = log
            .list(AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .expect("list");
        assert_eq!(page.events.len(), 1, "the torn line is skipped");
        assert_eq!(page.events[0].id, "2");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn pages_are_read_from_the_end_across_chunks() {
        let dir = std::env::temp_dir().join(format!("tba-audit-pages-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("keys.audit.jsonl");
        let _ = std::fs::remove_file(&path);
        let log = EmbeddedAudit::file(path.clone());
        // About 1,500 events of ~150 bytes: several 64 KiB chunks, lines
        // cut at their boundaries.
        let count = 1_500_u64;
        for n in 1..=count {
            let target = if n % 3 == 0 { "key_three" } else { "key_other" };
            log.record(AuditEvent::new(
                "update",
                target,
                "key_admin",
                ["label", "scopes"],
            ))
            .await
            .expect("append");
        }
        assert!(std::fs::metadata(&path).expect("file").len() > 3 * CHUNK);
        for (target, expected) in [
            (None, (1..=count).rev().collect::<Vec<_>>()),
            (
                Some("key_three"),
                (1..=count).rev().filter(|n| n % 3 == 0).collect(),
            ),
        ] {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = log
                    .list(AuditQuery {
                        limit: 97,
                        cursor: cursor.clone(),
                        target: target.map(str::to_owned),
                    })
                    .await
                    .expect("list");
                seen.extend(page.events.iter().map(|e| e.id.parse::<u64>().expect("id")));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            assert_eq!(seen, expected, "{target:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
