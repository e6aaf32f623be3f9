//! Starting the real demo server (`examples/server`) and talking to it with
//! real clients: hyper over HTTP/1.1 and HTTP/2, tonic for gRPC.

#![allow(unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower_bearer_auth::{KeyEntry, KeyGenerator, ScopeSet};

#[allow(unreachable_pub, missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    include!("../../examples/server/proto/demo.v1.rs");
}

/// Lines a child process wrote, collected by a reader thread.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn collect(self, stream: impl std::io::Read + Send + 'static) -> Self {
        let lines = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.0.lock().expect("lines").push(line);
            }
        });
        self
    }

    pub fn all(&self) -> Vec<String> {
        self.0.lock().expect("lines").clone()
    }

    pub fn text(&self) -> String {
        self.all().join("\n")
    }

    /// Waits until a line contains `needle`, at most `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.all().into_iter().find(|line| line.contains(needle)) {
                return Some(line);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.all()
            .iter()
            .filter(|line| line.contains(needle))
            .count()
    }
}

/// A running demo server, killed on drop.
pub struct DemoServer {
    child: Child,
    pub address: SocketAddr,
    pub stdout: Lines,
    pub stderr: Lines,
}

impl DemoServer {
    /// Starts `examples/server` on an ephemeral port with extra arguments.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_log_filter(args, "info")
    }

    /// Starts the server with `RUST_LOG` set to `filter`.
    pub fn start_with_log_filter(args: &[&str], filter: &str) -> Self {
        let mut command = Command::new(crate::support::example_binary("server"));
        command.args(["--listen", "127.0.0.1:0"]).args(args);
        Self::spawn(command, filter)
    }

    /// Starts the server with a soft open-file limit of `files` (through
    /// `sh -c 'ulimit -n'`, so that the limit is the server's own).
    pub fn start_with_limit(files: u32, args: &[&str]) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(crate::support::example_binary("server"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args);
        Self::spawn(command, "info")
    }

    fn spawn(mut command: Command, filter: &str) -> Self {
        let mut child = command
            .env("RUST_LOG", filter)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the demo server");
        let stdout = Lines::default().collect(child.stdout.take().expect("stdout"));
        let stderr = Lines::default().collect(child.stderr.take().expect("stderr"));
        let Some(line) = stdout.wait_for("listening on http://", Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!(
                "the server did not start:\n{}\n{}",
                stdout.text(),
                stderr.text()
            );
        };
        let address = line
            .trim_start_matches("listening on http://")
            .parse()
            .expect("socket address");
        Self {
            child,
            address,
            stdout,
            stderr,
        }
    }

    /// How many files (sockets included) the server process has open.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(Iterator::count)
            .unwrap_or(0)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Sends a signal with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Sends SIGTERM and waits (up to 10 s) for the graceful stop.
    pub async fn stop_gracefully(mut self) {
        self.signal("TERM");
        let stopping = std::time::Instant::now();
        while self.is_running() {
            assert!(
                stopping.elapsed() < std::time::Duration::from_secs(10),
                "stops on SIGTERM"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the server expecting it to exit; returns (exit code, stdout, stderr).
pub fn run_to_exit(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(crate::support::example_binary("server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .output()
        .expect("run the demo server");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// An HTTP client speaking HTTP/1.1, or HTTP/2 with prior knowledge (h2c).
pub fn http_client(http2: bool) -> Client<HttpConnector, Full<Bytes>> {
    let mut builder = Client::builder(TokioExecutor::new());
    builder.http2_only(http2);
    builder.build_http()
}

/// Sends a request and collects the response body.
pub async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> (http::response::Parts, Bytes) {
    let response: Response<_> = client.request(request).await.expect("HTTP exchange");
    let (parts, body) = response.into_parts();
    (parts, body.collect().await.expect("body").to_bytes())
}

/// A generated key: its entry and its token.
pub struct TestKey {
    pub entry: KeyEntry,
    pub token: String,
}

impl TestKey {
    pub fn new(label: &str, scopes: &str) -> Self {
        let key = KeyGenerator::new().generate().expect("random source");
        Self {
            entry: KeyEntry::new(key.id(), label, key.digest())
                .with_scopes(ScopeSet::parse(scopes).expect("valid scopes")),
            token: key.token().expose().to_owned(),
        }
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}
