//! A three-primary Redis Cluster of real `redis-server`s on TCP ports of
//! loopback (a cluster announces addresses), made with `CLUSTER
//! ADDSLOTSRANGE` and `CLUSTER MEET`, killed on drop; and the move of one
//! slot to another node, as `redis-cli --cluster reshard` does it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;
use super::redis::{free_port, server_binary, wait_for_port};

/// Three primaries sharing the 16,384 slots (nodes 0 to 2), with a
/// replica each when asked (node 3 + i replicates node i).
pub struct RedisCluster {
    _dir: TempDir,
    /// The primaries' ports.
    pub ports: [u16; 3],
    /// Every node's port, primaries first.
    pub all_ports: Vec<u16>,
    /// With TLS: each node's TLS port (its plaintext port stays for the
    /// test's own setup commands).
    pub tls_ports: Vec<u16>,
    children: Vec<Option<Child>>,
}

fn connection(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|client| client.get_connection())
        .expect("connect to a cluster node")
}

impl RedisCluster {
    /// Starts the cluster and waits until it is `ok`; `None` when Redis
    /// tests are skipped.
    pub fn start(name: &str) -> Option<Self> {
        Self::start_with(name, false)
    }

    /// As [`start`](Self::start), with a replica for each primary when
    /// `replicas`.
    pub fn start_with(name: &str, replicas: bool) -> Option<Self> {
        Self::start_full(name, replicas, false)
    }

    /// Three primaries that also listen on TLS ports (certificate for
    /// 127.0.0.1 signed by `ca.pem` in [`dir`](Self::dir), a CA made
    /// here), their cluster bus over TLS (`tls-cluster yes`, so a TLS
    /// client is told TLS ports).
    pub fn start_tls(name: &str) -> Option<Self> {
        Self::start_full(name, false, true)
    }

