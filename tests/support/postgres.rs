//! A real Postgres for tests: Debian's binaries, a cluster made by
//! `initdb` in a temp dir (as the `postgres` user when the tests run as
//! root, since Postgres refuses to run as root), listening on a unix
//! socket only, stopped by pid. Missing binaries skip the tests with one
//! line, unless `TBA_REQUIRE_POSTGRES=1`.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// The directory holding `initdb`, `postgres`, `psql` and `pg_dump`, or
/// `None` (after one skip line) when Postgres is missing and not required.
pub fn binaries() -> Option<PathBuf> {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let found = std::env::var_os("TBA_POSTGRES_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
                .filter(|bin| bin.join("initdb").is_file() && bin.join("postgres").is_file())
                .collect();
            versions.sort_by_key(|bin| {
                bin.parent()
                    .and_then(Path::file_name)
                    .and_then(|name| name.to_str()?.parse::<u32>().ok())
                    .unwrap_or(0)
            });
            versions.pop()
        });
    if found.is_none() {
        assert!(
            std::env::var("TBA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "Postgres is not installed, and TBA_REQUIRE_POSTGRES=1 requires it"
        );
        WARNED.call_once(|| {
            eprintln!(
                "skipping the Postgres tests: initdb/postgres not found (apt-get install postgresql; TBA_REQUIRE_POSTGRES=1 makes this a failure)"
            );
        });
    }
    found
}

/// The uid and gid of the `postgres` user when this process is root.
fn run_as() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self").ok()?.uid();
    if me != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let line = passwd
        .lines()
        .find(|line| line.starts_with("postgres:"))
        .expect("running as root needs a `postgres` user (apt-get install postgresql)");
    let fields: Vec<&str> = line.split(':').collect();
    Some((
        fields[2].parse().expect("uid"),
        fields[3].parse().expect("gid"),
    ))
}

/// A running Postgres cluster, stopped on drop.
pub struct PostgresServer {
    bin: PathBuf,
    dir: TempDir,
    user: Option<(u32, u32)>,
    child: Option<Child>,
    /// With TLS: the TCP port, where only TLS is accepted.
    tls_port: Option<u16>,
}

impl PostgresServer {
    /// Makes and starts a cluster, or `None` when Postgres tests are
    /// skipped.
    pub fn start(name: &str) -> Option<Self> {
        Self::start_with(name, false)
    }

    /// As [`start`](Self::start), also listening on a TCP port of
    /// loopback that accepts TLS only (a certificate for `localhost` and
    /// 127.0.0.1, signed by `ca.pem` in [`dir`](Self::dir), a CA made
    /// here with openssl).
    pub fn start_tls(name: &str) -> Option<Self> {
        Self::start_with(name, true)
    }

    fn start_with(name: &str, tls: bool) -> Option<Self> {
        let bin = binaries()?;
        let dir = TempDir::new(&format!("pg-{name}"));
        let user = run_as();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let mut server = Self {
            bin,
            dir,
            user,
            child: None,
            tls_port: tls.then(super::redis::free_port),
        };
        let output = server
            .command("initdb")
            .arg("-D")
            .arg(server.data())
            .args(["-U", "tba", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if tls {
            server.make_certificates();
        }
        server.start_again();
        Some(server)
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The test's directory (`ca.pem` with TLS).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A CA, the server's certificate and key (readable by the server
    /// only), and an `pg_hba.conf` that refuses TCP without TLS.
    fn make_certificates(&self) {
        let dir = self.dir.path();
        super::redis_tls::make_ca(dir, "ca");
        super::redis_tls::make_leaf(
            dir,
            "ca",
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        );
        std::fs::write(
            dir.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .expect("write pg_hba.conf");
        for file in ["server.pem", "server.key", "pg_hba.conf"] {
            let path = dir.join(file);
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("chmod");
            if let Some((uid, gid)) = self.user {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid)).expect("chown");
            }
        }
    }

    /// Starts the server on its data directory (after [`stop`](Self::stop)).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        let log = std::fs::File::create(self.dir.path().join("postgres.log")).expect("log");
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(self.dir.path().join("postgres.log"), Some(uid), Some(gid))
                .expect("chown");
        }
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "fsync=off", "-c", "max_connections=200"]);
        match self.tls_port {
            None => {
                command.args(["-c", "listen_addresses="]);
            }
            Some(port) => {
                let dir = self.dir.path();
                command
                    .args(["-c", "listen_addresses=127.0.0.1", "-c"])
                    .arg(format!("port={port}"))
                    .args(["-c", "ssl=on", "-c"])
                    .arg(format!(
                        "ssl_cert_file={}",
                        dir.join("server.pem").display()
                    ))
                    .arg("-c")
                    .arg(format!("ssl_key_file={}", dir.join("server.key").display()))
                    .arg("-c")
                    .arg(format!("hba_file={}", dir.join("pg_hba.conf").display()));
            }
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.accepts() {
            assert!(
                Instant::now() < deadline,
                "postgres did not start: {}",
                std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server says it is ready (`postmaster.pid`'s status line).
    fn accepts(&self) -> bool {
        std::fs::read_to_string(self.data().join("postmaster.pid")).is_ok_and(|pid| {
            pid.lines()
                .nth(7)
                .is_some_and(|line| line.trim() == "ready")
        }) && self.dir.path().join(self.socket_name()).exists()
    }

    /// The unix socket's file name (it carries the port).
    fn socket_name(&self) -> String {
        format!(".s.PGSQL.{}", self.tls_port.unwrap_or(5432))
    }

    /// The TLS port's URL with these query parameters (`sslmode=...`).
    pub fn tls_url(&self, query: &str) -> String {
        let port = self.tls_port.expect("started with TLS");
        format!("postgres://tba@localhost:{port}/postgres?{query}")
    }

    /// Fast shutdown (`SIGINT`, by pid), waiting for the process to end.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// The URL clients use (the socket's directory as the host).
    pub fn url(&self) -> String {
        let host = self.dir.path().display().to_string().replace('/', "%2F");
        match self.tls_port {
            None => format!("postgres://tba@{host}/postgres"),
            Some(port) => format!("postgres://tba@{host}:{port}/postgres"),
        }
    }

    fn port_args(&self) -> Vec<String> {
        vec!["-p".to_owned(), self.tls_port.unwrap_or(5432).to_string()]
    }

    /// Runs SQL through `psql` (stopping at the first error); its output,
    /// unaligned and without headers.
    pub fn psql(&self, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(self.dir.path())
            .args(self.port_args())
            .args(["-U", "tba", "-d", "postgres", "-X", "-A", "-t", "-q"])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// `pg_dump` of the database, as SQL that recreates it (`--clean`).
    pub fn dump(&self) -> String {
        let output = Command::new(self.bin.join("pg_dump"))
            .arg("-h")
            .arg(self.dir.path())
            .args(self.port_args())
            .args(["-U", "tba", "--clean", "--if-exists", "postgres"])
            .output()
            .expect("run pg_dump");
        assert!(
            output.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("a dump is text")
    }

    /// Restores a [`dump`](Self::dump).
    pub fn restore(&self, dump: &str) {
        let file = self.dir.path().join("restore.sql");
        std::fs::write(&file, dump).expect("write the dump");
        let output = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(self.dir.path())
            .args([
                "-U",
                "tba",
                "-d",
                "postgres",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
            ])
            .arg(&file)
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "restore failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}
