//! The sync task: one thread with a single-threaded runtime, a connection
//! of its own to Redis, and the replica's [`Follower`] driven over it;
//! reconnects with a backoff when Redis fails.

use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;

use super::feed::{LastUses, RedisFeed};
use super::layout::Layout;
use super::report;
use super::source::Source;
use crate::key_store::replica::{FollowSettings, Follower, SharedKeyStore};

/// Reconnection backoff.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// Beyond the blocking read's own time, how long an answer may take before
/// the connection is taken for dead (a half-open connection).
const RESPONSE_MARGIN: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Starts the sync task on a thread of its own, with a single-threaded
/// runtime; it ends when the last handle of `store` is dropped.
pub(super) fn start(
    store: &SharedKeyStore,
    source: Source,
    settings: FollowSettings,
    namespace: &str,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let follower = Follower::new(store.shared(), settings);
    let layout = Layout::new(namespace);
    std::thread::Builder::new()
        .name(format!("tba-sync-{namespace}"))
        .spawn(move || runtime.block_on(run(follower, source, layout, settings)))?;
    Ok(())
}

/// Runs until the store is dropped.
async fn run(mut follower: Follower, source: Source, layout: Layout, settings: FollowSettings) {
    let mut last_uses = LastUses::new();
    let mut backoff = MIN_BACKOFF;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(settings.heartbeat + RESPONSE_MARGIN));
    let block_ms = u64::try_from(settings.heartbeat.as_millis())
        .unwrap_or(1_000)
        .max(1);
    loop {
        let started = Instant::now();
        let outcome = match source.connect(&config, &layout.keys).await {
            Ok(con) => {
                let mut feed = RedisFeed {
                    con,
                    layout: &layout,
                    block_ms,
                    last_uses: &mut last_uses,
                    checks_role: source.checks_role(),
                };
                follower.follow(&mut feed).await
            }
            Err(problem) => Err(problem),
        };
        match outcome {
            Ok(()) => return,
            Err(problem) => {
                if !follower.failed(&problem) {
                    return;
                }
                report::problem(&problem);
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
