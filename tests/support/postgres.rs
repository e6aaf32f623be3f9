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
}

impl PostgresServer {
    /// Makes and starts a cluster, or `None` when Postgres tests are
    /// skipped.
    pub fn start(name: &str) -> Option<Self> {
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

    /// Starts the server on its data directory (after [`stop`](Self::stop)).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        let log = std::fs::File::create(self.dir.path().join("postgres.log")).expect("log");
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(self.dir.path().join("postgres.log"), Some(uid), Some(gid))
                .expect("chown");
        }
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=", "-c", "fsync=off"])
            .args(["-c", "max_connections=200"])
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
        }) && self.dir.path().join(".s.PGSQL.5432").exists()
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
        format!("postgres://tba@{host}/postgres")
    }

    /// Runs SQL through `psql` (stopping at the first error); its output,
    /// unaligned and without headers.
    pub fn psql(&self, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(self.dir.path())
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
