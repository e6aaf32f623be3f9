//! Where a key set's Redis is: one node (`redis://`, `rediss://`,
//! `redis+unix://`), or the primary that Redis Sentinel names
//! (`redis+sentinel://host:port[,host:port...]/MASTER_NAME`, and
//! `rediss+sentinel://` for TLS to the sentinels and the nodes). A
//! connection through Sentinel asks the sentinels for the current primary
//! at every connect, and checks that the node it reaches says it is a
//! primary (`HELLO`'s `role`): a node that is not proves nothing.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};

#[cfg(feature = "redis-tls")]
use super::RedisTls;

/// TLS settings, or nothing without the `redis-tls` feature.
#[cfg(feature = "redis-tls")]
pub(crate) type Tls<'a> = Option<&'a RedisTls>;
/// TLS settings, or nothing without the `redis-tls` feature.
#[cfg(not(feature = "redis-tls"))]
pub(crate) type Tls<'a> = Option<&'a std::convert::Infallible>;

/// How long one sentinel may take to name the primary.
const SENTINEL_TIMEOUT: Duration = Duration::from_millis(500);

/// A key set's Redis.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// One node.
    Node(Client),
    /// The primary that Sentinel names.
    Sentinel(Sentinel),
    /// The node of a Redis Cluster that owns the key set's slot.
    Cluster(Cluster),
}

/// Seed nodes of a cluster, and how to reach the owner of a slot.
#[derive(Clone)]
pub(crate) struct Cluster {
    seeds: Vec<Client>,
    node: NodeUrl,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("Cluster")
            .field("seeds", &self.seeds.len())
            .finish_non_exhaustive()
    }
}

/// How to reach a data node found by address: scheme, credentials, TLS.
#[derive(Clone)]
struct NodeUrl {
    scheme: &'static str,
    credentials: String,
    db: String,
    #[cfg(feature = "redis-tls")]
    tls: Option<RedisTls>,
}

impl NodeUrl {
    fn client(&self, host: &str, port: u16) -> Result<Client, String> {
        let url = format!(
            "{}://{}{host}:{port}{}",
            self.scheme, self.credentials, self.db
        );
        #[cfg(feature = "redis-tls")]
        return client(&url, self.tls.as_ref());
        #[cfg(not(feature = "redis-tls"))]
        return client(&url, None);
    }
}

/// Sentinels, and how to reach the primary they name.
#[derive(Clone)]
pub(crate) struct Sentinel {
    sentinels: Vec<Client>,
    master: String,
    node: NodeUrl,
}

impl std::fmt::Debug for Sentinel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("Sentinel")
            .field("sentinels", &self.sentinels.len())
            .field("master", &self.master)
            .field("scheme", &self.node.scheme)
            .finish_non_exhaustive()
    }
}

/// A client of `url`, with TLS as `tls` says.
fn client(url: &str, tls: Tls<'_>) -> Result<Client, String> {
    #[cfg(feature = "redis-tls")]
    let client = super::tls::client(url, tls);
    #[cfg(not(feature = "redis-tls"))]
    let client = {
        let _ = tls;
        Client::open(url)
    };
    client.map_err(|e| e.to_string())
}

