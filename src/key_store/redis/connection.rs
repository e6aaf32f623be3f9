//! One multiplexed connection to a Redis source, made on first use and
//! kept until a failure forgets it: what the writer, the shared credits
//! and the shared rate limit each hold.

use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

use super::source::Source;

/// A connection made on first use, for the node holding `route` (a key
/// of the hash tag: the node that serves it in a Redis Cluster).
pub(crate) struct KeptConnection {
    source: Source,
    route: String,
    connect_timeout: Duration,
    response_timeout: Duration,
    slot: Mutex<Option<MultiplexedConnection>>,
}

impl KeptConnection {
    /// A connection to `source` for keys like `route`, with these limits on
    /// connecting and on each answer.
    pub(crate) fn new(
        source: Source,
        route: String,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Self {
        Self {
            source,
            route,
            connect_timeout,
            response_timeout,
            slot: Mutex::new(None),
        }
    }

    /// The kept connection, or a new one.
    ///
    /// # Errors
    ///
    /// Why Redis could not be reached.
    pub(crate) async fn get(&self) -> Result<MultiplexedConnection, String> {
        let mut slot = self.slot.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout));
        let connection = self.source.connect(&config, &self.route).await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets the connection (it failed): the next call reconnects.
    pub(crate) async fn forget(&self) {
        *self.slot.lock().await = None;
    }
}
