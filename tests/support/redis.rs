//! A real `redis-server` per test: its own process, on a unix socket in a
//! temporary directory (no TCP port), with an append-only file, killed by
//! pid. Plus a freezable relay, to cut one client off while others still
//! reach the server.
//!
//! Without `redis-server` on `PATH` (or `TBA_REDIS_SERVER`), tests that need
//! it print one skip line and return, unless `TBA_REQUIRE_REDIS=1` (CI),
//! where a missing server is a failure.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::TempDir;

/// The `redis-server` binary, or `None` (after one skip line) when it is
/// missing and not required.
pub fn server_binary() -> Option<PathBuf> {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let found = std::env::var_os("TBA_REDIS_SERVER")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("redis-server"))
                    .find(|candidate| candidate.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var("TBA_REQUIRE_REDIS").as_deref() != Ok("1"),
            "redis-server is not installed, and TBA_REQUIRE_REDIS=1 requires it"
        );
        WARNED.call_once(|| {
            eprintln!(
                "skipping the Redis tests: redis-server not found (apt-get install redis-server; TBA_REQUIRE_REDIS=1 makes this a failure)"
            );
        });
    }
    found
}

/// A free TCP port of loopback (for servers that must announce one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Waits until `port` of loopback accepts connections, or fails naming
/// `what` with its log.
pub fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (up to 20 s) until the replica of the primary behind `primary`
/// has acknowledged every write the primary made so far. (`WAIT` cannot
/// say it: it counts the asking connection's own writes, none on a fresh
/// connection, so it answers at once even for a replica still at offset 0.)
pub fn wait_until_replicated(primary: &redis::Client) {
    let info = || -> String {
        primary
            .get_connection()
            .and_then(|mut con| redis::cmd("INFO").arg("replication").query(&mut con))
            .unwrap_or_default()
    };
    let field = |info: &str, name: &str| -> Option<u64> {
        info.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| value.trim().parse().ok())
    };
    let target = field(&info(), "master_repl_offset:").expect("the primary's offset");
    let started = Instant::now();
    loop {
        let now = info();
        // slave0:ip=...,port=...,state=online,offset=N,lag=...
        let acknowledged = now
            .lines()
            .find(|line| line.starts_with("slave0:") && line.contains("state=online"))
            .and_then(|line| {
                line.split(',')
                    .find_map(|part| part.strip_prefix("offset="))
            })
            .and_then(|offset| offset.parse::<u64>().ok());
        if acknowledged.is_some_and(|offset| offset >= target) {
            println!(
                "the replica acknowledged offset {target} after {:?}",
                started.elapsed()
            );
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the replica did not acknowledge offset {target}: {now}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `redis-server`, killed on drop.
pub struct RedisServer {
    binary: PathBuf,
    child: Option<Child>,
    dir: TempDir,
    socket: PathBuf,
}

impl RedisServer {
    /// Starts a server, or `None` when Redis tests are skipped.
    pub fn start(name: &str) -> Option<Self> {
        let binary = server_binary()?;
        let dir = TempDir::new(&format!("redis-{name}"));
        let socket = dir.path().join("redis.sock");
        let mut server = Self {
            binary,
            child: None,
            dir,
            socket,
        };
        server.spawn();
        Some(server)
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args(["--port", "0", "--unixsocket"])
            .arg(&self.socket)
            .args(["--unixsocketperm", "700", "--dir"])
            .arg(self.dir.path())
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--daemonize",
                "no",
                "--logfile",
            ])
            .arg(self.dir.path().join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ping(&self.socket) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING: {}",
                std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The URL clients use.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `kill -9`: gone at once, its append-only file kept.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.socket);
    }

    /// Starts again on the same socket and directory: the append-only file
    /// brings the data back.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }

    /// Starts again with no data at all (a server without persistence).
    pub fn start_again_empty(&mut self) {
        assert!(self.child.is_none(), "still running");
        let _ = std::fs::remove_dir_all(self.dir.path().join("appendonlydir"));
        self.spawn();
    }

    /// Copies the data files (the server must be stopped) under `name`,
    /// to restore later: a backup taken now.
    pub fn save_data(&self, name: &str) {
        assert!(self.child.is_none(), "stop the server first");
        let backup = self.dir.path().join(format!("backup-{name}"));
        copy_dir(&self.dir.path().join("appendonlydir"), &backup);
    }

    /// Puts the data files saved under `name` back (the server must be
    /// stopped): Redis restarted from an older backup.
    pub fn restore_data(&self, name: &str) {
        assert!(self.child.is_none(), "stop the server first");
        let data = self.dir.path().join("appendonlydir");
        let _ = std::fs::remove_dir_all(&data);
        copy_dir(&self.dir.path().join(format!("backup-{name}")), &data);
    }

    /// `kill -STOP`: the process stops answering, its connections stay open.
    pub fn pause(&self) {
        signal(self.pid(), "STOP");
    }

    /// `kill -CONT`.
    pub fn resume(&self) {
        signal(self.pid(), "CONT");
    }

    /// A plain client.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("valid URL")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_ref() {
            // A paused server does not die of SIGKILL until continued on
            // some systems: continue it first.
            signal(child.id(), "CONT");
        }
        self.kill();
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

/// A relay between clients and a Redis server, on a unix socket of its
/// own, that can be frozen: it stops carrying bytes but keeps every
/// connection open, as a network partition does to one replica.
pub struct Relay {
    socket: PathBuf,
    frozen: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    _dir: TempDir,
}

impl Relay {
    /// Starts a relay to `upstream`; needs a Tokio runtime.
    pub fn start(upstream: &Path) -> Self {
        let dir = TempDir::new("relay");
        let socket = dir.path().join("relay.sock");
        let listener = tokio::net::UnixListener::bind(&socket).expect("bind the relay");
        let frozen = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        let task = tokio::spawn({
            let frozen = Arc::clone(&frozen);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = tokio::net::UnixStream::connect(&upstream).await else {
                        continue;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::spawn(carry(client_read, server_write, Arc::clone(&frozen)));
                    tokio::spawn(carry(server_read, client_write, Arc::clone(&frozen)));
                }
            }
        });
        Self {
            socket,
            frozen,
            task,
            _dir: dir,
        }
    }

    /// The URL clients use to reach Redis through the relay.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
    }

    /// Stops carrying bytes (connections stay open, nothing is refused).
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Carries bytes again.
    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn carry(
    mut from: tokio::net::unix::OwnedReadHalf,
    mut to: tokio::net::unix::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// `INFO commandstats` as (command, calls) pairs.
pub async fn command_calls(client: &redis::Client) -> std::collections::HashMap<String, u64> {
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut con)
        .await
        .expect("INFO");
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

/// How many scripts Redis has run (`EVALSHA` and `EVAL`; a first call of
/// a script meets `NOSCRIPT` and runs again with `EVAL`).
pub async fn script_calls(client: &redis::Client) -> u64 {
    let calls = command_calls(client).await;
    calls.get("evalsha").copied().unwrap_or(0) + calls.get("eval").copied().unwrap_or(0)
}

/// Copies the files of directory `from` into a new directory `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for file in std::fs::read_dir(from).expect("read the data directory") {
        let file = file.expect("a data file");
        std::fs::copy(file.path(), to.join(file.file_name())).expect("copy a data file");
    }
}