impl Source {
    /// The source a URL names.
    pub(crate) fn open(url: &str, tls: Tls<'_>) -> Result<Self, String> {
        let cluster = url
            .strip_prefix("redis+cluster://")
            .map(|rest| ("redis", rest))
            .or_else(|| {
                url.strip_prefix("rediss+cluster://")
                    .map(|rest| ("rediss", rest))
            });
        if let Some((scheme, rest)) = cluster {
            let authority = rest.trim_end_matches('/');
            let (credentials, hosts) = match authority.rsplit_once('@') {
                Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
                None => (String::new(), authority),
            };
            if hosts.is_empty() || hosts.contains('/') {
                return Err("a Cluster URL is redis+cluster://HOST:PORT[,HOST:PORT...]".to_owned());
            }
            let node = NodeUrl {
                scheme,
                credentials,
                db: String::new(),
                #[cfg(feature = "redis-tls")]
                tls: tls.cloned(),
            };
            let seeds = hosts
                .split(',')
                .map(|host| {
                    let (name, port) = host.rsplit_once(':').ok_or("a seed is HOST:PORT")?;
                    let port = port
                        .parse::<u16>()
                        .map_err(|_| "a seed's port is a number")?;
                    node.client(name, port)
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Self::Cluster(Cluster { seeds, node }));
        }
        let sentinel = url
            .strip_prefix("redis+sentinel://")
            .map(|rest| ("redis", rest))
            .or_else(|| {
                url.strip_prefix("rediss+sentinel://")
                    .map(|rest| ("rediss", rest))
            });
        let Some((scheme, rest)) = sentinel else {
            return client(url, tls).map(Self::Node);
        };
        let (authority, path) = rest
            .split_once('/')
            .ok_or("a Sentinel URL is redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER_NAME")?;
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
            None => (String::new(), authority),
        };
        let (master, db) = match path.split_once("?db=") {
            Some((master, db)) => (master, format!("/{db}")),
            None => (path, String::new()),
        };
        if master.is_empty() || hosts.is_empty() {
            return Err("a Sentinel URL names its sentinels and its master: redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER_NAME".to_owned());
        }
        let sentinels = hosts
            .split(',')
            .map(|host| client(&format!("{scheme}://{host}/"), tls))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::Sentinel(Sentinel {
            sentinels,
            master: master.to_owned(),
            node: NodeUrl {
                scheme,
                credentials,
                db,
                #[cfg(feature = "redis-tls")]
                tls: tls.cloned(),
            },
        }))
    }

    /// Whether every proof of freshness must come from a node that still
    /// says it is the primary (Sentinel: it may be demoted at any time).
    pub(crate) fn checks_role(&self) -> bool {
        matches!(self, Self::Sentinel(_))
    }

    /// Runs `commands` (each on one key of the key set) as one pipeline
    /// on `con`. In a cluster, a command answered `ASK` (its key already
    /// moved to the importing node while the slot migrates) is run again
    /// on the node named, after `ASKING`; any other error is returned.
    /// Single-key reads only: during a migration no write runs (a script on
    /// keys split between two nodes is refused with `TRYAGAIN`), so reads
    /// from the two nodes agree.
    pub(crate) async fn query_following_ask(
        &self,
        con: &mut MultiplexedConnection,
        commands: &[redis::Cmd],
        config: &AsyncConnectionConfig,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        let mut pipe = redis::pipe();
        for command in commands {
            pipe.add_command(command.clone());
        }
        let Self::Cluster(cluster) = self else {
            return pipe.query_async(con).await;
        };
        let results: Vec<redis::RedisResult<redis::Value>> =
            pipe.ignore_errors().query_async(con).await?;
        let mut values = Vec::with_capacity(results.len());
        let mut importing: Option<(String, MultiplexedConnection)> = None;
        for (command, result) in commands.iter().zip(results) {
            let error = match result {
                Ok(value) => {
                    values.push(value);
                    continue;
                }
                Err(error) => error,
            };
            let Some(address) = error
                .redirect_node()
                .filter(|_| error.code() == Some("ASK"))
                .map(|(address, _)| address.to_owned())
            else {
                return Err(error);
            };
            let target = match &mut importing {
                Some((at, target)) if *at == address => target,
                _ => {
                    let (host, port) = address
                        .rsplit_once(':')
                        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
                        .ok_or(error)?;
                    let client = cluster.node.client(host, port).map_err(|problem| {
                        redis::RedisError::from((redis::ErrorKind::Client, "ASK", problem))
                    })?;
                    let connection = client
                        .get_multiplexed_async_connection_with_config(config)
                        .await?;
                    &mut importing.insert((address, connection)).1
                }
            };
            let (value,): (redis::Value,) = redis::pipe()
                .cmd("ASKING")
                .ignore()
                .add_command(command.clone())
                .query_async(target)
                .await?;
            values.push(value);
        }
        Ok(values)
    }

    /// A connection to the node that holds the key set, whose keys are
    /// all in the slot of `key` (through Sentinel: the current primary,
    /// checked; in a cluster: the slot's owner, found at every connect; a
    /// node that no longer owns it answers `MOVED`, a failure, and the
    /// next connect finds the owner again).
    pub(crate) async fn connect(
        &self,
        config: &AsyncConnectionConfig,
        key: &str,
    ) -> Result<MultiplexedConnection, String> {
        match self {
            Self::Node(client) => client
                .get_multiplexed_async_connection_with_config(config)
                .await
                .map_err(|e| format!("cannot connect to Redis: {e}")),
            Self::Sentinel(sentinel) => sentinel.connect(config).await,
            Self::Cluster(cluster) => cluster.connect(config, key).await,
        }
    }
}

