//! The demo API server: one `BearerAuthLayer` protecting a REST API (axum)
//! and a gRPC service (tonic) on one listener, HTTP/1.1 and HTTP/2.
//!
//! ```text
//! cargo run --example server [-- --listen 127.0.0.1:3000] [--keys keys.json] [--realm api]
//! ```
//!
//! Routes: `GET /health` (public), `GET /v1/ping` (any valid key),
//! `GET /v1/profile` (`profile:read`), `POST /v1/calls` (`calls:write`), and
//! the gRPC service `demo.v1.Profiles`.
//!
//! Without `--keys` it generates one demo key (scopes `profile:read
//! calls:write`), prints it once, and keeps it in memory. With `--keys`, it
//! serves the keys of that file and reloads it on `SIGHUP`: removed or
//! revoked keys are refused from the next request on; a broken file is
//! logged and the keys in force stay in force. `RUST_LOG` sets the log
//! filter (default `info`).

mod app;
mod grpc;
mod request_log;
mod rest;

#[allow(
    unreachable_pub,
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic
)]
mod proto {
    include!("proto/demo.v1.rs");
}

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tower_bearer_auth::{KeyEntry, KeyGenerator, KeyStore, ScopeSet};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How long open connections may take to finish after SIGTERM / SIGINT.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

const USAGE: &str = "usage: server [--listen ADDR] [--keys FILE] [--realm NAME]";

struct Args {
    listen: String,
    keys: Option<PathBuf>,
    realm: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        listen: "127.0.0.1:3000".to_owned(),
        keys: None,
        realm: "api".to_owned(),
    };
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--listen" => parsed.listen = value("--listen")?,
            "--keys" => parsed.keys = Some(PathBuf::from(value("--keys")?)),
            "--realm" => parsed.realm = value("--realm")?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

fn init_logging() {
    let filter = std::env::var("RUST_LOG").unwrap_or_default();
    let (targets, bad_filter) =
        match Targets::from_str(if filter.is_empty() { "info" } else { &filter }) {
            Ok(targets) => (targets, false),
            Err(_) => (Targets::from_str("info").unwrap_or_default(), true),
        };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .with(targets)
        .init();
    if bad_filter {
        tracing::warn!(filter, "RUST_LOG is not a valid target filter; using info");
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("server: {problem}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("server: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    // Handle signals before anything else: their default action ends the
    // process, and a test (or an operator) may send one right after startup.
    let hangups = signal(SignalKind::hangup()).map_err(|e| format!("cannot handle SIGHUP: {e}"))?;
    let terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let interrupt =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;

    let (store, demo_token) = match &args.keys {
        Some(path) => (
            KeyStore::from_keys_file(path).map_err(|e| e.to_string())?,
            None,
        ),
        None => {
            let (store, token) = demo_store()?;
            (store, Some(token))
        }
    };
    let app = app::router(store.clone(), &args.realm).map_err(|e| format!("--realm: {e}"))?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;

    if let Some(token) = demo_token {
        println!(
            "Demo API key (shown once, kept only in memory; scopes: profile:read calls:write):"
        );
        println!();
        println!("    {token}");
        println!();
        println!("Try it:");
        println!("    curl -i -H 'Authorization: Bearer {token}' http://{address}/v1/profile");
        println!();
    }
    let counts = store.counts();
    tracing::info!(
        active = counts.active,
        revoked = counts.revoked,
        "keys loaded"
    );
    println!("listening on http://{address}");

    tokio::spawn(reload_on_hangup(hangups, store, args.keys));
    let (stopping, stopped) = tokio::sync::oneshot::channel();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_requested(terminate, interrupt).await;
        let _ = stopping.send(());
    });
    // Open connections get a grace period to finish, not forever.
    let deadline = async {
        if stopped.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served.map_err(|e| format!("server error: {e}")),
        () = deadline => {
            tracing::warn!("connections still open {SHUTDOWN_GRACE:?} after shutdown began; closing them");
            Ok(())
        }
    }
}

/// One key with the demo's scopes, in memory only.
fn demo_store() -> Result<(KeyStore, String), String> {
    let store = KeyStore::new();
    let key = KeyGenerator::new().generate().map_err(|e| e.to_string())?;
    let scopes = ScopeSet::parse("profile:read calls:write").map_err(|e| e.to_string())?;
    store
        .insert(KeyEntry::new(key.id(), "Demo Key", key.digest()).with_scopes(scopes))
        .map_err(|e| e.to_string())?;
    Ok((store, key.token().expose().to_owned()))
}

async fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    store: KeyStore,
    keys: Option<PathBuf>,
) {
    while hangups.recv().await.is_some() {
        let Some(path) = &keys else {
            tracing::warn!("SIGHUP: no --keys file to reload");
            continue;
        };
        match store.reload_keys_file(path) {
            Ok(counts) => tracing::info!(
                active = counts.active,
                revoked = counts.revoked,
                "SIGHUP: keys file reloaded"
            ),
            Err(error) => tracing::error!(
                active = store.len(),
                "SIGHUP: keys file reload failed, the keys in force stay in force: {error}"
            ),
        }
    }
}

async fn shutdown_requested(
    mut terminate: tokio::signal::unix::Signal,
    mut interrupt: tokio::signal::unix::Signal,
) {
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    tracing::info!("shutting down");
}
