//! The middleware itself, driven in-process: the rejection contract, the
//! success paths, readiness, failing closed, secrets, composition with axum,
//! tonic and tower-http, and the fuzz corpus.

#[path = "../support/mod.rs"]
mod support;

mod axum_integration;
mod composition;
mod fail_closed;
mod fuzz_regressions;
mod jwks;
mod jwt;
mod key_policies;
mod metrics;
mod rate_limit;
mod readiness;
mod rejections;
mod secret_leaks;
mod success;
mod tower_http_comparison;
