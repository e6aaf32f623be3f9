//! The demo API server: one `BearerAuthLayer` protecting a REST API (axum)
//! and a gRPC service (tonic) on one listener, HTTP/1.1 and HTTP/2.
//!
//! ```text
//! cargo run --example server [-- --listen 127.0.0.1:3000] [--keys keys.json] [--realm api]
//!     [--header-timeout 30s] [--idle-timeout 60s] [--max-connections N] [--reload-timeout 10s]
//!     [--rate-limit 100/60s [--rate-limit-shares 10]] [--trusted-proxy 10.0.0.0/8]...
//!     [--jwks-url URL --jwt-issuer ISS --jwt-audience AUD [--jwks-min-refetch 10s]]
//! cargo run --example server -- --check-keys keys.json
//! ```
//!
//! Routes: `GET /health` (public, liveness), `GET /ready` (public:
//! readiness, with the gRPC health statuses following it), `GET /v1/ping` (any valid key),
//! `GET /v1/profile` (`profile:read`), `POST /v1/calls` (`calls:write`),
//! the gRPC service `demo.v1.Profiles`, the admin API under
//! `/admin/v1/keys` (`keys:admin`) and the portal, `GET /portal`.
//!
//! Without `--keys` it generates a demo key (scopes `profile:read
//! calls:write`) and an admin key (`keys:admin`), prints them once, and
//! keeps every key in memory. With `--keys`, it serves the keys of that file
//! (which must be valid as a whole at startup), saves every admin change to
//! it before applying it, and reloads it on `SIGHUP`, entry by entry:
//! removed, revoked and refused entries' keys fail from the next request
//! on; a file that is not a keys file changes nothing. With `--redis`, the
//! key set and its admin changes are shared by every replica. Keys are rate
//! limited by their own `rate_limit`, else by `--rate-limit` (one quota per
//! key for REST and gRPC together; shared through Redis with `--redis`,
//! exactly, or in shares without a round trip per request with
//! `--rate-limit-shares`). `GET /health` tells how the last reload went, and
//! `--check-keys` checks a file before a reload. With `--jwks-url`, JWT
//! access tokens signed by a key of that JWKS (and with that issuer and
//! audience) pass beside API keys, with the scopes of their `scope` claim,
//! over REST and gRPC; the server starts even when the JWKS cannot be
//! fetched (JWTs get 503 until it can). Slow and idle clients are
//! bounded (see `serve.rs`). `RUST_LOG` sets the log filter (default
//! `info`).

mod app;
mod args;
mod grpc;
mod jwt;
mod keys;
mod metrics;
mod ready;
mod request_log;
mod rest;
mod serve;
mod shared_admin;

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
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tower_bearer_auth::key_policy::TrustedProxies;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::args::{Args, Command, USAGE};

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
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(Command::Serve(args)) => *args,
        Ok(Command::CheckKeys(path)) => return keys::check(&path),
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

    let source = keys::Source::open(&args).await?;
    let limiter = source.rate_limiter(args.rate_limit, args.rate_limit_shares);
    let jwt = match &args.jwt {
        Some(jwt_args) => Some(jwt::validator(jwt_args, Duration::from_secs(1)).await?),
        None => None,
    };
    let settings = app::Settings {
        jwt,
        limiter,
        realm: &args.realm,
        trusted_proxies: TrustedProxies::new(args.trusted_proxies.iter().copied()),
        health: source.health(),
        credits_in: source.credits_in(),
        github_keys_url: args.github_keys_url.clone(),
        metrics: metrics::Metrics::install(source.key_set(), args.metrics_public)?,
    };
    let app = match &source {
        keys::Source::Local { store, admin, .. } => {
            app::router(store.clone(), admin.clone(), settings)
        }
        keys::Source::Shared(store, admin) => app::router(store.clone(), admin.clone(), settings),
    }
    .map_err(|e| format!("--realm: {e}"))?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;

    source.announce(address);
    let limits = serve::Limits {
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: serve::connection_cap(args.max_connections),
    };
    tracing::info!(
        header_timeout = ?limits.header_timeout,
        idle_timeout = ?limits.idle_timeout,
        max_connections = limits.max_connections,
        max_head_bytes = serve::MAX_HEAD_BYTES,
        "connection limits"
    );
    println!("listening on http://{address}");

    let on_shutdown = source.on_shutdown();
    tokio::spawn(on_hangup(hangups, source.on_hangup(args.reload_timeout)));
    serve::serve(
        listener,
        app,
        limits,
        shutdown_requested(terminate, interrupt),
    )
    .await;
    on_shutdown.run().await;
    Ok(())
}

/// SIGHUP reloads the keys file, or resyncs the shared key set.
async fn on_hangup(mut hangups: tokio::signal::unix::Signal, mut action: keys::OnHangup) {
    while hangups.recv().await.is_some() {
        action.run().await;
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
}
