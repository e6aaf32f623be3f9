//! `GET /metrics`: what the layers recorded on the `metrics` facade, and
//! the key set's gauges, as Prometheus text (a key with the scope
//! `metrics:read`, or anyone with `--metrics-public`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_bearer_auth::metrics::{RequestMetrics, record_key_store, record_replica};

use tower_bearer_auth::KeyStore;
use tower_bearer_auth::key_store::redis::SharedKeyStore;

/// How many keys get their own `tba_key_requests_total` series; the
/// others count as `key="_other"`.
const KEYS_LABELED: usize = 100;

/// The key set whose gauges the page shows.
#[derive(Clone)]
pub(crate) enum KeySet {
    Local(KeyStore),
    Shared(SharedKeyStore),
}

/// The demo's metrics: the exporter's handle, what the layers record, the
/// key set, and whether `/metrics` is open to anyone.
#[derive(Clone)]
pub(crate) struct Metrics {
    handle: PrometheusHandle,
    pub(crate) layers: Arc<RequestMetrics>,
    keys: KeySet,
    pub(crate) public: bool,
}

impl Metrics {
    /// Installs the Prometheus recorder (once per process).
    pub(crate) fn install(keys: KeySet, public: bool) -> Result<Self, String> {
        let handle = PrometheusBuilder::new()
            .install_recorder()
            .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
        Ok(Self {
            handle,
            layers: Arc::new(RequestMetrics::new().per_key(KEYS_LABELED)),
            keys,
            public,
        })
    }
}

/// The page: the key set's gauges brought up to date, then everything.
pub(crate) async fn page(State(metrics): State<Metrics>) -> Response {
    match &metrics.keys {
        KeySet::Local(store) => record_key_store(store),
        KeySet::Shared(replica) => record_replica(replica),
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.handle.render(),
    )
        .into_response()
}