impl Sentinel {
    async fn connect(
        &self,
        config: &AsyncConnectionConfig,
    ) -> Result<MultiplexedConnection, String> {
        let (host, port) = self.primary().await?;
        let mut con = self
            .node
            .client(&host, port)?
            .get_multiplexed_async_connection_with_config(config)
            .await
            .map_err(|e| format!("cannot connect to the primary {host}:{port}: {e}"))?;
        if !is_primary(&mut con).await? {
            return Err(format!(
                "{host}:{port}, named primary by Sentinel, says it is not (a failover in progress)"
            ));
        }
        Ok(con)
    }

    /// The primary's address, from the first sentinel that names one.
    async fn primary(&self) -> Result<(String, u16), String> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(SENTINEL_TIMEOUT))
            .set_response_timeout(Some(SENTINEL_TIMEOUT));
        let mut problems = Vec::new();
        for sentinel in &self.sentinels {
            let asked = async {
                let mut con = sentinel
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&self.master)
                    .query_async::<Option<(String, u16)>>(&mut con)
                    .await
            };
            match asked.await {
                Ok(Some(address)) => return Ok(address),
                Ok(None) => problems.push(format!("no master named {:?}", self.master)),
                Err(e) => problems.push(e.to_string()),
            }
        }
        Err(format!(
            "no sentinel named the primary: {}",
            problems.join("; ")
        ))
    }
}

impl Cluster {
    async fn connect(
        &self,
        config: &AsyncConnectionConfig,
        key: &str,
    ) -> Result<MultiplexedConnection, String> {
        let (host, port) = self.owner(key).await?;
        self.node
            .client(&host, port)?
            .get_multiplexed_async_connection_with_config(config)
            .await
            .map_err(|e| format!("cannot connect to the slot's owner {host}:{port}: {e}"))
    }

    /// The address of the primary owning `key`'s slot, from the first
    /// seed that answers (`CLUSTER KEYSLOT`, then `CLUSTER SLOTS`).
    async fn owner(&self, key: &str) -> Result<(String, u16), String> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(SENTINEL_TIMEOUT))
            .set_response_timeout(Some(SENTINEL_TIMEOUT));
        let mut problems = Vec::new();
        for seed in &self.seeds {
            let asked = async {
                let mut con = seed
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|e| e.to_string())?;
                let slot: i64 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(key)
                    .query_async(&mut con)
                    .await
                    .map_err(|e| e.to_string())?;
                let slots: redis::Value = redis::cmd("CLUSTER")
                    .arg("SLOTS")
                    .query_async(&mut con)
                    .await
                    .map_err(|e| e.to_string())?;
                owner_of(&slots, slot).ok_or_else(|| format!("no node owns slot {slot}"))
            };
            match asked.await {
                Ok(owner) => return Ok(owner),
                Err(problem) => problems.push(problem),
            }
        }
        Err(format!(
            "no cluster seed named the slot's owner: {}",
            problems.join("; ")
        ))
    }
}

/// The primary owning `slot` in a `CLUSTER SLOTS` answer: ranges of
/// `[start, end, [host, port, id, ...], replicas...]`.
fn owner_of(slots: &redis::Value, slot: i64) -> Option<(String, u16)> {
    let redis::Value::Array(ranges) = slots else {
        return None;
    };
    ranges.iter().find_map(|range| {
        let redis::Value::Array(fields) = range else {
            return None;
        };
        let number = |value: Option<&redis::Value>| match value {
            Some(redis::Value::Int(n)) => Some(*n),
            _ => None,
        };
        let (start, end) = (number(fields.first())?, number(fields.get(1))?);
        if !(start..=end).contains(&slot) {
            return None;
        }
        let redis::Value::Array(primary) = fields.get(2)? else {
            return None;
        };
        let host = match primary.first()? {
            redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok()?,
            redis::Value::SimpleString(text) => text.clone(),
            _ => return None,
        };
        let port = u16::try_from(number(primary.get(1))?).ok()?;
        Some((host, port))
    })
}

