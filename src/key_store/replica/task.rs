//! The sync task: one thread with a single-threaded runtime, and the
//! replica's [`Follower`] driven over a backend's connections; reconnects
//! with a backoff when the source fails. A backend gives a [`Connect`].

use std::future::Future;
use std::time::{Duration, Instant};

use super::feed::Feed;
use super::report;
use super::{FollowSettings, Follower, SharedKeyStore};

/// Reconnection backoff.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// How a backend opens a connection to its source, as a [`Feed`] (which
/// may borrow state the connector keeps across connections).
pub(crate) trait Connect: Send + 'static {
    /// The feed over one connection.
    type Feed<'a>: Feed
    where
        Self: 'a;

    /// Opens a connection; a sentence for the log on failure.
    fn connect(&mut self) -> impl Future<Output = Result<Self::Feed<'_>, String>>;
}

/// Starts the sync task on a thread of its own (named after `name`), with
/// a single-threaded runtime; it ends when the last handle of `store` is
/// dropped.
pub(crate) fn start<C: Connect>(
    store: &SharedKeyStore,
    connector: C,
    settings: FollowSettings,
    name: &str,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let follower = Follower::new(store.shared(), settings);
    std::thread::Builder::new()
        .name(format!("tba-sync-{name}"))
        .spawn(move || runtime.block_on(run(follower, connector)))?;
    Ok(())
}

/// Runs until the store is dropped.
async fn run<C: Connect>(mut follower: Follower, mut connector: C) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let started = Instant::now();
        let outcome = match connector.connect().await {
            Ok(mut feed) => follower.follow(&mut feed).await,
            Err(problem) => Err(problem),
        };
        match outcome {
            Ok(()) => return,
            Err(problem) => {
                if !follower.failed(&problem) {
                    return;
                }
                report::source_problem(&problem);
            }
        }
        // A connection that worked for a while starts the backoff afresh.
        if started.elapsed() > MAX_BACKOFF * 4 {
            backoff = MIN_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
