//! The demo server (`examples/server`) and `examples/keygen`, run as real
//! processes and talked to with real clients. Only this binary compiles the
//! demo's gRPC code (`server::proto`).

#[path = "../support/mod.rs"]
mod support;

mod admin_api;
mod admin_client;
mod admin_lifecycle;
mod customers;
mod grpc;
mod jwt;
mod keygen_cli;
mod leaks;
mod limits;
mod portal;
mod postgres;
mod rate_limits;
mod readiness;
mod redis_tls;
mod reload;
mod replicas;
mod rest;
mod server;
mod startup;
mod tonic_services;
mod usage;
mod webdriver;
