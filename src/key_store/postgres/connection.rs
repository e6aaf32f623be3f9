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

/// A parsed connection URL (`postgres://user:pass@host:port/db?...`) and
/// how its connections are secured.
#[derive(Clone)]
pub(crate) struct Target {
    config: Config,
    #[cfg(feature = "postgres-tls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
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

/// `sslmode` as libpq names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    Disable,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query or a key-value
/// string (tokio-postgres knows neither the verify modes nor
/// `sslrootcert`); the rest, as given.
fn split_tls(url: &str) -> Result<(String, SslMode, Option<String>), String> {
    let mut mode = SslMode::Disable;
    let mut root = None;
    let mut take = |key: &str, value: &str| -> Result<bool, String> {
        match key {
            "sslmode" => {
                mode = match value {
                    "disable" => SslMode::Disable,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode={other} is not supported: disable, require, verify-ca or verify-full"
                        ));
                    }
                };
                Ok(true)
            }
            "sslrootcert" => {
                root = Some(value.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|pair| !pair.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    let value = value.replace("%2F", "/").replace("%2f", "/");
                    if !take(key, &value)? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(key, value)? {
                kept.push(pair);
            }
        }
        kept.join(" ")
    };
    if root.is_some() && mode == SslMode::Disable {
        return Err("sslrootcert goes with sslmode=require, verify-ca or verify-full".to_owned());
    }
    Ok((rest, mode, root))
}

impl Target {
    /// Parses a connection URL or key-value string; the problem, without
    /// the URL (it may hold a password), when it is not one.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let (rest, mode, root) = split_tls(url)?;
        let mut config: Config = rest
            .parse()
            .map_err(|e| format!("not a Postgres connection URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("tower-bearer-auth");
        if mode == SslMode::Disable {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            return Ok(Self {
                config,
                #[cfg(feature = "postgres-tls")]
                tls: None,
            });
        }
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
        #[cfg(feature = "postgres-tls")]
        {
            let mode = match mode {
                SslMode::Require => super::tls::Mode::Require,
                SslMode::VerifyCa => super::tls::Mode::VerifyCa,
                SslMode::Disable | SslMode::VerifyFull => super::tls::Mode::VerifyFull,
            };
            let tls = super::tls::client_config(mode, root.as_deref())?;
            Ok(Self {
                config,
                tls: Some(tls),
            })
        }
        #[cfg(not(feature = "postgres-tls"))]
        {
            let _ = root;
            Err("sslmode other than disable needs the postgres-tls feature".to_owned())
        }
    }

    /// Connects; with `listen`, subscribes to the change notifications
    /// (then [`Connection::notified`] wakes on each write).
    pub(super) async fn connect(&self, listen: bool) -> Result<Connection, String> {
        let failed =
            |e: tokio_postgres::Error| format!("cannot connect to Postgres: {}", plain(&e));
        #[cfg(feature = "postgres-tls")]
        let (client, driver, notified) = match &self.tls {
            Some(tls) => {
                let (client, connection) = self
                    .config
                    .connect(super::tls::RustlsConnect(std::sync::Arc::clone(tls)))
                    .await
                    .map_err(failed)?;
                let (driver, notified) = drive(connection);
                (client, driver, notified)
            }
            None => {
                let (client, connection) = self.config.connect(NoTls).await.map_err(failed)?;
                let (driver, notified) = drive(connection);
                (client, driver, notified)
            }
        };
        #[cfg(not(feature = "postgres-tls"))]
        let (client, driver, notified) = {
            let (client, connection) = self.config.connect(NoTls).await.map_err(failed)?;
            let (driver, notified) = drive(connection);
            (client, driver, notified)
        };
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

/// Drives `connection` on a task of its own, forwarding the payloads of
/// its notifications (namespaces written to).
fn drive<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
) -> (JoinHandle<()>, mpsc::UnboundedReceiver<String>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
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
    (driver, notified)
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
        None => {
            // The cause too ("invalid peer certificate: UnknownIssuer").
            let mut line = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                line.push_str(": ");
                line.push_str(&cause.to_string());
                source = cause.source();
            }
            line
        }
    }
}
