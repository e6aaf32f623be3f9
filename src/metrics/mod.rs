//! Metrics on the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`), so that any exporter (Prometheus, StatsD, OpenTelemetry)
//! collects them.
//!
//! With [`BearerAuthBuilder::metrics`](crate::BearerAuthBuilder::metrics)
//! the layer records, per request it decides:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `tba_requests_total` | counter | `outcome` (`passed`: answered by the application, or the [`RejectionKind`](crate::RejectionKind) name: `missing_credentials`, `invalid_token`, `expired_token`, ..., `insufficient_scope`, `address_not_allowed`, `rate_limited`, `usage_exceeded`, `validator_unavailable`, `validator_timeout`), `status` (`200` for passed: the layer's part; else 401, 403, 429, 503). Each request counts once: a request the layer admitted and a route's `require_scope` or a `RateLimitLayer` inside refused counts as that refusal |
//! | `tba_validation_seconds` | histogram | `outcome`: from the layer's `call` to its decision (the inner service not included) |
//! | `tba_key_requests_total` | counter | `key` (a key id, never a token), `outcome`: only with [`RequestMetrics::per_key`], for at most that many keys (the others are counted as `key="_other"`) |
//!
//! and, when the application calls [`record_key_store`] or
//! `record_replica` (feature `replica`), before each scrape for example:
//! `tba_store_keys{state="active|revoked"}`, `tba_store_version` and
//! `tba_store_state{state}` (1 for the replica's state, 0 for the others).
//!
//! ```
//! use tower_bearer_auth::metrics::RequestMetrics;
//! use tower_bearer_auth::{BearerAuthLayer, KeyStore};
//!
//! let auth = BearerAuthLayer::builder(KeyStore::new())
//!     .metrics(RequestMetrics::new().per_key(1_000))
//!     .build()?;
//! # Ok::<(), tower_bearer_auth::ConfigError>(())
//! ```

mod keys;

use std::sync::Arc;
use std::time::Instant;

use self::keys::KeyLabels;

/// What the layer records on the `metrics` facade; see the [module
/// docs](self).
#[derive(Debug, Default)]
pub struct RequestMetrics {
    per_key: Option<KeyLabels>,
}

impl RequestMetrics {
    /// Requests by outcome and validation latency, no per-key labels.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Also `tba_key_requests_total{key, outcome}`, for at most
    /// `max_keys` distinct keys (the first seen); requests of other keys
    /// count as `key="_other"`, so that a million keys cannot make a
    /// million series.
    #[must_use]
    pub fn per_key(mut self, max_keys: usize) -> Self {
        self.per_key = Some(KeyLabels::new(max_keys));
        self
    }

    /// Records a refused request: its outcome, its latency (when
    /// `started` is known), and its key (when labeled).
    pub(crate) fn refused(
        &self,
        kind: crate::RejectionKind,
        started: Option<Instant>,
        key: Option<&str>,
    ) {
        let outcome = kind.as_str();
        let status = status_label(kind.status().as_u16());
        ::metrics::counter!("tba_requests_total", "outcome" => outcome, "status" => status)
            .increment(1);
        self.latency(outcome, started);
        self.key(outcome, key);
    }

    /// Records an admitted request's latency, and what its counters need
    /// once the answer shows whether a layer inside refused it.
    pub(crate) fn admitted(
        self: &Arc<Self>,
        started: Option<Instant>,
        key: Option<&str>,
    ) -> Box<Admitted> {
        self.latency("passed", started);
        Box::new(Admitted {
            metrics: Arc::clone(self),
            key: self.per_key.as_ref().and(key).map(Box::from),
        })
    }

    fn latency(&self, outcome: &'static str, started: Option<Instant>) {
        if let Some(started) = started {
            ::metrics::histogram!("tba_validation_seconds", "outcome" => outcome)
                .record(started.elapsed().as_secs_f64());
        }
    }

    fn key(&self, outcome: &'static str, key: Option<&str>) {
        if let (Some(labels), Some(key)) = (&self.per_key, key) {
            let key = labels.label(key);
            ::metrics::counter!("tba_key_requests_total", "key" => key, "outcome" => outcome)
                .increment(1);
        }
    }
}

/// An admitted request, counted when its answer comes back: as `passed`,
/// unless a layer inside (a route's `require_scope`, a `RateLimitLayer`)
/// refused it and counted its own refusal. So each request counts once.
#[derive(Debug)]
pub(crate) struct Admitted {
    metrics: Arc<RequestMetrics>,
    key: Option<Box<str>>,
}

impl Admitted {
    /// Counts the request by its answer's extensions.
    pub(crate) fn answered(&self, extensions: &http::Extensions) {
        if extensions.get::<crate::RejectionKind>().is_some() {
            return;
        }
        ::metrics::counter!("tba_requests_total", "outcome" => "passed", "status" => "200")
            .increment(1);
        self.metrics.key("passed", self.key.as_deref());
    }
}

/// A status code as a label, without formatting one per request.
const fn status_label(status: u16) -> &'static str {
    match status {
        401 => "401",
        403 => "403",
        429 => "429",
        503 => "503",
        400 => "400",
        _ => "other",
    }
}

/// Records the gauges of an embedded key store: `tba_store_keys` by
/// state.
#[cfg(feature = "key-store")]
pub fn record_key_store(store: &crate::KeyStore) {
    let counts = store.counts();
    record_counts(counts.active, counts.revoked);
}

#[cfg(feature = "key-store")]
#[allow(clippy::cast_precision_loss)] // gauges are f64; key counts fit
fn record_counts(active: usize, revoked: usize) {
    ::metrics::gauge!("tba_store_keys", "state" => "active").set(active as f64);
    ::metrics::gauge!("tba_store_keys", "state" => "revoked").set(revoked as f64);
}

/// Records the gauges of a shared store's replica: `tba_store_keys` by
/// state, `tba_store_version` (the last write applied) and
/// `tba_store_state{state}` (1 for its state, 0 for the others).
#[cfg(feature = "replica")]
#[allow(clippy::cast_precision_loss)] // gauges are f64; versions fit 2^53
pub fn record_replica(replica: &crate::key_store::replica::SharedKeyStore) {
    use crate::key_store::replica::ReplicaState;
    let status = replica.status();
    record_counts(status.counts.active, status.counts.revoked);
    ::metrics::gauge!("tba_store_version").set(status.applied_version as f64);
    for state in ReplicaState::ALL {
        let value = if state == status.state { 1.0 } else { 0.0 };
        let label = match state {
            ReplicaState::Loading => "loading",
            ReplicaState::Fresh => "fresh",
            ReplicaState::ServingStale => "serving_stale",
            _ => "unavailable",
        };
        ::metrics::gauge!("tba_store_state", "state" => label).set(value);
    }
}
