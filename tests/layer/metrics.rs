//! The layer's metrics (on a Prometheus recorder local to the test) and a
//! key's usage counts: each request counts once, by its final outcome,
//! also when a route's `require_scope` or a `RateLimitLayer` inside the
//! layer refuses a request the layer admitted; per-key series stop at
//! their cap.

use http::{Request, StatusCode};
use metrics_exporter_prometheus::PrometheusBuilder;
use tower::{ServiceBuilder, ServiceExt};
use tower_bearer_auth::key_store::admin::{EmbeddedKeyAdmin, KeyAdmin};
use tower_bearer_auth::metrics::{RequestMetrics, record_key_store};
use tower_bearer_auth::rate_limit::{Quota, RateLimiter};
use tower_bearer_auth::{
    BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore, ScopeRequirement, ScopeSet,
};

use crate::support::Echo;

fn key(store: &KeyStore, scopes: &str) -> (String, String) {
    let key = KeyGenerator::new().generate().expect("random source");
    store
        .insert(
            KeyEntry::new(key.id(), "Metered", key.digest())
                .with_scopes(ScopeSet::parse(scopes).expect("scopes")),
        )
        .expect("insert");
    (
        key.id().to_owned(),
        format!("Bearer {}", key.token().expose()),
    )
}

fn get(bearer: Option<&str>) -> Request<()> {
    let mut request = Request::get("/v1/profile");
    if let Some(bearer) = bearer {
        request = request.header("authorization", bearer);
    }
    request.body(()).expect("request")
}

#[test]
fn each_request_counts_once_by_its_final_outcome() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let store = KeyStore::new();
    let (reader, reader_bearer) = key(&store, "profile:read");
    let (other, other_bearer) = key(&store, "profile:read");
    let (writer, writer_bearer) = key(&store, "calls:write");

    let text = ::metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let auth = BearerAuthLayer::builder(store.clone())
                .metrics(RequestMetrics::new().per_key(2))
                .build()
                .expect("valid");
            let read = ScopeRequirement::all(["profile:read"]).expect("scope");
            // The layer, then a rate limit of 2 per hour, then the route's
            // scope: refusals of either inner layer count once, as theirs.
            let limiter = RateLimiter::builder()
                .default_quota(Quota::new(2, 3_600).expect("quota"))
                .build();
            let service = ServiceBuilder::new()
                .layer(auth.clone())
                .layer(auth.rate_limit(limiter))
                .layer(auth.require_scope(read))
                .service(Echo::default());
            let mut answers = Vec::new();
            for bearer in [
                Some(reader_bearer.as_str()),
                Some(reader_bearer.as_str()),
                Some(reader_bearer.as_str()),
                Some(other_bearer.as_str()),
                Some(writer_bearer.as_str()),
                Some("Bearer sk_unknown"),
                None,
            ] {
                let answer = service.clone().oneshot(get(bearer)).await.expect("answer");
                answers.push(answer.status());
            }
            assert_eq!(
                answers,
                [
                    StatusCode::OK,
                    StatusCode::OK,
                    StatusCode::TOO_MANY_REQUESTS,
                    StatusCode::OK,
                    StatusCode::FORBIDDEN,
                    StatusCode::UNAUTHORIZED,
                    StatusCode::UNAUTHORIZED,
                ]
            );
            record_key_store(&store);
            // The usage counts agree: a refusal inside is no pass.
            let admin = EmbeddedKeyAdmin::new(store.clone());
            let today = |id: String| {
                let admin = admin.clone();
                async move {
                    let days = admin.usage(&id, 1).await.expect("usage");
                    days[0].counts.0
                }
            };
            assert_eq!(today(reader.clone()).await, [2, 1, 0, 0]);
            assert_eq!(today(other.clone()).await, [1, 0, 0, 0]);
            assert_eq!(today(writer.clone()).await, [0, 0, 0, 1]);
        });
        handle.render()
    });
    println!("{text}");
    for needle in [
        "tba_requests_total{outcome=\"passed\",status=\"200\"} 3".to_owned(),
        "tba_requests_total{outcome=\"rate_limited\",status=\"429\"} 1".to_owned(),
        "tba_requests_total{outcome=\"insufficient_scope\",status=\"403\"} 1".to_owned(),
        "tba_requests_total{outcome=\"invalid_token\",status=\"401\"} 1".to_owned(),
        "tba_requests_total{outcome=\"missing_credentials\",status=\"401\"} 1".to_owned(),
        "tba_validation_seconds_count{outcome=\"passed\"} 5".to_owned(),
        format!("tba_key_requests_total{{key=\"{reader}\",outcome=\"passed\"}} 2"),
        format!("tba_key_requests_total{{key=\"{reader}\",outcome=\"rate_limited\"}} 1"),
        format!("tba_key_requests_total{{key=\"{other}\",outcome=\"passed\"}} 1"),
        // The cap of 2 keys: the third key's requests are `_other`.
        "tba_key_requests_total{key=\"_other\",outcome=\"insufficient_scope\"} 1".to_owned(),
        "tba_store_keys{state=\"active\"} 3".to_owned(),
    ] {
        assert!(text.contains(&needle), "{needle} in:\n{text}");
    }
    assert!(!text.contains("sk_unknown"), "no token in a label");
    assert!(!text.contains(&writer), "past the cap");
}
