//! The embedded key set's usage: per key, per day, the counts drained from
//! the records, kept in memory and saved to a JSON file beside the keys
//! file (`<keys>.usage.json`, written atomically like the keys file) with
//! each save of last uses.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value, json};

use super::{DayCounts, USAGE_DAYS_KEPT, UsageOutcome, today};
use crate::key_store::KeyStore;
use crate::key_store::admin::AdminError;

/// Counts per key id, per day.
type Days = HashMap<String, BTreeMap<u32, DayCounts>>;

/// The usage of the embedded key set.
#[derive(Clone, Default)]
pub(crate) struct UsageBook {
    path: Option<PathBuf>,
    days: Arc<Mutex<Days>>,
}

impl UsageBook {
    /// A book saved to `path`, with what the file holds (a missing or
    /// unreadable file starts empty: usage is not worth refusing to
    /// start for; an unreadable one is logged).
    pub(crate) fn at(path: Option<PathBuf>) -> Self {
        let days = path.as_ref().map_or_else(Days::new, read);
        Self {
            path,
            days: Arc::new(Mutex::new(days)),
        }
    }

    fn days(&self) -> std::sync::MutexGuard<'_, Days> {
        self.days.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the counts of every key of `store` into the book; whether any
    /// moved.
    pub(crate) fn drain(&self, store: &KeyStore) -> bool {
        let mut drained = Vec::new();
        store.for_each_usage(|id, usage| {
            for (day, counts) in usage.drain() {
                drained.push((id.to_owned(), day, counts));
            }
        });
        let moved = !drained.is_empty();
        let mut days = self.days();
        for (id, day, counts) in drained {
            days.entry(id)
                .or_default()
                .entry(day)
                .or_default()
                .add(counts);
        }
        moved
    }

    /// The counts of `id`, per day.
    pub(crate) fn of(&self, id: &str) -> Vec<(u32, DayCounts)> {
        self.days()
            .get(id)
            .map(|days| days.iter().map(|(&day, &counts)| (day, counts)).collect())
            .unwrap_or_default()
    }

    /// Forgets days older than [`USAGE_DAYS_KEPT`] and keys not in
    /// `store`, then writes the file (if any), off the async workers.
    pub(crate) async fn save(&self, store: &KeyStore) -> Result<(), AdminError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let oldest = today().saturating_sub(USAGE_DAYS_KEPT);
        let text = {
            let mut days = self.days();
            days.retain(|id, per_day| {
                per_day.retain(|&day, _| day >= oldest);
                !per_day.is_empty() && store.entry(id).is_some()
            });
            to_text(&days)
        };
        tokio::task::spawn_blocking(move || write(&path, &text))
            .await
            .map_err(|e| AdminError::Unavailable {
                problem: format!("writing the usage file failed: {e}"),
            })?
    }
}

/// The file's text: `{"version": 1, "keys": {"<id>": {"<day>": {"passed": N, ...}}}}`
/// with days as days since 1970-01-01.
fn to_text(days: &Days) -> String {
    let keys: Map<String, Value> = days
        .iter()
        .map(|(id, per_day)| {
            let per_day: Map<String, Value> = per_day
                .iter()
                .map(|(day, counts)| {
                    let counts: Map<String, Value> = UsageOutcome::ALL
                        .iter()
                        .map(|&outcome| (outcome.as_str().to_owned(), json!(counts.get(outcome))))
                        .collect();
                    (day.to_string(), Value::Object(counts))
                })
                .collect();
            (id.clone(), Value::Object(per_day))
        })
        .collect();
    json!({"version": 1, "keys": keys}).to_string()
}

fn read(path: &PathBuf) -> Days {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Days::new(),
        Err(error) => {
            tracing::warn!("usage file {}: {error}; starting empty", path.display());
            return Days::new();
        }
    };
    let parsed = serde_json::from_str::<Value>(&text).ok().and_then(|value| {
        let keys = value.get("keys")?.as_object()?;
        let mut days = Days::new();
        for (id, per_day) in keys {
            let entry = days.entry(id.clone()).or_default();
            for (day, counts) in per_day.as_object()? {
                let mut read = DayCounts::default();
                for (at, outcome) in UsageOutcome::ALL.iter().enumerate() {
                    read.0[at] = counts.get(outcome.as_str())?.as_u64()?;
                }
                entry.insert(day.parse().ok()?, read);
            }
        }
        Some(days)
    });
    parsed.unwrap_or_else(|| {
        tracing::warn!(
            "usage file {} is not readable; starting empty",
            path.display()
        );
        Days::new()
    })
}

/// Writes `text` to `path` atomically: a temporary file beside it,
/// fsynced, renamed over it.
fn write(path: &PathBuf, text: &str) -> Result<(), AdminError> {
    use std::io::Write;
    let failed = |e: std::io::Error| AdminError::Unavailable {
        problem: format!("usage file {}: {e}", path.display()),
    };
    let mut temporary = path.clone().into_os_string();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::File::create(&temporary).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(failed)
}
