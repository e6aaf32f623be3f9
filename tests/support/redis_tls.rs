//! A real `redis-server` that speaks only TLS on a TCP port of loopback
//! (plus a plaintext unix socket for the test's own setup), with a CA, a
//! server certificate and a client certificate made by the test with the
//! `openssl` command. Skipped (one line) without `redis-server` or
//! `openssl`, unless `TBA_REQUIRE_REDIS=1`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;
use super::redis::{free_port, server_binary};

/// A TLS-only `redis-server`, killed on drop.
pub struct TlsRedis {
    child: Child,
    dir: TempDir,
    port: u16,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA (`<name>.pem`, `<name>.key`) in `dir`.
pub fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A certificate `<name>.pem` / `<name>.key` signed by the CA `ca`, with
/// these extensions.
pub fn make_leaf(dir: &Path, ca: &str, name: &str, extensions: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    std::fs::write(dir.join(format!("{name}.ext")), extensions).expect("write extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

fn have_openssl() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            std::env::var("TBA_REQUIRE_REDIS").as_deref() != Ok("1"),
            "openssl is not installed, and TBA_REQUIRE_REDIS=1 requires it"
        );
        eprintln!("skipping the Redis TLS tests: openssl not found (apt-get install openssl)");
    }
    found
}

impl TlsRedis {
    /// Starts a server whose clients must present a certificate of the
    /// test CA when `client_certs`; `None` when skipped.
    pub fn start(name: &str, client_certs: bool) -> Option<Self> {
        let binary = server_binary()?;
        if !have_openssl() {
            return None;
        }
        let dir = TempDir::new(&format!("redis-tls-{name}"));
        make_ca(dir.path(), "ca");
        make_leaf(
            dir.path(),
            "ca",
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        );
        make_leaf(
            dir.path(),
            "ca",
            "client",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        );
        let port = free_port();
        let child = Command::new(binary)
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--unixsocket")
            .arg(dir.path().join("redis.sock"))
            .args(["--unixsocketperm", "700", "--dir"])
            .arg(dir.path())
            .args([
                "--tls-cert-file",
                "server.pem",
                "--tls-key-file",
                "server.key",
            ])
            .args(["--tls-ca-cert-file", "ca.pem"])
            .args([
                "--tls-auth-clients",
                if client_certs { "yes" } else { "no" },
            ])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
            ])
            .arg(dir.path().join("redis.log"))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let server = Self { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || !server.dir.path().join("redis.sock").exists()
        {
            assert!(
                Instant::now() < deadline,
                "redis-server (TLS) did not start: {}",
                std::fs::read_to_string(server.dir.path().join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(server)
    }

    /// The TLS URL.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.port)
    }

    /// A plaintext URL to the TLS port (which must refuse it).
    pub fn plaintext_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The plaintext unix socket, for the test's own setup.
    pub fn socket_url(&self) -> String {
        format!(
            "redis+unix://{}",
            self.dir.path().join("redis.sock").display()
        )
    }

    /// A file of the test PKI (`ca.pem`, `client.pem`, `client.key`...).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The directory, to make more (another CA).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