/// Whether the node says it is a primary (`HELLO` without arguments
/// answers its `role` on any protocol, and any user may run it).
pub(crate) async fn is_primary(con: &mut MultiplexedConnection) -> Result<bool, String> {
    let hello: redis::Value = redis::cmd("HELLO")
        .query_async(con)
        .await
        .map_err(|e| format!("HELLO failed: {e}"))?;
    Ok(role(&hello).as_deref() == Some("master"))
}

/// The `role` of a `HELLO` answer (an array of names and values, or a map).
pub(crate) fn role(hello: &redis::Value) -> Option<String> {
    let text = |value: &redis::Value| match value {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        redis::Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    };
    match hello {
        redis::Value::Array(items) => items
            .chunks(2)
            .find(|pair| pair.first().and_then(text).as_deref() == Some("role"))
            .and_then(|pair| pair.get(1).and_then(text)),
        redis::Value::Map(pairs) => pairs
            .iter()
            .find(|(name, _)| text(name).as_deref() == Some("role"))
            .and_then(|(_, value)| text(value)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_node_or_sentinels_and_debug_shows_no_password() {
        for url in [
            "redis://user:s3cretpw@127.0.0.1:6379/",
            "redis+sentinel://user:s3cretpw@127.0.0.1:26379,127.0.0.1:26380/mymaster",
        ] {
            let source = Source::open(url, None).expect(url);
            let shown = format!("{source:?}");
            assert!(!shown.contains("s3cretpw"), "{shown}");
        }
        let Ok(Source::Sentinel(sentinel)) =
            Source::open("redis+sentinel://a:1,b:2/mymaster?db=3", None)
        else {
            panic!("a Sentinel URL");
        };
        assert_eq!(
            (
                sentinel.sentinels.len(),
                sentinel.master.as_str(),
                sentinel.node.db.as_str()
            ),
            (2, "mymaster", "/3")
        );
        for bad in [
            "redis+sentinel://a:1",
            "redis+sentinel:///mymaster",
            "redis+sentinel://a:1/",
        ] {
            assert!(Source::open(bad, None).is_err(), "{bad}");
        }
        assert!(
            !Source::open("redis://a/", None)
                .expect("a node")
                .checks_role()
        );
    }

    #[test]
    fn cluster_urls_and_the_owner_of_a_slot() {
        let Ok(Source::Cluster(cluster)) =
            Source::open("redis+cluster://user:s3cretpw@a:7000,b:7001", None)
        else {
            panic!("a Cluster URL");
        };
        assert_eq!(cluster.seeds.len(), 2);
        assert!(!format!("{cluster:?}").contains("s3cretpw"));
        for bad in [
            "redis+cluster://",
            "redis+cluster://a",
            "redis+cluster://a:x",
            "redis+cluster://a:1/db",
        ] {
            assert!(Source::open(bad, None).is_err(), "{bad}");
        }
        let bulk = |text: &str| redis::Value::BulkString(text.as_bytes().to_vec());
        let range = |start, end, host: &str, port| {
            redis::Value::Array(vec![
                redis::Value::Int(start),
                redis::Value::Int(end),
                redis::Value::Array(vec![bulk(host), redis::Value::Int(port), bulk("id")]),
            ])
        };
        let slots = redis::Value::Array(vec![
            range(0, 5460, "a", 7000),
            range(5461, 16383, "b", 7001),
        ]);
        assert_eq!(owner_of(&slots, 5460), Some(("a".to_owned(), 7000)));
        assert_eq!(owner_of(&slots, 5461), Some(("b".to_owned(), 7001)));
        assert_eq!(owner_of(&redis::Value::Array(vec![]), 1), None);
    }

    #[test]
    fn the_role_is_read_from_either_protocol() {
        let bulk = |text: &str| redis::Value::BulkString(text.as_bytes().to_vec());
        let resp2 = redis::Value::Array(vec![
            bulk("server"),
            bulk("redis"),
            bulk("role"),
            bulk("replica"),
        ]);
        assert_eq!(role(&resp2).as_deref(), Some("replica"));
        let resp3 = redis::Value::Map(vec![(bulk("role"), bulk("master"))]);
        assert_eq!(role(&resp3).as_deref(), Some("master"));
        assert_eq!(role(&redis::Value::Nil), None);
    }
}
