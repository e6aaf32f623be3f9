//! tonic with some services protected and others open, as the README shows:
//! `BearerAuthLayer::named_layer` (tonic's `LayerExt`) wraps one service and
//! keeps its gRPC name, so `Server::add_service` routes to it while the
//! standard health service stays open to probes without a key.

use std::time::Duration;

use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::service::LayerExt;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower_bearer_auth::scope::{ScopeTable, Unlisted};
use tower_bearer_auth::{
    ApiKey, BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore, ScopeRequirement, ScopeSet,
};

use crate::server::proto::profiles_client::ProfilesClient;
use crate::server::proto::profiles_server::{Profiles, ProfilesServer};
use crate::server::proto::{CallAccepted, GetProfileRequest, PlaceCallRequest, Profile};

/// Answers `GetProfile` with the key's label.
#[derive(Debug, Default)]
struct Labels;

#[tonic::async_trait]
impl Profiles for Labels {
    async fn get_profile(
        &self,
        request: tonic::Request<GetProfileRequest>,
    ) -> Result<tonic::Response<Profile>, tonic::Status> {
        let key: &ApiKey = tower_bearer_auth::tonic::principal(&request)?;
        Ok(tonic::Response::new(Profile {
            label: key.label().to_owned(),
            ..Profile::default()
        }))
    }

    async fn place_call(
        &self,
        _request: tonic::Request<PlaceCallRequest>,
    ) -> Result<tonic::Response<CallAccepted>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this test"))
    }
}

#[tokio::test]
async fn named_layer_protects_one_service_and_health_stays_open() {
    let store = KeyStore::new();
    let key = KeyGenerator::new().generate().expect("random source");
    store
        .insert(
            KeyEntry::new(key.id(), "Probe Tester", key.digest())
                .with_scopes(ScopeSet::parse("profile:read").expect("valid")),
        )
        .expect("insert");
    let scopes = ScopeTable::new(Unlisted::Forbidden)
        .grpc_method(
            "demo.v1.Profiles",
            "*",
            ScopeRequirement::all(["profile:read"]).expect("valid"),
        )
        .expect("valid table");
    let auth = BearerAuthLayer::builder(store)
        .scope_policy(scopes)
        .build()
        .expect("valid config");
    let (_reporter, health) = tonic_health::server::health_reporter();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = Server::builder()
        .add_service(health)
        .add_service(auth.named_layer(ProfilesServer::new(Labels)))
        .serve_with_incoming(TcpIncoming::from(listener));
    let served = tokio::spawn(server);

    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect");
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("health needs no key");

    let mut profiles = ProfilesClient::new(channel);
    let refused = profiles
        .get_profile(GetProfileRequest {})
        .await
        .expect_err("a key is needed");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(refused.message(), "A bearer token is required");

    let mut request = tonic::Request::new(GetProfileRequest {});
    let bearer = format!("Bearer {}", key.token().expose());
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(bearer.as_str()).expect("ascii"),
    );
    let profile = profiles.get_profile(request).await.expect("allowed");
    assert_eq!(profile.into_inner().label, "Probe Tester");
    served.abort();
}
