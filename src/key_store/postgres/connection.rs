//! One connection to Postgres: the client, the task that drives the
//! connection (aborted with it), and the notifications it received.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

/// The channel every write notifies, with its namespace as the payload.
pub(super) const CHANNEL: &str = "tba_changes";

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed connection URL (`postgres://user:pass@host:port/db?...`).
#[derive(Clone)]
pub(crate) struct Target {
    config: Config,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hosts and database only: never the password.
        f.debug_struct("Target")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Parses a connection URL or key-value string; the problem, without
    /// the URL (it may hold a password), when it is not one.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let mut config: Config = url
            .parse()
            .map_err(|e| format!("not a Postgres connection URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("tower-bearer-auth");
        Ok(Self { config })
    }

    /// Connects; with `listen`, subscribes to the change notifications
    /// (then [`Connection::notified`] wakes on each write).
    pub(super) async fn connect(&self, listen: bool) -> Result<Connection, String> {
        let (client, mut connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| format!("cannot connect to Postgres: {}", plain(&e)))?;
        let (sender, notified) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(note)) => {
                        if sender.send(note.payload().to_owned()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        let connection = Connection {
            client,
            notified,
            driver,
        };
        if listen {
            connection
                .client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .await
                .map_err(|e| format!("LISTEN failed: {}", plain(&e)))?;
        }
        Ok(connection)
    }
}

/// A client, its driver and its notifications (namespaces written to).
pub(super) struct Connection {
    pub(super) client: Client,
    pub(super) notified: mpsc::UnboundedReceiver<String>,
    driver: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A Postgres error as one line: the server's message and code when it
/// sent one (never a parameter: statements carry digests and records at
/// most, and the server does not echo them in its messages here).
pub(super) fn plain(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}