    /// The test's directory (`ca.pem` with TLS).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    fn start_full(name: &str, replicas: bool, tls: bool) -> Option<Self> {
        let binary: PathBuf = server_binary()?;
        let dir = TempDir::new(&format!("redis-cluster-{name}"));
        let all_ports: Vec<u16> = (0..if replicas { 6 } else { 3 })
            .map(|_| free_port())
            .collect();
        let tls_ports: Vec<u16> = if tls {
            super::redis_tls::make_ca(dir.path(), "ca");
            super::redis_tls::make_leaf(
                dir.path(),
                "ca",
                "server",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n",
            );
            all_ports.iter().map(|_| free_port()).collect()
        } else {
            Vec::new()
        };
        let ports = [all_ports[0], all_ports[1], all_ports[2]];
        let mut children = Vec::new();
        for (index, port) in all_ports.iter().enumerate() {
            let data = dir.path().join(format!("node{index}"));
            std::fs::create_dir_all(&data).expect("data dir");
            let mut command = Command::new(&binary);
            if let Some(tls_port) = tls_ports.get(index) {
                let file = |name: &str| dir.path().join(name).display().to_string();
                command
                    .args(["--tls-port", &tls_port.to_string()])
                    .args(["--tls-cert-file", &file("server.pem")])
                    .args(["--tls-key-file", &file("server.key")])
                    .args(["--tls-ca-cert-file", &file("ca.pem")])
                    .args(["--tls-auth-clients", "no", "--tls-cluster", "yes"]);
            }
            let child = command
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                .arg("--dir")
                .arg(&data)
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--daemonize",
                    "no",
                    "--logfile",
                ])
                .arg(data.join("redis.log"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            children.push(Some(child));
        }
        for (index, &port) in all_ports.iter().enumerate() {
            let log = dir.path().join(format!("node{index}")).join("redis.log");
            wait_for_port(port, "a cluster node", &log);
        }
        let ranges = [(0, 5460), (5461, 10922), (10923, 16383)];
        for (port, (start, end)) in ports.iter().zip(ranges) {
            let () = redis::cmd("CLUSTER")
                .arg("ADDSLOTSRANGE")
                .arg(start)
                .arg(end)
                .query(&mut connection(*port))
                .expect("ADDSLOTSRANGE");
        }
        // With `tls-cluster yes` a node's cluster port is its TLS port's.
        let meet_ports = if tls_ports.is_empty() {
            &all_ports
        } else {
            &tls_ports
        };
        for port in &meet_ports[1..] {
            let () = redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(port)
                .query(&mut connection(ports[0]))
                .expect("MEET");
        }
        let cluster = Self {
            _dir: dir,
            ports,
            all_ports,
            tls_ports,
            children,
        };
        cluster.wait_until_ok();
        for replica in 3..cluster.all_ports.len() {
            let primary = cluster.id(replica - 3);
            let started = Instant::now();
            // The replica must know the primary (gossip) before it can follow it.
            while redis::cmd("CLUSTER")
                .arg("REPLICATE")
                .arg(&primary)
                .query::<()>(&mut connection(cluster.all_ports[replica]))
                .is_err()
            {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "REPLICATE refused"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if cluster.all_ports.len() > 3 {
            cluster.wait_until_ok();
            // Each replica's first full sync (Redis delays it by seconds).
            for replica in 3..cluster.all_ports.len() {
                let started = Instant::now();
                loop {
                    let info: String = redis::cmd("INFO")
                        .arg("replication")
                        .query(&mut connection(cluster.all_ports[replica]))
                        .unwrap_or_default();
                    if info.contains("master_link_status:up") {
                        break;
                    }
                    assert!(
                        started.elapsed() < Duration::from_secs(60),
                        "a replica never synced: {info}"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        Some(cluster)
    }

    /// `kill -9` of node `index`.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.children[index].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until the replica of primary `index` has acknowledged every
    /// write the primary made.
    pub fn wait_for_replica(&self, index: usize) {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.ports[index]))
            .expect("valid URL");
        super::redis::wait_until_replicated(&client);
    }

    /// The port of the node that owns `slot` now, as node `asked` sees it.
    pub fn owner_port(&self, slot: u16, asked: usize) -> Option<u16> {
        let slots: redis::Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut connection(self.all_ports[asked]))
            .ok()?;
        let redis::Value::Array(ranges) = slots else {
            return None;
        };
        ranges.iter().find_map(|range| {
            let redis::Value::Array(fields) = range else {
                return None;
            };
            let (Some(redis::Value::Int(start)), Some(redis::Value::Int(end))) =
                (fields.first(), fields.get(1))
            else {
                return None;
            };
            if !(*start..=*end).contains(&i64::from(slot)) {
                return None;
            }
            let Some(redis::Value::Array(primary)) = fields.get(2) else {
                return None;
            };
            match primary.get(1) {
                Some(redis::Value::Int(port)) => u16::try_from(*port).ok(),
                _ => None,
            }
        })
    }

    fn wait_until_ok(&self) {
        let started = Instant::now();
        for &port in &self.all_ports {
            loop {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut connection(port))
                    .unwrap_or_default();
                let known: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query(&mut connection(port))
                    .unwrap_or_default();
                if info.contains("cluster_state:ok")
                    && known.lines().count() == self.all_ports.len()
                {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "cluster never ok: {info}\n{}",
                    std::fs::read_to_string(self._dir.path().join("node0").join("redis.log"))
                        .unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The slot of `key`.
    pub fn slot(&self, key: &str) -> u16 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut connection(self.ports[0]))
            .expect("KEYSLOT")
    }

    /// The index of the node owning `slot`.
    pub fn owner(&self, slot: u16) -> usize {
        match slot {
            0..=5460 => 0,
            5461..=10922 => 1,
            _ => 2,
        }
    }

    fn id(&self, index: usize) -> String {
        redis::cmd("CLUSTER")
            .arg("MYID")
            .query(&mut connection(self.ports[index]))
            .expect("MYID")
    }

    /// Moves `slot` and its keys from node `from` to node `to`, as a live
    /// reshard does (importing / migrating, `MIGRATE`, then the new owner
    /// told to every node).
    pub fn move_slot(&self, slot: u16, from: usize, to: usize) {
        self.begin_move(slot, from, to);
        loop {
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(100)
                .query(&mut connection(self.ports[from]))
                .expect("GETKEYSINSLOT");
            if keys.is_empty() {
                break;
            }
            self.migrate(from, to, &keys);
        }
        self.finish_move(slot, to);
    }

    /// Marks `slot` as migrating from node `from` to node `to` (keys not
    /// moved yet).
    pub fn begin_move(&self, slot: u16, from: usize, to: usize) {
        let (from_id, to_id) = (self.id(from), self.id(to));
        let () = redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(slot)
            .arg("IMPORTING")
            .arg(&from_id)
            .query(&mut connection(self.ports[to]))
            .expect("IMPORTING");
        let () = redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(slot)
            .arg("MIGRATING")
            .arg(&to_id)
            .query(&mut connection(self.ports[from]))
            .expect("MIGRATING");
    }

    /// `MIGRATE`s these keys from node `from` to node `to`.
    pub fn migrate(&self, from: usize, to: usize, keys: &[String]) {
        let () = redis::cmd("MIGRATE")
            .arg("127.0.0.1")
            .arg(self.ports[to])
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS")
            .arg(keys)
            .query(&mut connection(self.ports[from]))
            .expect("MIGRATE");
    }

    /// Tells every node that node `to` owns `slot` now.
    pub fn finish_move(&self, slot: u16, to: usize) {
        let to_id = self.id(to);
        for &port in &self.all_ports {
            let () = redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("NODE")
                .arg(&to_id)
                .query(&mut connection(port))
                .expect("SETSLOT NODE");
        }
    }

    /// A `rediss+cluster://` URL with these nodes' TLS ports as seeds.
    pub fn tls_url(&self, seeds: &[usize]) -> String {
        let hosts: Vec<String> = seeds
            .iter()
            .map(|&index| format!("127.0.0.1:{}", self.tls_ports[index]))
            .collect();
        format!("rediss+cluster://{}", hosts.join(","))
    }

    /// A Cluster URL with these nodes as seeds.
    pub fn url(&self, seeds: &[usize]) -> String {
        let hosts: Vec<String> = seeds
            .iter()
            .map(|&index| format!("127.0.0.1:{}", self.all_ports[index]))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
