//! How a replica connects to Redis: the [`Connect`] that the replica's sync
//! task (`key_store/replica/task.rs`) drives, one connection of its own at
//! a time, with timeouts that unmask a half-open connection.

use std::time::Duration;

use redis::AsyncConnectionConfig;

use super::feed::{LastUses, RedisFeed};
use super::layout::Layout;
use super::source::Source;
use crate::key_store::replica::task::{self, Connect};
use crate::key_store::replica::{FollowSettings, SharedKeyStore};

/// Beyond the blocking read's own time, how long an answer may take before
/// the connection is taken for dead (a half-open connection).
const RESPONSE_MARGIN: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Starts the sync task of `store`, following the Redis at `source`.
pub(super) fn start(
    store: &SharedKeyStore,
    source: Source,
    settings: FollowSettings,
    namespace: &str,
) -> std::io::Result<()> {
    let connector = RedisConnect {
        config: AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(settings.heartbeat + RESPONSE_MARGIN)),
        block_ms: u64::try_from(settings.heartbeat.as_millis())
            .unwrap_or(1_000)
            .max(1),
        layout: Layout::new(namespace),
        last_uses: LastUses::new(),
        source,
    };
    task::start(store, connector, settings, namespace)
}

/// What a replica keeps across its connections to Redis.
struct RedisConnect {
    source: Source,
    config: AsyncConnectionConfig,
    /// How long a waiting round blocks, in milliseconds.
    block_ms: u64,
    layout: Layout,
    last_uses: LastUses,
}

impl Connect for RedisConnect {
    type Feed<'a> = RedisFeed<'a>;

    async fn connect(&mut self) -> Result<RedisFeed<'_>, String> {
        let con = self.source.connect(&self.config, &self.layout.keys).await?;
        Ok(RedisFeed {
            con,
            layout: &self.layout,
            block_ms: self.block_ms,
            last_uses: &mut self.last_uses,
            checks_role: self.source.checks_role(),
            source: &self.source,
            config: &self.config,
        })
    }
}
