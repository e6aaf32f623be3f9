//! A primary, a replica and a sentinel, each a real `redis-server` on a
//! TCP port of loopback (Sentinel announces addresses), in one temporary
//! directory, killed on drop. The primary can be killed and started again
//! from its append-only file, to play a failover.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;
use super::redis::{free_port, server_binary, wait_for_port};

/// The sentinel's name for the primary.
pub const MASTER: &str = "mymaster";

/// The three servers.
pub struct SentinelSet {
    binary: PathBuf,
    dir: TempDir,
    /// The first primary, the replica and the sentinel, by port.
    pub ports: [u16; 3],
    children: [Option<Child>; 3],
}

impl SentinelSet {
    /// Starts them, or `None` when Redis tests are skipped.
    pub fn start(name: &str) -> Option<Self> {
        let binary = server_binary()?;
        let dir = TempDir::new(&format!("redis-sentinel-{name}"));
        let ports = [free_port(), free_port(), free_port()];
        let mut set = Self {
            binary,
            dir,
            ports,
            children: [None, None, None],
        };
        set.start_node(0);
        set.start_node(1);
        set.wait_for_replication();
        let conf = set.dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {}\nbind 127.0.0.1\ndir {}\nsentinel monitor {MASTER} 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds {MASTER} 500\n\
                 sentinel failover-timeout {MASTER} 2000\n\
                 logfile {}\n",
                ports[2],
                set.dir.path().display(),
                ports[0],
                set.dir.path().join("sentinel.log").display(),
            ),
        )
        .expect("write sentinel.conf");
        let child = Command::new(&set.binary)
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-sentinel");
        set.children[2] = Some(child);
        wait_for_port(
            ports[2],
            "the sentinel",
            &set.dir.path().join("sentinel.log"),
        );
        Some(set)
    }

    /// Starts node `index` (0: the first primary, 1: its replica) on its
    /// port and data directory (its append-only file brings its data back).
    pub fn start_node(&mut self, index: usize) {
        let data = self.dir.path().join(format!("node{index}"));
        std::fs::create_dir_all(&data).expect("data dir");
        let log = data.join("redis.log");
        let mut command = Command::new(&self.binary);
        command
            .args([
                "--port",
                &self.ports[index].to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--dir")
            .arg(&data)
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args(["--daemonize", "no", "--logfile"])
            .arg(&log);
        if index == 1 {
            command.args(["--replicaof", "127.0.0.1", &self.ports[0].to_string()]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.children[index] = Some(child);
        wait_for_port(self.ports[index], "a data node", &log);
    }

    /// Waits until the replica's link to the primary is up (its first full
    /// sync done).
    pub fn wait_for_replication(&self) {
        let client = redis::Client::open(self.node_url(1)).expect("url");
        let started = Instant::now();
        loop {
            let info: String = client
                .get_connection()
                .and_then(|mut con| redis::cmd("INFO").arg("replication").query(&mut con))
                .unwrap_or_default();
            if info.contains("master_link_status:up") {
                println!("the replica synced {:?} after its start", started.elapsed());
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the replica never synced: {info}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the replica has acknowledged every write of the
    /// primary (node 0).
    pub fn wait_until_replicated(&self) {
        let client = redis::Client::open(self.node_url(0)).expect("url");
        super::redis::wait_until_replicated(&client);
    }

    /// `kill -9` of node `index`.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.children[index].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The Sentinel URL of the set.
    pub fn url(&self) -> String {
        format!("redis+sentinel://127.0.0.1:{}/{MASTER}", self.ports[2])
    }

    /// A plain URL of node `index`.
    pub fn node_url(&self, index: usize) -> String {
        format!("redis://127.0.0.1:{}/", self.ports[index])
    }

    /// The port Sentinel names as the primary now.
    pub fn primary_port(&self) -> Option<u16> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.ports[2])).ok()?;
        let mut con = client.get_connection().ok()?;
        let (_, port): (String, u16) = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER)
            .query(&mut con)
            .ok()?;
        Some(port)
    }
}

impl Drop for SentinelSet {
    fn drop(&mut self) {
        for index in 0..3 {
            self.kill(index);
        }
    }
}
